"""`python -m hostapp` and the `hostapp` console script."""

import sys


def main() -> int:
    # Imported lazily so `hostapp --version` and `run-job` pay only for what they use.
    from hostapp.cli import run

    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
