"""Nosana (beta): native Python for the parts of Nosana's on-chain programs a hosting node needs.

Account decoders, instruction builders, PDA/ATA derivations, the IPFS CID form of job hashes and
the chain reads that find a node's runs. Every layout here is checked byte for byte against the
official npm clients (`@nosana/jobs-program`, `@nosana/stake-program`) by tests/nosana; see
docs/nosana.md for what that proves and what still needs the live network.
"""
