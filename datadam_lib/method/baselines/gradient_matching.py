"""DC and DSA: dataset condensation by gradient matching (Zhao, Mopuri & Bilen,
ICLR 2021; Zhao & Bilen, ICML 2021), after VICO-UoE/DatasetCondensation
``main.py`` and ``utils.py`` (read, not copied).

One iteration (``main.py``, "Train synthetic data"):
1. a fresh randomly initialised network and its SGD (lr 0.01, no momentum);
2. ``outer`` times: (BatchNorm networks: set the statistics from 16 real images
   per class, then freeze them) the matching loss
   ``sum_c D(grad_w CE(real_c), grad_w CE(syn_c))`` summed over the classes, one
   SGD step on the images (lr 0.1, momentum 0.5); then, except after the last
   outer step, ``inner`` epochs of training the network on the synthetic set.

``D`` is ``distance_wb`` summed over the parameters: for each parameter
gradient reshaped to (output units, rest), the sum over output units of
``1 - cos`` (``utils.py: distance_wb``; 1-D parameters, biases and norm
scales, contribute 0). ``(outer, inner)`` = (1, 1), (10, 50), (50, 10) for
IPC 1 / 10 / 50 (``utils.get_loops``).

DC starts from Gaussian noise without augmentation; DSA starts from real images
and applies the same DSA parameters to a class's real and synthetic images
(siamese), and per-image DSA while training the network.

The kit computes every class's gradient in one vectorised call
(``torch.func.vmap`` of ``torch.func.grad`` over a class axis) instead of DC's
loop over classes; the result is the same (tests/test_gradient_matching.py).
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from .. import augment
from ..baselines_config import MatchingConfig
from ..config import Config
from ..data import RealData
from ..models import Encoder, build_encoder, reset_parameters
from ..step import auto_chunk
from ..synthetic import SyntheticSet
from ..training import keep_freed_memory
from .common import capped, finish, freeze_batchnorm, init_images, real_batch, snapshot_keeper, train_network

# utils.get_loops: (outer_loop, inner_loop) per IPC, "empirically good".
LOOPS: dict[int, tuple[int, int]] = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}

EPS = 1e-6   # utils.py distance_wb: norm * norm + 0.000001


def loops(ipc: int, m: MatchingConfig) -> tuple[int, int]:
    """``(outer, inner)``: the config's when set, else ``utils.get_loops(ipc)``."""
    if m.outer_loop:
        return m.outer_loop, m.inner_loop
    if ipc not in LOOPS:
        raise ValueError(f"DC/DSA define their loops only for IPC {sorted(LOOPS)}, not {ipc}; set "
                         "baselines.matching.outer_loop and baselines.matching.inner_loop")
    return LOOPS[ipc]


def gradient_distance(real: torch.Tensor, syn: torch.Tensor) -> torch.Tensor:
    """``distance_wb`` of one parameter's gradients with a leading class axis,
    (k, *shape) each, summed over classes: per class and output unit
    ``1 - <r, s> / (|r| |s| + 1e-6)`` over the unit's flattened weights.
    1-D parameters (here (k, n)) contribute 0, as in DC."""
    if real.dim() <= 2:
        return real.new_zeros(())
    r, s = real.flatten(2), syn.flatten(2)           # (k, out, rest)
    cos = (r * s).sum(-1) / (r.norm(dim=-1) * s.norm(dim=-1) + EPS)
    return (1.0 - cos).sum()


def match_loss(real: dict[str, torch.Tensor], syn: dict[str, torch.Tensor]) -> torch.Tensor:
    """``utils.match_loss`` with ``dis_metric='ours'``: the sum over parameters of
    :func:`gradient_distance`."""
    zero = torch.zeros((), device=next(iter(real.values())).device)
    return sum((gradient_distance(real[k], syn[k]) for k in real), zero)


def class_gradients(net: Encoder, params: dict[str, torch.Tensor], x: torch.Tensor,
                    classes: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradient of each class's mean cross-entropy with respect to the
    network's parameters: ``x`` (k, n, C, H, W) holds n images of each class
    ``classes[i]``; returns name -> (k, *param shape). Differentiable with
    respect to ``x`` (DC's ``create_graph=True`` on the synthetic side)."""
    def loss(p, xc, c):
        return F.cross_entropy(functional_call(net, p, (xc,)), c.expand(xc.shape[0]))
    return vmap(grad(loss), in_dims=(None, 0, 0))(params, x, classes)


def matching_loss(net: Encoder, data: RealData, images: torch.Tensor, batch_real: int,
                  dsa: augment.DSAConfig | None, g: torch.Generator, chunk: int) -> torch.Tensor:
    """One outer step's loss, backpropagated into ``images.grad`` class chunk by
    class chunk (every random draw made first, so chunks change memory, not
    the result); returns the detached total."""
    K, shape = data.num_classes, images.shape[1:]
    real_idx = data.sample_indices(batch_real, g)                                   # (K, B)
    params = augment.sample(dsa, K, data.im_size, g) if dsa is not None else None
    weights = {n: p.detach() for n, p in net.named_parameters()}
    syn = images.view(K, -1, *shape)
    total = images.new_zeros(())
    for c0 in range(0, K, chunk):
        cls = torch.arange(c0, min(K, c0 + chunk), device=images.device)
        xr, xs = data.x_train[real_idx[cls].flatten()], syn[cls].flatten(0, 1)
        if params is not None:   # siamese: class c's real and synthetic images share row c
            xr = augment.apply(xr, params, dsa, cls.repeat_interleave(batch_real))
            xs = augment.apply(xs, params, dsa, cls.repeat_interleave(syn.shape[1]))
        with torch.no_grad():
            g_real = class_gradients(net, weights, xr.view(len(cls), -1, *shape), cls)
        g_syn = class_gradients(net, weights, xs.view(len(cls), -1, *shape), cls)
        loss = match_loss(g_real, g_syn)
        loss.backward()
        total += loss.detach()
    return total


def condense(cfg: Config, data: RealData, snapshot_at: tuple[int, ...] = (), progress: bool = False, *,
             siamese: bool) -> SyntheticSet:
    """Run DC (``siamese=False``: noise init, no augmentation) or DSA
    (``siamese=True``: real init, DSA) with ``cfg.baselines.matching``."""
    from tqdm.auto import trange

    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux; training.py)
    m, t0 = cfg.baselines.matching, time.time()
    K, ipc, dev = data.num_classes, cfg.distill.ipc, data.device
    outer, inner = (capped(v, cfg, "matching", n) for v, n in zip(loops(ipc, m), ("outer", "inner")))
    iterations = max(1, min(capped(m.iterations, cfg, "matching", "iterations"),
                            capped(m.iterations * outer, cfg, "matching", "updates") // outer))
    batch_real = real_batch(cfg, data, m.batch_real)
    dsa = cfg.distill.dsa if siamese else None
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    images = init_images("real" if siamese else "noise", cfg, data, g)
    labels = torch.arange(K, device=dev).repeat_interleave(ipc)
    opt = torch.optim.SGD([images], lr=m.lr_images, momentum=m.momentum)
    net = build_encoder(cfg.distill.encoder, data.channels, K, data.im_size, g, dev)
    # double backward keeps about twice a forward pass's activations alive
    chunk = auto_chunk(net, data, 2 * (batch_real + ipc), cfg.distill.memory_budget_mb)
    has_bn = any(isinstance(x, torch.nn.modules.batchnorm._BatchNorm) for x in net.modules())
    snapshots, keep = snapshot_keeper(snapshot_at, images)
    losses: list[float] = []
    name = "DSA" if siamese else "DC"
    for it in trange(iterations, disable=not progress, desc=f"{name} {data.name} ipc={ipc}", unit="it"):
        reset_parameters(net, g)
        net_opt = torch.optim.SGD(net.parameters(), lr=m.lr_net)
        step_losses = []
        for ol in range(outer):
            if has_bn:
                freeze_batchnorm(net, data.sample(min(m.bn_images, int(data.counts.min())), g))
            opt.zero_grad(set_to_none=True)
            step_losses.append(matching_loss(net, data, images, batch_real, dsa, g, chunk))
            opt.step()
            if ol == outer - 1:
                break
            train_network(net, net_opt, images, labels, inner, m.batch_train, g, dsa)
        losses.append(float(torch.stack(step_losses).mean()) / K)   # main.py: loss_avg / (K * outer)
        keep(it + 1)
    return finish(images, cfg, data, losses, snapshots, t0, kind=name.lower(), iterations=iterations,
                  outer_loop=outer, inner_loop=inner, batch_real=batch_real)
