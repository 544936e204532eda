"""Generative baselines of supplement Table 3: train a class-conditional
generator on the real training set, sample ``ipc`` images per class, evaluate
them like any synthetic set.

No pretrained weights can be downloaded in a way the kit can promise
(``pytorch-pretrained-biggan`` fetches ImageNet weights at run time,
``torch-mimicry`` ships none), so every generator is trained here, at the
dataset's resolution and channels (a power of two, at least 8 pixels), in
pixel space scaled to [-1, 1]; samples are mapped back through the dataset's
normalisation (and ZCA). One trained generator serves every IPC
(``sets.TrainedModel``; ``kit.cache`` stores it once).

- ``cgan``: a conditional GAN (Mirza & Osindero 2014) of DCGAN size (Radford et
  al. 2016): G = transposed convolutions with BatchNorm and ReLU, tanh output;
  D = strided convolutions with BatchNorm and LeakyReLU(0.2); the class enters
  G as a one-hot vector beside z and D as one-hot planes beside the image;
  non-saturating loss; Adam(2e-4, betas (0.5, 0.999)), batch 64; weights
  N(0, 0.02).
- ``biggan``: BigGAN-style (reduced) (Brock et al. 2019, with DiffAugment, Zhao
  et al. 2020): residual G with class-conditional BatchNorm, residual D with a
  projection head (Miyato & Koyama 2018), spectral norm in G and D, hinge loss,
  4 D steps per G step, Adam(2e-4, betas (0, 0.999)), DiffAugment's colour,
  translation and cutout on every D input (the kit's DSA ops with DiffAugment's
  magnitudes). Reduced: one residual block per resolution with channels
  halving as the resolution doubles (4 ``width`` at 4x4 down to ``width``, as
  BigGAN's 128-px net tapers), per-class BN gains (no shared z chunks), no
  self-attention, no orthogonal init, no EMA of G.
- ``gmmn``: a generative moment matching network (Li, Swersky & Zemel 2015): an
  MLP (4 hidden layers of 16 x ``width`` = 1,024 units, ReLU; sigmoid output)
  trained on the MMD with a sum of RBF kernels (sigma in 2, 5, 10, 20, 40, 80)
  on [0, 1] pixels. The paper's GMMN is unconditional; the kit's is
  **conditional**: one network takes a one-hot class beside a 32-dim uniform
  z, and the loss is the sum over classes of the squared MMD between that
  class's generated and real images (64 of each per class).
- ``dc-vae``: DC-VAE (reduced) (Parmar et al. CVPR 2021): a conditional VAE
  (encoder: the DCGAN discriminator body with a mu/log-variance head; decoder:
  the DCGAN generator) trained with DC-VAE's two contradistinctive losses in
  place of a pixel reconstruction: an instance-level contrastive loss (each
  reconstruction must pick out its own input among the batch in the
  discriminator's normalised features, temperature 0.1) and a set-level
  adversarial loss (the discriminator tells real images from reconstructions
  and prior samples), plus the KL term. Without those two losses this would
  be a plain VAE and must not be called DC-VAE.

Every draw (weights, z, batches, augmentation) comes from the run's
``torch.Generator``; networks are built on the meta device and initialised
from it, and spectral norm keeps its power-iteration vector as a buffer drawn
from it (``torch.nn.utils.spectral_norm`` would draw from the global RNG).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import augment
from ..config import Config
from ..data import RealData
from ..io import device_description, manifest
from ..synthetic import SyntheticSet
from ..training import keep_freed_memory
from .common import capped, class_labels, real_batch


def work(name: str, cfg: Config) -> tuple[int, int]:
    """(generator updates, base width) of model ``name`` at ``cfg``'s scale:
    the generators' caps, then the model's own where the scale lists them
    (``config.SCALES``: BigGAN-style is capped harder at quick scale)."""
    g = cfg.baselines.generative
    return tuple(capped(capped(v, cfg, "generative", f), cfg, name, f) for v, f in ((g.iterations, "iterations"),
                                                                                    (g.width, "width")))


def one_hot(y: torch.Tensor, K: int) -> torch.Tensor:
    return F.one_hot(y, K).float()


# ---------------------------------------------------------------- layers


class SpectralNorm(nn.Module):
    """``layer`` with its weight divided by its largest singular value,
    estimated by one power iteration per training forward (Miyato et al. 2018).
    The iteration vector ``u`` is a buffer drawn by :func:`initialise`."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer
        self.register_buffer("u", torch.empty(layer.weight.shape[0], device=layer.weight.device))

    def reset_from(self, g: torch.Generator) -> None:
        self.u.normal_(generator=g)
        self.u.div_(self.u.norm().clamp_min(1e-12))

    def weight(self) -> torch.Tensor:
        w = self.layer.weight
        mat = w.flatten(1)
        with torch.no_grad():
            u = self.u
            if self.training:
                u = F.normalize(mat @ F.normalize(mat.T @ u, dim=0), dim=0)
                self.u.copy_(u)
            v = F.normalize(mat.T @ u, dim=0)
        return w / (u @ mat @ v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, layer = self.weight(), self.layer
        if isinstance(layer, nn.Conv2d):
            return layer._conv_forward(x, w, layer.bias)
        if isinstance(layer, nn.Embedding):
            return F.embedding(x, w)
        return F.linear(x, w, layer.bias)


def sn_conv(cin: int, cout: int, k: int) -> SpectralNorm:
    return SpectralNorm(nn.Conv2d(cin, cout, k, padding=k // 2))


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine; per-class gain ``1 + gamma_y`` and bias ``beta_y``."""

    def __init__(self, channels: int, K: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain, self.bias = nn.Embedding(K, channels), nn.Embedding(K, channels)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


@torch.no_grad()
def initialise(model: nn.Module, g: torch.Generator) -> nn.Module:
    """Every parameter and buffer from ``g``: conv, linear and embedding weights
    N(0, 0.02) (DCGAN), biases 0, BatchNorm scales N(1, 0.02), running
    statistics reset, spectral-norm vectors random unit vectors."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            m.weight.normal_(0.0, 0.02, generator=g)
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            if m.affine:
                m.weight.normal_(1.0, 0.02, generator=g)
                m.bias.zero_()
            m.reset_running_stats()
        elif isinstance(m, SpectralNorm):
            m.reset_from(g)
    return model


# ---------------------------------------------------------------- DCGAN-size networks


def _levels(size: int) -> int:
    """Stride-2 stages between 4x4 and ``size`` (a power of two, >= 8)."""
    n = round(math.log2(size)) - 2
    if size != 2 ** (n + 2) or n < 1:
        raise ValueError(f"the generative baselines need a power-of-two image size of at least 8, not {size}")
    return n


class DCGenerator(nn.Module):
    """(z, class) -> image in [-1, 1]: 1x1 -> 4x4 (2^(n-1) w channels) -> ... -> size (C channels)."""

    def __init__(self, latent: int, K: int, C: int, size: int, width: int):
        super().__init__()
        ch = [width * 2 ** i for i in reversed(range(_levels(size)))]
        layers = [nn.ConvTranspose2d(latent + K, ch[0], 4, 1, 0, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch, ch[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(ch[-1], C, 4, 2, 1), nn.Tanh())
        self.K = K

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, one_hot(y, self.K)], 1)[:, :, None, None])


class DCDiscriminator(nn.Module):
    """(image, class) -> (``outputs`` values, features): strided 4x4 convolutions
    down to 4x4, the class as one-hot planes beside the image's channels."""

    def __init__(self, K: int, C: int, size: int, width: int, outputs: int = 1):
        super().__init__()
        ch = [width * 2 ** i for i in range(_levels(size))]
        layers = [nn.Conv2d(C + K, ch[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for a, b in zip(ch, ch[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(ch[-1] * 16, outputs)   # DCGAN's last 4x4 convolution
        self.K = K

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        planes = one_hot(y, self.K)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        h = self.body(torch.cat([x, planes], 1)).flatten(1)
        return self.head(h), h


# ---------------------------------------------------------------- BigGAN-style networks


def _tapered(width: int, size: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., size/2 x size/2: halving as the resolution
    doubles, never below ``width`` (BigGAN's 128-px architecture tapers so)."""
    n = _levels(size)
    return [width * 2 ** max(0, n - 1 - i) for i in range(n)] + [width]


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, K: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm(cin, K), ConditionalBatchNorm(cout, K)
        self.conv1, self.conv2, self.skip = sn_conv(cin, cout, 3), sn_conv(cout, cout, 3), sn_conv(cin, cout, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, first: bool):
        super().__init__()
        self.conv1, self.conv2, self.skip = sn_conv(cin, cout, 3), sn_conv(cout, cout, 3), sn_conv(cin, cout, 1)
        self.first = first   # no activation before the first convolution of the image (BigGAN's preactivation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)


class BigGenerator(nn.Module):
    """z -> 4x4 -> one residual up-block per resolution (conditional BN) -> BN, ReLU, conv, tanh."""

    def __init__(self, latent: int, K: int, C: int, size: int, width: int):
        super().__init__()
        ch = _tapered(width, size)
        self.c0 = ch[0]
        self.fc = SpectralNorm(nn.Linear(latent, ch[0] * 16))
        self.blocks = nn.ModuleList(GBlock(a, b, K) for a, b in zip(ch, ch[1:]))
        self.bn, self.out = nn.BatchNorm2d(ch[-1]), sn_conv(ch[-1], C, 3)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(len(z), self.c0, 4, 4)
        for b in self.blocks:
            h = b(h, y)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ProjectionDiscriminator(nn.Module):
    """Image -> one residual down-block per resolution -> ReLU, spatial sum ->
    linear output + <class embedding, features> (the projection)."""

    def __init__(self, K: int, C: int, size: int, width: int):
        super().__init__()
        ch = [C] + _tapered(width, size)[::-1][1:]          # C, width, 2 width, ... at size/2, ..., 4
        self.blocks = nn.Sequential(*[DBlock(a, b, i == 0) for i, (a, b) in enumerate(zip(ch, ch[1:]))])
        self.fc, self.embed = SpectralNorm(nn.Linear(ch[-1], 1)), SpectralNorm(nn.Embedding(K, ch[-1]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.fc(h).squeeze(1) + (self.embed(y) * h).sum(1)


class MLPGenerator(nn.Module):
    """GMMN's generator: (z, one-hot class) -> 4 x [Linear, ReLU] -> Linear -> sigmoid."""

    def __init__(self, latent: int, K: int, C: int, size: int, width: int):
        super().__init__()
        hidden, layers, d = 16 * width, [], latent + K
        for _ in range(4):
            layers += [nn.Linear(d, hidden), nn.ReLU(True)]
            d = hidden
        self.net = nn.Sequential(*layers, nn.Linear(d, C * size * size), nn.Sigmoid())
        self.K, self.shape = K, (C, size, size)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, one_hot(y, self.K)], 1)).view(len(z), *self.shape) * 2 - 1   # [0,1] -> [-1,1]


# ---------------------------------------------------------------- losses


def rbf_mmd2(x: torch.Tensor, y: torch.Tensor, sigmas: tuple[float, ...]) -> torch.Tensor:
    """Squared MMD (biased estimate) between sample sets ``x`` (..., n, D) and
    ``y`` (..., m, D) under ``k(a, b) = sum_s exp(-|a - b|^2 / (2 s^2))``;
    batched over leading axes: returns (...)."""
    def k(a, b):   # squared distances without cdist's sqrt (whose gradient at 0 is NaN)
        d2 = (a.pow(2).sum(-1)[..., :, None] + b.pow(2).sum(-1)[..., None, :] - 2 * a @ b.transpose(-2, -1))
        d2 = d2.clamp_min(0)
        return sum(torch.exp(-d2 / (2 * s * s)) for s in sigmas)
    return k(x, x).mean((-2, -1)) + k(y, y).mean((-2, -1)) - 2 * k(x, y).mean((-2, -1))


def instance_contrastive(h_rec: torch.Tensor, h_real: torch.Tensor, temperature: float) -> torch.Tensor:
    """DC-VAE's instance-level loss: each reconstruction's feature must pick out
    its own input's feature among the batch (InfoNCE over cosine similarities)."""
    logits = F.normalize(h_rec, dim=1) @ F.normalize(h_real, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(h_rec), device=h_rec.device))


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def diff_augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """DiffAugment 'color,translation,cutout' (Zhao et al. 2020): all three ops
    in turn, per-image magnitudes; they are DSA's colour, crop (zero-filled
    shift up to 1/8) and cutout (half the side) ops with the same magnitudes."""
    cfg = augment.DSAConfig()
    for op in ("color", "crop", "cutout"):
        x = augment.apply(x, augment.sample(cfg, len(x), x.shape[-1], g, op=cfg.ops.index(op)), cfg)
    return x


# ---------------------------------------------------------------- the models


Nets = nn.ModuleDict
Opts = dict[str, torch.optim.Optimizer]


@dataclass(frozen=True)
class Generative:
    """One generative baseline: its networks, optimisers, one training step on
    a real batch (pixels in [-1, 1]) and how it samples images of given classes."""
    label: str
    build: Callable[[int, int, int, int], Nets]             # (classes, channels, size, width)
    optimisers: Callable[[Nets], Opts]
    step: Callable[[Nets, Opts, torch.Tensor, torch.Tensor, torch.Generator], dict[str, torch.Tensor]]
    sample: Callable[[Nets, torch.Tensor, torch.Generator], torch.Tensor]
    batch: int = 64


def _adam(betas: tuple[float, float], lr: float = 2e-4) -> Callable[[Nets], Opts]:
    return lambda nets: {k: torch.optim.Adam(m.parameters(), lr=lr, betas=betas) for k, m in nets.items()}


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _z(n: int, latent: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(n, latent, generator=g, device=g.device)


# cGAN (DCGAN size)
CGAN_LATENT = 100   # DCGAN's nz


def _cgan_step(nets: Nets, opts: Opts, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> dict:
    fake = nets["G"](_z(len(x), CGAN_LATENT, g), y)
    loss_d = bce(nets["D"](x, y)[0], 1.0) + bce(nets["D"](fake.detach(), y)[0], 0.0)
    _update(opts["D"], loss_d)
    loss_g = bce(nets["D"](fake, y)[0], 1.0)   # non-saturating
    _update(opts["G"], loss_g)
    return {"d": loss_d.detach(), "g": loss_g.detach()}


# BigGAN-style (reduced)
BIGGAN_LATENT, BIGGAN_D_STEPS = 128, 4   # BigGAN's dim_z; num_D_steps for CIFAR


def _biggan_step(nets: Nets, opts: Opts, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> dict:
    G, D = nets["G"], nets["D"]
    perm = torch.randperm(len(x), generator=g, device=x.device)          # mix the class-major batch
    x, y = x[perm], y[perm]
    for xd, yd in zip(x.chunk(BIGGAN_D_STEPS), y.chunk(BIGGAN_D_STEPS)):   # D steps on disjoint real batches
        with torch.no_grad():
            fake = G(_z(len(xd), BIGGAN_LATENT, g), yd)
        loss_d = F.relu(1 - D(diff_augment(xd, g), yd)).mean() + F.relu(1 + D(diff_augment(fake, g), yd)).mean()
        _update(opts["D"], loss_d)
    y_g = y[: len(x) // BIGGAN_D_STEPS]
    loss_g = -D(diff_augment(G(_z(len(y_g), BIGGAN_LATENT, g), y_g), g), y_g).mean()
    _update(opts["G"], loss_g)
    return {"d": loss_d.detach(), "g": loss_g.detach()}


# GMMN (conditional)
GMMN_LATENT, GMMN_SIGMAS = 32, (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)


def _gmmn_step(nets: Nets, opts: Opts, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> dict:
    K = nets["G"].K
    z = torch.rand(len(x), GMMN_LATENT, generator=g, device=x.device) * 2 - 1       # uniform prior
    fake = (nets["G"](z, y) + 1) / 2                                                 # [0, 1] pixels
    real = (x + 1) / 2
    loss = rbf_mmd2(fake.reshape(K, -1, fake[0].numel()), real.reshape(K, -1, real[0].numel()), GMMN_SIGMAS).sum()
    _update(opts["G"], loss)
    return {"mmd": loss.detach()}


# DC-VAE (reduced)
VAE_LATENT, DCVAE_TEMPERATURE = 128, 0.1


def _encode(nets: Nets, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
    mu, logvar = nets["E"](x, y)[0].chunk(2, dim=1)
    return mu + torch.randn(mu.shape, generator=g, device=mu.device) * (0.5 * logvar).exp(), mu, logvar


def _dcvae_step(nets: Nets, opts: Opts, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> dict:
    G, D = nets["G"], nets["D"]
    z, mu, logvar = _encode(nets, x, y, g)
    rec, prior = G(z, y), G(_z(len(x), VAE_LATENT, g), y)
    loss_d = bce(D(x, y)[0][:, 0], 1.0) + (bce(D(rec.detach(), y)[0][:, 0], 0.0)
                                          + bce(D(prior.detach(), y)[0][:, 0], 0.0)) / 2
    _update(opts["D"], loss_d)
    out_rec, h_rec = D(rec, y)
    with torch.no_grad():
        h_real = D(x, y)[1]
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
    contrast = instance_contrastive(h_rec, h_real, DCVAE_TEMPERATURE)
    adversarial = (bce(out_rec[:, 0], 1.0) + bce(D(prior, y)[0][:, 0], 1.0)) / 2
    loss = kl + contrast + adversarial
    for o in (opts["E"], opts["G"]):
        o.zero_grad(set_to_none=True)
    loss.backward()
    for o in (opts["E"], opts["G"]):
        o.step()
    return {"d": loss_d.detach(), "kl": kl.detach(), "contrastive": contrast.detach(), "adv": adversarial.detach()}


def _dcvae_sample(nets: Nets, y: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return nets["G"](_z(len(y), VAE_LATENT, g), y)


GENERATIVE: dict[str, Generative] = {
    "cgan": Generative(
        "cGAN (DCGAN-size)",
        lambda K, C, s, w: nn.ModuleDict({"G": DCGenerator(CGAN_LATENT, K, C, s, w), "D": DCDiscriminator(K, C, s, w)}),
        _adam((0.5, 0.999)), _cgan_step, lambda nets, y, g: nets["G"](_z(len(y), CGAN_LATENT, g), y)),
    "biggan": Generative(
        "BigGAN-style (reduced)",
        lambda K, C, s, w: nn.ModuleDict({"G": BigGenerator(BIGGAN_LATENT, K, C, s, w),
                                          "D": ProjectionDiscriminator(K, C, s, w)}),
        _adam((0.0, 0.999)), _biggan_step, lambda nets, y, g: nets["G"](_z(len(y), BIGGAN_LATENT, g), y),
        batch=64 * BIGGAN_D_STEPS),
    "gmmn": Generative(
        "GMMN (conditional)",
        lambda K, C, s, w: nn.ModuleDict({"G": MLPGenerator(GMMN_LATENT, K, C, s, w)}),
        _adam((0.9, 0.999), lr=1e-3), _gmmn_step,
        lambda nets, y, g: nets["G"](torch.rand(len(y), GMMN_LATENT, generator=g, device=y.device) * 2 - 1, y),
        batch=640),
    "dc-vae": Generative(
        "DC-VAE (reduced)",
        lambda K, C, s, w: nn.ModuleDict({"E": DCDiscriminator(K, C, s, w, outputs=2 * VAE_LATENT),
                                          "G": DCGenerator(VAE_LATENT, K, C, s, w),
                                          "D": DCDiscriminator(K, C, s, w)}),
        _adam((0.5, 0.999)), _dcvae_step, _dcvae_sample),
}


# ---------------------------------------------------------------- train once, sample at any IPC


def build(name: str, data: RealData, width: int, g: torch.Generator | None = None) -> Nets:
    """The networks of ``name`` on ``data``'s device, initialised from ``g``
    (left uninitialised without it, to load a trained state into)."""
    with torch.device("meta"):
        nets = GENERATIVE[name].build(data.num_classes, data.channels, data.im_size, width)
    nets = nets.to_empty(device=data.device)
    return initialise(nets, g) if g is not None else nets


def train(name: str, cfg: Config, data: RealData, progress: bool = False) -> dict:
    """Train generator ``name`` on ``data``'s training set (class-balanced
    batches) for the scale's work; returns its state (weights, losses, work)."""
    from tqdm.auto import trange

    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux; training.py)
    spec, (iterations, width) = GENERATIVE[name], work(name, cfg)
    t0, K = time.time(), data.num_classes
    g = torch.Generator(device=data.device).manual_seed(cfg.seed)
    nets = build(name, data, width, g).train()
    opts = spec.optimisers(nets)
    pixels = data.to_pixels(data.x_train) * 2 - 1
    per_class = real_batch(cfg, data, max(1, spec.batch // K))
    losses: list[dict] = []
    for _ in trange(iterations, disable=not progress, desc=f"{spec.label} {data.name}", unit="it"):
        idx = data.sample_indices(per_class, g).flatten()
        losses.append(spec.step(nets, opts, pixels[idx], data.y_train[idx], g))
    curves = {k: torch.stack([d[k] for d in losses]).tolist() for k in (losses[0] if losses else {})}
    return {"weights": nets.state_dict(), "losses": curves, "iterations": iterations, "width": width,
            "train_s": round(time.time() - t0, 3)}


def payload(name: str, cfg: Config) -> dict:
    """What a trained generator depends on besides the data and the seed (the cache key)."""
    iterations, width = work(name, cfg)
    return {"model": name, "iterations": iterations, "width": width, "preprocess": cfg.preprocess}


@torch.no_grad()
def sample(name: str, cfg: Config, data: RealData, state: dict) -> SyntheticSet:
    """``ipc`` images per class from the trained generator ``state``, class-major,
    in the dataset's normalised space. z comes from a generator seeded with
    ``cfg.seed`` (so a cached generator gives the same set every time)."""
    spec, ipc = GENERATIVE[name], cfg.distill.ipc
    nets = build(name, data, int(state["width"]))
    nets.load_state_dict(state["weights"])
    nets.eval()
    labels = class_labels(data, ipc)
    g = torch.Generator(device=data.device).manual_seed(cfg.seed)
    x = data.from_pixels((spec.sample(nets, labels, g).clamp(-1, 1) + 1) / 2)
    first = {k: v[:1] + v[-1:] for k, v in state["losses"].items()}
    info = manifest(seed=cfg.seed, device=device_description(data.device), dataset=data.name, kind=name,
                    label=spec.label, iterations=state["iterations"], width=state["width"],
                    wall_time_s=state.get("train_s"), losses_first_last=first, preset=cfg.preset, scale=cfg.scale)
    return SyntheticSet(x, labels, list(data.classes), cfg, [], {}, info)
