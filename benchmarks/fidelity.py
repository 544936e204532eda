"""Fidelity harness: does the kit's DataDAM do what the paper says it does, on
real images, at a fixed and stated budget?

DataDAM, DM and Random at IPC 1 and 10 on a dataset given as an ``.npz``
(x_train, y_train, x_test, y_test; read through the kit's ``npz:`` loader),
for each preset asked for (default: the ``paper`` preset and the literal
``table2`` reading), every set evaluated on ``--models`` fresh ConvNets.
Prints a markdown table and writes it, with the command and the machine, to
``--out`` (default docs/fidelity.md).

    python benchmarks/fidelity.py --npz ../shared/data/cifar10-mini.npz
    python benchmarks/fidelity.py --npz data.npz --presets paper --set distill.autocast=bf16 --label bf16

Every distilled set and evaluation goes through the kit's cache (``--cache``),
so an interrupted run resumes and a second table (another ``--set``) reuses
whatever it shares. The expectation from the paper: DataDAM above Random by
a clear margin at IPC 1 and 10, and DataDAM >= DM.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

KINDS = ("random", "dc", "dsa", "cafe", "dm", "datadam")
NAMES = {"random": "Random", "dc": "DC", "dsa": "DSA", "cafe": "CAFE", "dm": "DM", "datadam": "DataDAM"}
# DC, DSA and CAFE keep their own budget (baselines.matching: 1,000 iterations, batch_real 256, the loops
# of utils.get_loops; baselines.cafe: 2,000 iterations); --iterations and --batch-real set DataDAM's and DM's.
BASELINES = ("dc", "dsa", "cafe", "dm")


def _value(text: str):
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def code_version() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                          text=True).stdout.strip()


def machine() -> str:
    import torch

    from datadam_lib.method.io import cpu_model
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores"
    return f"{cpu_model()}, {dev}, torch {torch.__version__}"


def dataset(a) -> str:
    """``npz:PATH`` (a generic .npz: mean/std from its training split, no ZCA),
    or ``NAME:npz:PATH`` with ``--as NAME`` (a registered dataset's
    preprocessing and subset, e.g. ``--as cifar10-5k``: CIFAR-10's ZCA)."""
    path = os.path.abspath(a.npz)
    return f"{a.as_}:npz:{path}" if a.as_ else f"npz:{path}"


def run(a) -> tuple[str, list[dict]]:
    import torch

    from datadam_lib.kit import report
    from datadam_lib.kit.registry import settings
    from datadam_lib.kit.sweep import run_sweep
    torch.set_num_threads(a.threads)
    # the same budget for DM as for DataDAM (DM's own defaults, baselines.dm, are 20,000 iterations)
    budget = {"distill.iterations": a.iterations, "distill.batch_real": a.batch_real,
              "baselines.dm.iterations": a.iterations, "baselines.dm.batch_real": a.batch_real,
              "evaluate.epochs": a.epochs, "evaluate.num_models": a.models}
    extra = {k: _value(v) for k, _, v in (s.partition("=") for s in a.set)}
    rows = []
    for preset in a.presets:
        t0 = time.time()
        got = run_sweep(settings("ipc", a.ipcs, lambda i: {"distill.ipc": i, **budget, **extra}), seeds=a.seeds,
                        dataset=dataset(a), data_root=a.root or os.path.join(os.path.dirname(HERE), "data"),
                        preset=preset, scale="paper", kinds=a.kinds, cache_root=a.cache, label="fidelity")
        for r in report.summarize(got):
            rows.append({**r, "preset": preset, "wall_s": time.time() - t0})
    from datadam_lib.kit.verdict import Claim, judge, values_from_summary
    kinds = [k for k in KINDS if k in a.kinds]
    # the differences and the verdicts need DataDAM and Random beside the baselines
    rivals = [k for k in BASELINES if k in kinds] if {"datadam", "random"} <= set(kinds) else []
    lines = ["| preset | IPC | " + " | ".join(NAMES[k] for k in kinds)
             + (" | DataDAM − Random |" if rivals else " |")
             + "".join(f" DataDAM − {NAMES[k]} | DataDAM above {NAMES[k]}? (kit/verdict.py) |" for k in rivals),
             "|---|---|" + "---|" * (len(kinds) + bool(rivals) + 2 * len(rivals))]
    for preset in a.presets:
        for ipc in a.ipcs:
            cell = {k: next(r for r in rows if r["preset"] == preset and r["setting"] == f"ipc={ipc}"
                            and r["kind"] == k) for k in kinds}
            acc = " | ".join(f"{cell[k]['mean']:.1f} ± {cell[k]['std']:.1f}" for k in kinds)
            if not rivals:
                lines.append(f"| {preset} | {ipc} | {acc} |")
                continue
            values = values_from_summary([r for r in rows if r["preset"] == preset])
            versus = "".join(f" {cell['datadam']['mean'] - cell[k]['mean']:+.1f} | "
                             f"{judge(Claim.parse(f'ipc={ipc} > ipc={ipc}@{k}'), values).status} |" for k in rivals)
            lines.append(f"| {preset} | {ipc} | {acc} | {cell['datadam']['mean'] - cell['random']['mean']:+.1f} |"
                         + versus)
    return "\n".join(lines), rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--npz", required=True, help="dataset: .npz with x_train, y_train, x_test, y_test")
    p.add_argument("--as", dest="as_", default="", help="read the .npz as this registered dataset (its "
                   "preprocessing and subset), e.g. cifar10-5k")
    p.add_argument("--root", default="", help="where the ZCA whitening is cached (default: the kit's data/)")
    p.add_argument("--presets", nargs="+", default=["paper", "table2"])
    p.add_argument("--ipcs", type=int, nargs="+", default=[1, 10])
    p.add_argument("--iterations", type=int, default=500, help="distillation iterations (DataDAM and DM)")
    p.add_argument("--batch-real", type=int, default=64, help="real images per class per iteration")
    p.add_argument("--epochs", type=int, default=300, help="evaluation epochs (the preset's schedule)")
    p.add_argument("--models", type=int, default=3, help="evaluated models per set")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=["random", "dm", "datadam"],
                   help="only these sets (e.g. two processes, one per kind, sharing --cache; "
                   "a last run with every kind assembles the table from the cache)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any other config override")
    p.add_argument("--label", default="", help="a name for this table (e.g. bf16)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=None, help="cache directory (default: the kit's cache/)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "fidelity.md"),
                   help="markdown file to append the table to ('-': print only)")
    a = p.parse_args(argv)
    t0 = time.time()
    table, _ = run(a)
    cmd = "python benchmarks/fidelity.py " + " ".join(argv if argv is not None else sys.argv[1:])
    sha = code_version()
    data = f"{a.as_} (from {os.path.basename(a.npz)})" if a.as_ else os.path.basename(a.npz)
    label = a.label or ("bf16" if any(v.endswith("autocast=bf16") for v in a.set) else "fp32")   # the default's
    head = (f"### {label}: {data}, {a.iterations} iterations x batch_real "
            f"{a.batch_real}, {a.epochs} evaluation epochs x {a.models} models, seeds {a.seeds}"
            + (f", {' '.join(a.set)}" if a.set else ""))
    text = (f"{head}\n\n{table}\n\nAccuracy %, mean ± std over the evaluated models. Command: `{cmd}` · "
            f"code {sha} · {machine()} · {time.strftime('%Y-%m-%d')} · {time.time() - t0:.0f} s "
            "(cached parts not recomputed).\n")
    emit(text, a.out)
    return 0


def emit(text: str, out: str) -> None:
    """Print a table and append it to the markdown file ``out`` ('-': print only)."""
    print(text)
    if out != "-":
        with open(out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
