"""The tray app: PySide6 lives here and nowhere else (docs/architecture.md).

Widgets display data and call service methods; the core's events reach them through the one
bridge in bridge.py, queued to the GUI thread.
"""

from hostapp.gui.source_scan import read_sources_uncached

read_sources_uncached()  # first: every tray module imported after PySide6 would keep its source lines
