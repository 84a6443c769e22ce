"""``python -m solaredge_async.cli``: the same command as ``solaredge-async``."""

import sys

from solaredge_async.cli import main

if __name__ == "__main__":
    sys.exit(main())
