"""ZCA whitening (zca.py): round trip, whitening, the on-disk cache."""
from __future__ import annotations

import os

import pytest
import torch
from kornia.enhance import ZCAWhitening

from datadam_lib import load_dataset
from datadam_lib.method.zca import EPS, fit_zca


def correlated(n: int = 400, c: int = 1, side: int = 3, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """(n, c, side, side) data with a strongly non-identity covariance."""
    g = torch.Generator().manual_seed(seed)
    d = c * side * side
    mix = torch.randn(d, d, generator=g, dtype=dtype)
    z = torch.randn(n, d, generator=g, dtype=dtype) * torch.linspace(0.2, 3.0, d, dtype=dtype)
    return (z @ mix + 2.0).view(n, c, side, side)


def test_eps_is_mtt_setting():
    assert EPS == 0.1


def test_round_trip_recovers_the_input():
    x = correlated()
    zca = fit_zca(x)
    y = zca(x.flatten(1))
    assert not torch.allclose(y, x.flatten(1))
    torch.testing.assert_close(zca.inverse_transform(y).view_as(x), x, atol=1e-8, rtol=1e-8)


def test_whitened_data_has_identity_covariance_with_tiny_eps():
    x = correlated(n=600, c=2, side=2, seed=1)
    y = fit_zca(x, eps=1e-10)(x.flatten(1))
    yc = y - y.mean(0)
    cov = yc.T @ yc / (len(y) - 1)
    torch.testing.assert_close(cov, torch.eye(8, dtype=cov.dtype), atol=1e-6, rtol=0)
    # ZCA (unlike PCA whitening) is the symmetric W = C^-1/2
    w = fit_zca(x, eps=1e-10).transform_matrix
    torch.testing.assert_close(w, w.T, atol=1e-8, rtol=0)


def test_default_eps_shrinks_small_directions():
    x = correlated(seed=2)
    y = fit_zca(x)(x.flatten(1))
    var = torch.linalg.eigvalsh(torch.cov(y.T))
    assert var.max() < 1 + 1e-6 and var.min() < 0.99        # eps = 0.1 damps, never amplifies past 1


def test_cache_is_written_then_reused(tmp_path, monkeypatch):
    x = correlated(dtype=torch.float32, seed=3)
    first = fit_zca(x, cache_dir=str(tmp_path), key="toy")
    files = os.listdir(tmp_path / ".zca")
    assert len(files) == 1 and files[0].startswith("toy-") and files[0].endswith("-eps0.1.pt")

    def no_fit(self, *a, **k):
        raise AssertionError("refitted although a cache file exists")
    monkeypatch.setattr(ZCAWhitening, "fit", no_fit)
    second = fit_zca(x, cache_dir=str(tmp_path), key="toy")
    assert second.fitted
    for name in ("mean_vector", "transform_matrix", "transform_inv"):
        assert torch.equal(getattr(first, name), getattr(second, name))
    torch.testing.assert_close(second(x.flatten(1)), first(x.flatten(1)), atol=0, rtol=0)
    # other data or another eps is a different cache entry (here: a fit, which we forbade)
    with pytest.raises(AssertionError, match="refitted"):
        fit_zca(x + 1, cache_dir=str(tmp_path), key="toy")
    with pytest.raises(AssertionError, match="refitted"):
        fit_zca(x, eps=0.2, cache_dir=str(tmp_path), key="toy")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "not finite", "missing key"])
def test_a_damaged_cache_file_is_fitted_again(tmp_path, capsys, damage):
    x = correlated(dtype=torch.float32, seed=4)
    fresh = fit_zca(x, cache_dir=str(tmp_path), key="toy")
    [name] = os.listdir(tmp_path / ".zca")
    path = tmp_path / ".zca" / name
    good = path.read_bytes()
    state = torch.load(path, weights_only=True)
    if damage == "garbage":
        path.write_bytes(b"\x00not a torch file" * 40)
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "wrong shape":
        torch.save({**state, "transform_matrix": torch.eye(3)}, path)
    elif damage == "not finite":
        torch.save({**state, "mean_vector": state["mean_vector"] * float("nan")}, path)
    else:
        torch.save({k: v for k, v in state.items() if k != "transform_inv"}, path)
    again = fit_zca(x, cache_dir=str(tmp_path), key="toy")
    err = capsys.readouterr().err
    assert f"ZCA cache: {path} is unreadable or not a whitening of these data; fitting again" in err
    assert "delete" not in err
    torch.testing.assert_close(again(x.flatten(1)), fresh(x.flatten(1)), atol=0, rtol=0)
    assert path.read_bytes() == good                    # rewritten: the next load is a hit again


def test_no_cache_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit_zca(correlated(n=50, dtype=torch.float32))
    assert os.listdir(tmp_path) == []


def test_load_dataset_with_zca_round_trips_to_pixels(tmp_path):
    import numpy as np
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    base = rng.integers(0, 200, (3, 6, 6, 3))
    x = (base[y] + rng.integers(0, 56, (300, 6, 6, 3))).astype(np.uint8)      # correlated pixels
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[::50], y_test=y[::50])       # 2 test images per class
    plain = load_dataset(f"npz:{path}", root=str(tmp_path))
    white = load_dataset(f"npz:{path}", root=str(tmp_path), zca=True)
    assert plain.zca is None and white.zca is not None and os.listdir(tmp_path / ".zca")
    assert not torch.allclose(white.x_train, plain.x_train, atol=1e-2)
    torch.testing.assert_close(white.to_pixels(white.x_train), plain.to_pixels(plain.x_train), atol=1e-4, rtol=0)
    torch.testing.assert_close(white.from_pixels(plain.to_pixels(plain.x_test)), white.x_test, atol=1e-3, rtol=0)


def test_mtt_preprocessing_whitens_the_pixels_without_normalising_them(tmp_path):
    """preprocess="mtt" (the paper preset, supplement Sec. 1.2 "the same setting
    as [MTT]"): ZCA of the [0, 1] pixels, mean 0 / std 1 left out; with
    "normalise+zca" the mean/std normalisation comes first; "normalise" skips
    ZCA even for a dataset that uses it."""
    import numpy as np
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(2), 60)
    x = (rng.integers(0, 120, (2, 5, 5, 3))[y] + rng.integers(0, 100, (120, 5, 5, 3))).astype(np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[::30], y_test=y[::30])       # 2 test images per class
    name = f"npz:{path}"
    mtt = load_dataset(name, root=str(tmp_path), zca=True)
    norm_zca = load_dataset(name, root=str(tmp_path), zca=True, preprocess="normalise+zca")
    pixels = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(mtt.mean, torch.zeros(3)) and torch.equal(mtt.std, torch.ones(3))
    by_hand = fit_zca(pixels)(pixels.flatten(1)).view_as(pixels)     # ZCA straight on the pixels
    order = torch.argsort(torch.from_numpy(y), stable=True)
    torch.testing.assert_close(mtt.x_train, by_hand[order], atol=1e-4, rtol=0)
    assert not torch.allclose(norm_zca.x_train, mtt.x_train, atol=1e-2)
    torch.testing.assert_close(mtt.to_pixels(mtt.x_test), norm_zca.to_pixels(norm_zca.x_test), atol=1e-3, rtol=0)
    assert load_dataset(name, root=str(tmp_path), preprocess="normalise").zca is None
    with pytest.raises(ValueError, match="unknown preprocess"):
        load_dataset(name, preprocess="whiten")
