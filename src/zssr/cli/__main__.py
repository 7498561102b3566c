"""``python -m zssr.cli`` runs the command-line tool, as ``python -m zssr`` does."""

import sys

from . import main

sys.exit(main())
