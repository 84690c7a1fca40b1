#!/usr/bin/env python3
"""The one command line of nic-sim: ``python run.py --help``."""

import sys

from sim.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
