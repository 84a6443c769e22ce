"""``python -m solaredge_async.testing``: run the simulator as a standalone server."""

import sys

from solaredge_async.testing._cli import main

if __name__ == "__main__":
    sys.exit(main())
