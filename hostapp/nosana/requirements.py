"""What Nosana mode requires of a machine, as numbers and as words: checked by `doctor`
(hostapp/nosana/checks.py) and shown by the wizard before the user chooses the mode. Plain data, so
the tray can show it without loading the chain client."""

from __future__ import annotations

# hostapp's own thresholds (Nosana publishes none in its program or npm clients): enough SOL for a
# few hundred queue and job transactions plus the run accounts' rent (refunded), and disk for the
# large AI images Nosana jobs pull.
MIN_SOL_LAMPORTS = 10_000_000  # 0.01 SOL
MIN_FREE_DISK_BYTES = 100 * 1024**3
LAMPORTS_PER_SOL = 1_000_000_000

# What the mode requires, said before the user chooses it (the wizard) and checked by `doctor`.
REQUIREMENTS = (
    f"SOL on the node's own key for transaction fees (at least {MIN_SOL_LAMPORTS / LAMPORTS_PER_SOL:g} SOL)",
    "NOS staked with that key, as much as the market asks",
    "a place in a Nosana market: GPU hosts join Nosana's waitlist and receive an access key",
    "Docker with NVIDIA GPU support, and the official Nosana node image",
    f"at least {MIN_FREE_DISK_BYTES // 1024**3} GiB of free disk",
)
