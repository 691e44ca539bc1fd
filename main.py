"""DrugDesk: ``python main.py`` opens the window; ``python main.py --help`` lists the commands."""

import sys

from app.cli import main

if __name__ == "__main__":  # the guard matters: worker processes are spawned and re-import this
    sys.exit(main())
