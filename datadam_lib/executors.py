"""Where sweep jobs run. ``run_jobs(fn, jobs, executor)`` calls ``fn(job)`` for
every job and returns the results in order.

- ``inline``: in this process, one after another (the default).
"""
from __future__ import annotations

from typing import Any, Callable


def _inline(fn: Callable[[Any], Any], jobs: list, config: str | None = None) -> list:
    return [fn(job) for job in jobs]


EXECUTORS: dict[str, Callable[..., list]] = {
    "inline": _inline,
}


def run_jobs(fn: Callable[[Any], Any], jobs: list, executor: str = "inline", config: str | None = None) -> list:
    """Run ``fn`` on each job with ``executor``; results in job order."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {sorted(EXECUTORS)}")
    return EXECUTORS[executor](fn, list(jobs), config)
