"""Run a benchmark's jobs as Ray tasks: one machine or a cluster, same results as the local executor.

Each job (:mod:`spoofbench.runner.jobs`) becomes one Ray task running the very same
:func:`~spoofbench.runner.jobs.run_job`; a score job takes its train job's result as an argument, so
Ray starts it only after that train job finished (and does not run it when the train job failed).
Scheduling is all this module adds.

- Resources are declared per task (:class:`RayResources`: ``num_cpus``, ``num_gpus``, ``memory``).
- A task whose worker or node died is retried once by Ray (``max_retries``); an error of the job
  itself (bad input, a crashing detector) is already a result of ``run_job`` and is never retried.
  A task lost twice is reported as a failed cell with stage ``infrastructure`` and Ray's reason.
- Every node must see the run folder and the corpora at the same paths (shared storage).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import SpoofbenchError
from .executor import OnResult, OnStart, dependency_failed
from .jobs import Job, ScoreJob, TrainJob, as_note, failure, run_job

INSTALL_HINT = "the Ray executor needs Ray: pip install 'spoofbench[ray]'"


@dataclass(frozen=True)
class RayResources:
    """What one task asks the Ray scheduler for (``memory`` in bytes; None: no reservation)."""
    num_cpus: float = 1
    num_gpus: float = 0
    memory: int | None = None
    #: torch intra-op threads inside a task; None: as many as ``num_cpus`` (at least one).
    torch_threads: int | None = None

    def options(self) -> dict:
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory:
            opts["memory"] = int(self.memory)
        return opts

    def threads(self) -> int:
        return self.torch_threads or max(1, int(self.num_cpus))


def import_ray():
    """Import Ray, or raise a one-line error saying how to install it."""
    try:
        import ray
    except ImportError as err:  # pragma: no cover - exercised with ray hidden
        raise SpoofbenchError(INSTALL_HINT) from err
    return ray


def _task(job: Job, threads: int, job_function: Callable[[Job], dict], dependency: dict | None = None) -> dict:
    """The body of one Ray task (module level, so that Ray can pickle it by reference)."""
    if dependency is not None and not dependency.get("ok", False):
        return dependency_failed(job, dependency)
    import torch

    torch.set_num_threads(threads)
    return job_function(job)


def _run_quietly(job: Job) -> dict:
    return run_job(job, None)


class RayExecutor:
    """Runs jobs as Ray tasks on the cluster at ``address`` (see the module docstring).

    ``address``: ``None`` or ``"local"`` starts a Ray instance in this process's machine; ``"auto"``
    joins the cluster this machine belongs to; ``"ray://HOST:PORT"`` connects a client.
    ``job_function`` exists for tests (fault injection); it must be a module-level function.
    """

    def __init__(self, address: str | None = None, *, train: RayResources | None = None,
                 score: RayResources | None = None, max_retries: int = 1,
                 job_function: Callable[[Job], dict] = _run_quietly, log: Callable[[str], None] | None = None):
        self.address = address
        self.train = train or RayResources()
        self.score = score or RayResources()
        self.max_retries = max_retries
        self.job_function = job_function
        self.log = as_note(log, __name__)

    def _connect(self):
        ray = import_ray()
        if not ray.is_initialized():
            address = None if self.address in (None, "local") else self.address
            ray.init(address=address, include_dashboard=False, log_to_driver=True)
            self.log(f"ray: connected to {address or 'a local instance'} "
                     f"({ray.cluster_resources().get('CPU', 0):g} CPUs, "
                     f"{ray.cluster_resources().get('GPU', 0):g} GPUs)")
        return ray

    def run(self, jobs: Sequence[Job], on_result: OnResult, on_start: OnStart | None = None) -> None:
        ray = self._connect()
        remote = ray.remote(_task)
        refs: dict[Any, Job] = {}
        train_refs: dict[str, Any] = {}
        for job in jobs:
            if isinstance(job, TrainJob):
                res = self.train
                ref = remote.options(max_retries=self.max_retries, retry_exceptions=False,
                                     **res.options()).remote(job, res.threads(), self.job_function)
                train_refs[job.key] = ref
            else:
                res = self.score
                dependency = train_refs.get(job.depends_on) if isinstance(job, ScoreJob) else None
                ref = remote.options(max_retries=self.max_retries, retry_exceptions=False,
                                     **res.options()).remote(job, res.threads(), self.job_function, dependency)
            if on_start is not None:
                on_start(job)
            refs[ref] = job
        self._gather(ray, refs, on_result)

    def _gather(self, ray, refs: dict, on_result: OnResult) -> None:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            job = refs[done[0]]
            try:
                result = ray.get(done[0])
            except Exception as err:  # the task was lost (worker or node died) more often than retried
                result = failure(job, "infrastructure", _ray_reason(err))
            on_result(job, result)


def _ray_reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    head = next((line for line in text if line.strip()), type(err).__name__)
    return f"{type(err).__name__}: {head}"
