"""The embedded local grid: a grid server, its store, billing and payouts, run in its own process
(process.py) beside a local chain when no grid URL is set. The node reaches it only over HTTP, as it
would reach any grid (hostapp/grid/ holds the wire contract and the client)."""
