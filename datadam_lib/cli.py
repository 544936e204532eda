"""Command line: ``python -m datadam_lib {distill,evaluate,quickstart,datasets} ...``.

    python -m datadam_lib distill --dataset digits --ipc 10 --scale quick --out runs/digits-10
    python -m datadam_lib evaluate runs/digits-10
    python -m datadam_lib evaluate runs/digits-10 --scale paper --seed 1   # the full protocol, other models
    python -m datadam_lib evaluate --random --dataset digits --ipc 10 --scale quick
    python -m datadam_lib evaluate --load syn_data_cifar10_ipc_10.pt --dataset cifar10 --preset released
    python -m datadam_lib quickstart          # DataDAM vs Random on digits, IPC 1 and 10
    python -m datadam_lib datasets

Outputs never replace what the kit did not write: --out must be new, empty or
an earlier output of the kit (then only the kit's files are replaced, anything
else in the directory is kept), unless --overwrite. Every mistake ends in one
`error:` line and exit code 2, before any work is done and with nothing
written; Ctrl-C (exit code 130) says where the checkpoint is. While distill
writes --out it holds the lock file OUT.lock: a second distill into the same
--out stops at once, naming the first one's pid. An evaluation records the
set's dataset and the data it ran on; other data than the set's own is refused
unless --allow-other-data.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys

USER_ERRORS = ("DataError", "DatasetNotFoundError", "CheckpointError", "ConfigError", "OutputError", "KeyError",
               "ValueError", "FileNotFoundError")

# evaluate DIR: which options still apply to an existing set (how to evaluate
# it) and which describe how a set is made (the set's own config decides them).
EVALUATE_DIR_APPLIES = ("--scale", "--seed", "--root", "--download", "--device")
SET_FIELDS_FOR_EVALUATION = ("evaluate", "seed", "dataset")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every option's default."""


class Parser(argparse.ArgumentParser):
    """argparse with its mistakes in one line (no usage block): exit code 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


class _Given(argparse.Action):
    """Store the value and remember that the option was given (``a.given``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", set()) | {option_string}


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _common(p: argparse.ArgumentParser) -> None:
    from .method.config import DEFAULT_DATASET, DEFAULT_SCALE, PRESETS, SCALES
    p.add_argument("--dataset", default=DEFAULT_DATASET, action=_Given,
                   help="a name from `datasets`, npz:PATH or folder:PATH")
    p.add_argument("--root", default=os.environ.get("DATADAM_DATA", "data"), help="where datasets live")
    p.add_argument("--download", action="store_true", help="download the dataset if torchvision can")
    p.add_argument("--ipc", type=int, default=10, action=_Given, help="images per class")
    p.add_argument("--preset", default="paper", choices=sorted(PRESETS), action=_Given,
                   help="paper: the authors' evidence; table2: Table 2 read literally; released: their code")
    p.add_argument("--scale", default=DEFAULT_SCALE, choices=list(SCALES), action=_Given,
                   help="how much work, never the method")
    p.add_argument("--seed", type=int, default=0, action=_Given)
    p.add_argument("--device", default="cuda" if _cuda() else "cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. distill.method.power=2 (repeatable)")
    p.add_argument("--no-progress", action="store_true")


def _out(p: argparse.ArgumentParser, what: str, required: bool = False) -> None:
    p.add_argument("--out", required=required, help=what)
    p.add_argument("--overwrite", action="store_true",
                   help="write into --out even if it holds files the kit did not write (files with the kit's "
                        "names are replaced, the others kept)")


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def overrides(items: list[str], flag: str = "--set", example: str = "evaluate.epochs=300") -> dict:
    """``--set FIELD=VALUE`` items (or another ``flag``'s NAME=VALUE) as a
    dict (values parsed as Python literals, never executed)."""
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {item!r}: expected {'FIELD' if flag == '--set' else 'NAME'}=VALUE, "
                             f"e.g. {example}")
        try:
            out[key.strip()] = _value(val)
        except (RecursionError, MemoryError):
            raise ValueError(f"{flag} {key.strip()}: the value is nested too deeply to be a setting "
                             f"({len(val):,} characters)") from None
    return out


# the options make_config takes, as the user typed them
_FLAGS = {"distill.ipc": "--ipc", "seed": "--seed", "dataset": "--dataset"}


def _config(a):
    from .method.config import make_config
    from .method.validation import ConfigError
    sets = overrides(a.set)
    try:
        return make_config(a.preset, a.scale, a.dataset, a.ipc, a.seed, sets)
    except ConfigError as e:
        if e.path in _FLAGS and e.path not in sets:
            raise ConfigError(_FLAGS[e.path], e.value, e.expected) from None
        raise


def prepare_distill(a):
    """Everything ``distill`` checks before it computes: the config, the
    device, --out and its checkpoint path (None with --checkpoint-every 0: the
    run neither reads nor writes one). Returns (config, device, checkpoint)."""
    from .method.io import check_creatable, check_device, check_output_dir
    from .method.synthetic import SyntheticSet
    cfg = _config(a)
    dev = check_device(a.device)
    check_output_dir(a.out, SyntheticSet.FILES, a.overwrite)
    if not a.checkpoint_every:
        a.checkpoint = None
        return cfg, dev, None
    ckpt = os.path.abspath(a.out) + ".checkpoint.pt"
    if os.path.isdir(ckpt):
        raise ValueError(f"{ckpt} (where the run's checkpoint goes) is a directory; move it or choose another --out")
    check_creatable(ckpt)
    a.checkpoint = ckpt
    return cfg, dev, ckpt


def cmd_distill(a) -> None:
    from .method.data import load_dataset
    from .method.distill import distill
    from .method.io import exclusive
    cfg, dev, ckpt = prepare_distill(a)
    with exclusive(os.path.abspath(a.out) + ".lock", f"--out {a.out}"):    # two runs into one --out: one says so
        data = load_dataset(cfg.dataset, a.root, a.download, dev, cfg.preprocess)
        syn = distill(cfg, data, checkpoint=ckpt, checkpoint_every=a.checkpoint_every, progress=not a.no_progress)
        syn.save(a.out, a.overwrite)
        if ckpt and os.path.exists(ckpt):
            os.remove(ckpt)
    resumed = f", resumed at iteration {', '.join(map(str, syn.info['resumed_at']))}" if syn.info["resumed_at"] else ""
    print(f"wrote {a.out}: {len(syn.images)} images ({data.num_classes} classes x {cfg.distill.ipc}), "
          f"final loss {syn.losses[-1] if syn.losses else float('nan'):.4g}, {syn.info['wall_time_s']:.1f} s{resumed}")


def _slug(name: str) -> str:
    """A dataset name as part of a file name (npz:/a/b.npz -> npz_a_b.npz)."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_")


def _set_config(a):
    """The config of ``evaluate DIR``: the set's own, with --scale, --seed and
    the --set fields that concern evaluation applied; options that describe
    how a set is made are refused when they disagree with the set."""
    from .method.config import PRESETS, override, scale_evaluation
    from .method.synthetic import SyntheticSet
    syn = SyntheticSet.load(a.dir)
    cfg = syn.config
    given = getattr(a, "given", set())
    made = {"--dataset": cfg.dataset, "--ipc": cfg.distill.ipc, "--preset": cfg.preset}
    for flag, value in made.items():
        if flag in given and getattr(a, flag[2:]) != value:
            raise ValueError(f"evaluate {a.dir}: {flag} {getattr(a, flag[2:])} does not apply, the set was made with "
                             f"{flag} {value}; options that apply to a set: {', '.join(EVALUATE_DIR_APPLIES)} and "
                             "--set evaluate.FIELD=VALUE (--set dataset=NAME with --allow-other-data for other data)")
    sets = overrides(a.set)
    made_fields = [k for k in sets if k.split(".")[0] not in SET_FIELDS_FOR_EVALUATION]
    if made_fields:
        raise ValueError(f"evaluate {a.dir}: --set {made_fields[0]} changes how a set is made, and this one is made; "
                         "only evaluate.*, seed and dataset apply (distill again to change the rest)")
    changes = {}
    if "--scale" in given:      # evaluate at another scale: the preset's evaluation capped by it
        changes.update(scale_evaluation(PRESETS[cfg.preset].evaluate, a.scale), scale=a.scale)
    if "--seed" in given:
        changes["seed"] = a.seed
    return syn, override(cfg, {**changes, **sets})


def _own_dataset(path: str) -> str | None:
    """The dataset a set given to ``--load`` was distilled from, when it is a
    kit set (a directory, or its synthetic.pt, beside its config.json); else None."""
    from .method.config import from_dict
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(path) and os.path.basename(path) != "synthetic.pt":
        return None
    try:
        with open(os.path.join(folder, "config.json")) as f:
            return from_dict(json.load(f)).dataset
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _own_data(set_dataset: str | None, dataset: str, a) -> dict:
    """Refuse to evaluate a set on other data than it was distilled from,
    unless --allow-other-data; the manifest fields that record which data."""
    other = set_dataset is not None and dataset != set_dataset
    if other and not a.allow_other_data:
        raise ValueError(f"the set was distilled from {set_dataset!r}; evaluating it on {dataset!r} measures "
                         "something else: pass --allow-other-data to do it anyway (the result records it)")
    return {"set_dataset": set_dataset, "dataset": dataset, "other_data": other}


def cmd_evaluate(a) -> None:
    import torch

    from .method.data import load_dataset
    from .method.evaluate import evaluate, random_subset
    from .method.io import check_device, check_output_file, device_description, manifest, write_json
    if sum(map(bool, (a.dir, a.random or a.whole, a.load))) > 1:
        raise ValueError("evaluate takes one of a directory written by `distill`, --random / --whole or --load PATH, "
                         "not both")
    dev = check_device(a.device)
    given = getattr(a, "given", set())
    if a.load:   # a set made elsewhere (method/external.py lists the layouts)
        from .method.external import check_against, load_external
        own = _own_dataset(a.load)
        if own and "--dataset" not in given:       # a kit set knows its data
            a.dataset = own
        cfg = _config(a)
        out = a.out or os.path.splitext(a.load.rstrip("/"))[0] + ".metrics.json"
        check_output_file(out, a.overwrite)
        extra = {"loaded_set": os.path.abspath(a.load), **_own_data(own, cfg.dataset, a)}
        x, y, layout = load_external(a.load)
        counts = torch.bincount(y).tolist() if len(y) and int(y.min()) >= 0 else [0]
        if "--ipc" in given and set(counts) != {a.ipc}:
            held = str(min(counts)) if min(counts) == max(counts) else f"{min(counts)} to {max(counts)}"
            raise ValueError(f"--ipc {a.ipc} does not apply to --load: {a.load} holds {held} images per class")
        data = load_dataset(cfg.dataset, a.root, a.download, dev, cfg.preprocess)
        check_against(x, y, data, a.load)
        label = f"{a.load} ({layout})"
    elif a.random or a.whole:
        cfg = _config(a)
        extra = _own_data(None, cfg.dataset, a)
        kind = "whole" if a.whole else f"random-{_slug(cfg.dataset)}-ipc{cfg.distill.ipc}"
        out = a.out or (f"whole-{_slug(cfg.dataset)}.json" if a.whole else f"{kind}.json")
        check_output_file(out, a.overwrite)
        data = load_dataset(cfg.dataset, a.root, a.download, dev, cfg.preprocess)
        if a.whole:
            x, y = data.x_train, data.y_train
            label = f"Whole dataset {cfg.dataset}"
        else:
            x, y = random_subset(data, cfg.distill.ipc, cfg.seed)
            label = f"Random {cfg.dataset} ipc={cfg.distill.ipc}"
    else:
        if not a.dir:
            raise ValueError("evaluate needs a directory written by `distill`, or --random / --whole")
        syn, cfg = _set_config(a)
        out = a.out or os.path.join(a.dir, "metrics.json")
        check_output_file(out, a.overwrite)
        extra = {"synthetic_set": os.path.abspath(a.dir), "set_digest": syn.digest(),   # io.evaluated_set
                 "distill_seed": syn.config.seed, "distill_scale": syn.config.scale,
                 **_own_data(syn.config.dataset, cfg.dataset, a)}
        data = load_dataset(cfg.dataset, a.root, a.download, dev, cfg.preprocess)
        if len(syn.classes) != data.num_classes or syn.images.shape[1:] != data.x_train.shape[1:]:
            raise ValueError(f"the set in {a.dir} has {len(syn.classes)} classes of {tuple(syn.images.shape[1:])} "
                             f"images but {cfg.dataset!r} has {data.num_classes} of {tuple(data.x_train.shape[1:])}")
        x, y = syn.images, syn.labels
        label = f"DataDAM {cfg.dataset} ipc={cfg.distill.ipc}"
    result = evaluate(x, y, data, cfg.evaluate, seed=cfg.seed, progress=not a.no_progress)
    write_json({**result.to_dict(), "label": label,
                "manifest": manifest(seed=cfg.seed, device=device_description(data.device), preset=cfg.preset,
                                     scale=cfg.scale, output_named_by="user" if a.out else "kit", **extra)}, out)
    print(f"{label} [{cfg.preset} preset, {cfg.scale} scale, seed {cfg.seed}]: {result}  -> {out}")


def cmd_quickstart(a) -> None:
    """DataDAM vs Random at each IPC through the kit's cached sweep; prints the
    table (the quickstart notebook adds the figures)."""
    import time

    from .kit import report
    from .kit.registry import settings
    from .kit.sweep import run_sweep
    from .method.io import check_device
    t0 = time.time()
    dev = str(check_device(a.device))
    for ipc in a.ipcs:          # every setting's config, before any work
        a.ipc = ipc
        _config(a)
    rows = run_sweep(settings("ipc", a.ipcs, lambda v: {"distill.ipc": v}), seeds=[a.seed], dataset=a.dataset,
                     data_root=a.root, preset=a.preset, scale=a.scale, kinds=("random", "datadam"),
                     device=dev, label="quickstart")
    summary = report.summarize(rows)
    print(f"\nDataDAM vs Random on {a.dataset} ({a.preset} preset, {a.scale} scale, seed {a.seed}; "
          "accuracy %, mean ± std over models, or n = 1)\n")
    print("| IPC | Random | DataDAM | DataDAM - Random | models | images moved (%) |\n|---|---|---|---|---|---|")
    for ipc in a.ipcs:
        r, d = (next(x for x in summary if x["setting"] == f"ipc={ipc}" and x["kind"] == k) for k in ("random", "datadam"))
        print(f"| {ipc} | {report.spread(r)} | {report.spread(d)} | {d['mean'] - r['mean']:+.1f} | {d['n_models']} "
              f"| {d['image_change_pct']:.0f} |")
    print(f"\ntotal {time.time() - t0:.0f} s (cached results are reused; --force is not offered here: "
          "delete the cache entry or use ./reproduce.sh quickstart --force)")


def cmd_datasets(a) -> None:
    from .method.data import dataset_status
    rows = dataset_status(a.root)
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = {True: "present", False: "missing", None: "-"}[r["present"]]
        print(f"{r['name']:<{w}}  {mark:<8} {r['path']}\n{'':<{w}}  {r['description']}; get: {r['how_to_get']}")


def interrupted_message(err: KeyboardInterrupt, checkpoint: str | None) -> str:
    """What Ctrl-C left behind and how to go on, in one line."""
    iteration = getattr(err, "iteration", None)
    if checkpoint and os.path.isfile(checkpoint):
        at = f" at iteration {iteration}" if iteration is not None else ""
        return (f"interrupted{at}; the checkpoint {checkpoint} holds the run so far: run the same command again "
                "to resume from it")
    return "interrupted; nothing was written (run the same command again to start over)"


def user_error(err: Exception) -> str | None:
    """The one-line message of a user error, or None for a bug (shown with its traceback)."""
    if type(err).__name__ not in USER_ERRORS:
        return None
    return err.args[0] if isinstance(err, KeyError) and err.args else str(err)


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m datadam_lib", description=__doc__, formatter_class=_Formatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("distill", help="learn a synthetic set and write it to --out", formatter_class=_Formatter)
    _common(d)
    _out(d, "output directory: new, empty or an earlier distill output", required=True)
    d.add_argument("--checkpoint-every", type=int, default=100, help="iterations between checkpoints (0: none)")
    d.set_defaults(fn=cmd_distill)
    e = sub.add_parser("evaluate", help="train fresh models on a synthetic set (or a random subset)",
                       formatter_class=_Formatter,
                       description="With DIR, the set's own config says how to evaluate it; --scale, --seed "
                                   "and --set evaluate.FIELD=VALUE change that, --dataset/--ipc/--preset "
                                   "(how a set is made) are refused if they disagree with the set.")
    e.add_argument("dir", nargs="?", help="directory written by `distill`")
    e.add_argument("--random", action="store_true", help="evaluate ipc random real images per class instead")
    e.add_argument("--whole", action="store_true", help="evaluate the whole training set instead")
    e.add_argument("--load", metavar="PATH", help="evaluate a set made elsewhere: a kit directory or synthetic.pt, "
                   "a .pt with data=[images, labels] (the authors' published tensors), or *images*.pt beside "
                   "*labels*.pt; its images must be in --preset's preprocessing (authors': --preset released)")
    _out(e, "metrics JSON (default: DIR/metrics.json, random-DATASET-ipcN.json / whole-DATASET.json, "
            "or PATH.metrics.json for --load PATH)")
    e.add_argument("--allow-other-data", action="store_true",
                   help="evaluate a set on other data than it was distilled from (recorded in the result)")
    _common(e)
    e.set_defaults(fn=cmd_evaluate)
    q = sub.add_parser("quickstart", help="DataDAM vs Random at a few IPCs, side by side", formatter_class=_Formatter)
    _common(q)
    q.add_argument("--ipcs", type=int, nargs="+", default=[1, 10])
    q.set_defaults(fn=cmd_quickstart)
    s = sub.add_parser("datasets", help="list datasets, where each is looked for, and whether it is there",
                       formatter_class=_Formatter)
    s.add_argument("--root", default=os.environ.get("DATADAM_DATA", "data"))
    s.set_defaults(fn=cmd_datasets)
    a = p.parse_args(argv)
    try:
        a.fn(a)
    except KeyboardInterrupt as err:
        print(interrupted_message(err, getattr(a, "checkpoint", None)), file=sys.stderr)
        return 130
    except Exception as err:  # user errors: one line, no traceback
        msg = user_error(err)
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
