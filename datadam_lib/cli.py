"""Command line: ``python -m datadam_lib {distill,evaluate,quickstart,datasets} ...``.

    python -m datadam_lib distill --dataset digits --ipc 10 --scale quick --out runs/digits-10
    python -m datadam_lib evaluate runs/digits-10
    python -m datadam_lib evaluate --random --dataset digits --ipc 10 --scale quick
    python -m datadam_lib evaluate --load syn_data_cifar10_ipc_10.pt --dataset cifar10 --preset released
    python -m datadam_lib quickstart          # DataDAM vs Random on digits, IPC 1 and 10
    python -m datadam_lib datasets
"""
from __future__ import annotations

import argparse
import ast
import os
import sys

USER_ERRORS = ("DataError", "DatasetNotFoundError", "CheckpointError", "KeyError", "ValueError", "FileNotFoundError")


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="a name from `datasets`, npz:PATH or folder:PATH")
    p.add_argument("--root", default=os.environ.get("DATADAM_DATA", "data"), help="where datasets live")
    p.add_argument("--download", action="store_true", help="download the dataset if torchvision can")
    p.add_argument("--ipc", type=int, default=10, help="images per class")
    p.add_argument("--preset", default="paper", help="paper | released")
    p.add_argument("--scale", default="quick", help="smoke | quick | paper")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. distill.method.power=2 (repeatable)")
    p.add_argument("--no-progress", action="store_true")


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def _config(a):
    from .method.config import make_config
    overrides = {}
    for item in a.set:
        key, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE")
        overrides[key] = _value(val)
    return make_config(a.preset, a.scale, a.dataset, a.ipc, a.seed, overrides)


def cmd_distill(a) -> None:
    from .method.data import load_dataset
    from .method.distill import distill
    cfg = _config(a)
    data = load_dataset(cfg.dataset, a.root, a.download, a.device, cfg.preprocess)
    ckpt = a.out.rstrip("/") + ".checkpoint.pt"
    syn = distill(cfg, data, checkpoint=ckpt, checkpoint_every=a.checkpoint_every, progress=not a.no_progress)
    syn.save(a.out)
    if os.path.exists(ckpt):
        os.remove(ckpt)
    print(f"wrote {a.out}: {len(syn.images)} images ({data.num_classes} classes x {cfg.distill.ipc}), "
          f"final loss {syn.losses[-1] if syn.losses else float('nan'):.4g}, {syn.info['wall_time_s']:.1f} s")


def cmd_evaluate(a) -> None:
    from .method.config import override
    from .method.data import load_dataset
    from .method.distill import SyntheticSet
    from .method.evaluate import evaluate, random_subset
    from .method.io import device_description, manifest, write_json
    if a.load:   # a set made elsewhere (method/external.py lists the layouts)
        from .method.external import check_against, load_external
        cfg = _config(a)
        x, y, layout = load_external(a.load)
        data = load_dataset(cfg.dataset, a.root, a.download, a.device, cfg.preprocess)
        check_against(x, y, data, a.load)
        label, out = f"{a.load} ({layout})", a.out or os.path.splitext(a.load.rstrip("/"))[0] + ".metrics.json"
    elif a.random or a.whole:
        cfg = _config(a)
        data = load_dataset(cfg.dataset, a.root, a.download, a.device, cfg.preprocess)
        if a.whole:
            x, y = data.x_train, data.y_train
            label, out = f"Whole dataset {cfg.dataset}", a.out or f"whole-{cfg.dataset}.json"
        else:
            x, y = random_subset(data, cfg.distill.ipc, cfg.seed)
            label, out = f"Random {cfg.dataset} ipc={cfg.distill.ipc}", a.out or f"random-{cfg.dataset}-ipc{a.ipc}.json"
    else:
        if not a.dir:
            raise ValueError("evaluate needs a directory written by `distill`, or --random / --whole")
        syn = SyntheticSet.load(a.dir)
        cfg = syn.config
        if a.set:
            cfg = override(cfg, {k: _value(v) for k, _, v in (s.partition("=") for s in a.set)})
        data = load_dataset(cfg.dataset, a.root, a.download, a.device, cfg.preprocess)
        x, y = syn.images, syn.labels
        label, out = f"DataDAM {cfg.dataset} ipc={cfg.distill.ipc}", a.out or os.path.join(a.dir, "metrics.json")
    result = evaluate(x, y, data, cfg.evaluate, seed=cfg.seed, progress=not a.no_progress)
    write_json({**result.to_dict(), "label": label,
                "manifest": manifest(seed=cfg.seed, device=device_description(data.device),
                                     preset=cfg.preset, scale=cfg.scale)}, out)
    print(f"{label} [{cfg.preset} preset, {cfg.scale} scale]: {result}  -> {out}")


def cmd_quickstart(a) -> None:
    """DataDAM vs Random at each IPC through the kit's cached sweep; prints the
    table (the quickstart notebook adds the figures)."""
    import time
    from .kit import report
    from .kit.registry import settings
    from .kit.sweep import run_sweep
    t0 = time.time()
    rows = run_sweep(settings("ipc", a.ipcs, lambda v: {"distill.ipc": v}), seeds=[a.seed], dataset=a.dataset,
                     data_root=a.root, preset=a.preset, scale=a.scale, kinds=("random", "datadam"),
                     device=a.device, label="quickstart")
    summary = report.summarize(rows)
    print(f"\nDataDAM vs Random on {a.dataset} ({a.preset} preset, {a.scale} scale, seed {a.seed}; "
          "accuracy %, mean +- std over models)\n")
    print("| IPC | Random | DataDAM | DataDAM - Random | models | images moved (%) |\n|---|---|---|---|---|---|")
    for ipc in a.ipcs:
        r, d = (next(x for x in summary if x["setting"] == f"ipc={ipc}" and x["kind"] == k) for k in ("random", "datadam"))
        print(f"| {ipc} | {r['mean']:.1f} +- {r['std']:.1f} | {d['mean']:.1f} +- {d['std']:.1f} "
              f"| {d['mean'] - r['mean']:+.1f} | {d['n_models']} | {d['image_change_pct']:.0f} |")
    print(f"\ntotal {time.time() - t0:.0f} s (cached results are reused; --force is not offered here: "
          "delete the cache entry or use ./reproduce.sh quickstart --force)")


def cmd_datasets(a) -> None:
    from .method.data import dataset_status
    rows = dataset_status(a.root)
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = {True: "present", False: "missing", None: "-"}[r["present"]]
        print(f"{r['name']:<{w}}  {mark:<8} {r['path']}\n{'':<{w}}  {r['description']}; get: {r['how_to_get']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m datadam_lib", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("distill", help="learn a synthetic set and write it to --out")
    _common(d)
    d.add_argument("--out", required=True, help="output directory (written atomically)")
    d.add_argument("--checkpoint-every", type=int, default=100, help="iterations between checkpoints (0: none)")
    d.set_defaults(fn=cmd_distill)
    e = sub.add_parser("evaluate", help="train fresh models on a synthetic set (or a random subset)")
    e.add_argument("dir", nargs="?", help="directory written by `distill`")
    e.add_argument("--random", action="store_true", help="evaluate ipc random real images per class instead")
    e.add_argument("--whole", action="store_true", help="evaluate the whole training set instead")
    e.add_argument("--load", metavar="PATH", help="evaluate a set made elsewhere: a kit directory or synthetic.pt, "
                   "a .pt with data=[images, labels] (the authors' published tensors), or *images*.pt beside "
                   "*labels*.pt; its images must be in --preset's preprocessing (authors': --preset released)")
    e.add_argument("--out", help="metrics JSON (default: DIR/metrics.json)")
    _common(e)
    e.set_defaults(fn=cmd_evaluate)
    q = sub.add_parser("quickstart", help="DataDAM vs Random at a few IPCs, side by side")
    _common(q)
    q.add_argument("--ipcs", type=int, nargs="+", default=[1, 10])
    q.set_defaults(fn=cmd_quickstart)
    s = sub.add_parser("datasets", help="list datasets, where each is looked for, and whether it is there")
    s.add_argument("--root", default=os.environ.get("DATADAM_DATA", "data"))
    s.set_defaults(fn=cmd_datasets)
    a = p.parse_args(argv)
    try:
        a.fn(a)
    except Exception as err:  # user errors: one line, no traceback
        if type(err).__name__ not in USER_ERRORS:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
