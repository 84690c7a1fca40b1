#!/usr/bin/env python3
"""The one command line of nic-sim: ``python run.py --help``.

Ctrl-C at any time, also while numpy, numba and the package are still being imported (before
:func:`sim.cli.main.main` can catch it), prints ``interrupted`` and exits with status 130.
"""

import _thread
import gc
import signal
import sys

EXIT_INTERRUPTED = 130


_interrupted = False


def _unraisable(unraisable) -> None:
    """Python's hook for errors it cannot raise (in callbacks and finalizers), aware of Ctrl-C.

    A Ctrl-C can land in one of llvmlite's callbacks while numba loads a kernel: Python would print it
    with a traceback and go on, so it is raised again where it can be. After an interrupt, the objects it
    left half made fail in their finalizers as Python exits; the run is over and they hold nothing to report.
    """
    if _interrupted:
        return
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        _thread.interrupt_main()  # trips the signal; Python raises it once back in ordinary code
        return
    sys.__unraisablehook__(unraisable)


def _start() -> int:
    """Import the command line and run it; Ctrl-C during either gives one line and 130."""
    global _interrupted
    sys.unraisablehook = _unraisable
    try:
        from sim.cli.main import main

        return main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the message
        _interrupted = True
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    status = _start()
    # A run leaves millions of objects behind (its tables, the libraries' modules). Python's cycle
    # collector would walk them all, several times, while the interpreter shuts down (most of a second
    # after a full-scale run) to free memory the operating system takes back anyway: frozen, they are
    # left alone. Every file and the database are written and closed by now.
    gc.freeze()
    sys.exit(status)
