"""Reading the NAS-Bench-201 ground truth through its API (a stand-in API
here: the benchmark file, ~2 GB, is not on these machines)."""
from __future__ import annotations

import sys

import pytest

from datadam_lib.method.nas import cells
from datadam_lib.method.nas.bench201 import BenchmarkFile, BenchmarkUnavailable


class FakeAPI:
    """What DC-Bench uses of NASBench201API / NATS-Bench's topology API."""

    def __init__(self, table: dict[str, float]):
        self.index = {arch: i for i, arch in enumerate(table)}
        self.acc = list(table.values())
        self.calls = []

    def query_index_by_arch(self, arch: str) -> int:
        return self.index.get(arch, -1)

    def get_more_info(self, index, dataset, iepoch=None, hp="12", is_random=True):
        self.calls.append((index, dataset, hp, is_random))
        return {"test-accuracy": self.acc[index], "valid-accuracy": 0.0}


def test_the_ground_truth_is_the_benchmarks_cifar10_test_accuracy_at_200_epochs():
    a, b = cells.random_cells(2, seed=0)
    api = FakeAPI({cells.arch_string(a): 93.5, cells.arch_string(b): 88.25})
    truth = BenchmarkFile("nb201.pth", api=api)
    assert truth.test_accuracy(a) == 93.5 and truth.test_accuracy(b) == 88.25
    assert api.calls == [(0, "cifar10", "200", False), (1, "cifar10", "200", False)]   # mean over its seeds
    assert "NAS-Bench-201" in truth.describe()
    with pytest.raises(KeyError, match="not in"):
        truth.test_accuracy(cells.random_cells(3, seed=0)[2])


def test_a_missing_file_or_api_says_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(BenchmarkUnavailable, match="not found"):
        BenchmarkFile(str(tmp_path / "absent.pth"))
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "nas_201_api", None)          # the optional API not installed
    with pytest.raises(BenchmarkUnavailable, match=r"\.\[nb201\]"):
        BenchmarkFile(str(path))
