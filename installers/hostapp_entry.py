"""The frozen bundle's entry script: the same `main` as the `hostapp` console script."""

import sys

from hostapp.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
