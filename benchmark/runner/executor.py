"""Executors: where and when jobs run. Every executor runs the same :func:`~spoofbench.runner.jobs.run_job`.

An executor gets the jobs in dependency order (a train job before the score jobs that name it in
``depends_on``) and reports each job's result dict through ``on_result`` as soon as it is known. A
score job whose train job failed is not run: it is reported with the train job's failure
(:func:`dependency_failed`). Scheduling is all an executor adds; results are identical.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

from .jobs import Job, Log, ScoreJob, run_job

OnResult = Callable[[Job, dict], None]
OnStart = Callable[[Job], None]


class Executor(Protocol):
    """Runs jobs and reports their results (see the module docstring)."""

    def run(self, jobs: Sequence[Job], on_result: OnResult, on_start: OnStart | None = None) -> None:
        ...


def dependency_failed(job: Job, dependency: dict) -> dict:
    """The result of a job not run because the job it depends on failed."""
    return {"kind": "score", "key": job.key, "ok": False, "stage": dependency.get("stage", "train"),
            "error": dependency.get("error", "its train job failed"),
            **({"traceback": dependency["traceback"]} if "traceback" in dependency else {})}


class LocalExecutor:
    """Runs the jobs one after another in this process (the default)."""

    def __init__(self, log: Log | None = None):
        self.log = log

    def run(self, jobs: Sequence[Job], on_result: OnResult, on_start: OnStart | None = None) -> None:
        outcomes: dict[str, dict] = {}
        for job in jobs:
            if isinstance(job, ScoreJob):
                dependency = outcomes.get(job.depends_on)
                if dependency is not None and not dependency["ok"]:
                    on_result(job, dependency_failed(job, dependency))
                    continue
            if on_start is not None:
                on_start(job)
            outcomes[job.key] = result = run_job(job, self.log)
            on_result(job, result)
