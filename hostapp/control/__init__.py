"""The boundary between the node daemon and its clients (the tray, the CLI): the transport
(transport.py), the typed status (status.py) and the typed client (client.py). Nothing here imports
the node: a client holds only this package.
"""
