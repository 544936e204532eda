"""Distillation: learn ``ipc`` synthetic images per class by attention matching.

One iteration (main paper Alg. 1; supplement Table 2):
1. redraw a randomly initialised encoder (from the run's generator; frozen);
2. sample ``batch_real`` real images per class; draw one DSA parameter row per
   class and apply it to that class's real and synthetic images (siamese);
3. one forward pass for all real images (inference mode) and one for all
   synthetic images; class-mean statistics of each (attention maps per layer,
   embedding, ...); the loss compares the two (``Objective``);
4. one SGD step (momentum 0.5) on the synthetic images.

All randomness comes from one ``torch.Generator`` seeded with ``cfg.seed``; a
checkpoint stores its state, so resuming reproduces the uninterrupted run. A
checkpoint also stores the config and a fingerprint of the data it was written
for (a resume on anything else is refused, naming what differs) and the wall
time so far (the manifest of a resumed run reports the total and where it
resumed). Ctrl-C ends the current iteration, writes a checkpoint and raises
:class:`Interrupted` (single-process runs; a second Ctrl-C stops at once).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import __version__, augment
from .config import LOSS_COMPONENTS, Config, MethodConfig, canonical, differences, from_dict
from .data import DataError, RealData, dataset_identity
from .io import CheckpointError, atomic_save, device_description, evaluated_set, load_checked, manifest, output_dir, \
    write_json
from .losses import attention_map, class_means, feature_map, feature_map_loss, mmd_loss, sam_loss
from .models import Encoder, build_encoder, reset_parameters
from .training import autocast, deterministic, keep_freed_memory

Stats = dict[str, list[torch.Tensor]]


class Objective:
    """DataDAM's loss as a comparison of class-mean statistics.

    ``statistics`` maps a class-major batch (and its encoder taps/embedding) to
    per-class means; ``loss`` compares real and synthetic statistics:
    loss_scale * (L_SAM + lambda * L_MMD + L_feature + L_pixel), each term
    present only when its component is enabled."""

    def __init__(self, method: MethodConfig, im_size: int):
        assert set(method.components) <= set(LOSS_COMPONENTS), method.components   # MethodConfig checks them
        self.m = method
        self.lam = method.lambda_for(im_size)
        self.needs_encoder = bool(set(method.components) - {"pixel"})

    def layers(self, n_taps: int) -> list[int]:
        sel = self.m.sam_layers
        if sel == "all_but_last":   # a depth-1 net has no layer but the last: no SAM term, as released
            return list(range(n_taps - 1))
        if sel == "all":
            return list(range(n_taps))
        if any(not 1 <= i <= n_taps for i in sel):
            raise ValueError(f"sam_layers {sel} out of range: this encoder has taps 1..{n_taps}")
        return [i - 1 for i in sel]

    def reduce_tap(self, i: int, n_taps: int, tap: torch.Tensor, scratch: bool = False
                   ) -> dict[str, torch.Tensor] | None:
        """What the loss keeps of tap ``i`` of ``n_taps``, per image: its
        attention map and/or feature map, or None for a tap it does not use
        (``Encoder.forward_features``'s ``reduce``). ``scratch``: the tap may
        be overwritten (``losses.attention_map``)."""
        c = self.m.components
        if ("sam" not in c and "feature" not in c) or i not in self.layers(n_taps):
            return None
        out = {}
        if "feature" in c:   # before the attention map, which may overwrite a scratch tap
            out["feature"] = feature_map(tap)
        if "sam" in c:
            out["sam"] = attention_map(tap, self.m.power, self.m.attention_norm, scratch)
        return out

    def statistics(self, images: torch.Tensor, taps: list[torch.Tensor] | None,
                   emb: torch.Tensor | None, num_classes: int) -> Stats:
        reduced = [self.reduce_tap(i, len(taps), t) for i, t in enumerate(taps)] if taps is not None else None
        return self.means(images, reduced, emb, num_classes)

    def means(self, images: torch.Tensor, reduced: list[dict | None] | None, emb: torch.Tensor | None,
              num_classes: int) -> Stats:
        """``statistics`` from taps already reduced by ``reduce_tap``."""
        c, K = self.m.components, num_classes
        out: Stats = {}
        chosen = [r for r in reduced or [] if r is not None]
        for name in ("sam", "feature"):
            if name in c:
                out[name] = [class_means(r[name], K) for r in chosen]
        if "mmd" in c:
            out["mmd"] = [class_means(emb, K)]
        if "pixel" in c:
            out["pixel"] = [class_means(images.flatten(1), K)]
        return out

    def loss(self, real: Stats, syn: Stats) -> torch.Tensor:
        """L = loss_scale * (L_SAM + lambda * L_MMD) for DataDAM (main paper
        Sec. 3; lambda and the x100 scale: Table 2 and docs/presets.md); the
        ablations' feature-map and pixel terms join the sum when enabled."""
        absent = 0.0
        l_sam = sam_loss(real["sam"], syn["sam"], self.m.distance) if "sam" in real else absent
        l_mmd = mmd_loss(real["mmd"][0], syn["mmd"][0]) if "mmd" in real else absent
        l_feature = feature_map_loss(real["feature"], syn["feature"]) if "feature" in real else absent
        l_pixel = mmd_loss(real["pixel"][0], syn["pixel"][0]) if "pixel" in real else absent
        return self.m.loss_scale * (l_sam + self.lam * l_mmd + l_feature + l_pixel)


# ---------------------------------------------------------------- initialisation

def _init_real(data: RealData, ipc: int, g: torch.Generator, cfg: Config) -> torch.Tensor:
    return data.sample(ipc, g).clone()


def _init_noise(data: RealData, ipc: int, g: torch.Generator, cfg: Config) -> torch.Tensor:
    shape = (data.num_classes * ipc, data.channels, data.im_size, data.im_size)
    return torch.randn(shape, generator=g, device=data.device)


@torch.inference_mode()
def by_class(emb: torch.Tensor, labels: torch.Tensor, num_classes: int):
    """``emb`` (N, D) with ``labels`` sorted by class as one padded tensor
    (num_classes, largest class, D), for selections vectorised over classes.
    Returns ``(E, valid, counts, offsets)``: ``valid`` marks the real rows,
    ``offsets[k]`` is class k's first index in ``emb``."""
    counts = torch.bincount(labels, minlength=num_classes)
    offsets = torch.cumsum(counts, 0) - counts
    width = int(counts.max())
    slot = torch.arange(len(labels), device=emb.device) - offsets[labels]
    E = emb.new_zeros(num_classes, width, emb.shape[1])
    E[labels, slot] = emb
    valid = torch.arange(width, device=emb.device) < counts[:, None]
    return E, valid, counts, offsets


def kcenter_indices(emb: torch.Tensor, labels: torch.Tensor, num_classes: int, k: int) -> torch.Tensor:
    """Greedy k-center (farthest-first, Sener & Savarese) within each class,
    vectorised over classes: start at the point nearest the class mean, then
    repeatedly add the point farthest from everything chosen. ``emb`` (N, D)
    with ``labels`` sorted by class; returns (num_classes, k) indices into emb."""
    E, valid, counts, offsets = by_class(emb, labels, num_classes)
    mean = E.sum(1) / counts[:, None]
    d0 = (E - mean[:, None]).norm(dim=-1).masked_fill(~valid, float("inf"))
    chosen = [d0.argmin(1)]
    rows = torch.arange(num_classes, device=emb.device)
    mind = (E - E[rows, chosen[0]][:, None]).norm(dim=-1)
    for _ in range(k - 1):
        nxt = mind.masked_fill(~valid, -1.0).argmax(1)
        chosen.append(nxt)
        mind = torch.minimum(mind, (E - E[rows, nxt][:, None]).norm(dim=-1))
    return offsets[:, None] + torch.stack(chosen, 1)


def _init_kcenter(data: RealData, ipc: int, g: torch.Generator, cfg: Config) -> torch.Tensor:
    enc = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size, g, data.device)
    enc.eval()
    with torch.inference_mode():
        emb = torch.cat([enc.embed(x) for x in data.x_train.split(1024)])
    idx = kcenter_indices(emb, data.y_train, data.num_classes, ipc)
    return data.x_train[idx.flatten()].clone()


INITS: dict[str, Callable[[RealData, int, torch.Generator, Config], torch.Tensor]] = {
    "real": _init_real,
    "noise": _init_noise,
    "kcenter": _init_kcenter,
}


# ---------------------------------------------------------------- the result

@dataclass
class SyntheticSet:
    """A distilled set: ``images`` (K*ipc, C, H, W) in the dataset's normalised
    (and ZCA) space, class-major, with hard ``labels``."""
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    config: Config
    losses: list[float] = field(default_factory=list)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    FILE = "synthetic.pt"
    FILES = (FILE, "config.json", "manifest.json")

    def save(self, out_dir: str, overwrite: bool = False) -> None:
        """Write ``synthetic.pt``, ``config.json`` and ``manifest.json`` to
        ``out_dir`` under the writer rule (``io.output_dir``): a new directory
        appears whole or not at all; an earlier set there is replaced, the
        directory's other files are kept; a directory holding files the kit
        did not write is refused unless ``overwrite``. synthetic.pt records a
        digest of the other two, so a set whose files were not written together
        is refused on load."""
        new = self.digest()
        try:
            old = SyntheticSet.load(out_dir).digest() if os.path.isfile(os.path.join(out_dir, self.FILE)) else None
        except CheckpointError:
            old = None

        def stale(path: str) -> bool:   # the kit's own evaluation of the set replaced, unless it is this very set
            return old is not None and evaluated_set(path) == old != new

        with output_dir(out_dir, self.FILES, overwrite, stale) as tmp:
            write_json(self.config.to_dict(), os.path.join(tmp, "config.json"))
            write_json({"datadam_lib": __version__, **self.info}, os.path.join(tmp, "manifest.json"))
            atomic_save({"images": self.images.cpu(), "labels": self.labels.cpu(), "classes": self.classes,
                         "losses": self.losses, "snapshots": {int(k): v.cpu() for k, v in self.snapshots.items()},
                         "files_digest": _files_digest(tmp)}, os.path.join(tmp, self.FILE))

    def digest(self) -> str:
        """SHA-256 of what the set is: its images, labels, class names and
        config (an evaluation records it, wherever the set is moved)."""
        h = hashlib.sha256()
        for t in (self.images, self.labels):
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
        h.update(json.dumps([self.classes, canonical(self.config)], sort_keys=True).encode())
        return h.hexdigest()

    @classmethod
    def load(cls, out_dir: str, device: str | torch.device = "cpu") -> "SyntheticSet":
        path = os.path.join(out_dir, cls.FILE)
        obj = load_checked(path, "synthetic set", ("images", "labels", "classes"), map_location=device)
        try:
            with open(os.path.join(out_dir, "config.json")) as f:
                cfg = from_dict(json.load(f))
            info = {}
            if os.path.isfile(os.path.join(out_dir, "manifest.json")):
                with open(os.path.join(out_dir, "manifest.json")) as f:
                    info = json.load(f)
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise CheckpointError(f"{out_dir}: config.json or manifest.json is missing or unreadable ({e}); "
                                  "re-run distill") from None
        if "files_digest" in obj and obj["files_digest"] != _files_digest(out_dir):
            raise CheckpointError(f"{out_dir}: config.json and manifest.json are not the ones written with "
                                  f"{cls.FILE} (edited, or an interrupted write); re-run distill")
        x, y = obj["images"], obj["labels"]
        if x.dim() != 4 or len(x) != len(y) or not torch.isfinite(x).all():
            raise CheckpointError(f"{path}: images {tuple(x.shape)} / labels {tuple(y.shape)} are inconsistent "
                                  "or not finite; re-run distill")
        return cls(x, y, list(obj["classes"]), cfg, list(obj.get("losses", [])),
                   dict(obj.get("snapshots", {})), info)


def _files_digest(folder: str) -> str:
    """SHA-256 of a set's config.json and manifest.json as written."""
    h = hashlib.sha256()
    for name in ("config.json", "manifest.json"):
        with open(os.path.join(folder, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


# ---------------------------------------------------------------- the loop

def check_config(cfg: Config, data: RealData) -> int:
    """Validate ``cfg`` against ``data``; return the real batch per class."""
    d = cfg.distill                  # each field's own range was checked by DistillConfig
    smallest = int(data.counts.min())
    if d.init != "noise" and d.ipc > smallest:
        k = int(data.counts.argmin())
        raise DataError(f"ipc {d.ipc} is larger than class {k} ({data.classes[k]!r}) of {data.name!r}, "
                        f"which has {smallest} training images; use ipc <= {smallest} or init='noise'")
    # A class smaller than batch_real contributes all its images (as released).
    return min(d.batch_real, smallest)


@dataclass(frozen=True)
class Shard:
    """The classes ``lo..hi-1`` this process distils, and how its results
    combine with the other processes' (``distributed.py`` builds one per rank
    under torchrun). The default is one process that owns every class."""
    lo: int = 0
    hi: int | None = None                                    # None: every class
    gather: Callable[[torch.Tensor], torch.Tensor] = lambda x: x   # own class rows -> all classes
    reduce_sum: Callable[[torch.Tensor], torch.Tensor] = lambda t: t
    barrier: Callable[[], None] = lambda: None
    writer: bool = True                                      # writes checkpoints and shows progress
    size: int = 1


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``distill`` after iteration ``iteration``; ``checkpoint``
    is the file it wrote there (None when the run writes no checkpoints)."""

    def __init__(self, iteration: int, checkpoint: str | None):
        super().__init__(iteration, checkpoint)
        self.iteration, self.checkpoint = iteration, checkpoint


@contextlib.contextmanager
def _stop_between_iterations(enabled: bool):
    """While active, a first Ctrl-C (SIGINT) only sets the returned flag, which
    the loop reads after each iteration: the checkpoint it then writes holds a
    whole iteration, so resuming stays exact. A second Ctrl-C interrupts at
    once. Only in the main thread, and only over Python's default handler."""
    flag: list[bool] = []
    previous = signal.getsignal(signal.SIGINT)
    if not enabled or threading.current_thread() is not threading.main_thread() \
            or previous is not signal.default_int_handler:
        yield flag
        return

    def first(signum, frame):
        flag.append(True)
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, first)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def distill(cfg: Config, data: RealData, checkpoint: str | None = None, checkpoint_every: int = 0,
            snapshot_at: tuple[int, ...] = (), progress: bool = True,
            stop_after: int | None = None, shard: Shard = Shard(), cuda_graph: bool | None = None) -> SyntheticSet:
    """Run DataDAM for ``cfg`` on ``data``; return the synthetic set.

    checkpoint: a file path; when it exists the run resumes from it (if it was
    written for this config and these data), and every ``checkpoint_every``
    iterations (and on Ctrl-C) it is rewritten atomically.
    snapshot_at: iterations at which to keep a copy of the images (0 = init).
    stop_after: stop (after checkpointing) once this many iterations are done
    in total, as an interruption would; used to test resuming.
    shard: compute only a slice of the classes (every random draw is still made
    for all classes, so any sharding gives the same result).
    cuda_graph: replay each step's work as one CUDA graph (:class:`GraphedStep`;
    the same set, bit for bit, checked by benchmarks/gpu_check.py); None
    (default): on CUDA devices."""
    from tqdm.auto import tqdm

    d, dev = cfg.distill, data.device
    batch_real = check_config(cfg, data)
    K, ipc = data.num_classes, d.ipc
    lo, hi = shard.lo, shard.hi or K
    objective = Objective(d.method, data.im_size)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    t0 = time.time()

    images = INITS[d.init](data, ipc, g, cfg)[lo * ipc:hi * ipc].detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([images], lr=d.image_lr(), momentum=d.momentum)
    encoder = build_encoder(d.encoder, data.channels, K, data.im_size, g, dev)
    encoder.requires_grad_(False).train(d.encoder_train_mode)
    encoder = encoder.to(memory_format=torch.channels_last)  # speed: ~25% faster convs on CPU
    losses: list[float] = []
    # clone: with one process gather is the identity and .cpu() would alias the live images
    snapshots = {0: shard.gather(images.detach()).cpu().clone()} if 0 in snapshot_at else {}
    start, earlier_s = 0, 0.0   # iterations and wall time of earlier sessions of this run
    meta = {"config": cfg.to_json(), "dataset": dataset_identity(data), "resumed_at": []} if checkpoint else {}
    if checkpoint and os.path.isfile(checkpoint):
        start, losses, snapshots, earlier_s, resumed_at = _resume(checkpoint, cfg, meta["dataset"], images, opt, g,
                                                                   lo * ipc, hi * ipc)
        meta["resumed_at"] = resumed_at + [start]

    def wall_time() -> float:
        return round(earlier_s + time.time() - t0, 3)

    # BatchNorm in train mode normalises over the whole pass: the release puts
    # every class in one pass, so automatic chunking is for other norms only.
    batch_stats = d.encoder_train_mode and any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    chunk = d.class_chunk or (hi - lo if batch_stats else
                              min(hi - lo, auto_chunk(encoder, data, batch_real + ipc, d.memory_budget_mb)))
    end = d.iterations if stop_after is None else min(d.iterations, stop_after)
    ranks = f" x{shard.size} ranks" if shard.size > 1 else ""
    pending: list[torch.Tensor] = []   # detached losses, read back to the host only every 10 iterations
    graphed = GraphedStep(encoder, objective, data, images, batch_real, d.dsa, chunk, (lo, hi),
                          d.autocast) if dev.type == "cuda" and cuda_graph is not False else None

    def flush() -> None:
        if pending:
            losses.extend(shard.reduce_sum(torch.stack(pending)).tolist())
            pending.clear()
            if not math.isfinite(losses[-1]):
                raise FloatingPointError(f"the loss became {losses[-1]} by iteration {len(losses)}; "
                                         "lower distill.lr_images or check the data for NaNs")

    def save(done: int) -> None:
        flush()
        _save(checkpoint, done, shard, images, opt, g, losses, snapshots, {**meta, "wall_time_s": wall_time()})

    # one process only: ranks could see Ctrl-C at different iterations. The
    # handler is in place before the progress bar appears, so a Ctrl-C seen
    # after the bar always ends with a checkpoint.
    with _stop_between_iterations(shard.size == 1) as stop, deterministic(data.device):
        bar = tqdm(range(start, end), initial=start, total=d.iterations, disable=not progress or not shard.writer,
                   desc=f"DataDAM {data.name} ipc={ipc}{ranks}", unit="it")
        for it in bar:
            opt.zero_grad(set_to_none=True)
            pending.append(graphed(g) if graphed else step(encoder, objective, data, images, batch_real, d.dsa, g,
                                                            chunk, classes=(lo, hi), precision=d.autocast))
            opt.step()
            done = it + 1
            if done in snapshot_at:
                snapshots[done] = shard.gather(images.detach()).cpu().clone()
            if done % 10 == 0 or done == end:
                flush()
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
            saves = bool(checkpoint and checkpoint_every)
            if saves and (done % checkpoint_every == 0 or done == end or stop):
                save(done)
            if stop:
                bar.close()
                raise Interrupted(done, checkpoint if saves else None)
    bar.close()
    flush()
    labels = torch.arange(K, device=dev).repeat_interleave(ipc)
    info = manifest(seed=cfg.seed, device=device_description(dev), wall_time_s=wall_time(),
                    resumed_at=meta.get("resumed_at", []), iterations=end, dataset=data.name, preset=cfg.preset,
                    scale=cfg.scale, world_size=shard.size, cuda_graph=bool(graphed and graphed.graph is not None))
    return SyntheticSet(shard.gather(images.detach()), labels, data.classes, cfg, losses, snapshots, info)


def _save(path: str, done: int, shard: Shard, images: torch.Tensor, opt: torch.optim.Optimizer,
          g: torch.Generator, losses: list[float], snapshots: dict, meta: dict) -> None:
    """Write a checkpoint of every class (images and momentum gathered from the
    shards; only the writer writes), with ``meta`` (the config, the data's
    fingerprint, the wall time so far, where it resumed), then wait until it
    is on disk."""
    state = opt.state_dict()
    full_images = shard.gather(images.detach()).cpu()
    buf = state["state"].get(0, {}).get("momentum_buffer")
    if isinstance(buf, torch.Tensor):
        state["state"][0] = {**state["state"][0], "momentum_buffer": shard.gather(buf).cpu()}
    if shard.writer:
        atomic_save({"iteration": done, "images": full_images, "optimizer": state,
                     "generator": g.get_state().cpu(), "losses": list(losses), "snapshots": snapshots, **meta}, path)
    shard.barrier()


def _resume(path: str, cfg: Config, identity: dict, images: torch.Tensor, opt: torch.optim.Optimizer,
            g: torch.Generator, a: int, b: int):
    """Load a checkpoint (written by any number of shards) and keep image rows
    ``a..b-1``; refuse one written for another config or other data, naming
    what differs. Returns (iteration, losses, snapshots, wall time so far,
    iterations where earlier sessions resumed)."""
    ck = load_checked(path, "checkpoint", ("iteration", "images", "optimizer", "generator", "config"),
                      advice="move it away or choose another --out (--checkpoint-every 0 runs without a checkpoint)")
    try:
        theirs = canonical(from_dict(json.loads(ck["config"])))
    except (ValueError, TypeError, KeyError) as e:      # a ConfigError is a ValueError
        raise CheckpointError(f"checkpoint {path} holds a config this kit cannot read ({e}); "
                              "delete it to start again") from None
    diff = differences(theirs, canonical(cfg))
    if diff:
        raise CheckpointError(f"checkpoint {path} was written for a different config ({'; '.join(diff[:3])}: "
                              "checkpoint vs now); delete it or use another output directory")
    if not isinstance(ck.get("dataset"), dict):
        raise CheckpointError(f"checkpoint {path} does not record which data it was written for (an older kit); "
                              "delete it to start again")
    diff = differences(ck["dataset"], identity)
    if diff:
        raise CheckpointError(f"checkpoint {path} was written for other data than {identity['name']!r} holds now "
                              f"({'; '.join(diff[:3])}: checkpoint vs now); delete it to start again on these data")
    with torch.no_grad():
        images.copy_(ck["images"][a:b])
    state = ck["optimizer"]
    buf = state["state"].get(0, {}).get("momentum_buffer")
    if isinstance(buf, torch.Tensor):
        state["state"][0] = {**state["state"][0], "momentum_buffer": buf[a:b]}
    opt.load_state_dict(state)
    g.set_state(ck["generator"])
    return (int(ck["iteration"]), list(ck.get("losses", [])), dict(ck.get("snapshots", {})),
            float(ck.get("wall_time_s", 0.0)), list(ck.get("resumed_at", [])))


@torch.inference_mode()
def auto_chunk(encoder: Encoder, data: RealData, per_class: int, budget_mb: int) -> int:
    """Classes per pass so that one pass's activations (about three live
    tensors per tap for each of ``per_class`` images per class) stay under
    ``budget_mb``: peak memory then stays flat as the number of classes grows.
    All classes at once when they fit (always the case for CIFAR-10 at the
    released batch_real 64, so BatchNorm statistics match the release)."""
    taps, emb = encoder.forward_features(data.x_train[:1])
    per_image = 4 * 3 * (sum(t.numel() for t in taps) + emb.numel())
    return max(1, min(data.num_classes, budget_mb * 2**20 // (per_image * per_class)))


def step(encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor, batch_real: int,
         dsa: augment.DSAConfig | None, g: torch.Generator, chunk: int,
         classes: tuple[int, int] | None = None, precision: str = "none") -> torch.Tensor:
    """One DataDAM iteration's forward/backward (gradients accumulate in
    ``images.grad``); returns the detached loss. Every random draw happens
    before the class-chunk loop, so chunking changes memory, not results
    (exactly so for encoders without BatchNorm). ``classes=(lo, hi)``: compute
    only classes lo..hi-1, whose images ``images`` then holds; the draws still
    cover every class (class-sharded runs, distributed.py). ``precision``:
    ``DistillConfig.autocast`` ("none" | "bf16": the encoder's passes under bf16
    autocast, the statistics and the loss in fp32)."""
    real_idx, params = draw(encoder, objective, data, batch_real, dsa, g)
    return matched(encoder, objective, data, images, real_idx, params, dsa, chunk, classes, precision)


def draw(encoder: Encoder, objective: Objective, data: RealData, batch_real: int,
         dsa: augment.DSAConfig | None, g: torch.Generator) -> tuple[torch.Tensor, augment.Params | None]:
    """An iteration's random draws, in order: fresh encoder weights (in place),
    ``batch_real`` real indices per class (K, B), one DSA parameter row per class."""
    if objective.needs_encoder:
        reset_parameters(encoder, g)
    real_idx = data.sample_indices(batch_real, g)                      # (K, B)
    params = augment.sample(dsa, data.num_classes, data.im_size, g) if dsa is not None else None
    return real_idx, params


def matched(encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor, real_idx: torch.Tensor,
            params: augment.Params | None, dsa: augment.DSAConfig | None, chunk: int,
            classes: tuple[int, int] | None = None, precision: str = "none") -> torch.Tensor:
    """The draws' deterministic rest (``step`` without ``draw``): siamese DSA,
    both passes, the loss, backward into ``images.grad``; no host sync, so a
    CUDA graph can replay it (:class:`GraphedStep`)."""
    lo, hi = classes or (0, data.num_classes)
    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux; training.py)
    syn = images.view(hi - lo, -1, *images.shape[1:])
    total = images.new_zeros(())
    for c0 in range(lo, hi, chunk):
        kc = min(chunk, hi - c0)
        real, fake = data.x_train[real_idx[c0:c0 + kc].flatten()], syn[c0 - lo:c0 - lo + kc].flatten(0, 1)
        if params is not None:   # siamese: class k's real and synthetic images share parameter row k
            real, fake = augment.siamese(dsa, [real, fake], params, classes=(c0, c0 + kc))
        loss = objective.loss(_stats(encoder, objective, real, kc, inference=True, precision=precision),
                              _stats(encoder, objective, fake, kc, precision=precision))
        loss.backward()
        total += loss.detach()
    return total


class GraphedStep:
    """``step`` with its deterministic part (:func:`matched`) captured once as
    a CUDA graph and replayed: the draws run eagerly from the generator as in
    ``step`` (the same numbers in the same order, so checkpoints and resuming
    are unchanged), are copied into the graph's fixed input tensors, and one
    replay launches the whole siamese DSA, both passes, the loss and backward.

    Speed: on a GPU the step is bound by kernel launches, not arithmetic
    (hundreds of small kernels; docs/benchmarks.md). The gradient lands in a
    tensor of the graph's memory, which ``images.grad`` points to after each
    call. If capturing fails, it warns and runs every step eagerly from then on."""

    def __init__(self, encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor,
                 batch_real: int, dsa: augment.DSAConfig | None, chunk: int,
                 classes: tuple[int, int] | None = None, precision: str = "none"):
        self.encoder, self.objective, self.data, self.images = encoder, objective, data, images
        self.batch_real, self.dsa, self.chunk, self.classes, self.precision = batch_real, dsa, chunk, classes, precision
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self.real_idx: torch.Tensor | None = None        # the graph's inputs, filled from each call's draws
        self.params: augment.Params | None = None

    def _matched(self, real_idx: torch.Tensor, params: augment.Params | None) -> torch.Tensor:
        return matched(self.encoder, self.objective, self.data, self.images, real_idx, params, self.dsa,
                       self.chunk, self.classes, self.precision)

    def __call__(self, g: torch.Generator) -> torch.Tensor:
        real_idx, params = draw(self.encoder, self.objective, self.data, self.batch_real, self.dsa, g)
        if self.failed:
            return self._matched(real_idx, params)
        if self.graph is None:
            self.real_idx = real_idx.clone()
            self.params = {k: v.clone() for k, v in params.items()} if params is not None else None
            try:
                self._capture()
            except RuntimeError as e:  # an op that cannot be captured (a host sync): run eagerly from now on
                warnings.warn(f"CUDA graph capture of the distillation step failed ({e}); running it eagerly",
                              stacklevel=2)
                self.failed, self.images.grad = True, None
                torch.cuda.synchronize(self.images.device)
                return self._matched(real_idx, params)
        else:
            self.real_idx.copy_(real_idx)
            for k, v in (params or {}).items():
                self.params[k].copy_(v)
        self.graph.replay()
        self.images.grad = self.grad
        return self.loss.clone()

    def _capture(self) -> None:
        """Warm up on a side stream (cuDNN/cuBLAS handles, autograd's
        buffers; what CUDA graphs need before a capture), then capture; the
        warm-up's gradients are thrown away."""
        side = torch.cuda.Stream(self.images.device)
        side.wait_stream(torch.cuda.current_stream(self.images.device))
        with torch.cuda.stream(side):
            for _ in range(2):
                self._matched(self.real_idx, self.params)
                self.images.grad = None
        torch.cuda.current_stream(self.images.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.loss = self._matched(self.real_idx, self.params)
        self.graph, self.grad = graph, self.images.grad


def _stats(encoder, objective: Objective, x, kc: int, inference: bool = False, precision: str = "none") -> Stats:
    with torch.inference_mode(inference):
        taps, emb = None, None
        if objective.needs_encoder:
            # each tap reduced to its maps as it is made (the first stage's chunk by chunk: models.Stage.run);
            # under bf16 the maps are made after autocast, from fp32 copies of the taps
            reduce = objective.reduce_tap if precision == "none" else None
            with autocast(precision, x.device):  # bf16 where asked for and native (training.autocast)
                taps, emb = encoder.forward_features(x, reduce=reduce)
            if precision != "none":  # statistics and loss in fp32
                taps, emb = [objective.reduce_tap(i, len(taps), t.float()) for i, t in enumerate(taps)], emb.float()
        stats = objective.means(x, taps, emb, kc)
    if inference:  # small class means leave inference mode as normal tensors
        stats = {k: [t.clone() for t in v] for k, v in stats.items()}
    return stats
