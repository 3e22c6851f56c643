"""The grid: signed protocol, node client, and the local grid server (docs/grid-protocol.md)."""
