"""One module per CLI subcommand (see hostapp/cli.py)."""
