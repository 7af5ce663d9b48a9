import sys

from simsvm.bench.benchmark import cli

sys.exit(cli())
