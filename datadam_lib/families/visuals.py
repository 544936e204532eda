"""The visuals family: distilled-image grids per dataset and IPC (supplement
Figs 14-22) and progressions of images over iterations (Fig 3), shown through
the inverse preprocessing (inverse ZCA where used)."""
from __future__ import annotations

from ..kit.registry import Target, register

_GRIDS = [(14, "cifar10", "CIFAR10", 10, 0.3), (15, "cifar10", "CIFAR10", 50, 1.0),
          (16, "cifar100", "CIFAR100", 10, 2.0), (17, "cifar100", "CIFAR100", 50, 4.0),
          (18, "tinyimagenet", "TinyImageNet", 1, 2.0), (19, "imagenet64", "ImageNet-1K (64x64)", 1, 15.0),
          (20, "imagenette", "ImageNette", 10, 2.0), (21, "imagewoof", "ImageWoof", 10, 2.0),
          (22, "imagesquawk", "ImageSquawk", 10, 2.0)]

register(
    Target("fig3", "Supplement Fig. 3: noise-initialised synthetic images over iterations (CIFAR10, IPC 50)",
           "visuals", ("cifar10",), implemented=False, paper_gpu_h=8.0),
    *[Target(f"fig{n}", f"Supplement Fig. {n}: distilled images, {label}, IPC {ipc}", "visuals", (ds,),
             implemented=False, paper_gpu_h=h) for n, ds, label, ipc, h in _GRIDS],
)
