"""A second process for one run: forked, so it starts with the run's tables, and it sends back one outcome.

A full-scale run has work that can go beside the main process on a second core: the twin world
(:class:`sim.twin.TwinProcess`) and the files that need no measurement (:class:`sim.output.early.EarlyFiles`).
:class:`Forked` starts such a process and takes back what it returns, or raises what it raised, as if it
had run in this process. Only our own objects cross the pipe.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import sys
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class Forked:
    """A forked process running ``target(pipe, *args)``; its return value comes back through the pipe.

    Attributes:
        pipe: This process's end of the pipe (the target may read what is sent to it).
    """

    def __init__(self, target: Callable[..., Any], args: tuple, name: str):
        """Fork the process.

        Args:
            target: A function of the pipe's other end and ``args``; it runs in the forked process.
            args: Its other arguments (not copied: the forked process has them in its memory).
            name: What the process does, for the message if it dies.
        """
        ours, theirs = multiprocessing.Pipe()
        self.pipe, self.name, self._answered = ours, name, False
        self._process = multiprocessing.get_context("fork").Process(
            target=_run, args=(target, theirs, ours, *args), name=name, daemon=True)
        with warnings.catch_warnings():
            # Python warns of any thread at a fork; ours are OpenBLAS's idle workers, which OpenBLAS
            # itself prepares for a fork, and threads that wait (a progress bar's monitor).
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
            self._process.start()
        theirs.close()

    @staticmethod
    def available() -> bool:
        """Whether a second process can be forked here.

        On Linux only (macOS's system libraries are not safe to fork), and not from a daemonic process (a
        pool's or a Dask worker), which may have no children.
        """
        return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
                and not multiprocessing.current_process().daemon)

    def ended(self) -> bool:
        """Whether the process has sent its outcome or died (it writes to the pipe only at its end)."""
        return self.pipe.poll()

    def outcome(self) -> Any:
        """Wait for what the target returned; the process is then gone.

        Raises:
            Whatever the target raised, or RuntimeError if the process died.
        """
        try:
            status, value = self.pipe.recv()
            self._answered = True
        except (EOFError, OSError) as exc:
            self._process.join(timeout=10)
            raise RuntimeError(f"the process of the {self.name} ended unexpectedly "
                               f"(exit code {self._process.exitcode})") from exc
        finally:
            self.close()
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        """Let a finished process exit, stop one still working (an interrupted or failed run), release the pipe."""
        if self._answered:  # it has sent its outcome: give it a moment to exit by itself
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self.pipe.close()


def _run(target: Callable[..., Any], pipe: Connection, main_end: Connection, *args: Any) -> None:
    """The forked process: the target's value, or its error, goes back through the pipe."""
    # The main process's end, inherited: closed, so that if the main process dies our reads end (EOF)
    # instead of waiting forever on a pipe we hold open ourselves.
    main_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle: it stops us
    try:
        pipe.send(("ok", target(pipe, *args)))
    except Exception as exc:  # the main process raises it, as if the target had run there
        pipe.send(("error", exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        pipe.close()


def _picklable(exc: Exception) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))  # our own error, made here: loading it is safe
    except Exception:  # an error whose arguments do not survive the trip
        return False
    return True
