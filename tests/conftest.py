"""Shared fixtures: the built-in digits dataset (loaded once per session), tiny
hand-made datasets, and small distillation configs.

Everything here is deterministic: randomness comes from explicit
``torch.Generator`` objects, never from the global RNG.
"""
from __future__ import annotations

import os
import signal

import pytest
import torch

from datadam_lib import RealData, load_dataset, make_config, override

# The test scale (reproduce.sh exports DATADAM_SCALE=smoke); tests that run
# the full pipeline use it so a larger scale can be chosen by hand.
SCALE = os.environ.get("DATADAM_SCALE", "smoke")

# Speed: the tests' tensors are tiny, and on a busy machine with few cores
# intra-op threads mostly wait for each other (a 100x slowdown was measured on
# 2 shared cores). One thread unless DATADAM_TEST_THREADS says otherwise; the
# CLI subprocess tests pass the same setting on through OMP_NUM_THREADS.
TEST_THREADS = int(os.environ.get("DATADAM_TEST_THREADS", "1"))
torch.set_num_threads(TEST_THREADS)

# The Ctrl-C tests need Python's SIGINT handler, as a terminal gives it. A test
# run started as a shell's background job (nohup ... &) inherits SIGINT ignored,
# and so would every child process: the real-SIGINT test then never ends.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def digits() -> RealData:
    """scikit-learn's digits (10 classes, 1x32x32), normalised, class-sorted.
    Shared by the whole session: tests must not modify it."""
    return load_dataset("digits")


# Alias for tests written elsewhere that prefer the longer name.
@pytest.fixture(scope="session")
def digits_data(digits) -> RealData:
    return digits


def make_tiny_data(counts=(4, 4, 4), channels: int = 1, size: int = 16, seed: int = 0,
                   n_test: int = 2) -> RealData:
    """A RealData of random images with ``counts[k]`` training images of class
    k (shuffled, so RealData has to sort them) and ``n_test`` test images per class."""
    g = torch.Generator().manual_seed(seed)
    k = len(counts)
    y = torch.cat([torch.full((c,), i, dtype=torch.long) for i, c in enumerate(counts)])
    perm = torch.randperm(len(y), generator=g)
    y = y[perm]
    x = torch.randn(len(y), channels, size, size, generator=g)
    yt = torch.arange(k).repeat_interleave(n_test)
    xt = torch.randn(len(yt), channels, size, size, generator=g)
    return RealData("tiny", x, y, xt, yt, [f"c{i}" for i in range(k)],
                    torch.zeros(channels), torch.ones(channels))


@pytest.fixture(scope="session")
def tiny_data():
    """Factory: ``tiny_data(counts=(4, 4, 4), channels=1, size=16, seed=0)``."""
    return make_tiny_data


def make_small_config(ipc: int = 1, seed: int = 0, width: int = 32, dataset: str = "digits", **changes):
    """The paper preset at the test scale with a narrow encoder (fast on a CPU);
    ``changes`` are dotted overrides with ``__`` for ``.``."""
    cfg = make_config("paper", scale=SCALE, dataset=dataset, ipc=ipc, seed=seed,
                      overrides={"distill.encoder.width": width, "evaluate.encoder.width": width})
    return override(cfg, {k.replace("__", "."): v for k, v in changes.items()})


@pytest.fixture(scope="session")
def small_config():
    """Factory: ``small_config(ipc=1, seed=0, width=32, distill__class_chunk=3, ...)``."""
    return make_small_config


@pytest.fixture
def float64():
    """Float64 as the default dtype for the test (comparisons that must agree
    beyond float32 rounding); the previous default comes back afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
