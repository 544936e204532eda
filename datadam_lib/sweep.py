"""One runner for sweeps over settings and seeds (the notebooks never loop).

    rows = run_sweep({"p=1": {"distill.method.power": 1}, "p=4": {"distill.method.power": 4}},
                     seeds=[0], dataset="digits", scale="quick")
    table = summarize(rows)

Every (setting, kind, seed) becomes one job: a plain dict, run by the
module-level :func:`run_job` (picklable, so an executor may ship it to another
process or a cluster node). A job loads its dataset, distils (through the
cache), evaluates (through the cache) and returns a plain dict row. Jobs are
dispatched with ``executors.run_jobs(run_job, jobs, executor, executor_config)``.

kinds: ``datadam`` (distil, then evaluate the distilled set) and ``random``
(evaluate ``ipc`` random real images per class, the "Random" baseline).
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from typing import Any, Iterable

KINDS = ("datadam", "random")

_DATA: dict[tuple, Any] = {}


def default_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def get_data(name: str, root: str, device: str | None = None):
    """``load_dataset`` memoised per process (a sweep loads its dataset once)."""
    from .data import load_dataset
    device = device or default_device()
    k = (name, os.path.abspath(root), device)
    if k not in _DATA:
        _DATA[k] = load_dataset(name, root, device=device)
    return _DATA[k]


def make_jobs(settings: dict[str, dict[str, Any]], seeds: Iterable[int], dataset: str, data_root: str,
              preset: str = "paper", scale: str = "quick", ipc: int = 10, kinds: Iterable[str] = ("datadam",),
              force: bool = False, cache_root: str | None = None, device: str | None = None,
              label: str = "") -> list[dict]:
    """The jobs of a sweep: settings x kinds x seeds, each a plain dict.
    ``settings`` maps a label to config overrides by dotted path
    (``{"distill.method.power": 2}``; ``{"distill.ipc": 1}`` changes the IPC)."""
    from .cache import cache_root as _cache_root
    from .config import make_config
    kinds, seeds = list(kinds), [int(s) for s in seeds]
    if not seeds:
        raise ValueError("a sweep needs at least one seed")
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown kind {k!r}; choose from {KINDS}")
    jobs = []
    for setting, overrides in settings.items():
        make_config(preset, scale, dataset, ipc, 0, dict(overrides))  # fail early on a bad override
        for kind in kinds:
            for seed in seeds:
                jobs.append({"label": label, "setting": setting, "overrides": dict(overrides), "kind": kind,
                             "seed": seed, "dataset": dataset, "data_root": os.path.abspath(data_root),
                             "preset": preset, "scale": scale, "ipc": int(ipc), "force": bool(force),
                             "cache_root": _cache_root(cache_root), "device": device})
    return jobs


def run_job(job: dict) -> dict:
    """Distil (cached) and evaluate (cached) one job; return its row."""
    from .cache import distill_cached, evaluate_cached
    from .config import make_config
    from .evaluate import random_subset
    t0 = time.time()
    data = get_data(job["dataset"], job["data_root"], job.get("device"))
    cfg = make_config(job["preset"], job["scale"], job["dataset"], job["ipc"], job["seed"], job["overrides"])
    row = {"label": job.get("label", ""), "setting": job["setting"], "kind": job["kind"], "seed": job["seed"],
           "dataset": job["dataset"], "scale": job["scale"], "preset": job["preset"], "ipc": cfg.distill.ipc,
           "overrides": json.dumps(job["overrides"], sort_keys=True)}
    if job["kind"] == "datadam":
        syn, d_hit, entry = distill_cached(cfg, data, force=job["force"], root=job["cache_root"])
        x, y = syn.images, syn.labels
        row.update(distill_cached=d_hit, distill_s=syn.info.get("wall_time_s"), synthetic_dir=entry,
                   final_loss=syn.losses[-1] if syn.losses else None, image_change=image_change(syn))
    else:
        x, y = random_subset(data, cfg.distill.ipc, cfg.seed)
        row.update(distill_cached=None, distill_s=None, synthetic_dir=None, final_loss=None, image_change=None)
    result, e_hit, path = evaluate_cached(cfg, data, x, y, kind=job["kind"], force=job["force"],
                                         root=job["cache_root"])
    row.update(mean=result.mean, std=result.std, n_models=len(result.accuracies),
               accuracies=list(result.accuracies), eval_cached=e_hit, eval_s=result.wall_time_s,
               eval_path=path, job_s=round(time.time() - t0, 3))
    cached = "cached" if e_hit and (row["distill_cached"] in (True, None)) else "computed"
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


def run_sweep(settings: dict[str, dict[str, Any]], seeds: Iterable[int] = (0,), dataset: str = "digits",
              data_root: str = "data", preset: str = "paper", scale: str = "quick", ipc: int = 10,
              kinds: Iterable[str] = ("datadam",), force: bool = False, executor: str = "inline",
              executor_config: str | None = None, cache_root: str | None = None, device: str | None = None,
              label: str = "") -> list[dict]:
    """Run every (setting, kind, seed) of a sweep through ``executors.run_jobs``;
    return one row (a plain dict) per job, in job order."""
    from .executors import run_jobs
    jobs = make_jobs(settings, seeds, dataset, data_root, preset, scale, ipc, kinds, force, cache_root,
                     device, label)
    return list(run_jobs(run_job, jobs, executor, executor_config or None))


def summarize(rows: list[dict]) -> list[dict]:
    """One row per (setting, kind), in first-seen order: mean and std (%, over
    every evaluated model of every seed), model and seed counts."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["setting"], r["kind"]), []).append(r)
    out = []
    for (setting, kind), rs in groups.items():
        accs = [a for r in rs for a in r["accuracies"]]
        m = sum(accs) / len(accs)
        sd = math.sqrt(sum((a - m) ** 2 for a in accs) / len(accs))
        out.append({"setting": setting, "kind": kind, "mean": 100 * m, "std": 100 * sd, "n_models": len(accs),
                    "seeds": ";".join(str(r["seed"]) for r in rs), "dataset": rs[0]["dataset"],
                    "scale": rs[0]["scale"], "preset": rs[0]["preset"], "ipc": rs[0]["ipc"],
                    "overrides": rs[0]["overrides"], "image_change_pct": _mean_pct(rs, "image_change"),
                    "accuracies": ";".join(f"{100 * a:.2f}" for a in accs)})
    return out


def _mean_pct(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return 100 * sum(vals) / len(vals) if vals else None


def write_csv(rows: list[dict], path: str) -> None:
    """Rows as CSV (lists joined with ';'), written atomically."""
    import io as _io
    from .io import atomic_write_text
    if not rows:
        raise ValueError("no rows to write")
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in r.items()})
    atomic_write_text(buf.getvalue(), path)


def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
