"""DC's loop with glibc's malloc as is, or with freed memory kept
(``training.keep_freed_memory``): wall time, CPU times and minor page faults of
2 iterations at IPC 1 with DC's own batch (256 real images per class), bf16,
one thread. Run each mode in its own process (the setting lasts for the process):

    python benchmarks/baselines_malloc.py PATH/slice.npz system
    python benchmarks/baselines_malloc.py PATH/slice.npz kept

PATH/slice.npz: the cifar10-5k images (``cifar10-5k:npz:PATH``, docs/targets.md).
Since the DC loop itself keeps freed memory, ``system`` needs ``DATADAM_MALLOC=system``.
"""
from __future__ import annotations

import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main(npz: str, mode: str) -> None:
    import torch

    from datadam_lib.kit.sweep import get_data
    from datadam_lib.method.baselines.gradient_matching import condense
    from datadam_lib.method.config import PRESETS, make_config
    from datadam_lib.method.training import keep_freed_memory
    torch.set_num_threads(1)
    ds = f"cifar10-5k:npz:{os.path.abspath(npz)}"
    data = get_data(ds, os.path.join(os.path.dirname(HERE), "data"), None, PRESETS["paper"].preprocess)
    if mode == "kept":
        keep_freed_memory()
    cfg = make_config("paper", "paper", ds, 1, 0, {"baselines.matching.iterations": 2, "distill.autocast": "bf16"})
    t = time.time()
    condense(cfg, data, siamese=False)
    u = resource.getrusage(resource.RUSAGE_SELF)
    print(mode, f"wall {time.time() - t:.1f} s, user {u.ru_utime:.1f}, sys {u.ru_stime:.1f}, "
          f"minor faults {u.ru_minflt}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
