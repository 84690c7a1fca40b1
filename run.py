#!/usr/bin/env python3
"""The one command line of nic-sim: ``python run.py --help``.

Ctrl-C at any time, also while numpy, numba and the package are still being imported (before
:func:`sim.cli.main.main` can catch it), prints ``interrupted`` and exits with status 130.
"""

import signal
import sys

EXIT_INTERRUPTED = 130


def _start() -> int:
    """Import the command line and run it; Ctrl-C during either gives one line and 130."""
    try:
        from sim.cli.main import main

        return main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the message
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(_start())
