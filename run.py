#!/usr/bin/env python3
"""The one command line of nic-sim: ``python run.py --help``.

Ctrl-C at any time, also while numpy, numba and the package are still being imported (before
:func:`sim.cli.main.main` can catch it), prints ``interrupted`` and exits with status 130.
"""

import ctypes
import gc
import signal
import sys

EXIT_INTERRUPTED = 130
# mallopt's parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
# The command is `run`: a process that ends with its simulation (the memory settings and the exit below).
_RUN = sys.argv[1:2] == ["run"]


_interrupted = False
_swallowed = False  # a Ctrl-C that landed where Python could not raise it (see _unraisable)


def _unraisable(unraisable) -> None:
    """Python's hook for errors it cannot raise (in callbacks and finalizers), aware of Ctrl-C.

    A Ctrl-C can land in one of llvmlite's callbacks while numba loads a kernel: Python would print it
    with a traceback and go on. It is kept instead and raised where :func:`_start` next looks (raising it
    from here, even by tripping the signal again, could land in this hook and be lost the same way).
    After an interrupt, the objects it left half made fail in their finalizers as Python exits; the run
    is over and they hold nothing to report.
    """
    global _swallowed
    if _interrupted:
        return
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        _swallowed = True
        return
    sys.__unraisablehook__(unraisable)


def _raise_swallowed() -> None:
    """Raise the Ctrl-C that :func:`_unraisable` kept, if any."""
    if _swallowed:
        raise KeyboardInterrupt


def _keep_freed_memory() -> None:
    """Let the C library's allocator keep the memory numpy frees, to reuse it (glibc; elsewhere nothing).

    A full-scale year makes and frees arrays of megabytes. By default glibc maps each such array
    afresh and gives it back when freed, so every page of the next one faults again: a full-scale
    run took about 800,000 page faults and 5 s of system time on two cores. Kept (nothing is mapped
    apart below 1 GB, and up to 2 GB of free memory is not given back), it takes 400,000 and 3.5 s,
    for about 40 MB more at its peak. The forked processes of a run inherit the settings. For ``run``
    only, whose process ends with its run: a long-lived one (the app, a sweep's or a calibration's
    coordinator) should give memory back.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        for option, value in ((_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 256 << 20), (_M_MMAP_THRESHOLD, 1 << 30)):
            libc.mallopt(option, value)
    except (OSError, AttributeError):  # not glibc (musl): its allocator is left as it is
        return


def _start() -> int:
    """Import the command line and run it; Ctrl-C during either gives one line and 130."""
    global _interrupted
    sys.unraisablehook = _unraisable
    if _RUN:
        _keep_freed_memory()
    try:
        from sim.cli.main import main

        _raise_swallowed()
        status = main()
        _raise_swallowed()
        return status
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the message
        _interrupted = True
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    status = _start()
    if _RUN:
        # A run leaves millions of objects behind (its tables, the libraries' modules). Python's cycle
        # collector would walk them all, several times, while the interpreter shuts down (most of a
        # second after a full-scale run) to free memory the operating system takes back anyway: frozen,
        # they are left alone. `run` has written and closed every file and disposed of its database
        # engine; other commands may leave a pooled connection for the finalizers to close.
        gc.freeze()
    sys.exit(status)
