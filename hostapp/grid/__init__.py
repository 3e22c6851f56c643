"""The grid's wire contract and the node's client for it (docs/grid-protocol.md): models, signing,
registration, the price contract (billing.py) and `GridClient`. The server is hostapp/localgrid/."""
