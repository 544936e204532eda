"""DataDAM speed and memory on this machine, through the library's own code paths.

    python benchmarks/bench.py --quick                                   # a few minutes on a 2-core CPU
    python benchmarks/bench.py --npz ../shared/data/cifar10-mini.npz     # every configuration
    python benchmarks/bench.py --quick --npz ../shared/data/cifar10-mini.npz --release /tmp/datadam-release
    python benchmarks/bench.py --device cuda --quick --batch-real 64 256 --steps 20 --warmup 5 --epochs 20 \
        --npz ../shared/data/cifar10-mini.npz --release /tmp/datadam-release --json gpu.json   # on a GPU

What it measures, every number on the machine it runs on, in this run
(docs/benchmarks.md explains every column):
1. machine: fwd+bwd throughput of a large 3x3 convolution (128->128 channels,
   256x128x16x16 input), in fp32 and under bf16 autocast: the yardsticks for the
   step's achieved FLOP/s (an fp32 step against the fp32 yardstick, a bf16 step
   against the bf16 one);
2. distillation: ``step.step`` + the image update at the paper's shape
   (CIFAR-10, ConvNet-3 width 128, IPC 10), both presets, batch_real 64 (and 256),
   with ``distill.autocast`` "none" (fp32) and "bf16": median step time after
   warm-up, peak memory, FLOPs of one step (FlopCounterMode: convolutions and
   matmuls) and their rate as a fraction of the machine's; 100 classes
   (CIFAR-100 shape) with and without ``class_chunk``;
3. the authors' released code (``--release DIR``, a checkout of
   github.com/DataDistillation/DataDAM kept outside this repository): one of its
   distillation iterations at the same settings as the kit's ``released``
   preset (CIFAR-10 shape, IPC 10, batch_real 64, BatchNorm ConvNet-3, the same
   real images), alternated with the kit's step ``--rounds`` times, so that the
   ratio compares two programs measured side by side;
4. evaluation: training 1 model and 10 models (together, ensemble.py) for a
   fixed number of epochs on an IPC-10 set, fp32 and bf16, and test-set
   inference throughput.

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
PRECISIONS = ("none", "bf16")


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


def _setup(j):
    """Per-worker settings: threads (``--threads``), the device."""
    import torch
    if j.get("threads"):
        torch.set_num_threads(j["threads"])
    return torch.device(j["device"])


def _flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def _data(j, classes: int, per_class: int, preprocess: str = "mtt"):
    """RealData from ``--npz`` (10 classes) or random tensors of CIFAR shape."""
    import torch

    from datadam_lib import RealData, load_dataset
    dev = torch.device(j["device"])
    if j["npz"] and classes == 10:
        return load_dataset("npz:" + j["npz"], device=dev, preprocess=preprocess)
    g = torch.Generator().manual_seed(0)
    n_test = max(1000, 10 * classes)
    y = torch.arange(classes).repeat_interleave(max(per_class, IPC))
    return RealData("random", torch.randn(len(y), 3, 32, 32, generator=g).to(dev), y.to(dev),
                    torch.randn(n_test, 3, 32, 32, generator=g).to(dev),
                    torch.randint(classes, (n_test,), generator=g).to(dev),
                    [str(i) for i in range(classes)], torch.zeros(3, device=dev), torch.ones(3, device=dev))


def _compiled(module, j):
    """``module.forward_features`` compiled with torch.compile (``--compile MODE``;
    reduce-overhead = CUDA graphs), or the module unchanged."""
    import torch
    if j.get("compile"):
        module.forward_features = torch.compile(module.forward_features, mode=j["compile"])
    return module


def _distiller(j, data, overrides: dict):
    """The optimiser and one iteration of ``distill()``, set up as ``distill()``
    does it (checked against it by the ``check`` job)."""
    import torch

    from datadam_lib import make_config
    from datadam_lib.method.distill import check_config
    from datadam_lib.method.init import INITS
    from datadam_lib.method.losses import Objective
    from datadam_lib.method.models import build_encoder
    from datadam_lib.method.step import GraphedStep, auto_chunk, step
    from datadam_lib.method.training import deterministic
    over = {"distill.autocast": j.get("autocast", "none"), **overrides}
    cfg = make_config(j["preset"], scale="paper", dataset=data.name, ipc=j.get("ipc", IPC), overrides=over)
    d, dev, K = cfg.distill, data.device, data.num_classes
    batch_real = check_config(cfg, data)
    objective = Objective(d.method, data.im_size)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    images = INITS[d.init](data, d.ipc, g, cfg).detach().requires_grad_(True)
    opt = torch.optim.SGD([images], lr=d.image_lr(), momentum=d.momentum)
    encoder = build_encoder(d.encoder, data.channels, K, data.im_size, g, dev)
    encoder.requires_grad_(False).train(d.encoder_train_mode)
    encoder = _compiled(encoder.to(memory_format=torch.channels_last), j)
    batch_stats = d.encoder_train_mode and any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    chunk = d.class_chunk or (K if batch_stats else min(K, auto_chunk(encoder, data, batch_real + d.ipc,
                                                                      d.memory_budget_mb)))  # as distill()

    # as distill(): on CUDA each step's work replays as one CUDA graph unless --no-cuda-graph
    graphed = (GraphedStep(encoder, objective, data, images, batch_real, d.dsa, chunk, precision=d.autocast)
               if dev.type == "cuda" and j.get("cuda_graph", True) else None)

    def one(eager: bool = False):
        with deterministic(dev):  # as distill() runs its loop
            opt.zero_grad(set_to_none=True)
            if graphed and not eager:
                graphed(g)
            else:
                step(encoder, objective, data, images, batch_real, d.dsa, g, chunk, precision=d.autocast)
            opt.step()
    one.chunk, one.graphed = chunk, graphed is not None
    return cfg, images, one


def job_check(j) -> dict:
    """The benchmark's loop reproduces ``distill()`` exactly (2 tiny iterations)."""
    import torch

    from datadam_lib.method.distill import distill
    _setup(j)
    data = _data({**j, "npz": None}, 10, 8)
    over = {"distill.batch_real": 4, "distill.iterations": 2}
    cfg, images, one = _distiller({**j, "ipc": 2, "autocast": "none", "compile": None}, data, over)
    one(), one()
    same = torch.equal(images.detach(), distill(cfg, data, progress=False, cuda_graph=j.get("cuda_graph", True)).images)
    return {"mirrors_distill": bool(same)}


def job_conv(j) -> dict:
    """FLOP/s of a large 3x3 convolution, forward + backward (input and weight
    grads), in fp32 and under bf16 autocast."""
    import torch

    from datadam_lib.method.training import autocast, bf16_supported
    dev = _setup(j)
    # a GPU finishes the CPU's 256-image yardstick in ~1 ms, too short to time
    # steadily (71 and 103 TFLOP/s in two runs on one H200): 8x the images there
    batch = 2048 if dev.type == "cuda" else 256
    x = torch.randn(batch, 128, 16, 16, device=dev).to(memory_format=torch.channels_last).requires_grad_(True)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, device=dev).to(memory_format=torch.channels_last)
    out = {"bf16_native": bf16_supported(dev), "batch": batch,
           "tf32": dev.type == "cuda" and torch.backends.cudnn.allow_tf32}
    for precision in PRECISIONS:
        def fwd_bwd():
            with autocast(precision, dev):
                y = conv(x)
            y.float().sum().backward()
        lap = _timer(dev)
        for _ in range(2):
            lap(fwd_bwd)
        t = statistics.median(lap(fwd_bwd) for _ in range(j["reps"]))
        flops = _flops(fwd_bwd)
        out[precision] = {"conv_s": t, "conv_flops": flops, "conv_flop_s": flops / t}
    return out


def job_step(j) -> dict:
    from datadam_lib.method.training import bf16_supported
    dev = _setup(j)
    data = _data(j, j["classes"], j["batch_real"])
    over = {"distill.batch_real": j["batch_real"], "distill.class_chunk": j["chunk"]}
    cfg, _, one = _distiller(j, data, over)
    mem, lap = Memory(dev), _timer(dev)
    mem.start()
    for _ in range(j["warmup"]):
        one()
    times = [lap(one) for _ in range(j["steps"])]
    out = {**mem.stop(), "chunk_used": one.chunk, "step_s": statistics.median(times), "times": times,
           "step_cpu_s": statistics.median(lap.cpu), "encoder": cfg.distill.encoder.norm, "data": data.name,
           "bf16_native": bf16_supported(dev)}
    if j["flops"]:
        out["flops"] = _flops(lambda: one(eager=True))  # a replayed graph dispatches no ops to count
    out["cuda_graph"] = one.graphed
    return out


def job_release(j) -> dict:
    """One distillation iteration of the authors' released code (``main_DataDAM.py``
    of the checkout in ``j["release"]``, run as it is): CIFAR-10 (its ConvNet:
    BatchNorm, depth 3, width 128), IPC 10, batch_real 64, on the same real
    images as the kit (the ``.npz`` through the kit's loader, mean/std
    normalised) in place of its torchvision download; on a CPU its
    ``net.cuda()`` is a no-op. Its evaluation (once, at the last iteration) is
    replaced by a no-op; the time between consecutive updates of the synthetic
    images is one iteration: network draw, DSA, both forward passes with
    hooks, the loss, backward and the update, exactly as released."""
    import tempfile
    import types
    import warnings

    import torch
    dev = _setup(j)
    data = _data(j, 10, 64, preprocess="normalise")
    sys.path.insert(0, j["release"])
    try:
        import einops  # noqa: F401  (networks.py imports it for its ViT; the ConvNet does not use it)
    except ImportError:
        stub = types.ModuleType("einops")
        stub.rearrange = stub.repeat = None
        layers = types.ModuleType("einops.layers")
        layers_torch = types.ModuleType("einops.layers.torch")
        layers_torch.Rearrange = torch.nn.Identity
        sys.modules.update({"einops": stub, "einops.layers": layers, "einops.layers.torch": layers_torch})
    warnings.filterwarnings("ignore")
    import main_DataDAM as release
    import utils as release_utils

    cpu = lambda t: t.detach().cpu()  # noqa: E731  (their TensorDataset; main() moves the images to its device)
    train = release_utils.TensorDataset(cpu(data.x_train), cpu(data.y_train))
    test = release_utils.TensorDataset(cpu(data.x_test), cpu(data.y_test))
    release.get_dataset = lambda *a, **k: (3, (32, 32), 10, data.classes, None, None, train, test,
                                           torch.utils.data.DataLoader(test, batch_size=256), None)
    release.evaluate_synset = lambda it, net, *a, **k: (net, 0.0, 0.0)  # no evaluation: only the step is timed
    stamps, mem, sync = [], Memory(dev), torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    original_step = torch.optim.SGD.step

    def timed_step(self, *a, **k):  # their image optimizer is the only SGD over a (100, 3, 32, 32) tensor
        out = original_step(self, *a, **k)
        if tuple(self.param_groups[0]["params"][0].shape) == (10 * IPC, 3, 32, 32):
            sync()
            stamps.append((time.perf_counter(), time.process_time()))
            if len(stamps) == 1:
                mem.start()
        return out
    torch.optim.SGD.step = timed_step
    if dev.type != "cuda":  # their get_network calls net.cuda() unconditionally: keep the net on the CPU
        torch.nn.Module.cuda = lambda self, device=None: self
    with tempfile.TemporaryDirectory() as tmp:
        iterations = j["warmup"] + j["steps"]
        sys.argv = ["main_DataDAM.py", "--dataset", "CIFAR10", "--ipc", str(IPC), "--batch_real", "64",
                    "--Iteration", str(iterations), "--eval_mode", "none", "--num_eval", "1",
                    "--data_path", os.path.join(tmp, "data"), "--save_path", os.path.join(tmp, "out")]
        with open(os.devnull, "w") as null, _redirect_stdout(null):
            release.main()
    laps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])][j["warmup"]:]  # iteration 0 untimed too
    return {**mem.stop(), "step_s": statistics.median(t for t, _ in laps), "times": [t for t, _ in laps],
            "step_cpu_s": statistics.median(c for _, c in laps), "iterations": len(stamps)}


def _redirect_stdout(f):
    import contextlib
    return contextlib.redirect_stdout(f)


def job_eval(j) -> dict:
    """Train 1 model, then ``models`` models together, for ``epochs`` epochs on an
    IPC-10 set (a random real subset: the shape of a distilled set), best of
    ``reps``; test-set inference throughput of one model."""

    from datadam_lib import make_config, random_subset
    from datadam_lib.method import ensemble
    from datadam_lib.method import evaluate as ev
    from datadam_lib.method.training import model_generator
    dev = _setup(j)
    data = _data(j, 10, 50)
    if j.get("compile"):
        build = ev.build_encoder
        ev.build_encoder = lambda *a, **k: _compiled_module(build(*a, **k), j)
    over = {"evaluate.epochs": j["epochs"], "evaluate.autocast": j["autocast"]}
    cfg = make_config(j["preset"], scale="paper", dataset=data.name, ipc=IPC, overrides=over).evaluate
    x, y = random_subset(data, IPC)
    gens = lambda k: [model_generator(0, i, dev) for i in range(k)]  # noqa: E731
    one = lambda: ev.train_model(x, y, data, cfg, gens(1)[0])  # noqa: E731
    many = lambda: ensemble.train_models(x, y, data, cfg, gens(j["models"]))  # noqa: E731
    lap = _timer(dev)
    warm = make_config(j["preset"], scale="paper",
                       overrides={"evaluate.epochs": 1, "evaluate.autocast": j["autocast"]}).evaluate
    ev.train_model(x, y, data, warm, gens(1)[0])
    if j["models"] > 1:
        ensemble.train_models(x, y, data, warm, gens(j["models"]))
    models, t1, tk, c1, ck = [], [], [], [], []
    for _ in range(j["reps"]):  # alternated, best of: robust to other load on a shared machine
        t1.append(lap(lambda: models.append(one())))
        c1.append(lap.cpu[-1])
        if j["models"] > 1:
            tk.append(lap(many))
            ck.append(lap.cpu[-1])
    model = models[0]
    ev.test_accuracy(model, data, cfg.batch_test)  # warm-up
    t_test = statistics.median(lap(lambda: ev.test_accuracy(model, data, cfg.batch_test)) for _ in range(3))
    return {"encoder": cfg.encoder.norm, "epochs": cfg.epochs, "batch_size": cfg.batch_size, "train_1_s": min(t1),
            "train_k_s": min(tk) if tk else None, "train_1_cpu_s": min(c1), "train_k_cpu_s": min(ck) if ck else None,
            "k": j["models"], "test_images": len(data.y_test), "test_img_per_s": len(data.y_test) / t_test,
            "data": data.name}


def _compiled_module(model, j):
    import torch
    return torch.compile(model, mode=j["compile"])


JOBS = {"check": job_check, "conv": job_conv, "step": job_step, "release": job_release, "eval": job_eval}


def worker(spec: str) -> None:
    sys.path.insert(0, ROOT)
    j = json.loads(spec)
    import torch
    torch.manual_seed(0)
    result = JOBS[j["job"]](j)
    sys.stdout.flush()
    print(json.dumps(result))


# ====================================================================== parent side (no torch)

def run_job(job: dict, a) -> dict:
    """Run one configuration in a fresh process; its result, or its error."""
    j = {"device": a.device, "npz": a.npz, "threads": a.threads, "compile": a.compile, "release": a.release,
         "cuda_graph": not a.no_cuda_graph, **job}
    t = time.time()
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(j)],
                       capture_output=True, text=True)
    print(f"  {job['job']:7s} {json.dumps({k: v for k, v in job.items() if k != 'job'})} "
          f"({time.time() - t:.0f} s)", file=sys.stderr)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["killed (out of memory?)"])[-1]
        return {**job, "error": f"exit {p.returncode}: {tail}"}
    return {**job, **json.loads(p.stdout.strip().splitlines()[-1])}


def plan(a) -> list[dict]:
    """The jobs, in order. The released code and the kit's ``released`` step at
    its settings alternate ``--rounds`` times (side by side, same machine, same
    run); every other configuration runs once."""
    cuda = a.device.startswith("cuda")
    steps = {"steps": a.steps or (3 if a.quick else 10), "warmup": a.warmup if a.warmup is not None else (1 if a.quick else 2)}
    jobs = [{"job": "check", "preset": "released"}, {"job": "conv", "reps": 20 if cuda else 3 if a.quick else 10}]
    pair = lambda p: {"job": "step", "preset": "released", "classes": 10, "batch_real": 64, "chunk": None,  # noqa: E731
                      "autocast": p, "flops": True, **steps}
    for _ in range(a.rounds if a.release else 1):
        if a.release:
            jobs.append({"job": "release", **steps})
        jobs += [pair(p) for p in PRECISIONS]
    batches = tuple(a.batch_real) if a.batch_real else (64,) if a.quick else (64, 256)
    for preset in ("paper", "released"):
        for br in batches:
            for p in PRECISIONS:
                if not (preset == "released" and br == 64):  # measured above
                    jobs.append({"job": "step", "preset": preset, "classes": 10, "batch_real": br, "chunk": None,
                                 "autocast": p, "flops": True, **steps})
    if not a.quick:  # 100 classes: memory, with and without class chunks (fewer steps: ~10x the work)
        for preset in ("paper", "released"):
            for br in (64, 256) if cuda else (64,):
                for chunk in (100, None):  # all classes in one pass, then distill()'s automatic chunks
                    jobs.append({"job": "step", "preset": preset, "classes": 100, "batch_real": br, "chunk": chunk,
                                 "autocast": "none", "flops": False, "steps": min(steps["steps"], 2), "warmup": 1})
    for preset in ("paper",) if a.quick and not cuda else ("paper", "released"):
        for p in PRECISIONS:
            jobs.append({"job": "eval", "preset": preset, "models": 10 if (cuda or not a.quick) else 1,
                         "epochs": a.epochs or (2 if a.quick else 10), "reps": 2, "autocast": p})
    return jobs


def _median(xs):
    return statistics.median(xs) if xs else None


def _fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def report(results: list[dict], command: str, device: str) -> str:
    """The tables. Every ratio in them divides two numbers of this run."""
    conv = next((r for r in results if r["job"] == "conv" and "error" not in r), {})
    peak = {p: conv[p]["conv_flop_s"] for p in PRECISIONS if p in conv}
    native = conv.get("bf16_native", True)
    lines = [f"command: {command}", f"device: {device}"]
    for r in results:
        if "error" in r:
            lines.append(f"ERROR {r['job']} {r.get('preset', '')} {r.get('batch_real', '')} "
                         f"{r.get('autocast', '')}: {r['error']}")
    chk = next((r for r in results if r["job"] == "check"), {})
    lines.append(f"benchmark loop reproduces distill() exactly: {chk.get('mirrors_distill', 'n/a')}")
    if any(r.get("cuda_graph") for r in results if r["job"] == "step"):
        lines.append("steps replayed as CUDA graphs (step.GraphedStep, distill()'s default on CUDA; "
                     "FLOPs counted on the eager step)")
    for p in PRECISIONS:
        if p in conv:
            c = conv[p]
            fp32 = "fp32 (TF32 tensor cores: cuDNN's default)" if conv.get("tf32") else "fp32"
            lines.append(f"machine conv throughput, {fp32 if p == 'none' else 'bf16 autocast'} "
                         f"(3x3 128->128, {conv.get('batch', 256)}x128x16x16, fwd+bwd): "
                         f"{c['conv_flop_s'] / 1e9:.1f} GFLOP/s "
                         f"({1e3 * c['conv_s']:.0f} ms for {c['conv_flops'] / 1e9:.1f} GFLOP)")
    if not native:
        lines.append("bf16: this device has no native bf16; the bf16 columns ran in fp32 (training.autocast falls back)")

    # group the step results by configuration; the pair measured in rounds gives medians over rounds
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for r in results:
        if r["job"] == "step" and "error" not in r:
            key = (r["preset"], r["classes"], r["batch_real"], r["chunk"])
            groups.setdefault(key, {}).setdefault(r["autocast"], []).append(r)
    lines += ["", "Distillation step (3x32x32, ConvNet-3 width 128, IPC 10; median step after warm-up; "
                  "'of conv': the step's FLOP/s / the yardstick's of the same precision)",
              f"{'preset':9s}{'norm':9s}{'classes':>7s}{'batch_real':>11s}{'chunk':>6s}{'fp32 s':>8s}{'GFLOP':>7s}"
              f"{'of conv':>8s}{'peak MB':>8s}{'step MB':>8s}{'bf16 s':>8s}{'of conv':>8s}{'peak MB':>8s}"
              f"{'bf16 speed-up':>14s}"]
    for key, by in groups.items():
        f32, b16 = by.get("none", []), by.get("bf16", [])
        s32, s16 = _median([r["step_s"] for r in f32]), _median([r["step_s"] for r in b16])
        r0 = (f32 or b16)[0]
        fl = r0.get("flops")
        of = lambda s, p: f"{100 * fl / s / peak[p]:.0f}%" if fl and s and p in peak else "-"  # noqa: E731
        lines.append(f"{key[0]:9s}{r0['encoder']:9s}{key[1]:>7d}{key[2]:>11d}{str(r0['chunk_used']):>6s}"
                     f"{_fmt(s32, '.3f'):>8s}{_fmt(fl and fl / 1e9, '.1f'):>7s}{of(s32, 'none'):>8s}"
                     f"{_fmt(f32 and max(r['peak_mb'] for r in f32), 'd'):>8s}"
                     f"{_fmt(f32 and max(r['added_mb'] for r in f32), 'd'):>8s}"
                     f"{_fmt(s16, '.3f'):>8s}{of(s16, 'bf16'):>8s}{_fmt(b16 and max(r['peak_mb'] for r in b16), 'd'):>8s}"
                     f"{_fmt(s32 and s16 and s32 / s16, '.2f'):>13s}x")

    rel = [r for r in results if r["job"] == "release" and "error" not in r]
    if rel:
        kit = groups.get(("released", 10, 64, None), {})
        t_rel = _median([r["step_s"] for r in rel])
        c_rel = _median([r["step_cpu_s"] for r in rel])
        lines += ["", f"The authors' released code, side by side ({len(rel)} rounds, alternated with the kit's "
                      "`released` step; CIFAR-10 shape, IPC 10, batch_real 64, BatchNorm ConvNet-3, same images):",
                  f"  released code: {t_rel:.3f} s/step (median of rounds; CPU {_median([r['step_cpu_s'] for r in rel]):.3f} s), "
                  f"peak {max(r['peak_mb'] for r in rel)} MB"]
        for p, name in (("none", "fp32"), ("bf16", "bf16")):
            if kit.get(p):
                t = _median([r["step_s"] for r in kit[p]])
                c = _median([r["step_cpu_s"] for r in kit[p]])
                rounds = ", ".join(f"{a['step_s'] / b['step_s']:.2f}" for a, b in zip(rel, kit[p]))
                lines.append(f"  kit `released` preset, {name}: {t:.3f} s/step (CPU {c:.3f} s), peak "
                             f"{max(r['peak_mb'] for r in kit[p])} MB: {t_rel / t:.2f}x faster than the released code "
                             f"in this run (per round: {rounds}" + (
                                 # on a GPU the released code's CPU time counts its waits on the device
                                 f"; by CPU time {c_rel / c:.2f}x)" if device.split(":")[0] == "cpu" else ")"))
    else:
        lines += ["", "The authors' released code: not measured in this run (--release DIR): no ratio against it."]

    lines += ["", "Evaluation (IPC-10 set, 10 classes; training time for a fixed number of epochs, best of 2)",
              f"{'preset':9s}{'norm':9s}{'precision':>10s}{'epochs':>7s}{'batch':>6s}{'1 model s':>10s}"
              f"{'K together s':>13s}{'K':>3s}{'ratio':>7s}{'vs K one by one':>16s}{'test img/s':>11s}"]
    for r in results:
        if r["job"] != "eval" or "error" in r:
            continue
        tk = r["train_k_s"]
        ratio = f"{tk / r['train_1_s']:.2f}x" if tk else "-"
        speed = f"{r['k'] * r['train_1_s'] / tk:.2f}x" if tk else "-"
        lines.append(f"{r['preset']:9s}{r['encoder']:9s}{'fp32' if r['autocast'] == 'none' else 'bf16':>10s}"
                     f"{r['epochs']:>7d}{r['batch_size']:>6d}{r['train_1_s']:>10.2f}{_fmt(tk, '.2f'):>13s}{r['k']:>3d}"
                     f"{ratio:>7s}{speed:>16s}{r['test_img_per_s']:>11.0f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--npz", help="real images (x_train, y_train, ...), e.g. ../shared/data/cifar10-mini.npz")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, help="torch threads in every worker (default: torch's)")
    p.add_argument("--steps", type=int, help="timed steps per configuration (default 10; quick 3)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 2; quick 1)")
    p.add_argument("--epochs", type=int, help="evaluation epochs (default 10; quick 2)")
    p.add_argument("--quick", action="store_true", help="fewer configurations and steps")
    p.add_argument("--batch-real", type=int, nargs="+", help="batch_real values of the step table "
                                                              "(default 64 256; quick 64)")
    p.add_argument("--release", help="a checkout of the authors' code (github.com/DataDistillation/DataDAM), "
                                     "outside this repository: time its step side by side with the kit's")
    p.add_argument("--rounds", type=int, default=3, help="alternations of the released code and the kit (default 3)")
    p.add_argument("--no-cuda-graph", action="store_true",
                   help="on CUDA, run each step eagerly instead of replaying it as one CUDA graph (distill()'s default)")
    p.add_argument("--compile", help="torch.compile mode for the encoder (default, reduce-overhead = CUDA graphs, "
                                     "max-autotune); off by default")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--report", metavar="JSON", help="print the tables of an earlier run's --json file and exit")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker)
    if a.report:
        with open(a.report) as f:
            saved = json.load(f)
        return print(report(saved["results"], saved["command"], saved["device"]))
    if a.release and not os.path.isfile(os.path.join(a.release, "main_DataDAM.py")):
        p.error(f"--release {a.release}: no main_DataDAM.py there")
    if a.release and not a.npz:
        p.error("--release needs --npz (the same real images for both programs)")
    command = shlex.join([os.path.basename(sys.executable), *sys.argv])
    device = subprocess.run([sys.executable, "-c", _DEVICE.format(dev=a.device, threads=a.threads or 0)],
                            capture_output=True, text=True, cwd=ROOT).stdout.strip()
    print(f"{command}\n{device}", file=sys.stderr)
    results = []
    for job in plan(a):
        results.append(run_job(job, a))
        if a.json:  # after every job: a run stopped at a time limit keeps what it measured
            _write_json(a.json, {"command": command, "device": device, "results": results})
    print(report(results, command, device))


def _write_json(path: str, obj: dict) -> None:
    """Write ``obj`` to ``path`` atomically (a reader never sees half a file)."""
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(path + ".tmp", path)


_DEVICE = """
import os, platform, torch
if {threads}: torch.set_num_threads({threads})
d = torch.device({dev!r})
cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')][:1] if os.path.exists('/proc/cpuinfo') else []
name = torch.cuda.get_device_name(d) if d.type == 'cuda' else (cpu or [platform.processor() or platform.machine()])[0]
print(f"{{d}}: {{name}}, {{torch.get_num_threads()}} CPU threads of {{os.cpu_count()}}, torch {{torch.__version__}}")
"""

if __name__ == "__main__":
    main()
