"""hostapp: share an idle NVIDIA GPU with an inference grid, from the system tray."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hostapp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

APP_NAME = "hostapp"
