"""Train the K evaluation models of a synthetic set together, as one grouped network.

Evaluating a distilled set trains ``num_models`` fresh networks on the same few
images. One of them is far too small to keep a GPU busy (IPC 10 on CIFAR-10 is
100 images: one batch per epoch), so K of them are stacked into one network
whose every layer holds the K models side by side:

    Conv2d(Cin, Cout)              -> Conv2d(K*Cin, K*Cout, groups=K)
    GroupNorm(G, C)                -> GroupNorm(K*G, K*C)    instance (G = C), group (G = 4)
    BatchNorm2d(C)                 -> BatchNorm2d(K*C)       statistics are per channel
    activation, pooling            -> unchanged              elementwise / per channel
    flatten + Linear(D, classes)   -> (N, K, D) x (K, classes, D) batched product

Model k owns channels [k*C, (k+1)*C) of every layer and nothing else, so the K
models stay independent. Each model draws its batch order and augmentation from
its own generator in the same order of calls as ``evaluate.train_model``, so its
random stream is the same in both modes; the K batches are stacked along
channels, (N, K*C, H, W). The loss is the sum over models of each model's mean
cross-entropy, so each model's gradient is unchanged; SGD with momentum and
weight decay is elementwise, so one optimizer over the stacked parameters is K
optimizers. At the end the stacked parameters are copied back into K ordinary
``Encoder`` s, which are tested as usual. Results equal one-by-one training up
to floating-point noise (tests/test_ensemble.py).

Why grouped convolutions and not torch.func (``stack_module_state`` + ``vmap``
over ``functional_call``): vmap lowers a batched conv2d to this same grouped
convolution anyway, but BatchNorm's in-place running statistics do not vmap
(functorch asks to patch the modules or drop the statistics), the optimizer
would have to work on a dict of stacked tensors, and vmap's per-op dispatch adds
Python overhead to the tiny steps that evaluation is made of. The grouped
network is a plain ``nn.Module``: ordinary autograd, optimizer and BatchNorm.

What cannot be grouped this way is trained one by one (``supports`` says which):
LayerNorm (it normalises over C, H, W together with an elementwise affine) and
ResNet-18 (residual blocks are not a chain of per-channel layers). ConvNet,
AlexNet and VGG-11 with instance/batch/group/no norm are grouped.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import augment
from .config import EvalConfig
from .data import RealData
from .models import ARCHITECTURES, Encoder, build_encoder
from .training import EVAL_AUGMENTS, autocast, keep_freed_memory, lr_at

# Layers that act on each channel (or element) alone: shared as they are.
_PER_CHANNEL = (nn.Identity, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.MaxPool2d, nn.AvgPool2d)


class NotStackable(ValueError):
    """The models contain a layer that cannot be grouped over models."""


def _grouped(mods: list[nn.Module]) -> nn.Module:
    """One module computing ``mods`` (the same layer of K models) side by side on
    channel-stacked inputs; parameters and buffers are the K models' concatenated."""
    m, K = mods[0], len(mods)
    if isinstance(m, nn.Sequential):
        return nn.Sequential(*[_grouped(list(layer)) for layer in zip(*mods)])
    if isinstance(m, _PER_CHANNEL):
        return m
    p = next(iter([*m.parameters(), *m.buffers()]), None)
    device = p.device if p is not None else torch.device("cpu")
    # built on the meta device (no draw from the global RNG), materialised, then every value copied in
    like = {"device": "meta"} if p is None else {"device": "meta", "dtype": p.dtype}
    if isinstance(m, nn.Conv2d) and m.groups == 1 and m.padding_mode == "zeros":
        g = nn.Conv2d(K * m.in_channels, K * m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                      groups=K, bias=m.bias is not None, **like)
    elif isinstance(m, nn.GroupNorm):
        g = type(m)(K * m.num_groups, K * m.num_channels, m.eps, m.affine, **like)  # keeps fast.modules.GroupNorm's speed path
    elif type(m) is nn.BatchNorm2d:
        g = nn.BatchNorm2d(K * m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, **like)
    else:
        raise NotStackable(f"{type(m).__name__} cannot be grouped over models")
    g = g.to_empty(device=device)
    with torch.no_grad():
        for name, t in [*g.named_parameters(recurse=False), *g.named_buffers(recurse=False)]:
            parts = [getattr(x, name) for x in mods]
            t.copy_(torch.cat(parts) if t.dim() else parts[0])  # num_batches_tracked: a shared count
    g._datadam_parts = mods  # where unstack() copies the trained values back  # noqa: SLF001
    return g


class StackedEncoder(nn.Module):
    """K ConvNet-style ``Encoder`` s as one network: input (N, K*C, H, W), the
    K models' batches stacked along channels; output logits (N, K, classes)."""

    def __init__(self, models: list[Encoder]):
        super().__init__()
        if any(not isinstance(m.head, nn.Identity) for m in models):
            raise NotStackable("encoders with a pooling head (ResNet) cannot be grouped over models")
        self.K = len(models)
        self.models = models  # a plain list: not registered, so not trained twice
        self.bodies = nn.ModuleList(_grouped([m.stages[i].body for m in models]) for i in range(len(models[0].stages)))
        self.posts = nn.ModuleList(_grouped([m.stages[i].post for m in models]) for i in range(len(models[0].stages)))
        self.weight = nn.Parameter(torch.stack([m.classifier.weight.detach() for m in models]))  # (K, classes, D)
        self.bias = nn.Parameter(torch.stack([m.classifier.bias.detach() for m in models]))      # (K, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for body, post in zip(self.bodies, self.posts):
            x = post(body(x))
        emb = x.reshape(x.shape[0], self.K, -1)   # model k's flatten of its (C, h, w) block
        return torch.einsum("nkd,kcd->nkc", emb, self.weight) + self.bias

    @torch.no_grad()
    def unstack(self) -> list[Encoder]:
        """Copy the trained values back into the K ordinary models and return them."""
        for g in self.modules():
            for name, t in [*g.named_parameters(recurse=False), *g.named_buffers(recurse=False)]:
                if g is self:
                    for k, m in enumerate(self.models):
                        getattr(m.classifier, name).copy_(t[k])
                    continue
                parts = getattr(g, "_datadam_parts", None)
                chunks = t.chunk(self.K) if t.dim() else [t] * self.K
                for m, c in zip(parts, chunks):
                    getattr(m, name).copy_(c)
        return self.models


def supports(cfg: EvalConfig, data: RealData) -> bool:
    """Whether ``cfg.encoder`` on ``data`` can be grouped (checked on the meta device)."""
    if cfg.encoder.arch not in ARCHITECTURES:
        return False
    with torch.device("meta"):
        m = ARCHITECTURES[cfg.encoder.arch](data.channels, data.num_classes, data.im_size, cfg.encoder)
        try:
            StackedEncoder([m, m])
        except NotStackable:
            return False
    return True


def stack_channels(x: torch.Tensor, K: int) -> torch.Tensor:
    """(K*B, C, H, W), model-major -> (B, K*C, H, W) in channels_last, with one copy."""
    _, C, H, W = x.shape
    x = x.view(K, -1, C, H, W).permute(1, 3, 4, 0, 2).reshape(-1, H, W, K * C)
    return x.permute(0, 3, 1, 2)


def _augment(images: torch.Tensor, idx: torch.Tensor, generators: list[torch.Generator], cfg: EvalConfig,
             data: RealData) -> torch.Tensor:
    """The K models' augmented batches, model-major (K*B, C, H, W); model k's
    draws come from ``generators[k]`` in the order ``evaluate.train_model`` makes them."""
    x = images[idx.flatten()]
    if cfg.augment == "none":
        return x
    if cfg.augment != "dsa":
        return torch.cat([EVAL_AUGMENTS[cfg.augment](xk, g, data) for xk, g in zip(x.chunk(len(generators)), generators)])
    # speed: one DSA pass for all K batches. augment.per_sample draws one op for
    # the batch, then the magnitudes; we make the same draws per model, but keep
    # the op as a tensor (no host sync) and apply every model's rows at once
    # (DSA ops act on each row alone, so rows of different models do not mix).
    dsa, B, parts = augment.DSAConfig(), idx.shape[1], []
    for g in generators:
        op = torch.randint(len(dsa.ops), (1,), generator=g, device=g.device)
        p = augment.sample(dsa, B, images.shape[-1], g, op=0)
        p["op"] = op.expand(B)
        parts.append(p)
    params = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return augment.apply(x, params, dsa)


def train_models(images: torch.Tensor, labels: torch.Tensor, data: RealData, cfg: EvalConfig,
                 generators: list[torch.Generator], progress: bool = False) -> list[Encoder]:
    """Train ``len(generators)`` fresh models (model k drawn from ``generators[k]``)
    on ``images``/``labels`` together; returns them as ordinary ``Encoder`` s, the
    same (up to floating-point noise) as ``evaluate.train_model`` with each generator."""
    from tqdm.auto import trange

    if cfg.augment not in EVAL_AUGMENTS:
        raise ValueError(f"unknown augment {cfg.augment!r}; choose one of {sorted(EVAL_AUGMENTS)}")
    dev, K = data.device, len(generators)
    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux)
    models = [build_encoder(cfg.encoder, data.channels, data.num_classes, data.im_size, g, dev).to(
        memory_format=torch.channels_last) for g in generators]
    net = StackedEncoder(models).to(memory_format=torch.channels_last)  # speed: faster convs on CPU and GPU
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    images, labels = images.detach().to(dev), labels.to(dev)
    n = len(images)
    net.train()
    for epoch in trange(cfg.epochs, disable=not progress, desc=f"{K} models together", unit="epoch"):
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, epoch)
        orders = torch.stack([torch.randperm(n, generator=g, device=dev) for g in generators])  # (K, n)
        for idx in orders.split(cfg.batch_size, dim=1):                                        # (K, B)
            with autocast(cfg.autocast, dev):  # bf16 where asked for and native (training.autocast)
                logits = net(stack_channels(_augment(images, idx, generators, cfg, data), K))  # (B, K, classes)
            # sum over models of each model's mean cross-entropy: per-model gradients unchanged
            loss = F.cross_entropy(logits.flatten(0, 1), labels[idx].T.flatten(), reduction="sum") / idx.shape[1]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.unstack()
