"""The tray app: PySide6 lives here and nowhere else (docs/architecture.md).

Widgets display data and call service methods; the core's events reach them through the one
bridge in bridge.py, queued to the GUI thread.
"""
