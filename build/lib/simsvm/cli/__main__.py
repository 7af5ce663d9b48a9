"""``python -m simsvm.cli``: the ``simsvm`` command."""

import sys

from simsvm.cli.main import main

sys.exit(main())
