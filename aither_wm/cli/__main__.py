"""``python -m aither_wm.cli``."""

import sys

from aither_wm.cli.main import main

sys.exit(main())
