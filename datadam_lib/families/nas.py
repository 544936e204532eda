"""The NAS family: distilled sets as proxies for architecture search over 720
ConvNets (supplement Table 4, Figs 7-8) and NAS-Bench-201 (Table 5)."""
from __future__ import annotations

from ..kit.registry import Target, register

register(
    Target("table4", "Supplement Table 4: NAS over 720 ConvNets (top 20%), proxy IPC 50", "nas", ("cifar10",),
           implemented=False, paper_gpu_h=90.0),
    Target("table5", "Supplement Table 5: NAS-Bench-201, 100 random architectures, proxy IPC 50", "nas",
           ("cifar10",), implemented=False, paper_gpu_h=50.0),
    Target("fig7", "Supplement Fig. 7: NAS rank correlation, proxy vs whole data, all 720 ConvNets", "nas",
           ("cifar10",), implemented=False, paper_gpu_h=90.0),
    Target("fig8", "Supplement Fig. 8: NAS rank correlation over the top 20% (144 ConvNets)", "nas", ("cifar10",),
           implemented=False, paper_gpu_h=90.0),
)
