"""DataDAM speed and memory on this machine, through the library's own code paths.

    python benchmarks/bench.py --npz ../shared/data/cifar10-mini.npz    # all configurations
    python benchmarks/bench.py --quick                                  # a minute or two on a CPU
    python benchmarks/bench.py --device cuda --autocast --json out.json

What it measures (docs/benchmarks.md explains every column):
1. machine: fwd+bwd throughput of a large 3x3 convolution (128->128 channels,
   256x128x16x16 input), the yardstick for the step's achieved FLOP/s;
2. distillation: ``distill.step`` + the image update at the paper's shape
   (CIFAR-10, ConvNet-3 width 128, IPC 10), both presets, batch_real 64 and 256
   per class: median step time after warm-up, peak memory, FLOPs of one step
   (FlopCounterMode: convolutions and matmuls) and their rate as a fraction of the
   machine's; 100 classes (CIFAR-100 shape) with and without ``class_chunk``;
3. evaluation: training 1 model and 10 models (together, ensemble.py) for a
   fixed number of epochs on an IPC-10 set, and test-set inference throughput.

Every configuration runs in a fresh subprocess (``--worker``), so peak memory of
one never pollutes another: on CUDA torch.cuda.max_memory_allocated, on CPU the
process's peak RSS (ru_maxrss, whose peak is reset through /proc/self/clear_refs
on Linux once the data is loaded, so "step MB" is what the steps add). This
parent process never imports torch, so it adds nothing to a child's ru_maxrss.

Data: real images from ``--npz`` when given (10 classes), otherwise random
tensors of the same shape; 100-class runs always use random tensors.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IPC = 10
# The authors' released code on the 2-core reference machine (CIFAR-10, IPC 10,
# batch_real 64, BatchNorm ConvNet-3); the kit's target is a quarter of its time.
REFERENCE = {"step_s": 4.2, "peak_mb": 2100, "target_step_s": 1.05}


# ====================================================================== worker side (imports torch)

def _rss_mb() -> float:
    """Current resident set size (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024   # bytes on macOS, KiB on Linux


def _reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets the peak RSS (ru_maxrss, VmHWM) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Memory:
    """Peak memory of what runs between ``start()`` and ``stop()``: ``added_mb``
    above the memory held at start, and the process's ``peak_mb`` overall."""

    def __init__(self, device):
        import torch
        self.torch, self.cuda = torch, device.type == "cuda"

    def start(self):
        if self.cuda:
            self.torch.cuda.synchronize()
            self.torch.cuda.reset_peak_memory_stats()
            self.base = self.torch.cuda.memory_allocated() / 2**20
        else:
            self.reset = _reset_peak_rss()
            self.base = _rss_mb() if self.reset else _peak_rss_mb()

    def stop(self) -> dict:
        if self.cuda:
            peak = self.torch.cuda.max_memory_allocated() / 2**20
            return {"peak_mb": round(peak), "added_mb": round(peak - self.base), "memory": "cuda max_memory_allocated"}
        peak = _peak_rss_mb()
        return {"peak_mb": round(peak), "added_mb": round(peak - self.base),
                "memory": "peak RSS" + ("" if self.reset else " (not reset: added_mb is a lower bound)")}


def _timer(device):
    """``lap(fn)`` runs fn and returns its wall time; on CUDA it waits for the
    kernels. ``lap.cpu`` collects the process CPU time of each lap (on a shared
    CPU, more stable than wall time)."""
    import torch
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def lap(fn) -> float:
        sync()
        t, c = time.perf_counter(), time.process_time()
        fn()
        sync()
        lap.cpu.append(time.process_time() - c)
        return time.perf_counter() - t
    lap.cpu = []
    return lap


def _autocast(j):
    import contextlib

    import torch
    if not j["autocast"]:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(j["device"]).type, dtype=torch.bfloat16)


def _flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def _data(j, classes: int, per_class: int):
    """RealData from ``--npz`` (10 classes) or random tensors of CIFAR shape."""
    import torch

    from datadam_lib import RealData, load_dataset
    dev = torch.device(j["device"])
    if j["npz"] and classes == 10:
        return load_dataset("npz:" + j["npz"], device=dev)
    g = torch.Generator().manual_seed(0)
    n_test = max(1000, 10 * classes)
    y = torch.arange(classes).repeat_interleave(max(per_class, IPC))
    return RealData("random", torch.randn(len(y), 3, 32, 32, generator=g).to(dev), y.to(dev),
                    torch.randn(n_test, 3, 32, 32, generator=g).to(dev),
                    torch.randint(classes, (n_test,), generator=g).to(dev),
                    [str(i) for i in range(classes)], torch.zeros(3, device=dev), torch.ones(3, device=dev))


def _distiller(j, data, overrides: dict):
    """The optimiser and one iteration of ``distill()``, set up as ``distill()``
    does it (checked against it by the ``check`` job)."""
    import torch

    from datadam_lib import make_config
    from datadam_lib.method.distill import INITS, Objective, auto_chunk, check_config, step
    from datadam_lib.method.models import build_encoder
    cfg = make_config(j["preset"], dataset=data.name, ipc=j.get("ipc", IPC), overrides=overrides)
    d, dev, K = cfg.distill, data.device, data.num_classes
    batch_real = check_config(cfg, data)
    objective = Objective(d.method, data.im_size)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    images = INITS[d.init](data, d.ipc, g, cfg).detach().requires_grad_(True)
    opt = torch.optim.SGD([images], lr=d.image_lr(), momentum=d.momentum)
    encoder = build_encoder(d.encoder, data.channels, K, data.im_size, g, dev)
    encoder.requires_grad_(False).train(d.encoder_train_mode)
    encoder = encoder.to(memory_format=torch.channels_last)
    chunk = d.class_chunk or auto_chunk(encoder, data, batch_real + d.ipc, d.memory_budget_mb)  # as distill()

    def one():
        with _autocast(j):
            opt.zero_grad(set_to_none=True)
            step(encoder, objective, data, images, batch_real, d.dsa, g, chunk)
            opt.step()
    one.chunk = chunk
    return cfg, images, one


def job_check(j) -> dict:
    """The benchmark's loop reproduces ``distill()`` exactly (2 tiny iterations)."""
    import torch

    from datadam_lib.method import distill
    data = _data({**j, "npz": None}, 10, 8)
    over = {"distill.batch_real": 4, "distill.iterations": 2}
    cfg, images, one = _distiller({**j, "ipc": 2, "autocast": False}, data, over)
    one(), one()
    same = torch.equal(images.detach(), distill(cfg, data, progress=False).images)
    return {"mirrors_distill": bool(same)}


def job_conv(j) -> dict:
    """FLOP/s of a large 3x3 convolution, forward + backward (input and weight grads)."""
    import torch
    dev = torch.device(j["device"])
    x = torch.randn(256, 128, 16, 16, device=dev).to(memory_format=torch.channels_last).requires_grad_(True)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, device=dev).to(memory_format=torch.channels_last)

    def fwd_bwd():
        with _autocast(j):
            conv(x).sum().backward()
    lap = _timer(dev)
    for _ in range(2):
        lap(fwd_bwd)
    times = [lap(fwd_bwd) for _ in range(j["reps"])]
    flops = _flops(fwd_bwd)
    t = statistics.median(times)
    return {"conv_s": t, "conv_flops": flops, "conv_flop_s": flops / t}


def job_step(j) -> dict:
    import torch
    dev = torch.device(j["device"])
    data = _data(j, j["classes"], j["batch_real"])
    over = {"distill.batch_real": j["batch_real"], "distill.class_chunk": j["chunk"]}
    cfg, _, one = _distiller(j, data, over)
    mem, lap = Memory(dev), _timer(dev)
    mem.start()
    for _ in range(j["warmup"]):
        one()
    times = [lap(one) for _ in range(j["steps"])]
    out = {**mem.stop(), "chunk": one.chunk, "step_s": statistics.median(times), "times": times,
           "step_cpu_s": statistics.median(lap.cpu),
           "encoder": cfg.distill.encoder.norm, "data": data.name}
    if j["flops"]:
        out["flops"] = _flops(one)
    return out


def job_eval(j) -> dict:
    """Train 1 model, then ``models`` models together, for ``epochs`` epochs on an
    IPC-10 set (a random real subset: the shape of a distilled set), best of
    ``reps``; test-set inference throughput of one model."""
    import torch

    from datadam_lib import make_config, random_subset
    from datadam_lib.method import ensemble
    from datadam_lib.method.evaluate import test_accuracy, train_model
    from datadam_lib.method.training import model_generator
    dev = torch.device(j["device"])
    data = _data(j, 10, 50)
    cfg = make_config(j["preset"], dataset=data.name, ipc=IPC, overrides={"evaluate.epochs": j["epochs"]}).evaluate
    x, y = random_subset(data, IPC)
    gens = lambda k: [model_generator(0, i, dev) for i in range(k)]  # noqa: E731
    one = lambda: train_model(x, y, data, cfg, gens(1)[0])  # noqa: E731
    many = lambda: ensemble.train_models(x, y, data, cfg, gens(j["models"]))  # noqa: E731
    lap = _timer(dev)
    warm = make_config(j["preset"], overrides={"evaluate.epochs": 1}).evaluate
    train_model(x, y, data, warm, gens(1)[0]), ensemble.train_models(x, y, data, warm, gens(j["models"]))
    models, t1, tk, c1, ck = [], [], [], [], []
    for _ in range(j["reps"]):  # alternated, best of: robust to other load on a shared machine
        t1.append(lap(lambda: models.append(one())))
        c1.append(lap.cpu[-1])
        tk.append(lap(many))
        ck.append(lap.cpu[-1])
    t1, tk, c1, ck = min(t1), min(tk), min(c1), min(ck)
    model = models[0]
    test_accuracy(model, data, cfg.batch_test)  # warm-up
    t_test = statistics.median(lap(lambda: test_accuracy(model, data, cfg.batch_test)) for _ in range(3))
    return {"encoder": cfg.encoder.norm, "epochs": cfg.epochs, "batch_size": cfg.batch_size, "train_1_s": t1,
            "train_k_s": tk, "train_1_cpu_s": c1, "train_k_cpu_s": ck, "k": j["models"], "test_images": len(data.y_test),
            "test_img_per_s": len(data.y_test) / t_test, "data": data.name}


JOBS = {"check": job_check, "conv": job_conv, "step": job_step, "eval": job_eval}


def worker(spec: str) -> None:
    sys.path.insert(0, ROOT)
    j = json.loads(spec)
    import torch
    torch.manual_seed(0)
    print(json.dumps(JOBS[j["job"]](j)))


# ====================================================================== parent side (no torch)

def run_job(job: dict, a) -> dict:
    """Run one configuration in a fresh process; its result, or its error."""
    j = {"device": a.device, "npz": a.npz, "autocast": a.autocast, **job}
    t = time.time()
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(j)],
                       capture_output=True, text=True)
    print(f"  {job['job']:5s} {json.dumps({k: v for k, v in job.items() if k != 'job'})} "
          f"({time.time() - t:.0f} s)", file=sys.stderr)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["killed (out of memory?)"])[-1]
        return {**job, "error": f"exit {p.returncode}: {tail}"}
    return {**job, **json.loads(p.stdout.strip().splitlines()[-1])}


def plan(a) -> list[dict]:
    cuda = a.device.startswith("cuda")
    steps = {"steps": a.steps or (3 if a.quick else 10), "warmup": a.warmup if a.warmup is not None else (1 if a.quick else 2)}
    jobs = [{"job": "check", "preset": "released"}, {"job": "conv", "reps": 3 if a.quick else 10}]
    for preset in ("paper", "released"):
        for br in (64,) if a.quick else (64, 256):
            jobs.append({"job": "step", "preset": preset, "classes": 10, "batch_real": br, "chunk": None, "flops": True, **steps})
    if not a.quick:  # 100 classes: memory, with and without class chunks (fewer steps: ~10x the work)
        for preset in ("paper", "released"):
            for br in (64, 256) if cuda else (64,):
                for chunk in (100, None):  # all classes in one pass, then distill()'s automatic chunks
                    jobs.append({"job": "step", "preset": preset, "classes": 100, "batch_real": br, "chunk": chunk,
                                 "flops": False, "steps": min(steps["steps"], 2), "warmup": 1})
    for preset in ("paper",) if a.quick else ("paper", "released"):
        jobs.append({"job": "eval", "preset": preset, "models": 10, "epochs": a.epochs or (2 if a.quick else 10),
                     "reps": 2})
    return jobs


def report(results: list[dict], command: str, device: str) -> str:
    conv = next((r for r in results if r["job"] == "conv" and "error" not in r), {})
    peak = conv.get("conv_flop_s")
    ref = REFERENCE
    lines = [f"command: {command}", f"device: {device}"]
    for r in results:
        if "error" in r:
            lines.append(f"ERROR {r['job']} {r.get('preset', '')} {r.get('batch_real', '')}: {r['error']}")
    chk = next((r for r in results if r["job"] == "check"), {})
    lines.append(f"benchmark loop reproduces distill() exactly: {chk.get('mirrors_distill', 'n/a')}")
    if peak:
        lines.append(f"machine conv throughput (3x3 128->128, 256x128x16x16, fwd+bwd): "
                     f"{peak / 1e9:.1f} GFLOP/s ({1e3 * conv['conv_s']:.0f} ms for {conv['conv_flops'] / 1e9:.1f} GFLOP)")
    lines += ["", "Distillation step (3x32x32, ConvNet-3 width 128, IPC 10; median step after warm-up)",
              f"{'preset':9s}{'norm':9s}{'classes':>7s}{'batch_real':>11s}{'chunk':>6s}{'step s':>8s}"
              f"{'GFLOP':>7s}{'GFLOP/s':>8s}{'of conv':>8s}{'peak MB':>8s}{'step MB':>8s}  vs released code"]
    for r in results:
        if r["job"] != "step" or "error" in r:
            continue
        fl = r.get("flops")
        rate = fl / r["step_s"] if fl else None
        vs = ""
        if r["classes"] == 10 and r["batch_real"] == 64:
            met = "met" if r["step_s"] <= ref["target_step_s"] and r["peak_mb"] <= ref["peak_mb"] else "NOT met"
            vs = (f"{ref['step_s'] / r['step_s']:.1f}x faster than {ref['step_s']} s, peak {r['peak_mb']} vs "
                  f"{ref['peak_mb']} MB: target (<= {ref['target_step_s']} s, <= {ref['peak_mb']} MB) {met}")
        lines.append(f"{r['preset']:9s}{r['encoder']:9s}{r['classes']:>7d}{r['batch_real']:>11d}{str(r['chunk'] or '-'):>6s}"
                     f"{r['step_s']:>8.3f}{f'{fl / 1e9:.1f}' if fl else '-':>7s}"
                     f"{f'{rate / 1e9:.1f}' if rate else '-':>8s}"
                     f"{f'{100 * rate / peak:.0f}%' if rate and peak else '-':>8s}"
                     f"{r['peak_mb']:>8d}{r['added_mb']:>8d}  {vs}")
    lines += ["", "Evaluation (IPC-10 set, 10 classes; training time for a fixed number of epochs, best of 2)",
              f"{'preset':9s}{'norm':9s}{'epochs':>7s}{'batch':>6s}{'1 model s':>10s}{'10 together s':>14s}"
              f"{'ratio':>7s}{'vs 10 one by one':>17s}{'test img/s':>11s}"]
    for r in results:
        if r["job"] != "eval" or "error" in r:
            continue
        ratio, speedup = r["train_k_s"] / r["train_1_s"], r["k"] * r["train_1_s"] / r["train_k_s"]
        lines.append(f"{r['preset']:9s}{r['encoder']:9s}{r['epochs']:>7d}{r['batch_size']:>6d}{r['train_1_s']:>10.2f}"
                     f"{r['train_k_s']:>14.2f}{f'{ratio:.2f}x':>7s}{f'{speedup:.2f}x faster':>17s}"
                     f"{r['test_img_per_s']:>11.0f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--npz", help="real images (x_train, y_train, ...), e.g. ../shared/data/cifar10-mini.npz")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--steps", type=int, help="timed steps per configuration (default 10; quick 3)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 2; quick 1)")
    p.add_argument("--epochs", type=int, help="evaluation epochs (default 10; quick 2)")
    p.add_argument("--quick", action="store_true", help="fewer configurations and steps")
    p.add_argument("--autocast", action="store_true", help="bf16 autocast (meant for CUDA)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker)
    command = shlex.join([os.path.basename(sys.executable), *sys.argv])
    device = subprocess.run([sys.executable, "-c", _DEVICE.format(dev=a.device)], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    print(f"{command}\n{device}", file=sys.stderr)
    results = [run_job(job, a) for job in plan(a)]
    text = report(results, command, device)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": command, "device": device, "reference": REFERENCE, "results": results}, f, indent=1)


_DEVICE = """
import os, platform, torch
d = torch.device({dev!r})
cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')][:1] if os.path.exists('/proc/cpuinfo') else []
name = torch.cuda.get_device_name(d) if d.type == 'cuda' else (cpu or [platform.processor() or platform.machine()])[0]
print(f"{{d}}: {{name}}, {{torch.get_num_threads()}} CPU threads of {{os.cpu_count()}}, torch {{torch.__version__}}")
"""

if __name__ == "__main__":
    main()
