"""Where sweep jobs run. ``run_jobs(fn, jobs, executor, config)`` calls
``fn(job)`` for every job and returns the results in job order.

- ``inline``: in this process, one after another (the default). The first
  failure stops the run.
- ``local``: submitit's ``LocalExecutor``: each job in its own process on this
  machine, at most ``local_parallelism`` at a time.
- ``slurm``: submitit's ``SlurmExecutor``: one Slurm job array, with the
  partition, GPUs, time, ... of a config file (default ``slurm.json`` in the
  working directory; ``slurm.example.json`` and docs/cluster.md describe it).

``fn`` must be a module-level function and each job plain, picklable data
(submitit pickles both into the log folder). ``local`` and ``slurm`` wait for
every job before raising, so each finished job has done its work (a sweep's
jobs write to its cache) even when another fails. A failure raises one
:class:`JobError` naming the job and its log file.

``submit_jobs`` submits to ``local``/``slurm`` without waiting and returns
submitit job handles; ``collect`` waits for them.

    results = run_jobs(fn, jobs, "slurm", "slurm.json")
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

ConfigLike = Union[str, os.PathLike, dict, "ClusterConfig", None]

DEFAULT_SLURM_CONFIG = "slurm.json"


class JobError(RuntimeError):
    """A job failed; ``index``, ``job``, ``reason`` and ``log`` (a path or None) say which and why."""

    def __init__(self, message: str, index: int, job: Any, reason: str, log: str | None):
        super().__init__(message)
        self.index, self.job, self.reason, self.log = index, job, reason, log


# ---------------------------------------------------------------- the config file

@dataclass(frozen=True)
class ClusterConfig:
    """Submission parameters read from ``slurm.json`` (or ``.toml``). Slurm
    uses every field but ``local_parallelism``; ``local`` uses ``log_folder``,
    ``timeout_min``, ``gpus_per_node`` and ``local_parallelism``. ``None``
    leaves the cluster's default."""
    partition: str | None = None
    gpus_per_node: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    timeout_min: int = 24 * 60
    array_parallelism: int = 64          # Slurm: array tasks running at once
    local_parallelism: int = 1           # local: job processes running at once
    log_folder: str = "runs/submitit/%j"
    job_name: str = "datadam"
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    exclude: str | None = None
    setup: tuple[str, ...] = ()          # shell lines run before each Slurm job
    additional_parameters: dict = field(default_factory=dict)  # extra #SBATCH flags
    python: str | None = None            # command that starts python on the nodes


_TYPES: dict[str, tuple[type, ...]] = {
    "partition": (str,), "gpus_per_node": (int,), "cpus_per_task": (int,), "mem_gb": (int, float),
    "timeout_min": (int,), "array_parallelism": (int,), "local_parallelism": (int,), "log_folder": (str,),
    "job_name": (str,), "account": (str,), "qos": (str,), "constraint": (str,), "exclude": (str,),
    "setup": (list, tuple), "additional_parameters": (dict,), "python": (str,),
}
_POSITIVE = ("gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min", "array_parallelism", "local_parallelism")


def _read(path: str) -> dict:
    """A config file's mapping: ``.json``, or ``.toml`` (Python 3.11+)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"cluster config {path} not found; copy slurm.example.json to {path} and set "
                                "your partition (docs/cluster.md)")
    try:
        if path.endswith(".toml"):
            import tomllib
            with open(path, "rb") as f:
                return tomllib.load(f)
        with open(path) as f:
            return json.load(f)
    except ImportError:
        raise ValueError(f"{path}: TOML needs Python 3.11+; write the config as JSON") from None
    except ValueError as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ValueError(f"{path} is not valid {'TOML' if path.endswith('.toml') else 'JSON'}: {e}") from None


def load_cluster_config(config: ConfigLike = None, default_file: str | None = None) -> ClusterConfig:
    """A :class:`ClusterConfig` from a file path, a dict of its fields, a
    ClusterConfig, or ``None`` (``default_file`` when given, else the
    defaults). Keys starting with "_" are comments; unknown fields and wrong
    types raise one ValueError."""
    if isinstance(config, ClusterConfig):
        return config
    if config is None and default_file is None:
        return ClusterConfig()
    source = "config" if isinstance(config, dict) else os.fspath(config if config is not None else default_file)
    values = dict(config) if isinstance(config, dict) else _read(source)
    if not isinstance(values, dict):
        raise ValueError(f"{source}: expected an object of fields, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(ClusterConfig)}
    values = {k: v for k, v in values.items() if not k.startswith("_")}  # "_comment" keys: notes
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"{source}: unknown field {key!r}; fields are {sorted(known)}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, _TYPES[key]):
            raise ValueError(f"{source}: {key} must be {' or '.join(t.__name__ for t in _TYPES[key])}, "
                             f"got {value!r}")
        if key in _POSITIVE and value <= 0:
            raise ValueError(f"{source}: {key} must be positive, got {value!r}")
    if "setup" in values and values["setup"] is not None:
        values["setup"] = tuple(values["setup"])
    return ClusterConfig(**{k: v for k, v in values.items() if v is not None})  # None: the default


def slurm_parameters(cc: ClusterConfig) -> dict:
    """``SlurmExecutor.update_parameters`` keywords for ``cc`` (submitit's
    names: ``time`` in minutes, ``mem`` as "32GB")."""
    params = {"job_name": cc.job_name, "time": cc.timeout_min, "array_parallelism": cc.array_parallelism,
              "partition": cc.partition, "gpus_per_node": cc.gpus_per_node, "cpus_per_task": cc.cpus_per_task,
              "account": cc.account, "qos": cc.qos, "constraint": cc.constraint, "exclude": cc.exclude}
    if cc.mem_gb is not None:
        params["mem"] = f"{int(cc.mem_gb)}GB" if cc.mem_gb == int(cc.mem_gb) else f"{int(cc.mem_gb * 1024)}MB"
    if cc.setup:
        params["setup"] = list(cc.setup)
    if cc.additional_parameters:
        params["additional_parameters"] = dict(cc.additional_parameters)
    return {k: v for k, v in params.items() if v is not None}


def local_parameters(cc: ClusterConfig) -> dict:
    """``LocalExecutor.update_parameters`` keywords. Without ``gpus_per_node``
    every visible GPU stays visible (submitit would otherwise hide them all)."""
    gpus = cc.gpus_per_node
    if gpus is None:
        import torch
        gpus = torch.cuda.device_count()
    return {"timeout_min": cc.timeout_min, "gpus_per_node": gpus}


# ---------------------------------------------------------------- submitit

def _submitit():
    try:
        import submitit
    except ImportError:
        raise ImportError("the local and slurm executors need submitit: pip install submitit "
                          "(or pip install -e '.[cluster]')") from None
    return submitit


def _local_executor(cc: ClusterConfig):
    ex = _submitit().LocalExecutor(folder=cc.log_folder)
    ex.update_parameters(**local_parameters(cc))
    return ex


def _slurm_executor(cc: ClusterConfig):
    submitit = _submitit()
    try:
        ex = submitit.SlurmExecutor(folder=cc.log_folder, **({"python": cc.python} if cc.python else {}))
    except RuntimeError as e:  # submitit: 'Could not detect "srun"'
        raise RuntimeError(f"no Slurm here ({e}); submit from a Slurm login node, or use --executor local") from None
    ex.update_parameters(**slurm_parameters(cc))
    return ex


def _submit_local(fn: Callable[[Any], Any], jobs: list, config: ConfigLike) -> list:
    ex = _local_executor(load_cluster_config(config))
    return [ex.submit(fn, job) for job in jobs]


def _submit_slurm(fn: Callable[[Any], Any], jobs: list, config: ConfigLike) -> list:
    cc = load_cluster_config(config, DEFAULT_SLURM_CONFIG)
    handles = _slurm_executor(cc).map_array(fn, jobs) if jobs else []
    if handles:
        print(f"submitted {len(handles)} Slurm jobs (array {handles[0].job_id.split('_')[0]}), logs under "
              f"{os.path.dirname(os.path.abspath(cc.log_folder))}", file=sys.stderr)
    return handles


SUBMITTERS: dict[str, Callable[[Callable[[Any], Any], list, ConfigLike], list]] = {
    "local": _submit_local,
    "slurm": _submit_slurm,
}


def _short(job: Any, limit: int = 120) -> str:
    text = repr(job)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    """The useful line of a submitit error: the job's own exception (last line
    of the traceback between submitit's dashed rules) or the first line."""
    lines = str(exc).splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("-----")]
    if len(rules) >= 2:
        body = [line for line in lines[rules[0] + 1:rules[1]] if line.strip()]
        if body:
            return body[-1].strip()
    return lines[0].strip() if lines else type(exc).__name__


def collect(handles: Sequence, jobs: Sequence | None = None, executor: str = "submitit") -> list:
    """Wait for every submitit job in ``handles``; return their results in
    order, or raise one :class:`JobError` for the first failed job (naming
    how many others failed)."""
    results, failures = [], []
    for i, h in enumerate(handles):
        exc = h.exception()          # waits; None on success
        if exc is None:
            results.append(h.result())
        else:
            failures.append((i, exc, str(h.paths.stderr)))
    if failures:
        i, exc, log = failures[0]
        job = jobs[i] if jobs is not None else None
        reason = _reason(exc)
        more = f"; {len(failures) - 1} more failed (jobs {[f[0] for f in failures[1:]]})" if len(failures) > 1 else ""
        raise JobError(f"job {i} of {len(handles)} ({_short(job)}) failed on the {executor} executor: {reason}; "
                       f"log: {log}{more}", i, job, reason, log)
    return results


def submit_jobs(fn: Callable[[Any], Any], jobs: Sequence, executor: str = "local", config: ConfigLike = None) -> list:
    """Submit ``fn(job)`` for each job to ``local`` or ``slurm`` and return
    the submitit job handles at once (``local`` starts every job now, with no
    ``local_parallelism`` limit). ``collect(handles, jobs)`` waits for them."""
    if executor not in SUBMITTERS:
        raise ValueError(f"submit_jobs needs a submitit executor, one of {sorted(SUBMITTERS)}; got {executor!r}")
    return SUBMITTERS[executor](fn, list(jobs), config)


# ---------------------------------------------------------------- run_jobs

def _inline(fn: Callable[[Any], Any], jobs: list, config: ConfigLike = None) -> list:
    results = []
    for i, job in enumerate(jobs):
        try:
            results.append(fn(job))
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
            raise JobError(f"job {i} of {len(jobs)} ({_short(job)}) failed on the inline executor: {reason}",
                           i, job, reason, None) from e
    return results


def _local(fn: Callable[[Any], Any], jobs: list, config: ConfigLike = None) -> list:
    """Each job in its own process, at most ``local_parallelism`` at once;
    interrupting cancels the running ones."""
    cc = load_cluster_config(config)
    ex = _local_executor(cc)
    handles: list = []
    try:
        while len(handles) < len(jobs):
            if sum(not h.done() for h in handles) < cc.local_parallelism:
                handles.append(ex.submit(fn, jobs[len(handles)]))
            else:
                time.sleep(0.05)
        return collect(handles, jobs, "local")
    except BaseException as e:
        if not isinstance(e, JobError):  # interrupted: stop what still runs
            for h in handles:
                if not h.done():
                    h.cancel(check=False)
        raise


def _slurm(fn: Callable[[Any], Any], jobs: list, config: ConfigLike = None) -> list:
    """One job array; interrupting the wait leaves the jobs running."""
    return collect(_submit_slurm(fn, jobs, config), jobs, "slurm")


EXECUTORS: dict[str, Callable[..., list]] = {
    "inline": _inline,
    "local": _local,
    "slurm": _slurm,
}


def run_jobs(fn: Callable[[Any], Any], jobs: list, executor: str = "inline", config: ConfigLike = None) -> list:
    """Run ``fn`` on each job with ``executor``; results in job order.
    ``config``: a cluster config file path or a dict of its fields (see
    :class:`ClusterConfig`); ``slurm`` reads ``slurm.json`` when it is None."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {sorted(EXECUTORS)}")
    return EXECUTORS[executor](fn, list(jobs), config)


def add_executor_arguments(parser) -> None:
    """``--executor inline|local|slurm`` and ``--slurm-config PATH`` for a
    command line; pass ``args.executor, args.slurm_config`` to ``run_jobs``."""
    parser.add_argument("--executor", default="inline", choices=sorted(EXECUTORS),
                        help="where jobs run: inline (this process), local (processes here), slurm")
    parser.add_argument("--slurm-config", default=None, metavar="PATH",
                        help=f"cluster config for local/slurm (slurm default: {DEFAULT_SLURM_CONFIG}; docs/cluster.md)")
