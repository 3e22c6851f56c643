"""The job format's size limits, in a module without pydantic so the CLI can check them cheaply."""

MAX_DEFINITION_BYTES = 1024 * 1024
MAX_OPS = 64
MAX_DEPTH = 32
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_PRICE_PER_SECOND = 10**15  # base units; far above any real price, far below int64 overflow
# The job-format versions this parser implements: Nosana's "0.1", and "0.0.1", the same format under
# the older number that some of Nosana's published examples still carry.
ACCEPTED_VERSIONS = ("0.1", "0.0.1")
