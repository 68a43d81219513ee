"""``python -m experiments.figures``: see :mod:`experiments.figures.driver`."""

import sys

from experiments.figures.driver import available, load_config, main, make_figure

__all__ = ["available", "load_config", "main", "make_figure"]

if __name__ == "__main__":
    sys.exit(main())
