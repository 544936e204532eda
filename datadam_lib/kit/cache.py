"""A content-addressed cache of distilled sets and evaluation results.

Re-running a figure reuses every distilled set and every evaluation it has
already computed; ``force=True`` recomputes (and overwrites) them.

Key: the SHA-256 of (the full config as JSON, the dataset's identity, the
seed, the library version, what is cached). The dataset identity is its name
plus a fingerprint of its contents, so two different files under one name
(a CIFAR-10 slice and the full set, say) never share entries.

Layout under the cache root (``$DATADAM_CACHE``, else ``cache/`` in the kit)::

    distill/<key>/synthetic.pt, config.json, manifest.json, key.json
    eval/<key>.json

Writes are atomic: a new distilled set is written to a temporary directory
that becomes the entry in one rename (``SyntheticSet.save``; a recomputed
entry is replaced file by file, and a set whose files were not written
together is refused on load, so recomputed again), an evaluation to a
temporary file renamed into place (``io.write_json``). An interrupted run
leaves either the old entry or none, never half of one. Entries are named by
their key, so the cache writes only the kit's own files (``io``'s writer
rule): nothing else under the cache root is touched.

    syn, hit = distill_cached(cfg, data)
    result, hit = evaluate_cached(cfg, data, syn.images, syn.labels, kind="datadam")
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import torch

from .. import method
from ..method.config import Config, canonical
from ..method.data import RealData, dataset_identity
from ..method.distill import SyntheticSet, distill
from ..method.evaluate import EvalResult, evaluate
from ..method.io import CheckpointError, device_description, manifest, write_json
from .paths import cache_root


def make_key(kind: str, payload: dict, identity: dict, seed: int) -> str:
    """SHA-256 of what determines a cached result (and the library version)."""
    blob = json.dumps({"kind": kind, "payload": payload, "dataset": identity, "seed": seed,
                       "version": method.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def distill_key(cfg: Config, data: RealData) -> str:
    return make_key("distill", canonical(cfg), dataset_identity(data), cfg.seed)


def eval_key(cfg: Config, data: RealData, kind: str) -> str:
    """``datadam``: the evaluation of the set distilled with ``cfg`` (its key
    covers the whole config); ``random``: of ``ipc`` random real images per
    class (only the IPC, the evaluation protocol and the seed matter)."""
    if kind == "random":
        payload = {"ipc": cfg.distill.ipc, "evaluate": canonical(cfg.evaluate)}
    else:
        payload = canonical(cfg)
    return make_key(f"eval-{kind}", payload, dataset_identity(data), cfg.seed)


def snapshot_schedule(iterations: int) -> tuple[int, ...]:
    """Iterations at which cached runs keep a copy of the images: the start,
    a quarter, half way and the end (the quickstart shows them)."""
    return tuple(sorted({0, iterations // 4, iterations // 2, iterations}))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def distill_cached(cfg: Config, data: RealData, force: bool = False, root: str | None = None,
                   progress: bool = False) -> tuple[SyntheticSet, bool, str]:
    """The set distilled with ``cfg`` on ``data``: from the cache when there,
    else distilled now and stored. Returns ``(set, hit, entry_dir)``."""
    key = distill_key(cfg, data)
    entry = os.path.join(cache_root(root), "distill", key)
    if not force and os.path.isfile(os.path.join(entry, SyntheticSet.FILE)):
        try:
            return SyntheticSet.load(entry, data.device), True, entry
        except CheckpointError as e:
            _log(f"cache: recomputing unreadable entry {entry} ({e})")
    syn = distill(cfg, data, snapshot_at=snapshot_schedule(cfg.distill.iterations), progress=progress)
    syn.save(entry, overwrite=True)   # the entry is the kit's by its name (its record may be what was unreadable)
    write_json({"key": key, "kind": "distill", "dataset": dataset_identity(data), "seed": cfg.seed,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, os.path.join(entry, "key.json"))
    return syn, False, entry


def evaluate_cached(cfg: Config, data: RealData, images: torch.Tensor, labels: torch.Tensor,
                    kind: str = "datadam", force: bool = False, root: str | None = None,
                    progress: bool = False) -> tuple[EvalResult, bool, str]:
    """``evaluate(images, labels, data, cfg.evaluate, cfg.seed)`` through the
    cache; ``kind`` says what the images are (``datadam`` for the set distilled
    with ``cfg``, ``random`` for a random real subset of ``cfg.distill.ipc``).
    Returns ``(result, hit, path)``."""
    key = eval_key(cfg, data, kind)
    path = os.path.join(cache_root(root), "eval", key + ".json")
    if not force and os.path.isfile(path):
        try:
            with open(path) as f:
                d = json.load(f)
            return EvalResult(list(d["accuracies"]), float(d["wall_time_s"]), d.get("config", {})), True, path
        except (OSError, ValueError, KeyError, TypeError) as e:
            _log(f"cache: recomputing unreadable entry {path} ({e})")
    result = evaluate(images, labels, data, cfg.evaluate, seed=cfg.seed, progress=progress)
    write_json({**result.to_dict(), "key": key, "kind": kind, "dataset": dataset_identity(data),
                "manifest": manifest(seed=cfg.seed, device=device_description(data.device),
                                     preset=cfg.preset, scale=cfg.scale)}, path)
    return result, False, path
