"""The NAS-Bench-201 ground truth, read from the benchmark's file through its
own API (optional: ``pip install -c constraints.txt -e '.[nb201]'``; the
file, about 2 GB, is downloaded by hand from the benchmark's page).

DC-Bench (``darts-pt/nasbench201/train_search.py``, ``query``) takes a cell's
ground truth as ``api.query_by_arch(genotype, hp="200")``'s CIFAR-10 test
accuracy: the mean over the benchmark's seeds of the network (C = 16, N = 5)
trained 200 epochs on the 50,000 training images and tested on the 10,000
test images. Here the same number comes from ``get_more_info(index,
"cifar10", hp="200", is_random=False)["test-accuracy"]``, which both APIs
provide:

- ``nas_201_api`` (package ``nas-bench-201``) reads the NAS-Bench-201 files
  (``NAS-Bench-201-v1_0-e61699.pth``, ``NAS-Bench-201-v1_1-096897.pth``);
- ``nats_bench`` (package ``nats_bench``) reads NATS-Bench's topology
  search space, the same 15,625 cells (``NATS-tss-v1_0-3ffb9-simple``, a
  directory or archive).

    truth = BenchmarkFile("/data/NAS-Bench-201-v1_1-096897.pth")
    truth.test_accuracy(cell)           # percent
"""
from __future__ import annotations

import os
from typing import Any

from .cells import Cell, arch_string


class BenchmarkUnavailable(RuntimeError):
    """The benchmark file or its API is missing; the message says what to do."""


def _open(path: str) -> Any:
    if not os.path.exists(path):
        raise BenchmarkUnavailable(f"NAS-Bench-201 file {path} not found; download NAS-Bench-201-v1_1-096897.pth "
                                   "(or NATS-tss-v1_0-3ffb9-simple) from the benchmark's page, or leave the path "
                                   "empty for a self-trained ground truth (labelled 'not NAS-Bench-201')")
    try:
        if path.endswith(".pth"):
            from nas_201_api import NASBench201API
            return NASBench201API(path, verbose=False)
        from nats_bench import create
        return create(path, "tss", fast_mode=True, verbose=False)
    except ImportError as e:
        raise BenchmarkUnavailable(f"reading {path} needs the benchmark's API ({e.name} is not installed): "
                                   "pip install -c constraints.txt -e '.[nb201]'") from None


class BenchmarkFile:
    """Ground-truth accuracies of cells from a NAS-Bench-201 / NATS-Bench file."""

    def __init__(self, path: str, api: Any = None, dataset: str = "cifar10", hp: str = "200"):
        self.path, self.dataset, self.hp = path, dataset, hp
        self.api = api if api is not None else _open(path)

    def test_accuracy(self, cell: Cell) -> float:
        """The benchmark's test accuracy (%) of ``cell``, mean over its seeds."""
        index = self.api.query_index_by_arch(arch_string(cell))
        if index is None or index < 0:
            raise KeyError(f"cell {arch_string(cell)} not in {self.path}")
        info = self.api.get_more_info(index, self.dataset, hp=self.hp, is_random=False)
        return float(info["test-accuracy"])

    def describe(self) -> str:
        return (f"NAS-Bench-201 ({os.path.basename(self.path)}): {self.dataset} test accuracy after the "
                f"benchmark's {self.hp}-epoch training, mean over its seeds")
