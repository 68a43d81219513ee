"""``python -m experiments.bench``: see :mod:`experiments.bench.driver`."""

import sys

from experiments.bench.driver import main

if __name__ == "__main__":
    sys.exit(main())
