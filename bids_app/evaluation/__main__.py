"""``python -m bids_app.evaluation`` runs the held-out evaluation (Table 1)."""

import sys

from bids_app.cli.evaluate import main

if __name__ == '__main__':
    sys.exit(main())
