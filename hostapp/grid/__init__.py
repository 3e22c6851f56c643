"""The grid: signed protocol, node client, and the local grid server (design.md §3)."""
