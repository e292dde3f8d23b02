"""``python -m stori_xr.cli``: the ``stori`` command, as the console script runs it."""

import sys

from stori_xr.cli.run import main

sys.exit(main())
