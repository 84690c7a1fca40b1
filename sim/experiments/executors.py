"""Where sweep runs execute: a local process pool or a Dask cluster.

An executor takes an iterable of :class:`Task` and yields one :class:`Outcome` per task, in the
order they finish. It pulls tasks lazily and keeps only a few in flight, so a sweep of a million
runs holds a few in memory. Workers never touch the database: an outcome carries the run's
tables back to the coordinator, which records it (:mod:`sim.experiments.ledger`).

Failures stay with their run. A run that raises becomes a failed outcome with the error and its
traceback. A worker process that dies (``os._exit``, a segfault, the OOM killer) fails the one
run it held: :class:`LocalPool` gives each worker process its own pipe, so it knows which run
died with it, and starts a fresh worker; on Dask the scheduler retries the run on another worker
up to ``distributed.scheduler.allowed-failures`` times and then reports it failed.

Both executors call the same function on the same task, and ``sim.run`` is deterministic given
scenario and seed, so a sweep gives the same numbers on either.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from typing import Any

import pandas as pd

Runner = Callable[["Task"], "Outcome"]
DASK_CONNECT_TIMEOUT_S = 10


class ExecutorError(RuntimeError):
    """The executor cannot start (e.g. no Dask scheduler at the address); ``str()`` is one line."""


@dataclass(frozen=True)
class Task:
    """One run to execute: everything a worker needs, with no file or database access.

    Attributes:
        run_id: The run's key in the ledger.
        base: The resolved base scenario (``Scenario.model_dump()``).
        overrides: Dotted scenario key -> value for this run.
        seed: The run's seed.
        keep: Tables to send back besides ``yearly`` and the summary: ``clusters``, ``firms``.
    """

    run_id: str
    base: dict[str, Any]
    overrides: dict[str, Any]
    seed: int
    keep: frozenset[str] = frozenset()


@dataclass
class Outcome:
    """What came back from one run, finished or failed.

    Attributes:
        run_id: The run's key.
        error: ``"Type: message"`` on one line if the run failed, else ``None``.
        traceback: The full traceback of a failure.
        host: Host name of the worker.
        worker: The worker process (``pid N``) or Dask worker address.
        started_at: When the run started (UTC).
        wall_time_s: Seconds the run took.
        peak_rss_mb: Peak resident memory of the worker process so far, in MiB.
        summary: The run's ``summary.json`` contents.
        yearly: The yearly table.
        clusters: The cluster-year table, if kept.
        firms_parquet: The firm-year panel as parquet bytes, if kept.
    """

    run_id: str
    error: str | None = None
    traceback: str | None = None
    host: str = ""
    worker: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    wall_time_s: float = 0.0
    peak_rss_mb: float | None = None
    summary: dict | None = None
    yearly: pd.DataFrame | None = None
    clusters: pd.DataFrame | None = None
    firms_parquet: bytes | None = None

    @property
    def ok(self) -> bool:
        """The run finished."""
        return self.error is None


def execute(task: Task) -> Outcome:
    """Run one sweep task: build its scenario, simulate, pack the kept tables.

    Args:
        task: The run.

    Returns:
        A finished outcome (timing and host are filled in by :func:`guarded`).
    """
    from sim.experiments.sweep import scenario_for
    from sim.output.result import compact_firms
    from sim.runner import run

    result = run(scenario_for(task.base, task.overrides, task.run_id), seed=task.seed)
    outcome = Outcome(task.run_id, summary=result.summary, yearly=result.yearly)
    if "clusters" in task.keep:
        outcome.clusters = result.clusters
    if "firms" in task.keep and result.firms is not None:
        buffer = io.BytesIO()
        compact_firms(result.firms).to_parquet(buffer, engine="pyarrow", index=False)
        outcome.firms_parquet = buffer.getvalue()
    return outcome


def guarded(runner: Runner, task: Task) -> Outcome:
    """Call ``runner`` so that nothing it raises escapes: failures become failed outcomes.

    Args:
        runner: The function that runs a task (:func:`execute`, or a test's stand-in).
        task: The run.

    Returns:
        The runner's outcome, or a failed one, with host, worker, timing and memory filled in.
    """
    started, t0 = datetime.now(UTC), time.perf_counter()
    try:
        outcome = runner(task)
    except (Exception, SystemExit) as exc:  # SystemExit too: a run calling sys.exit() is a failed run
        outcome = failed(task.run_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    outcome.host, outcome.worker = socket.gethostname(), _worker_name()
    outcome.started_at, outcome.wall_time_s = started, time.perf_counter() - t0
    outcome.peak_rss_mb = peak_rss_mb()
    return outcome


def failed(run_id: str, error: str, trace: str | None = None) -> Outcome:
    """A failed outcome with a one-line error.

    Args:
        run_id: The run.
        error: What went wrong; its whitespace is collapsed to one line.
        trace: The traceback, if any.

    Returns:
        The outcome.
    """
    return Outcome(run_id, error=" ".join(error.split()) or "failed", traceback=trace)


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB; ``None`` where there is no ``resource`` module.

    ``ru_maxrss`` is in KiB on Linux and in bytes on macOS; Windows has no ``resource`` module.
    """
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _worker_name() -> str:
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return get_worker().address
        except ValueError:  # not inside a Dask worker
            pass
    return f"pid {os.getpid()}"


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# --- local processes -------------------------------------------------------------------------

class LocalPool:
    """Worker processes on this machine, each running one task at a time.

    Workers are started by a fork server that has imported ``sim`` once, so starting (or
    replacing) a worker costs milliseconds, and no worker inherits the coordinator's threads
    (where there is no fork server, on Windows, workers are spawned).

    Args:
        workers: Number of worker processes; ``None`` means all cores.
        runner: What a worker does with a task (default :func:`execute`); must be importable.
        tasks_per_worker: Replace a worker after this many tasks (bounds memory growth from
            fragmentation in very long sweeps); ``None`` never replaces a healthy worker.
    """

    def __init__(self, workers: int | None = None, runner: Runner = execute,
                 tasks_per_worker: int | None = 500):
        self.workers = workers or default_workers()
        self.runner = runner
        self.tasks_per_worker = tasks_per_worker
        if "forkserver" in mp.get_all_start_methods():
            self.ctx = mp.get_context("forkserver")
            self.ctx.set_forkserver_preload(["sim.experiments.executors", "sim.runner", "sim.experiments.sweep"])
            # Start the fork server now: it imports sim while the coordinator reads the sweep.
            forkserver.ensure_running()
        else:  # Windows: each worker imports sim itself
            self.ctx = mp.get_context("spawn")

    def map(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Run tasks and yield their outcomes as they finish.

        Args:
            tasks: The runs; pulled one at a time as workers become free.

        Yields:
            One outcome per task.
        """
        pending = iter(tasks)
        slots = [_Slot(self.ctx, self.runner) for _ in range(self.workers)]
        try:
            for slot in slots:
                slot.feed(pending)
            while busy := [s for s in slots if s.task is not None]:
                ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy]))
                for slot in busy:
                    if slot.conn in ready or slot.proc.sentinel in ready:
                        outcome = slot.receive()
                        if self.tasks_per_worker and slot.done >= self.tasks_per_worker:
                            slot.restart()
                        slot.feed(pending)  # before yielding: the worker runs while the outcome is recorded
                        yield outcome
        finally:
            for slot in slots:
                slot.stop()


class _Slot:
    """One worker process, its pipe and the task it holds."""

    def __init__(self, ctx: Any, runner: Runner):
        self.ctx, self.runner = ctx, runner
        self.task: Task | None = None
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_serve, args=(child, self.runner), daemon=True)
        self.proc.start()
        child.close()  # the worker holds the other end; EOF then means the worker is gone
        self.done = 0

    def feed(self, pending: Iterator[Task]) -> None:
        """Give the worker the next task, if there is one."""
        task = next(pending, None)
        if task is not None:
            self.send(task)

    def send(self, task: Task) -> None:
        if not self.proc.is_alive():  # died while idle (killed from outside): not this task's fault
            self.restart()
        self.task = task
        with contextlib.suppress(OSError):  # died just now; the next wait() sees it and fails this task
            self.conn.send(task)

    def receive(self) -> Outcome:
        task, self.task = self.task, None
        self.done += 1
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        except Exception as exc:  # a half-sent, unreadable outcome: the worker died while sending
            return self._died(task, f"unreadable result ({type(exc).__name__})")
        return self._died(task, "")

    def _died(self, task: Task, detail: str) -> Outcome:
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exit code {code}")
        self.restart()
        return failed(task.run_id, f"WorkerDied: worker process died ({how}){' ' + detail if detail else ''}")

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        """Stop the worker: ask an idle one to leave, kill a busy one (its run is abandoned)."""
        if self.proc.is_alive():
            if self.task is None:
                with contextlib.suppress(OSError):  # already gone
                    self.conn.send(None)
                self.proc.join(timeout=5)
            if self.proc.is_alive():
                self.proc.kill()
        self.proc.join()
        self.conn.close()


def _serve(conn: Connection, runner: Runner) -> None:
    """A worker's life: receive a task, send back its outcome, until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the coordinator is gone
            return
        if task is None:
            return
        try:
            conn.send(guarded(runner, task))
        except (BrokenPipeError, OSError):
            return


# --- Dask ------------------------------------------------------------------------------------

class DaskPool:
    """Tasks on a Dask distributed cluster (``--dask-address tcp://HOST:PORT``).

    Workers need ``nic-sim`` installed in the same version. One task per worker thread is in
    flight at a time (the count is re-read every few seconds, as clusters scale), so a run that
    kills its worker takes no other run with it. Dask retries such a run on other workers up to
    ``distributed.scheduler.allowed-failures`` times (default 3; set on the scheduler) before it
    is recorded as failed with ``KilledWorker``.

    Args:
        address: The scheduler's address, or a ``distributed.Client`` to use as is.
        runner: What a worker does with a task (default :func:`execute`).
    """

    def __init__(self, address: Any, runner: Runner = execute):
        self.address = address
        self.runner = runner

    def map(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Run tasks on the cluster and yield their outcomes as they finish.

        Args:
            tasks: The runs to do.

        Returns:
            The outcomes, one per task, in the order they finish.

        Raises:
            ExecutorError: If the scheduler cannot be reached.
        """
        from distributed import Client, as_completed

        client = self.address if isinstance(self.address, Client) else _connect(self.address)
        pending, in_flight = iter(tasks), {}
        finished = as_completed(loop=client.loop)

        def submit(task: Task) -> None:
            key = f"nic-sim-{task.run_id.replace('/', '-')}-{uuid.uuid4().hex[:8]}"
            future = client.submit(guarded, self.runner, task, key=key, pure=False)
            in_flight[future] = task
            finished.add(future)

        try:
            window, checked = _window(client), time.monotonic()
            for task in islice(pending, window):
                submit(task)
            for future in finished:
                task = in_flight.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # KilledWorker, lost connection: the run, not the sweep
                    outcome = failed(task.run_id, f"{type(exc).__name__}: {exc}")
                future.release()
                if time.monotonic() - checked > 5:
                    window, checked = _window(client), time.monotonic()
                for task in islice(pending, max(window - len(in_flight), 0)):
                    submit(task)  # before yielding: workers run while the outcome is recorded
                yield outcome
        finally:
            client.cancel(list(in_flight))
            if client is not self.address:
                client.close()


def _connect(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=f"{DASK_CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ExecutorError(f"--dask-address {address}: cannot reach the Dask scheduler: {reason}") from exc


def _window(client: Any) -> int:
    # One task per worker thread and no more: a task waiting on a worker dies with it when
    # another run kills that worker, and would be blamed (KilledWorker) for a death not its own.
    return max(sum(client.nthreads().values()), 1)
