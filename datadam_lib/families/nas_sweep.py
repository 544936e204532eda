"""How a NAS search runs (the NAS family, ``families/nas.py``): the two
search spaces, the jobs and the two sweeps through the kit's executors.

1. one job per kind of set (``method.baselines.sets``: random, dm, datadam, and the
   baselines' dsa, cafe, dc): make the IPC-N proxy from the training part of
   the search split (``kit.cache.set_cached``);
2. one job per (candidate, proxy, training seed): train the candidate, score
   it on the validation split (and the test split), cache the result as JSON
   under ``<cache>/nas/<key>.json`` (key: ``kit.cache.make_key`` of the
   candidate, the proxy's set key or kind, the training plan, the identities
   of the search split and the test data, and the seed).

Jobs are plain dicts and the job functions live at module level, so an
executor can ship them to another process or a Slurm node.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

from ..kit import report
from ..kit.registry import Setting, TargetError

# Paper-scale cost (docs/nas.md): the paper's own whole-data time, 5,168.9 min for 720 x 200 epochs on 45,000
# images, is ~17 TFLOP/s at the 720 nets' mean 0.27 GFLOP a forward pass (32x32 RGB).
CONVNET_COST = ("720 x 7 = 5,040 training jobs (a Slurm array) plus one job per proxy set; ~90 GPU-h, ~86 of them "
                "the whole-data trainings (the paper: 5,168.9 min), ~0.5-1 GPU-h per proxy's 720 trainings")
CELL_COST = ("100 cells x 6 proxies x 5 seeds = 3,000 training jobs plus one per proxy set; ~7 GPU-h against the "
             "NAS-Bench-201 file (batch-64 steps of a 34-MFLOP network: latency-bound), ~30-90 GPU-h more for a "
             "self-trained ground truth (500 trainings of 200 epochs on 50,000 images at N = 5)")


# ---------------------------------------------------------------- search spaces

@dataclass(frozen=True)
class Truth:
    """The ground truth of a search: the trainings it needs (proxies added to
    the search), what it is in words and on a figure's axis, whether it is
    NAS-Bench-201's, and ``values(points, candidates)`` -> (what ranks the
    candidates, what "Performance" reports of a proxy's first choice)."""
    needs: tuple[str, ...]
    text: str
    axis: str
    benchmark: bool
    values: Callable[[dict, list[Setting]], tuple[list[float], list[float]]]


@dataclass(frozen=True)
class Space:
    """A search space: its candidates for a target's parameters (the Setting
    values a candidate is rebuilt from) and how many to expect, the proxies
    that are trainings rather than sets, the fields its jobs share, the
    *plan* of one training (a frozen dataclass: the protocol, part of the
    result's cache key), the training itself, its ground truth, and its
    protocol in words."""
    axis: str
    candidates: Callable[[dict], list[str]]
    count: Callable[[dict], int]
    trained: tuple[str, ...]
    fields: Callable[[dict], dict]
    plan: Callable[[dict, str, str, int, int], Any]        # (job, candidate, kind, proxy size, images) -> plan
    train: Callable[..., Any]                               # (plan, candidate, images, labels, split, g) -> model
    truth: Callable[[dict], Truth]
    notes: Callable[[Any, dict, report.Run], list[str]]     # (search, params, run) -> the protocol in words


def _convnet_candidates(p: dict) -> list[str]:
    from ..method.nas import space as nas_space
    space = nas_space.axes(depth=p.get("depths"), width=p.get("widths"))
    return [nas_space.name(s) for s in nas_space.stratified(int(p["architectures"]), int(p["arch_seed"]), space)]


def _space_size(p: dict) -> int:
    from ..method.nas import space as nas_space
    return len(nas_space.grid(nas_space.axes(depth=p.get("depths"), width=p.get("widths"))))


def _convnet_count(p: dict) -> int:
    return min(int(p["architectures"]), _space_size(p))


def _convnet_fields(p: dict) -> dict:
    return {"proxy_epochs": int(p["proxy_epochs"]), "whole_epochs": int(p["whole_epochs"]), "augment": p["augment"]}


def _convnet_truth(p: dict) -> Truth:
    def values(pts, cands):
        return [pts["whole"][c.key]["val"] for c in cands], [pts["whole"][c.key]["test"] for c in cands]
    return Truth(("whole",), "training on the whole training part: its validation accuracy ranks, its test accuracy "
                 "is the Performance", "whole training data: validation acc. (%)", False, values)


def _convnet_notes(s, p: dict, run_: report.Run) -> list[str]:
    from ..method.config import make_config
    from ..method.nas.search import early_stopping_epochs, iterations
    ev = make_config(run_.preset, run_.scale, run_.dataset, overrides=run_.overrides).evaluate
    n_proxy = int(p["ipc"]) * len(run_.load_data().classes)
    n_whole = next(iter(s.points["whole"].values()))["n_images"]
    early = early_stopping_epochs(n_proxy, p["proxy_epochs"], n_whole, ev.batch_size)
    chosen = ("all of them" if len(s.candidates) >= _space_size(p) else
              f"a stratified subset (seed {p['arch_seed']}: each axis value about equally often; "
              "method.nas.space.stratified)")
    return [
        "*Protocol* (the DC paper's NAS, as later papers quote it; no public script): "
        f"{p['val_fraction']:.0%} of the training set held out (per class, seed {p['split_seed']}) to validate on, "
        "the proxies made from the rest; every candidate trained with the preset's evaluation optimiser (SGD lr "
        f"{ev.lr:g}, momentum {ev.momentum:g}, weight decay {ev.weight_decay:g}, batch {ev.batch_size}, schedule "
        f"{ev.schedule!r}), augmentation {p['augment']}: {p['proxy_epochs']} epochs on each proxy "
        f"({iterations(n_proxy, ev.batch_size, p['proxy_epochs'])} iterations), {p['whole_epochs']} on the whole "
        f"training part ({n_whole} images); early stopping: {early} epochs of the whole part, the proxy's "
        "iterations rounded to whole epochs.",
        f"*Candidates:* {len(s.candidates)} of the {_space_size(p)} ConvNets of the depth x width x activation x "
        f"normalisation x pooling grid (widths {p.get('widths') or 'as the paper'}), {chosen}. *Top 20 %:* the "
        "candidates best by the whole data's validation accuracy.",
        f"*Cost of the paper-scale run:* {CONVNET_COST}.",
    ]


def _convnet_spec(name: str):
    from ..method.nas import space as nas_space
    d, w, act, norm, pool = name.split("-")
    return nas_space.spec(int(d[1:]), int(w[1:]), act, norm, pool)


def _convnet_plan(job: dict, name: str, kind: str, n_proxy: int, n_images: int):
    """DC's NAS protocol: the preset's evaluation optimiser (``EvalConfig``:
    SGD 0.01, momentum 0.9, weight decay 5e-4, batch 256, x0.1 at half),
    ``proxy_epochs`` on a proxy, ``whole_epochs`` on the whole training part,
    early stopping = the proxy's number of iterations on the whole part."""
    from ..kit.sweep import job_config
    from ..method.nas.search import early_stopping_epochs
    ev = job_config(job).evaluate
    epochs = {"whole": job["whole_epochs"],
              "early": early_stopping_epochs(n_proxy, job["proxy_epochs"], n_images, ev.batch_size),
              }.get(kind, job["proxy_epochs"])
    return replace(ev, encoder=_convnet_spec(name), epochs=int(epochs), augment=job["augment"], num_models=1)


def _convnet_train(plan, name, images, labels, split, g):
    from ..method.evaluate import train_model
    return train_model(images, labels, split.search, plan, g)


@dataclass(frozen=True)
class CellTraining:
    """One cell's training: the protocol and the network's C, N and whether
    its cells' BatchNorms have affine parameters."""
    protocol: Any            # method.nas.search.TrainProtocol
    C: int = 16
    N: int = 1
    cell_affine: bool = False


def _cell_candidates(p: dict) -> list[str]:
    from ..method.nas.cells import arch_string, random_cells
    return [arch_string(c) for c in random_cells(int(p["cells"]), int(p["cell_seed"]))]


def _cell_fields(p: dict) -> dict:
    from ..method.nas.search import DCBENCH_PROXY, DCBENCH_WHOLE, NB201_TRUTH
    return {"protocols": {"proxy": asdict(replace(DCBENCH_PROXY, epochs=int(p["proxy_epochs"]),
                                                  shuffle=bool(p["shuffle_proxy"]))),
                          "whole": asdict(replace(DCBENCH_WHOLE, epochs=int(p["whole_epochs"]))),
                          "truth": asdict(replace(NB201_TRUTH, epochs=int(p["truth_epochs"]),
                                                  augment=p["truth_augment"]))},
            "networks": {"proxy": {"C": int(p["cell_channels"]), "N": 1, "cell_affine": False},
                         "truth": {"C": int(p["cell_channels"]), "N": int(p["truth_cells_per_stage"]),
                                   "cell_affine": True}}}


def _cell_truth(p: dict) -> Truth:
    """NAS-Bench-201's accuracies when its file is given, else a self-trained
    ground truth that says it is not NAS-Bench-201."""
    from ..method.nas.cells import parse
    if p.get("nb201_path"):
        from ..method.nas.bench201 import BenchmarkFile
        bench = BenchmarkFile(p["nb201_path"])          # fails now, before any training, when it cannot be read

        def looked_up(pts, cands):
            acc = [bench.test_accuracy(parse(c.value)) for c in cands]
            return acc, acc
        return Truth((), bench.describe(), "NAS-Bench-201 test acc. (%)", True, looked_up)

    def trained(pts, cands):
        acc = [pts["truth"][c.key]["test"] for c in cands]
        return acc, acc
    return Truth(("truth",), f"self-trained, NOT NAS-Bench-201: the C = {p['cell_channels']}, N = "
                 f"{p['truth_cells_per_stage']} network trained "
                 f"{p['truth_epochs']} epochs (NAS-Bench-201's recipe, augmentation {p['truth_augment']}) on the whole "
                 "training set, test accuracy", "self-trained ground truth: test acc. (%)", False, trained)


def _cell_notes(s, p: dict, run_: report.Run) -> list[str]:
    order = ("shuffled" if p["shuffle_proxy"] else "in its stored, class-sorted order (DC-Bench's DataLoader does not "
             "shuffle; shuffle_proxy=True changes that)")
    return [
        f"*Protocol* (DC-Bench, darts-pt/nasbench201/train_search.py): the cell network with C = {p['cell_channels']}, "
        "N = 1 and no "
        "affine BatchNorm in the cells; SGD lr 0.025 cosine to 0.001, momentum 0.9, weight decay 3e-4, gradient "
        f"norm clipped at 5, batch 64; {p['proxy_epochs']} epochs on each proxy, {order}; whole: "
        f"{p['whole_epochs']} epochs on the other {1 - p['val_fraction']:.0%} of the training set; validation on "
        f"{p['val_fraction']:.0%} of it (per class, seed {p['split_seed']}), the proxies made from the rest.",
        f"*Candidates:* {len(s.candidates)} distinct random cells of the 15,625 (seed {p['cell_seed']}). Best ground "
        f"truth among them: {max(s.truth_rank):.2f} %.",
        f"*Cost of the paper-scale run:* {CELL_COST}.",
    ]


def _cell_plan(job: dict, name: str, kind: str, n_proxy: int, n_images: int) -> CellTraining:
    """DC-Bench's protocol (``method.nas.search``) and network (C 16, N 1,
    cells without affine BatchNorm) on a proxy or ``whole``; the ground
    truth's for ``truth``."""
    from ..method.nas.search import TrainProtocol
    role = kind if kind in ("whole", "truth") else "proxy"
    net = job["networks"]["truth" if role == "truth" else "proxy"]
    return CellTraining(TrainProtocol(**job["protocols"][role]), **net)


def _cell_train(plan: CellTraining, name, images, labels, split, g):
    from ..method.nas.cells import build_cell_network, parse
    from ..method.nas.search import fit
    d = split.full
    model = build_cell_network(parse(name), d.channels, d.num_classes, plan.C, plan.N, plan.cell_affine, g, d.device)
    return fit(model, images, labels, plan.protocol, g)


SPACES: dict[str, Space] = {
    "convnet": Space("arch", _convnet_candidates, _convnet_count, ("early", "whole"), _convnet_fields, _convnet_plan,
                     _convnet_train, _convnet_truth, _convnet_notes),
    "cells": Space("cell", _cell_candidates, lambda p: int(p["cells"]), ("whole", "truth"), _cell_fields, _cell_plan,
                   _cell_train, _cell_truth, _cell_notes),
}


def check_proxies(proxies, space: Space, needs: tuple[str, ...] = ()) -> list[str]:
    """The proxies as a list, with the trainings the ground truth ``needs``
    added, or one clear error naming every kind this installation cannot
    make (DSA, CAFE and DC come with the baselines)."""
    from ..method.baselines.sets import SET_KINDS
    proxies = list(dict.fromkeys([*proxies, *needs]))
    missing = [p for p in proxies if p not in SET_KINDS and p not in space.trained]
    if missing:
        raise TargetError(f"proxies {missing} are not kinds of set here (kinds of set: {sorted(SET_KINDS)}; "
                          f"trainings: {list(space.trained)}); pass proxies=[...] without them")
    if not proxies:
        raise TargetError("no proxies to compare")
    return proxies


# ---------------------------------------------------------------- the jobs (module level: picklable)

_SPLITS: dict[tuple, tuple] = {}


def _context(job: dict):
    """The job's search split and its identity (memoised per process) and
    the config the proxy sets are made with."""
    from ..kit.cache import dataset_identity
    from ..kit.sweep import get_data
    from ..method.config import make_config
    from ..method.nas.search import holdout
    set_cfg = make_config(job["preset"], job["scale"], job["dataset"], job["ipc"], job["set_seed"],
                          {**job.get("run_overrides", {}), **job["set_overrides"]})
    data = get_data(job["dataset"], job["data_root"], job.get("device"), set_cfg.preprocess)
    k = (id(data), job["val_fraction"], job["split_seed"])
    if k not in _SPLITS:
        split = holdout(data, job["val_fraction"], job["split_seed"])
        _SPLITS[k] = (split, {"search": dataset_identity(split.search), "test": dataset_identity(data)})
    split, identity = _SPLITS[k]
    return split, identity, set_cfg


def set_job(job: dict) -> dict:
    """Phase 1: make the job's kind of set from the search split (cached)."""
    from ..kit.cache import set_cached
    split, _, cfg = _context(job)
    t0 = time.time()
    syn, hit, entry = set_cached(job["kind"], cfg, split.search, force=job["force"], root=job["cache_root"])
    print(f"{job['label']} | proxy set {job['kind']}: {len(syn.images)} images "
          f"({'cached' if hit else 'made'}, {time.time() - t0:.1f} s)", flush=True)
    return {"kind": job["kind"], "cached": hit, "entry": entry, "n_images": len(syn.images),
            "make_s": syn.info.get("wall_time_s", round(time.time() - t0, 3))}


def training_job(job: dict) -> dict:
    """Phase 2: train one candidate on one proxy with one seed, score it on
    the validation and test splits; the result is cached as JSON."""
    from ..kit.cache import canonical, make_key, set_cached, set_key
    from ..kit.paths import cache_root
    from ..method.io import device_description, manifest, write_json
    from ..method.nas.search import score
    from ..method.training import model_generator
    t0 = time.time()
    space = SPACES[job["space"]]
    split, identity, cfg = _context(job)
    kind, name = job["kind"], job["setting_label"]
    n_proxy = cfg.distill.ipc * split.search.num_classes
    if kind in space.trained:
        src = split.full if kind == "truth" else split.search
        images, labels, source = src.x_train, src.y_train, {"kind": kind}
    else:
        syn, _, _ = set_cached(kind, cfg, split.search, root=job["cache_root"])
        images, labels, source = syn.images, syn.labels, {"kind": kind, "set": set_key(kind, cfg, split.search)}
    plan = space.plan(job, name, kind, n_proxy, len(images))
    g = model_generator(job["seed"], 0, split.full.device)
    payload = {"space": job["space"], "candidate": name, "proxy": source, "plan": canonical(plan)}
    key = make_key("nas-training", payload, identity, job["seed"])
    path = os.path.join(cache_root(job["cache_root"]), "nas", key + ".json")
    result, hit = None, False
    if not job["force"] and os.path.isfile(path):
        try:
            with open(path) as f:
                result = json.load(f)
            hit = all(isinstance(result[k], (int, float)) for k in ("val_acc", "test_acc", "train_s", "n_images"))
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"cache: recomputing unreadable entry {path} ({e})", flush=True)
    if not hit:
        t1 = time.time()
        model = space.train(plan, name, images, labels, split, g)
        val, test = score(model, split)
        result = {"val_acc": 100 * val, "test_acc": 100 * test, "train_s": round(time.time() - t1, 3),
                  "n_images": len(images), "key": key, "payload": payload,
                  "manifest": manifest(seed=job["seed"], device=device_description(split.full.device),
                                       preset=job["preset"], scale=job["scale"])}
        write_json(result, path)
    row = {"target": job["label"], "space": job["space"], "setting": job["setting"], "label": name, "kind": kind,
           "seed": job["seed"], "dataset": job["dataset"], "scale": job["scale"], "preset": job["preset"],
           "ipc": cfg.distill.ipc, "val_acc": result["val_acc"], "test_acc": result["test_acc"],
           "train_s": result["train_s"], "n_images": result["n_images"], "cached": hit,
           "job_s": round(time.time() - t0, 3)}
    print(f"{job['label']} | {name} | {kind} | seed {job['seed']}: val {row['val_acc']:.1f} %, test "
          f"{row['test_acc']:.1f} % ({'cached' if hit else 'computed'}, {row['job_s']:.1f} s)", flush=True)
    return row


# ---------------------------------------------------------------- a search: two sweeps

@dataclass
class Search:
    """Every training of a search, and the ground truth it is judged by:
    ``truth_rank`` ranks the candidates (the whole training part's validation
    accuracy; NAS-Bench-201's test accuracy; a self-trained test accuracy),
    ``truth_report`` is what the paper's "Performance" reports of the
    candidate a proxy ranks first (the test accuracy)."""
    space: str
    candidates: list[Setting]
    proxies: list[str]
    rows: list[dict]
    sets: list[dict]
    points: dict[str, dict[str, dict]]
    truth_rank: list[float]
    truth_report: list[float]
    truth: str                           # what the ground truth is, in words
    benchmark: bool = False              # the ground truth is NAS-Bench-201's
    truth_axis: str = "ground truth (%)"
    truth_kinds: tuple[str, ...] = ()    # the ground truth's own trainings (not plotted against it)

    def compared(self) -> list[str]:
        """The proxies a table compares: every one but the ground truth's own training."""
        return [k for k in self.proxies if k != "truth"]

    def accuracies(self, kind: str) -> list[float]:
        return [self.points[kind][c.key]["val"] for c in self.candidates]


def points(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Per proxy, per candidate (Setting key): validation and test accuracy
    (%, mean over training seeds), training seconds (summed), images trained on."""
    out: dict[str, dict[str, dict]] = {}
    for r in rows:
        p = out.setdefault(r["kind"], {}).setdefault(
            r["setting"], {"label": r["label"], "val": [], "test": [], "train_s": 0.0, "n_images": r["n_images"]})
        p["val"].append(r["val_acc"])
        p["test"].append(r["test_acc"])
        p["train_s"] += r["train_s"]
    for per_kind in out.values():
        for p in per_kind.values():
            p["val"], p["test"] = sum(p["val"]) / len(p["val"]), sum(p["test"]) / len(p["test"])
    return out


def search(space_name: str, p: dict, run_: report.Run) -> Search:
    """Make the proxy sets (sweep 1), train every candidate on every proxy
    with every seed (sweep 2), and gather the ground truth."""
    from ..kit.sweep import run_sweep
    from ..method.baselines.sets import SET_KINDS
    space = SPACES[space_name]
    truth = space.truth(p)
    proxies = check_proxies(p["proxies"], space, truth.needs)
    candidates = [Setting(space.axis, c) for c in space.candidates(p)]
    overrides = {"distill.iterations": int(p["distill_iterations"])} if p["distill_iterations"] else {}
    common = dict(ipc=int(p["ipc"]), space=space_name, val_fraction=float(p["val_fraction"]),
                  split_seed=int(p["split_seed"]), set_seed=int(p["set_seed"]), set_overrides=overrides,
                  **space.fields(p), **run_.sweep_args())
    set_kinds = [k for k in proxies if k in SET_KINDS and k not in space.trained]
    sets = run_sweep([Setting("proxy", "set")], seeds=[int(p["set_seed"])], kinds=set_kinds, job_fn=set_job,
                     **common) if set_kinds else []
    rows = run_sweep(candidates, seeds=p["seeds"], kinds=proxies, job_fn=training_job, **common)
    pts = points(rows)
    rank, rep = truth.values(pts, candidates)
    return Search(space_name, candidates, proxies, rows, sets, pts, rank, rep, truth.text, truth.benchmark,
                  truth.axis, truth.needs)
