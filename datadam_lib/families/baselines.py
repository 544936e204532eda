"""The baselines family: other distillation methods (DC, DSA, DM, CAFE),
coresets, generative models, the t-SNE of real and synthetic features
(supplement Table 3, Fig 9; main paper Table 1 and cross-architecture)."""
from __future__ import annotations

from ..kit.registry import Target, register

register(
    Target("table3", "Supplement Table 3: DataDAM vs generative models and pixel-space MMD (CIFAR10, IPC 1/10/50)",
           "baselines", ("cifar10",), implemented=False, paper_gpu_h=6.0),
    Target("fig9", "Supplement Fig. 9: t-SNE of real and synthetic features (ResNet-18, CIFAR10, IPC 50)",
           "baselines", ("cifar10",), implemented=False, paper_gpu_h=6.0),
)
