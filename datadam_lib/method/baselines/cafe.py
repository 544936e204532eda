"""CAFE: condensing a dataset by aligning features (Wang et al., CVPR 2022),
after kaiwang960112/CAFE ``distill.py`` and ``networks.py`` (read, not copied).

The loss of one outer step, on class-major real and synthetic batches passed
through the network being trained (``distill.py``, "forward"):

    L = sum_l w_l ||mean_c f_l(real) - mean_c f_l(syn)||^2            layer-wise features
      + w_pool ||mean_c pool(real) - mean_c pool(syn)||^2             the last block's pooled output
      + ||mean_c psi(real) - mean_c psi(syn)||^2                       the embedding (loss_output)
      + 0.01 * sum_i CE(psi(real_i) . [mean_c psi(syn)]_c, y_i)       discrimination (summed over real images)

with ``||.||^2`` summed over classes and positions (``nn.MSELoss(reduction='sum')``
of class means). ``f_l`` are the blocks' activations after ReLU (``networks.py``
ConvNet: f1..f3 of the depth-3 net), weighted 1.0 for the last block and 0.1
for the others; ``pool`` the last block's pooled output, weight 1.0 (for the
kit's encoders the embedding psi is that output flattened, so the pooled and
the embedding term are the same number: together weight 2). CAFE's real
cross-entropy term (``loss_real``) has no gradient with respect to the
synthetic images and is left out.

One iteration: a fresh network (SGD lr 0.01); then repeat: one image update
(SGD lr 0.1, momentum 0.5, halved at 60/80/90 % of the iterations), then the
network's accuracy on 128 real images per class; stop once the last 10 checks
spread by less than lambda_1 = 0.04; otherwise train the network one epoch at a
time on the synthetic set, checking its real accuracy after each, until the
last 10 checks spread by more than lambda_2 = 0.03.

Where the kit departs from ``distill.py`` (bugs and limits, docs/presets.md):
- it hard-codes 10 classes and 3x32x32 images (``criterion_middle`` and the
  ``reshape(args.batch_real * 10, 3, 32, 32)`` of the gathered batches); the kit
  takes any number of classes, channels and size;
- its accuracy accumulator (``acc_test``, ``acc_inner_test``) is not reset
  between checks, so each check is (previous value + sum of class accuracies)
  / 10 rather than the mean accuracy; the kit records the mean accuracy;
- its two ``while`` loops have no bound (an inner loop whose accuracy stops
  moving never ends); the kit stops them after ``max_outer`` / ``max_inner``.
- accuracy is measured with the network in eval mode (CAFE calls it in train
  mode; the same for the instance-norm ConvNet).
"""
from __future__ import annotations

import time
from collections import deque

import torch
import torch.nn.functional as F

from ..baselines_config import CAFEConfig
from ..config import Config
from ..data import RealData
from ..losses import class_means
from ..models import Encoder, build_encoder, reset_parameters
from ..synthetic import SyntheticSet
from ..training import keep_freed_memory
from .common import capped, class_labels, finish, init_images, real_batch, snapshot_keeper, train_network


def _sq(real_mean: torch.Tensor, syn: torch.Tensor, K: int) -> torch.Tensor:
    """||real class means - synthetic class means||^2, summed (``criterion_middle``)."""
    return (real_mean - class_means(syn, K)).pow(2).sum()


def cafe_loss(real_taps: list[torch.Tensor], real_emb: torch.Tensor, syn_taps: list[torch.Tensor],
              syn_emb: torch.Tensor, real_labels: torch.Tensor, num_classes: int, c: CAFEConfig) -> torch.Tensor:
    """CAFE's loss for class-major real (K*B) and synthetic (K*ipc) features:
    taps (one per block, after its non-linearity) and embeddings (N, D).
    Real features carry no gradient; the synthetic ones do."""
    K = num_classes
    weights = [c.earlier_weight] * (len(real_taps) - 1) + [c.last_weight]
    layers = sum(w * _sq(class_means(r, K), s, K) for w, r, s in zip(weights, real_taps, syn_taps, strict=True))
    real_mean, centres = class_means(real_emb, K), class_means(syn_emb, K)
    features = layers + (c.pooled_weight + 1.0) * (real_mean - centres).pow(2).sum()
    discrimination = F.cross_entropy(real_emb @ centres.T, real_labels, reduction="sum")
    return features + c.inner_weight * discrimination


@torch.no_grad()
def real_accuracy(net: Encoder, data: RealData, per_class: int, g: torch.Generator) -> float:
    """Accuracy of ``net`` on ``per_class`` random real training images of each
    class (the mean over classes of each class's accuracy: classes are equal in size)."""
    idx = data.sample_indices(per_class, g).flatten()
    was_training = net.training
    net.eval()
    acc = (net(data.x_train[idx]).argmax(1) == data.y_train[idx]).float().mean()
    net.train(was_training)
    return float(acc)


def image_lr(c: CAFEConfig, iterations: int, it: int) -> float:
    """``adjust_learning_rate``: x0.5 at each of 60/80/90 % of the iterations
    (1,200/1,600/1,800 of 2,000)."""
    return c.lr_images * 0.5 ** sum(it >= round(f * iterations) for f in c.lr_decay_at)


def condense(cfg: Config, data: RealData, snapshot_at: tuple[int, ...] = (), progress: bool = False) -> SyntheticSet:
    """Run CAFE with ``cfg.baselines.cafe`` (noise init, no DSA: ``distill.py`` defaults)."""
    from tqdm.auto import trange

    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux; training.py)
    c, t0 = cfg.baselines.cafe, time.time()
    K, ipc, dev = data.num_classes, cfg.distill.ipc, data.device
    iterations = capped(c.iterations, cfg, "cafe", "iterations")
    max_outer, max_inner = capped(c.max_outer, cfg, "cafe", "outer"), capped(c.max_inner, cfg, "cafe", "inner")
    batch_real, check = real_batch(cfg, data, c.batch_real), real_batch(cfg, data, c.check_images)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    images = init_images("noise", cfg, data, g)
    labels = class_labels(data, ipc)
    opt = torch.optim.SGD([images], lr=c.lr_images, momentum=c.momentum)
    net = build_encoder(cfg.distill.encoder, data.channels, K, data.im_size, g, dev)
    real_labels = class_labels(data, batch_real)
    snapshots, keep = snapshot_keeper(snapshot_at, images)
    losses: list[float] = []
    outer_steps, inner_epochs = [], []
    for it in trange(iterations, disable=not progress, desc=f"CAFE {data.name} ipc={ipc}", unit="it"):
        for group in opt.param_groups:
            group["lr"] = image_lr(c, iterations, it)
        reset_parameters(net, g)
        net_opt = torch.optim.SGD(net.parameters(), lr=c.lr_net)
        watcher: deque[float] = deque(maxlen=c.window)
        step_losses, epochs = [], 0
        for _ in range(max_outer):
            net.train()
            x_real = data.x_train[data.sample_indices(batch_real, g).flatten()]
            with torch.no_grad():
                real_taps, real_emb = net.forward_features(x_real)
            syn_taps, syn_emb = net.forward_features(images)
            loss = cafe_loss(real_taps, real_emb, syn_taps, syn_emb, real_labels, K, c)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step_losses.append(loss.detach())
            watcher.append(real_accuracy(net, data, check, g))
            if len(watcher) == c.window and max(watcher) - min(watcher) < c.lambda_1:
                break
            inner: deque[float] = deque(maxlen=c.window)
            for _ in range(max_inner):
                train_network(net, net_opt, images, labels, 1, c.batch_train, g, None)
                epochs += 1
                inner.append(real_accuracy(net, data, check, g))
                if len(inner) == c.window and max(inner) - min(inner) > c.lambda_2:
                    break
        losses.append(float(torch.stack(step_losses).mean()))
        outer_steps.append(len(step_losses))
        inner_epochs.append(epochs)
        keep(it + 1)
    return finish(images, cfg, data, losses, snapshots, t0, kind="cafe", iterations=iterations,
                  outer_steps=outer_steps, inner_epochs=inner_epochs, batch_real=batch_real)
