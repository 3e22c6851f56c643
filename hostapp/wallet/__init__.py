"""The node's Solana key: keyring-held secret, signing, chain client, payouts."""
