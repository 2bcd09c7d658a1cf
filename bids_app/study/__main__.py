"""``python -m bids_app.study STUDY_DIR`` remakes a study's tables and page."""

import sys

from bids_app.cli.study_tables import main

if __name__ == '__main__':
    sys.exit(main())
