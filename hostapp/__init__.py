"""hostapp: share an idle NVIDIA GPU with an inference grid, from the system tray."""

# Kept static (and equal to pyproject.toml's, checked by a test): importlib.metadata costs ~0.2 s
# on every CLI start.
__version__ = "0.1.0"

APP_NAME = "hostapp"
