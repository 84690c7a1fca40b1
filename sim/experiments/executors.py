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

Nothing hangs. Every run has a time limit (``run_timeout``, by default
:func:`~sim.experiments.tasks.default_run_timeout` from the scenario's size): a run over it is
failed with ``RunTimeout`` and its worker killed (on Dask, restarted through its nanny). Each
local worker beats a heartbeat from a thread of its own; a worker whose heartbeat stops for
``heartbeat_timeout`` seconds (stopped with SIGSTOP, frozen, swapped out) is killed and its run
failed with ``WorkerStalled``. Dask has its own heartbeat: the scheduler removes a worker silent
for ``distributed.scheduler.worker-ttl`` (default 5 minutes) and its run is retried or failed as
for a dead worker.

Both executors call the same function on the same task, and ``sim.run`` is deterministic given
scenario and seed, so a sweep gives the same numbers on either.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from typing import Any

from tqdm import tqdm

from sim.experiments.tasks import (
    Outcome,
    Runner,
    Task,
    default_run_timeout,
    default_workers,
    execute,
    failed,
    guarded,
    max_workers,
    peak_rss_mb,
    timeout_text,
)

DASK_CONNECT_TIMEOUT_S = 10
HEARTBEAT_TIMEOUT_S = 60.0  # a worker silent this long is frozen (a run holding the GIL that long is not)
HEARTBEAT_ENV = "NIC_SIM_HEARTBEAT_TIMEOUT"  # seconds; overrides the default (tests set a short one)
HEARTBEAT_INTERVAL_S = 0.5

# Tasks and outcomes live in sim.experiments.tasks; they are used from here too.
__all__ = ["DaskPool", "ExecutorError", "LocalPool", "Outcome", "Runner", "Task", "check_workers", "execute",
           "failed", "guarded", "peak_rss_mb"]


class ExecutorError(RuntimeError):
    """The executor cannot start (e.g. no Dask scheduler at the address); ``str()`` is one line."""


def check_workers(workers: int) -> int:
    """Check a number of local worker processes against 1 .. :func:`~sim.experiments.tasks.max_workers`.

    Args:
        workers: The number asked for.

    Returns:
        The number.

    Raises:
        ExecutorError: It is out of bounds.
    """
    most = max_workers()
    if not 1 <= workers <= most:
        raise ExecutorError(f"--workers must be 1-{most} ({most // default_workers()} per core on "
                            f"{default_workers()} cores), got {workers}")
    return workers


def heartbeat_timeout_from_env() -> float:
    """The heartbeat timeout: :data:`HEARTBEAT_ENV` if set to a positive number, else :data:`HEARTBEAT_TIMEOUT_S`."""
    try:
        value = float(os.environ.get(HEARTBEAT_ENV, ""))
    except ValueError:
        return HEARTBEAT_TIMEOUT_S
    return value if value > 0 else HEARTBEAT_TIMEOUT_S


def _limit(run_timeout: float | None, task: Task) -> float:
    return run_timeout if run_timeout else default_run_timeout(task)


def _timed_out(task: Task, seconds: float) -> Outcome:
    return failed(task.run_id, f"RunTimeout: timed out after {timeout_text(seconds)} (the run's time limit, "
                               "--run-timeout); its worker was killed")


# --- local processes -------------------------------------------------------------------------

class LocalPool:
    """Worker processes on this machine, each running one task at a time.

    Workers are started by a fork server that has imported ``sim`` once, so starting (or
    replacing) a worker costs milliseconds, and no worker inherits the coordinator's threads
    (where there is no fork server, on Windows, workers are spawned).

    Args:
        workers: Number of worker processes (1 .. 4 per core); ``None`` means all cores.
        runner: What a worker does with a task (default :func:`execute`); must be importable.
        tasks_per_worker: Replace a worker after this many tasks (bounds memory growth from
            fragmentation in very long sweeps); ``None`` never replaces a healthy worker.
        run_timeout: Seconds a run may take before its worker is killed and the run failed;
            ``None`` gives each run :func:`~sim.experiments.tasks.default_run_timeout`.
        heartbeat_timeout: Seconds without a heartbeat after which a busy worker is taken for
            frozen, killed and its run failed; ``None`` reads :data:`HEARTBEAT_ENV` or uses
            :data:`HEARTBEAT_TIMEOUT_S`.

    Raises:
        ExecutorError: ``workers`` is out of bounds.
    """

    def __init__(self, workers: int | None = None, runner: Runner = execute, tasks_per_worker: int | None = 500,
                 run_timeout: float | None = None, heartbeat_timeout: float | None = None):
        self.workers = check_workers(workers or default_workers())
        self.runner = runner
        self.tasks_per_worker = tasks_per_worker
        self.run_timeout = run_timeout
        self.heartbeat_timeout = heartbeat_timeout or heartbeat_timeout_from_env()
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
        interval = min(HEARTBEAT_INTERVAL_S, self.heartbeat_timeout / 8)
        slots = [_Slot(self.ctx, self.runner, interval) for _ in range(self.workers)]
        poll = min(1.0, self.heartbeat_timeout / 4)
        try:
            for slot in slots:
                self._feed(slot, pending)
            while busy := [s for s in slots if s.task is not None]:
                ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=poll))
                for slot in busy:
                    if slot.conn in ready or slot.proc.sentinel in ready:
                        outcome = slot.receive()
                    elif (why := self._overdue(slot)) is not None:
                        outcome = slot.abandon(why)
                    else:
                        continue
                    if self.tasks_per_worker and slot.done >= self.tasks_per_worker:
                        slot.restart()
                    self._feed(slot, pending)  # before yielding: the worker runs while the outcome is recorded
                    yield outcome
        finally:
            for slot in slots:
                slot.stop()

    def _feed(self, slot: _Slot, pending: Iterator[Task]) -> None:
        """Give the worker the next task, if there is one; a worker found frozen while idle is replaced first."""
        task = next(pending, None)
        if task is None:
            return
        if slot.silent_for() > self.heartbeat_timeout:
            slot.restart()
        slot.send(task, _limit(self.run_timeout, task))

    def _overdue(self, slot: _Slot) -> Outcome | None:
        """A failed outcome if the slot's run is over its time limit or its worker stopped beating."""
        assert slot.task is not None
        if time.monotonic() - slot.sent > slot.limit:
            return _timed_out(slot.task, slot.limit)
        if slot.silent_for() > self.heartbeat_timeout:
            return failed(slot.task.run_id, f"WorkerStalled: no heartbeat from worker pid {slot.proc.pid} for "
                                            f"{timeout_text(self.heartbeat_timeout)} (stopped or frozen); "
                                            "it was killed")
        return None


class _Slot:
    """One worker process, its pipe, its heartbeat and the task it holds."""

    def __init__(self, ctx: Any, runner: Runner, interval: float):
        self.ctx, self.runner, self.interval = ctx, runner, interval
        self.task: Task | None = None
        self.sent, self.limit, self.sent_at = 0.0, 0.0, datetime.now(UTC)
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.beat = self.ctx.RawValue("Q", 0)  # the worker's heartbeat thread counts up; only it writes
        self.last_beat, self.beat_seen = 0, time.monotonic()
        self.proc = self.ctx.Process(target=_serve, args=(child, self.runner, self.beat, self.interval), daemon=True)
        self.proc.start()
        child.close()  # the worker holds the other end; EOF then means the worker is gone
        self.done = 0

    def silent_for(self) -> float:
        """Seconds since the worker's heartbeat last moved."""
        now, beat = time.monotonic(), self.beat.value
        if beat != self.last_beat:
            self.last_beat, self.beat_seen = beat, now
        return now - self.beat_seen

    def send(self, task: Task, limit: float) -> None:
        if not self.proc.is_alive():  # died while idle (killed from outside): not this task's fault
            self.restart()
        self.task, self.limit = task, limit
        self.sent, self.sent_at = time.monotonic(), datetime.now(UTC)
        self.beat_seen = self.sent
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

    def abandon(self, outcome: Outcome) -> Outcome:
        """Kill the worker of a run that overran or froze, start a fresh one, and return the run's failure."""
        assert self.task is not None
        outcome.started_at = self.sent_at
        outcome.wall_time_s = time.monotonic() - self.sent
        outcome.host, outcome.worker = socket.gethostname(), f"pid {self.proc.pid}"
        self.proc.kill()  # SIGKILL ends a stopped process too
        self.task = None
        self.done += 1
        self.restart()
        return outcome

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
            if self.task is None and self.silent_for() < 5:
                with contextlib.suppress(OSError):  # already gone
                    self.conn.send(None)
                self.proc.join(timeout=5)
            if self.proc.is_alive():
                self.proc.kill()
        self.proc.join()
        self.conn.close()


def _serve(conn: Connection, runner: Runner, beat: Any, interval: float) -> None:
    """A worker's life: receive a task, send back its outcome, until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    # tqdm makes a cross-process lock (a named semaphore) on its first bar, even a disabled one; a
    # worker killed for freezing could not release it, and Python would warn of a leaked semaphore
    # as the sweep ends. A worker draws no bars for others to share a line with: a thread lock does.
    tqdm.set_lock(threading.RLock())
    threading.Thread(target=_heartbeat, args=(beat, interval), daemon=True, name="heartbeat").start()
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


def _heartbeat(beat: Any, interval: float) -> None:
    """Count up every ``interval`` seconds while the process runs (a stopped process stops counting)."""
    while True:
        beat.value += 1
        time.sleep(interval)


# --- Dask ------------------------------------------------------------------------------------

class DaskPool:
    """Tasks on a Dask distributed cluster (``--dask-address tcp://HOST:PORT``).

    Workers need ``nic-sim`` installed in the same version. One task per worker thread is in
    flight at a time (the count is re-read every few seconds, as clusters scale), so a run that
    kills its worker takes no other run with it. Dask retries such a run on other workers up to
    ``distributed.scheduler.allowed-failures`` times (default 3; set on the scheduler) before it
    is recorded as failed with ``KilledWorker``.

    A run over its time limit (counted from when it is handed to the cluster) is recorded as
    failed with ``RunTimeout``; Dask cannot stop a running task, so the worker running it is
    restarted through its nanny (a worker started without one keeps computing the abandoned run).
    A frozen worker is Dask's to notice: the scheduler drops a worker whose heartbeat stops for
    ``distributed.scheduler.worker-ttl``.

    Args:
        address: The scheduler's address, or a ``distributed.Client`` to use as is.
        runner: What a worker does with a task (default :func:`execute`).
        run_timeout: Seconds a run may take; ``None`` gives each run
            :func:`~sim.experiments.tasks.default_run_timeout`.
    """

    def __init__(self, address: Any, runner: Runner = execute, run_timeout: float | None = None):
        self.address = address
        self.runner = runner
        self.run_timeout = run_timeout

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
            in_flight[future] = (task, time.monotonic() + _limit(self.run_timeout, task))
            finished.add(future)

        try:
            window, checked = _window(client), time.monotonic()
            for task in islice(pending, window):
                submit(task)
            while in_flight:
                for outcome in self._next(client, finished, in_flight):
                    if time.monotonic() - checked > 5:
                        window, checked = _window(client), time.monotonic()
                    for task in islice(pending, max(window - len(in_flight), 0)):
                        submit(task)  # before yielding: workers run while the outcome is recorded
                    yield outcome
        finally:
            client.cancel(list(in_flight))
            if client is not self.address:
                client.close()

    def _next(self, client: Any, finished: Any, in_flight: dict) -> list[Outcome]:
        """The outcomes ready now: finished futures, or runs over their time limit (waits a moment if none)."""
        if finished.has_ready():
            ready = []
            for future in finished.next_batch(block=False):
                if future not in in_flight:  # abandoned after its time limit, finished since
                    continue
                task, _ = in_flight.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # KilledWorker, lost connection: the run, not the sweep
                    outcome = failed(task.run_id, f"{type(exc).__name__}: {exc}")
                future.release()
                ready.append(outcome)
            return ready
        now = time.monotonic()
        late = [f for f, (_, deadline) in in_flight.items() if now > deadline]
        if not late:
            time.sleep(0.1)
            return []
        _restart_workers_of(client, late)
        outcomes = []
        for future in late:
            task, _ = in_flight.pop(future)
            client.cancel([future])
            outcomes.append(_timed_out(task, _limit(self.run_timeout, task)))
        return outcomes


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


def _restart_workers_of(client: Any, futures: list) -> None:
    """Restart the workers running these futures (through their nannies); best effort."""
    keys = {f.key for f in futures}
    with contextlib.suppress(Exception):  # no nanny, worker gone, old scheduler: the run is abandoned anyway
        workers = [w for w, running in client.processing().items() if keys & set(running)]
        if workers:
            client.restart_workers(workers, timeout=30, raise_for_error=False)
