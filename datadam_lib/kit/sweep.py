"""Sweeps: every (setting, kind, seed) of a target becomes one job, run by an
executor (``executors.run_jobs``: inline, submitit-local or Slurm).

    rows = run_sweep(settings("power", [1, 4], lambda p: {"distill.method.power": p}),
                     seeds=[0], dataset="digits", scale="quick")
    table = report.summarize(rows)

A job is a plain dict, run by a module-level function (picklable, so an
executor may ship it to another process or a cluster node). The default job
function, :func:`run_job`, makes a *set* of images of the job's ``kind``
(through the cache), evaluates it (through the cache) and returns a plain
dict row. Families with other kinds of work pass another module-level job function to
:func:`run_sweep`: :func:`set_job` (make the set, no evaluation: image grids,
t-SNE), :func:`curve_job` (one run evaluated at several of its iterations),
the NAS trainings (``families/nas_sweep.py``).

A job's ``kind`` is a kind of set (``method.baselines.sets.SET_KINDS``: ``datadam``,
``random``, ``dm``, and what other modules register): the set is made with
the job's config (cached) and evaluated (cached).
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Iterable

from .registry import Setting

_DATA: dict[tuple, Any] = {}


def get_data(name: str, root: str, device: str | None = None, preprocess: str | None = None):
    """``load_dataset`` memoised per process (a sweep loads its dataset once)."""
    from ..method.data import load_dataset
    from ..method.io import default_device
    device = device or default_device()
    k = (name, os.path.abspath(root), device, preprocess)
    if k not in _DATA:
        _DATA[k] = load_dataset(name, root, device=device, **({"preprocess": preprocess} if preprocess else {}))
    return _DATA[k]


def make_jobs(settings: Iterable[Setting], seeds: Iterable[int], dataset: str, data_root: str,
              preset: str = "paper", scale: str = "quick", ipc: int = 10, kinds: Iterable[str] = ("datadam",),
              force: bool = False, cache_root: str | None = None, device: str | None = None,
              label: str = "", run_overrides: dict | None = None, **extra) -> list[dict]:
    """The jobs of a sweep: settings x kinds x seeds, each a plain dict.
    A setting's overrides are dotted config paths (``{"distill.ipc": 1}``
    changes the IPC); ``run_overrides`` apply to every setting (the run's
    ``--set``, e.g. bf16), beneath the setting's own; ``extra`` keys are
    copied into every job."""
    from ..method.config import make_config
    from .paths import cache_root as _cache_root
    kinds, seeds, settings = list(kinds), [int(s) for s in seeds], list(settings)
    if not seeds:
        raise ValueError("a sweep needs at least one seed")
    jobs, run_overrides = [], dict(run_overrides or {})
    for s in settings:
        make_config(preset, scale, dataset, ipc, 0, {**run_overrides, **s.config_overrides()})  # fail early
        for kind in kinds:
            for seed in seeds:
                jobs.append({"label": label, "setting": s.key, "setting_label": s.name,
                             "overrides": s.config_overrides(), "run_overrides": run_overrides,
                             "kind": kind, "seed": seed, "dataset": dataset,
                             "data_root": os.path.abspath(data_root), "preset": preset, "scale": scale,
                             "ipc": int(ipc), "force": bool(force), "cache_root": _cache_root(cache_root),
                             "device": device, **extra})
    return jobs


def job_config(job: dict):
    from ..method.config import make_config
    return make_config(job["preset"], job["scale"], job["dataset"], job["ipc"], job["seed"],
                       {**job.get("run_overrides", {}), **job["overrides"]})


def job_row(job: dict, cfg) -> dict:
    """The identifying columns of a job's result row."""
    return {"target": job.get("label", ""), "setting": job["setting"], "label": job.get("setting_label", ""),
            "kind": job["kind"], "seed": job["seed"], "dataset": job["dataset"], "scale": job["scale"],
            "preset": job["preset"], "ipc": cfg.distill.ipc, "overrides": json.dumps(job["overrides"], sort_keys=True)}


def run_job(job: dict) -> dict:
    """Make the job's set (cached) and evaluate it (cached); return its row."""
    from ..method.baselines.sets import get_kind
    from .cache import evaluate_cached, set_cached
    t0 = time.time()
    get_kind(job["kind"])
    cfg = job_config(job)
    data = get_data(job["dataset"], job["data_root"], job.get("device"), cfg.preprocess)
    row = job_row(job, cfg)
    syn, d_hit, entry = set_cached(job["kind"], cfg, data, force=job["force"], root=job["cache_root"])
    row.update(distill_cached=d_hit, distill_s=syn.info.get("wall_time_s"), synthetic_dir=entry,
               final_loss=syn.losses[-1] if syn.losses else None,
               image_change=image_change(syn) if syn.losses else None)
    result, e_hit, path = evaluate_cached(cfg, data, syn.images, syn.labels, kind=job["kind"],
                                         force=job["force"], root=job["cache_root"])
    row.update(mean=result.mean, std=result.std, n_models=len(result.accuracies),
               accuracies=list(result.accuracies), eval_cached=e_hit, eval_s=result.wall_time_s,
               eval_path=path, job_s=round(time.time() - t0, 3))
    cached = "cached" if e_hit and d_hit else "computed"
    print(f"{job.get('label') or 'sweep'} | {row['setting']} | {row['kind']} | seed {row['seed']}: "
          f"{100 * result.mean:.2f} +- {100 * result.std:.2f} % ({cached}, {row['job_s']:.1f} s)", flush=True)
    return row


def image_change(syn) -> float | None:
    """How far distillation moved the images from their initialisation:
    mean |S - S_0| / mean |S_0| (None without the iteration-0 snapshot)."""
    s0 = syn.snapshots.get(0)
    if s0 is None:
        return None
    s0 = s0.float().cpu()
    return float((syn.images.detach().float().cpu() - s0).abs().mean() / s0.abs().mean().clamp_min(1e-12))


def run_sweep(settings: Iterable[Setting], seeds: Iterable[int] = (0,), dataset: str = "digits",
              data_root: str = "data", preset: str = "paper", scale: str = "quick", ipc: int = 10,
              kinds: Iterable[str] = ("datadam",), force: bool = False, executor: str = "inline",
              executor_config: str | None = None, cache_root: str | None = None, device: str | None = None,
              label: str = "", job_fn: Callable[[dict], dict] = run_job, run_overrides: dict | None = None,
              **extra) -> list[dict]:
    """Run every (setting, kind, seed) of a sweep through ``executors.run_jobs``
    with ``job_fn`` (default :func:`run_job`); one row (a plain dict) per job,
    in job order."""
    from .executors import run_jobs
    jobs = make_jobs(settings, seeds, dataset, data_root, preset, scale, ipc, kinds, force, cache_root,
                     device, label, run_overrides, **extra)
    return list(run_jobs(job_fn, jobs, executor, executor_config or None))


def set_job(job: dict) -> dict:
    """Make the job's set (cached), no evaluation (image grids, t-SNE, the
    attention lesson): its row, the set's directory, its last loss and how far
    distillation moved the images (%)."""
    from .cache import set_cached
    cfg = job_config(job)
    data = get_data(job["dataset"], job["data_root"], job.get("device"), cfg.preprocess)
    syn, hit, entry = set_cached(job["kind"], cfg, data, force=job["force"], root=job["cache_root"])
    change = image_change(syn)
    return {**job_row(job, cfg), "synthetic_dir": entry, "distill_cached": hit,
            "distill_s": syn.info.get("wall_time_s"),
            "final_loss": syn.losses[-1] if syn.losses else None,
            "image_change_pct": None if change is None else 100 * change}


def curve_job(job: dict) -> dict:
    """One distillation evaluated at several of its iterations (a sweep job:
    module-level, picklable). The images at iteration k of an N-iteration run
    are the final images of a k-iteration run with the same seed (every draw
    happens in the same order; tests/test_families.py checks it), so each
    point is cached under the config of a k-iteration run."""
    from ..method.config import override
    from .cache import evaluate_cached, set_cached
    cfg = job_config(job)
    data = get_data(job["dataset"], job["data_root"], job.get("device"), cfg.preprocess)
    points = tuple(job["points"])
    syn, hit, entry = set_cached("datadam", cfg, data, force=job["force"], root=job["cache_root"], snapshot_at=points)
    out = []
    for k in points:
        cfg_k = override(cfg, {"distill.iterations": k})
        res, e_hit, _ = evaluate_cached(cfg_k, data, syn.snapshots[k].to(data.device), syn.labels, kind="datadam",
                                        force=job["force"], root=job["cache_root"])
        out.append({"x": k, "accuracies": res.accuracies, "eval_cached": e_hit, "eval_s": res.wall_time_s})
        print(f"{job['label']} | iteration {k}: {100 * res.mean:.2f} +- {100 * res.std:.2f} %", flush=True)
    return {"setting": job["setting"], "kind": "datadam", "seed": job["seed"], "synthetic_dir": entry,
            "distill_cached": hit, "distill_s": syn.info.get("wall_time_s"), "points": out,
            "dataset": job["dataset"], "scale": job["scale"], "preset": job["preset"], "ipc": cfg.distill.ipc}
