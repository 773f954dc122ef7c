"""Run a benchmark's jobs several at a time in worker processes on this machine (``spoofbench run --jobs N``).

A 2M-parameter CNN on two CPU threads leaves a core idle at every barrier between operators; two jobs
on one thread each keep both busy. :class:`ProcessPoolJobExecutor` runs up to ``workers`` jobs at once,
each in a long-lived worker process (spawned, so that CUDA and forked locks are never inherited) with
``threads`` torch and BLAS threads, and runs the very same :func:`~spoofbench.runner.jobs.run_job`.

- A score job starts once its train job finished (and is not run when that failed), as with every executor.
- Each worker runs one job at a time over its own pipe, so a worker that dies (killed, out of memory) loses
  only its own job: that job is run again once in a fresh worker; lost twice, it is a failed cell with stage
  ``infrastructure``. An error of the job itself is a result, never retried.
- One executor may serve several runs at once (threads calling :meth:`run`): they share its workers, and
  jobs start in the order they became ready, whichever run they belong to.
- Results equal the local executor's when the config pins ``cpu_threads`` (training and scoring), since
  the order of a float sum depends on the number of threads; the demo pins one.
"""
from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import wait
from typing import Callable, Sequence

from .executor import OnResult, OnStart, dependency_failed
from .jobs import Job, ScoreJob, TrainJob, as_note, failure, run_job

#: Seconds between looks for a free worker while another run holds them all.
POLL_S = 0.05


def _start_worker(threads: int, log_settings: dict | None) -> None:
    """Worker start-up: the platform's start method again for the job's own processes (a spawned worker
    inherits ``spawn``, and a DataLoader worker would then import torch anew for every test set), the
    thread pools pinned, the parent's logging mirrored (progress as plain lines)."""
    multiprocessing.set_start_method(None, force=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _exit_with_parent()
    import numpy  # noqa: F401  (load every BLAS / OpenMP runtime now, so that the limit below reaches it)
    import scipy.linalg  # noqa: F401
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
    from ..logs import plain_progress, setup_logging

    if log_settings is not None:
        setup_logging(**log_settings)
    plain_progress()


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """End this worker when its parent is gone (killed with SIGKILL, or by a SIGTERM it could not handle):
    a daemon thread watches the parent pid, since a job that trains for minutes would otherwise only
    notice at its next ``recv`` and go on using the cores (and the GPU) of a run nobody waits for."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(143)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_main(conn, threads: int, log_settings: dict | None) -> None:
    """A worker's loop: receive ``(job, job_function)``, send back the result dict; ``None`` stops it."""
    _start_worker(threads, log_settings)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            task = None
        if task is None:  # every result was sent and every file written: skip the slow interpreter tear-down
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        job, job_function = task
        try:
            result = job_function(job)
        except BaseException as err:  # run_job returns its failures; this is a bug or an interrupt
            result = (failure(job, "train" if isinstance(job, TrainJob) else "score", err, traceback.format_exc())
                      if isinstance(job, (TrainJob, ScoreJob)) else
                      {"ok": False, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()})
        conn.send(result)


def _run_quietly(job: Job) -> dict:
    return run_job(job, None)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, threads: int, log_settings: dict | None, number: int):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, threads, log_settings),
                                       name=f"spoofbench-job-{number}")
        self.process.start()
        child.close()

    def result(self) -> dict | None:
        """The finished job's result, or None when the worker died first."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """Ask it to stop; terminate it when it has not within ``timeout`` s (a job still running)."""
        self.ask_to_stop()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5.0)
        self.conn.close()


class ProcessPoolJobExecutor:
    """Runs up to ``workers`` jobs at once in worker processes of ``threads`` threads (module docstring).

    ``job_function`` exists for tests (fault injection); it must be a module-level function.
    Use it as a context manager, or call :meth:`close`, to stop the workers.
    """

    def __init__(self, workers: int = 2, threads: int = 1, *, max_retries: int = 1,
                 job_function: Callable[[Job], dict] = _run_quietly, log: Callable[[str], None] | None = None):
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be >= 1, got workers={workers}, threads={threads}")
        self.workers, self.threads, self.max_retries = workers, threads, max_retries
        self.job_function = job_function
        self.log = as_note(log, __name__)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._started = 0
        self._tickets = itertools.count()
        self._queued: set[int] = set()   # tickets of the jobs ready to start, over every run

    # ------------------------------------------------------------------ workers
    def _checkout(self, ticket: int) -> _Worker | None:
        """An idle worker (started on first need) for the job queued as ``ticket``; None when all
        ``workers`` are busy or an older job (of another run) is queued."""
        with self._lock:
            if ticket != min(self._queued):
                return None
            if self._idle:
                worker = self._idle.pop()
            elif len(self._busy) < self.workers:
                from ..logs import logging_settings

                self._started += 1
                worker = _Worker(self.threads, logging_settings(), self._started)
            else:
                return None
            self._busy.add(worker)
            self._queued.discard(ticket)
            return worker

    def start(self) -> None:
        """Start every worker now (each loads torch while the caller goes on), not on first need."""
        from ..logs import logging_settings

        with self._lock:
            while len(self._idle) + len(self._busy) < self.workers:
                self._started += 1
                self._idle.append(_Worker(self.threads, logging_settings(), self._started))

    def _checkin(self, worker: _Worker, alive: bool = True) -> None:
        with self._lock:
            self._busy.discard(worker)
            if alive:
                self._idle.append(worker)
        if not alive:
            worker.stop(timeout=1.0)

    def close(self) -> None:
        """Stop every worker; a job still running (nobody will collect its result: the caller is leaving,
        e.g. on Ctrl-C or SIGTERM) is terminated at once rather than after a grace period."""
        with self._lock:
            busy = list(self._busy)
            workers, self._idle, self._busy = [*self._idle, *busy], [], set()
        for worker in busy:
            if worker.process.is_alive():
                worker.process.terminate()
        for worker in workers:
            worker.ask_to_stop()
        deadline = time.monotonic() + 10.0
        for worker in workers:
            worker.stop(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> "ProcessPoolJobExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ scheduling
    def run(self, jobs: Sequence[Job], on_result: OnResult, on_start: OnStart | None = None) -> None:
        train_keys = {job.key for job in jobs if isinstance(job, TrainJob)}
        ready: collections.deque[tuple[int, Job]] = collections.deque()
        waiting: dict[str, list[Job]] = collections.defaultdict(list)
        for job in jobs:
            if isinstance(job, ScoreJob) and job.depends_on in train_keys:
                waiting[job.depends_on].append(job)
            else:
                ready.append(self._ticket(job))
        running: dict[_Worker, tuple[int, Job]] = {}
        tries: dict[str, int] = collections.Counter()
        try:
            while ready or running:
                self._start_ready(ready, running, tries, on_start)
                if not running:  # another run holds every worker, or its jobs are older
                    time.sleep(POLL_S)
                    continue
                signalled = set(wait([w.conn for w in running] + [w.process.sentinel for w in running],
                                     timeout=POLL_S if ready else None))
                for worker in [w for w in running if w.conn in signalled or w.process.sentinel in signalled]:
                    self._finished(worker, running.pop(worker), ready, waiting, tries, on_result)
        finally:
            with self._lock:
                self._queued.difference_update(ticket for ticket, _ in ready)

    def _ticket(self, job: Job) -> tuple[int, Job]:
        """Queue ``job``: runs sharing this executor start their jobs in the order they became ready."""
        with self._lock:
            ticket = next(self._tickets)
            self._queued.add(ticket)
        return ticket, job

    def _finished(self, worker: _Worker, entry: tuple[int, Job], ready, waiting, tries, on_result) -> None:
        ticket, job = entry
        result = worker.result()
        self._checkin(worker, alive=result is not None)
        result = result if result is not None else self._lost(job, worker, tries)
        if result is None:  # its worker died: run it again, first
            with self._lock:
                self._queued.add(ticket)
            ready.appendleft(entry)
            return
        on_result(job, result)
        for dependent in waiting.pop(job.key, []):
            if result["ok"]:
                ready.append(self._ticket(dependent))
            else:
                on_result(dependent, dependency_failed(dependent, result))

    def _start_ready(self, ready, running, tries, on_start) -> None:
        while ready and (worker := self._checkout(ready[0][0])) is not None:
            ticket, job = ready.popleft()
            if on_start is not None and not tries[job.key]:
                on_start(job)
            tries[job.key] += 1
            worker.conn.send((job, self.job_function))
            running[worker] = (ticket, job)

    def call(self, function: Callable[[object], dict], argument: object) -> "Call":
        """Run ``function(argument)`` (module level, returning a dict) on a worker, beside this process;
        waits for a free worker (in turn with queued jobs). ``.result()`` gives its dict."""
        ticket, _ = self._ticket(None)  # type: ignore[arg-type]
        try:
            while (worker := self._checkout(ticket)) is None:
                time.sleep(POLL_S)
        except BaseException:
            with self._lock:
                self._queued.discard(ticket)
            raise
        worker.conn.send((argument, function))
        return Call(self, worker)

    def _lost(self, job: Job, worker: _Worker, tries) -> dict | None:
        """None to run ``job`` again after its worker died; the failed result once it died too often."""
        code = worker.process.exitcode
        reason = f"worker process {worker.process.name} died (exit code {code})"
        if tries[job.key] <= self.max_retries:
            self.log(f"{reason}; running {type(job).__name__} {job.key[:16]} again", warning=True)
            return None
        return failure(job, "infrastructure", f"{reason}; the job was lost {tries[job.key]} times")


class Call:
    """A function running on a worker (:meth:`ProcessPoolJobExecutor.call`)."""

    def __init__(self, executor: ProcessPoolJobExecutor, worker: _Worker):
        self._executor, self._worker, self._result = executor, worker, None

    def result(self) -> dict:
        """The function's dict (``{"ok": False, "error", "traceback"}`` when it raised); a worker that died
        raises :class:`~spoofbench.errors.SpoofbenchError`."""
        if self._result is None:
            wait([self._worker.conn, self._worker.process.sentinel])
            result = self._worker.result()
            self._executor._checkin(self._worker, alive=result is not None)
            if result is None:
                from ..errors import SpoofbenchError

                raise SpoofbenchError(f"worker process {self._worker.process.name} died (exit code "
                                      f"{self._worker.process.exitcode})")
            self._result = result
        return self._result
