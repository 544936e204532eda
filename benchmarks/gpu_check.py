"""The GPU path end to end, in one short run (about a minute on an H200):

    python benchmarks/gpu_check.py --npz ../shared/data/cifar10-mini.npz --json gpu_check.json

1. determinism: distil the same config twice with the same seed (paper preset,
   IPC 1 and 10, fp32 and bf16) and evaluate the IPC-10 set twice: the sets and
   the accuracies must be identical (DEVELOPERS.md: same seed + same device
   gives the same synthetic set; ``training.deterministic``, ``augment.warp``);
2. accuracy: DataDAM vs Random (3 models each), to set beside the CPU's numbers
   for the same command (docs/benchmarks.md);
3. cost of determinism: the distillation step with the atomic-free warp and
   deterministic cuDNN, and with grid_sample's atomic backward and cuDNN's
   default choice (the path before), alternated in one process;
4. CUDA graphs (``distill(cuda_graph=...)``, ``step.GraphedStep``): the same
   config distilled eagerly and with each step replayed as one CUDA graph must
   give the same set, bit for bit (paper preset fp32 and bf16, released
   preset); then distill()'s time per iteration both ways, alternated, for
   both presets at batch_real 64 and 256 (``--graphs-only``: this part alone).

Exit status 1 when a determinism check fails.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--npz", required=True, help="real images, e.g. ../shared/data/cifar10-mini.npz")
    p.add_argument("--device", default="cuda")
    p.add_argument("--scale", default="quick", help="the distillation/evaluation scale (default quick)")
    p.add_argument("--steps", type=int, default=30, help="timed steps per path (default 30)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--graphs-only", action="store_true", help="run part 4 (CUDA graphs) only")
    p.add_argument("--iterations", type=int, default=200, help="part 4: distill() iterations per timing (default 200)")
    a = p.parse_args()

    import bench
    import torch
    import torch.nn.functional as F

    from datadam_lib import distill, evaluate, load_dataset, make_config, random_subset
    from datadam_lib.method import augment, training
    dev = torch.device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"{dev}: {name}, torch {torch.__version__}", flush=True)
    data = load_dataset("npz:" + a.npz, device=dev)
    pct = lambda r: [round(100 * v, 1) for v in r.accuracies]  # noqa: E731
    out: dict = {"device": f"{dev}: {name}", "determinism": [], "accuracy": [], "step": []}
    ok = True

    out["graphs"], out["graph_timing"] = [], []
    ok &= _graphs(a, data, out)
    for ipc in (() if a.graphs_only else (1, 10)):
        for prec in ("none", "bf16"):
            cfg = make_config("paper", scale=a.scale, dataset=data.name, ipc=ipc,
                              overrides={"distill.autocast": prec, "evaluate.autocast": prec})
            s1, s2 = distill(cfg, data, progress=False), distill(cfg, data, progress=False)
            row = {"ipc": ipc, "precision": prec, "sets_identical": torch.equal(s1.images, s2.images),
                   "max_abs_diff": (s1.images - s2.images).abs().max().item()}
            if ipc == 10:
                r1, r2 = (evaluate(s1.images, s1.labels, data, cfg.evaluate, seed=cfg.seed, progress=False)
                          for _ in range(2))
                row["accuracies_identical"] = r1.accuracies == r2.accuracies
            ok &= row["sets_identical"] and row.get("accuracies_identical", True)
            print(json.dumps(row), flush=True)
            out["determinism"].append(row)
            if prec == "none":
                syn = evaluate(s1.images, s1.labels, data, cfg.evaluate, seed=cfg.seed, progress=False)
                x, y = random_subset(data, ipc, seed=cfg.seed)
                rnd = evaluate(x, y, data, cfg.evaluate, seed=cfg.seed, progress=False)
                row = {"ipc": ipc, "datadam": pct(syn), "random": pct(rnd)}
                print(json.dumps(row), flush=True)
                out["accuracy"].append(row)

    def atomic_warp(x, grid, deterministic=None):
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    paths = {"deterministic": (augment.warp, training.deterministic),
             "atomic (before)": (atomic_warp, lambda device: contextlib.nullcontext())}
    for preset, br in (() if a.graphs_only else (("paper", 256), ("released", 64))):
        for path in ("deterministic", "atomic (before)", "deterministic", "atomic (before)"):
            augment.warp, training.deterministic = paths[path]   # bench's step loop looks both up per call
            j = {"device": a.device, "npz": a.npz, "threads": None, "compile": None, "preset": preset, "classes": 10,
                 "batch_real": br, "chunk": None, "autocast": "none", "flops": False, "steps": a.steps, "warmup": 5}
            r = bench.job_step(j)
            row = {"preset": preset, "batch_real": br, "path": path, "step_ms": round(1e3 * r["step_s"], 2)}
            print(json.dumps(row), flush=True)
            out["step"].append(row)
        augment.warp, training.deterministic = paths["deterministic"]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    print("determinism:", "identical" if ok else "DIFFERENT", flush=True)
    return 0 if ok else 1


def _graphs(a, data, out) -> bool:
    """Part 4: eager vs CUDA-graph steps, the same sets and the time per iteration."""
    import time

    import torch

    from datadam_lib import distill, make_config
    ok = True
    for preset, prec in (("paper", "none"), ("paper", "bf16"), ("released", "none")):
        cfg = make_config(preset, scale=a.scale, dataset=data.name, ipc=10, overrides={"distill.autocast": prec})
        eager, graphed = (distill(cfg, data, progress=False, cuda_graph=c) for c in (False, True))
        row = {"preset": preset, "precision": prec, "sets_identical": torch.equal(eager.images, graphed.images),
               "max_abs_diff": (eager.images - graphed.images).abs().max().item(),
               "losses_identical": eager.losses == graphed.losses, "graph_used": graphed.info["cuda_graph"]}
        ok &= row["sets_identical"] and row["graph_used"]
        print(json.dumps(row), flush=True)
        out["graphs"].append(row)
    for preset, br in (("paper", 64), ("paper", 256), ("released", 64), ("released", 256)):
        cfg = make_config(preset, scale=a.scale, dataset=data.name, ipc=10,
                          overrides={"distill.batch_real": br, "distill.iterations": a.iterations})
        times: dict[str, list[float]] = {"eager": [], "graph": []}
        for path in ("eager", "graph", "eager", "graph"):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            distill(cfg, data, progress=False, cuda_graph=path == "graph")
            torch.cuda.synchronize()
            times[path].append(1e3 * (time.perf_counter() - t0) / a.iterations)
        row = {"preset": preset, "batch_real": br, "iterations": a.iterations,
               **{f"{k}_ms_per_iteration": [round(v, 2) for v in t] for k, t in times.items()},
               "speedup": round(min(times["eager"]) / min(times["graph"]), 2)}
        print(json.dumps(row), flush=True)
        out["graph_timing"].append(row)
    return ok


if __name__ == "__main__":
    sys.exit(main())
