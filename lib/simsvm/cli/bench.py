"""``python -m simsvm.cli.bench``: the benchmark under its earlier name (see :mod:`simsvm.bench`)."""

import sys

from simsvm.bench.benchmark import cli

__all__ = ["cli"]

if __name__ == "__main__":
    sys.exit(cli())
