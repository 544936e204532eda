"""Before/after: the same work timed on two checkouts of the kit, alternated
(A, B, A, B, ...) on the same machine in one run; medians and their ratio.

    python benchmarks/compare.py --old 44075da epoch              # one evaluation: 1 model, N epochs
    python benchmarks/compare.py --old 44075da distill            # distillation iterations at quick scale
    python benchmarks/compare.py --old 44075da figure --target quickstart --rounds 1   # a cold quick-scale figure

``--old`` / ``--new``: a commit of this repository (extracted with ``git
archive`` into a temporary folder) or a path to a checkout; ``--new``
defaults to this working tree. Every measurement runs in a fresh process whose
``PYTHONPATH`` is that checkout, so the two never share code or caches.

- ``epoch``: ``train_model`` of one model (seed 0) for ``--epochs`` epochs on a
  random IPC-10 digits set (the quick scale's evaluation: paper preset, batch
  256 = one step per epoch, DSA), then its test accuracy. Reports wall and
  process CPU time per epoch. ``--bf16`` also times the new checkout with
  ``evaluate.autocast = "bf16"``.
- ``distill``: ``distill()`` at the quick scale on digits (IPC 10, batch_real
  32) for ``--iterations`` iterations: wall and CPU time per iteration
  (setup included, amortised over the iterations). ``--bf16`` as above.
- ``figure``: ``./reproduce.sh TARGET --scale quick --dataset digits --force``
  with a fresh ``DATADAM_CACHE`` and ``DATADAM_OUT``: the cold run end to end
  (papermill, kernel start, every distillation and evaluation, figures), and
  the accuracies it wrote, to check that the results are unchanged. ``--bf16``
  adds the new checkout with both bf16 switches on, run in-process through
  ``families.ablations.run`` (the notebook's call; reproduce.sh takes no
  config overrides), so without papermill's few seconds of kernel start.

The accuracies of both sides are printed next to the times: the speed work
must leave them equal up to float noise (same seeds).
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EPOCH = r"""
import json, sys, time, torch
from dataclasses import replace
from datadam_lib import load_dataset, make_config, random_subset
from datadam_lib.method.evaluate import test_accuracy, train_model
from datadam_lib.method.training import model_generator
epochs, precision, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if threads: torch.set_num_threads(threads)
data = load_dataset("digits")
cfg = replace(make_config("paper", "quick", "digits", ipc=10).evaluate, epochs=epochs)
if precision != "none": cfg = replace(cfg, autocast=precision)
x, y = random_subset(data, 10)
t, c = time.perf_counter(), time.process_time()
model = train_model(x, y, data, cfg, model_generator(0, 0, data.device))
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"wall_s": wall / epochs, "cpu_s": cpu / epochs, "accuracy": test_accuracy(model, data)}))
"""

DISTILL = r"""
import json, sys, time, torch
from datadam_lib import distill, load_dataset, make_config
iterations, precision, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if threads: torch.set_num_threads(threads)
data = load_dataset("digits")
over = {"distill.iterations": iterations}
if precision != "none": over["distill.autocast"] = precision
cfg = make_config("paper", "quick", "digits", ipc=10, overrides=over)
t, c = time.perf_counter(), time.process_time()
syn = distill(cfg, data, progress=False)
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"wall_s": wall / iterations, "cpu_s": cpu / iterations, "loss": syn.losses[-1]}))
"""

# The figure's computation in-process with the bf16 switch on for the paper
# preset (reproduce.sh takes no config overrides): the same calls as its notebook.
FIGURE_BF16 = r"""
import json, sys, time
from datadam_lib.method import config
config.PRESETS["paper"] = config.override(config.PRESETS["paper"],
                                          {"distill.autocast": "bf16", "evaluate.autocast": "bf16"})
from datadam_lib.families import ablations
from datadam_lib.kit.run import RunOptions
t = time.perf_counter()
options = RunOptions(scale=sys.argv[2] if len(sys.argv) > 2 else "quick", dataset="digits", force=True)
if sys.argv[1] == "quickstart":   # the teaching notebook has its own entry point
    result = ablations.quickstart("quickstart", options)
else:
    result = ablations.run(sys.argv[1], options)
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "results": [{"label": r.get("label"), "mean": r["mean"], "std": r["std"]}
                                              for r in result.summary]}))
"""


def checkout(ref: str, tmp: str, name: str) -> str:
    """A path to a checkout: ``ref`` itself if it is a folder, else ``git archive ref`` extracted under tmp."""
    if os.path.isdir(ref):
        return os.path.abspath(ref)
    dest = os.path.join(tmp, name)
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def run_python(tree: str, code: str, args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{tree}: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_figure(tree: str, target: str, tmp: str, label: str) -> dict:
    cache, out = (tempfile.mkdtemp(prefix=f"{label}-{k}-", dir=tmp) for k in ("cache", "out"))
    env = {**os.environ, "PYTHONPATH": tree, "DATADAM_CACHE": cache, "DATADAM_OUT": out}
    venv = os.path.dirname(os.path.dirname(sys.executable))
    env.setdefault("VIRTUAL_ENV", venv)                       # reproduce.sh uses this interpreter's environment
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    t = time.perf_counter()
    p = subprocess.run(["./reproduce.sh", target, "--scale", "quick", "--dataset", "digits", "--force"],
                       cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{tree}: reproduce.sh {target} failed: {p.stderr.strip().splitlines()[-3:]}")
    rows = []
    for path in glob.glob(os.path.join(out, "results", "quick", f"{target}*.csv")):
        with open(path) as f:
            rows += list(csv.DictReader(f))
    shutil.rmtree(cache, ignore_errors=True)
    return {"wall_s": wall, "results": [{k: r[k] for k in r if k in ("label", "setting", "kind", "mean", "std")}
                                        for r in rows]}


def run_figure_bf16(tree: str, target: str, tmp: str) -> dict:
    cache, out = (tempfile.mkdtemp(prefix=f"bf16-{k}-", dir=tmp) for k in ("cache", "out"))
    env = {**os.environ, "PYTHONPATH": tree, "DATADAM_CACHE": cache, "DATADAM_OUT": out, "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, "-c", FIGURE_BF16, target], cwd=tree, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{tree}: {target} with bf16 failed: {p.stderr.strip().splitlines()[-3:]}")
    shutil.rmtree(cache, ignore_errors=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("job", choices=("epoch", "distill", "figure"))
    p.add_argument("--old", required=True, help="commit or checkout path: the before")
    p.add_argument("--new", default=ROOT, help="commit or checkout path: the after (default: this working tree)")
    p.add_argument("--rounds", type=int, default=3, help="alternations old/new (default 3)")
    p.add_argument("--epochs", type=int, default=20, help="epoch: epochs per model (default 20)")
    p.add_argument("--iterations", type=int, default=20, help="distill: iterations (default 20)")
    p.add_argument("--target", default="quickstart",
                   help="figure: the target (default quickstart). Both checkouts must define it with the same "
                        "parameters: fig1/fig5/fig6 ran at IPC 10 at 44075da and at IPC 1 since, so their "
                        "times measure different work")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    p.add_argument("--bf16", action="store_true", help="also time the new checkout with the bf16 switch")
    p.add_argument("--json", help="also write every measurement here")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="datadam-compare-") as tmp:
        sides = {"old": checkout(a.old, tmp, "old"), "new": checkout(a.new, tmp, "new")}
        variants = [("old", "none"), ("new", "none")] + ([("new", "bf16")] if a.bf16 else [])
        results: dict[str, list[dict]] = {f"{s} {v}": [] for s, v in variants}
        for r in range(a.rounds):
            for side, precision in variants:
                name = f"{side} {precision}"
                if a.job == "epoch":
                    res = run_python(sides[side], EPOCH, [str(a.epochs), precision, str(a.threads)])
                elif a.job == "distill":
                    res = run_python(sides[side], DISTILL, [str(a.iterations), precision, str(a.threads)])
                elif precision == "none":
                    res = run_figure(sides[side], a.target, tmp, side)
                else:
                    res = run_figure_bf16(sides[side], a.target, tmp)
                results[name].append(res)
                print(f"round {r + 1} {name}: {json.dumps(res)}", file=sys.stderr, flush=True)
    unit = {"epoch": "s/epoch", "distill": "s/iteration", "figure": "s (cold run)"}[a.job]
    base = statistics.median(x["wall_s"] for x in results["old none"])
    base_cpu = statistics.median(x.get("cpu_s", x["wall_s"]) for x in results["old none"])
    print(f"{a.job}: old = {a.old}, new = {a.new}, {a.rounds} alternated rounds, medians, threads {a.threads or 'default'}")
    for name, rs in results.items():
        wall = statistics.median(x["wall_s"] for x in rs)
        line = f"  {name:9s} wall {wall:9.3f} {unit} ({base / wall:.2f}x old)"
        if "cpu_s" in rs[0]:
            cpu = statistics.median(x["cpu_s"] for x in rs)
            line += f"  cpu {cpu:9.3f} ({base_cpu / cpu:.2f}x old)"
        if "accuracy" in rs[0]:
            line += f"  accuracy {sorted({round(100 * x['accuracy'], 2) for x in rs})} %"
        if "loss" in rs[0]:
            line += f"  last loss {sorted({round(x['loss'], 4) for x in rs})}"
        if "results" in rs[0]:
            line += "  " + "; ".join(f"{r.get('label') or r.get('setting')}: {float(r['mean']):.2f}"
                                     for r in rs[0]["results"])
        print(line)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"job": a.job, "old": a.old, "new": a.new, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
