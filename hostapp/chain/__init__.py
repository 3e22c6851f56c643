"""A local Solana chain: LiteSVM in-process behind a Solana JSON-RPC endpoint on 127.0.0.1.

The embedded grid pays nodes here, and the wallet's solana-py code talks to it unchanged.
"""

from hostapp.chain.local import LocalChain, default_state_dir, read_endpoint

__all__ = ["LocalChain", "default_state_dir", "read_endpoint"]
