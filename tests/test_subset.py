"""The CIFAR-10 quick-scale subset (``cifar10-5k``): the same images whether
read from torchvision's full download or from an .npz slice holding the first
M images of each training batch, and a fingerprint that sees every byte."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from datadam_lib.method.data import CIFAR10_5K, DataError, Subset, dataset_identity, fingerprint, load_arrays, \
    load_dataset

SLICE_PER_BATCH, SLICE_TEST = 1034, 1017    # the layout of ../shared/data/cifar10-mini.npz


def _full_cifar(seed: int = 0):
    """A stand-in for the 60,000 CIFAR-10 images: random pixels, labels 0..9."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (60000, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 60000)
    return x[:50000], y[:50000], x[50000:], y[50000:]


def _write_torchvision_folder(root: str, xtr, ytr, xte, yte) -> None:
    """torchvision's cifar-10-batches-py layout: five training batches of
    10,000 in order, one test batch, the meta file."""
    d = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(d)
    to_rows = lambda x: x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # noqa: E731  (N, 3072) as the pickles hold
    for b in range(5):
        part = slice(b * 10000, (b + 1) * 10000)
        with open(os.path.join(d, f"data_batch_{b + 1}"), "wb") as f:
            pickle.dump({"data": to_rows(xtr[part]), "labels": ytr[part].tolist()}, f)
    with open(os.path.join(d, "test_batch"), "wb") as f:
        pickle.dump({"data": to_rows(xte), "labels": yte.tolist()}, f)
    with open(os.path.join(d, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"]}, f)


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory):
    """The same stand-in CIFAR-10 as a torchvision folder and as an .npz slice
    laid out like the shared one (first 1,034 of each batch, first 1,017 test)."""
    import torchvision
    root = str(tmp_path_factory.mktemp("cifar"))
    xtr, ytr, xte, yte = _full_cifar()
    _write_torchvision_folder(root, xtr, ytr, xte, yte)
    keep = (np.arange(5)[:, None] * 10000 + np.arange(SLICE_PER_BATCH)).ravel()
    npz = os.path.join(root, "slice.npz")
    np.savez(npz, x_train=xtr[keep], y_train=ytr[keep], x_test=xte[:SLICE_TEST], y_test=yte[:SLICE_TEST])
    mp = pytest.MonkeyPatch()
    mp.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)  # our files, not the md5'd ones
    yield root, npz, (xtr, ytr, xte, yte)
    mp.undo()


def test_the_subset_is_the_documented_indices_of_the_full_download(two_sources):
    root, _, (xtr, ytr, xte, yte) = two_sources
    a, spec = load_arrays("cifar10-5k", root)
    want = np.concatenate([np.arange(b * 10000, b * 10000 + 1000) for b in range(5)])
    assert spec.subset == CIFAR10_5K
    np.testing.assert_array_equal(a.x_train, xtr[want])
    np.testing.assert_array_equal(a.y_train, ytr[want])
    np.testing.assert_array_equal(a.x_test, xte[:1000])
    np.testing.assert_array_equal(a.y_test, yte[:1000])


def test_the_npz_slice_and_the_full_download_give_the_same_subset(two_sources):
    root, npz, _ = two_sources
    full, _ = load_arrays("cifar10-5k", root)
    sliced, spec = load_arrays(f"cifar10-5k:npz:{npz}", root)
    assert spec.name == "cifar10-5k" and spec.zca          # CIFAR-10's preprocessing, not a generic npz's
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(sliced, k), getattr(full, k), err_msg=k)
    # and therefore the same data on the device, the same fingerprint, the same cache keys
    a = load_dataset("cifar10-5k", root, zca=False)
    b = load_dataset(f"cifar10-5k:npz:{npz}", root, zca=False)
    assert dataset_identity(a)["digest"] == dataset_identity(b)["digest"]
    assert (a.x_train == b.x_train).all()


def test_subset_indices_by_hand():
    s = Subset(blocks=2, per_block=2, test=1)
    np.testing.assert_array_equal(s.train_indices(6), [0, 1, 3, 4])
    with pytest.raises(DataError, match="multiple of 2"):
        s.train_indices(7)
    with pytest.raises(DataError, match="at least 4"):
        s.train_indices(2)


def test_the_shared_slice_if_present():
    """The real slice (not needed by the kit; checked when this checkout sits beside it)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "cifar10-mini.npz")
    if not os.path.isfile(path):
        pytest.skip("../shared/data/cifar10-mini.npz is not beside this checkout")
    a, _ = load_arrays(f"cifar10-5k:npz:{path}")
    with np.load(path) as z:
        np.testing.assert_array_equal(a.x_train[1000:1010], z["x_train"][1034:1044])   # batch 2 starts at 1,034
        assert len(z["x_train"]) == 5 * SLICE_PER_BATCH
    assert a.x_train.shape == (5000, 32, 32, 3) and a.x_test.shape == (1000, 32, 32, 3)


def test_the_fingerprint_sees_every_byte():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3000, 4, 4, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 3000)
    base = fingerprint(x, y)
    for i in (1, 1234, 2999):     # images the old every-k-th sample skipped
        x2 = x.copy()
        x2[i, 0, 0, 0] ^= 1
        assert fingerprint(x2, y) != base, i
    y2 = y.copy()
    y2[7] = (y2[7] + 1) % 10
    assert fingerprint(x, y2) != base
    assert fingerprint(x.reshape(3000, 48), y) != base        # the shape counts too


def test_an_edited_image_changes_the_identity_of_a_fixed_mean_std_dataset(two_sources):
    """CIFAR's mean/std are fixed, so the statistics cannot reveal an edit:
    the identity must come from the bytes."""
    root, npz, _ = two_sources
    a = load_dataset(f"cifar10-5k:npz:{npz}", root, preprocess="normalise")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x_train"][3000, 5, 5, 0] ^= 1            # one pixel of one image in the subset
    edited = os.path.join(root, "edited.npz")
    np.savez(edited, **arrays)
    b = load_dataset(f"cifar10-5k:npz:{edited}", root, preprocess="normalise")
    assert dataset_identity(a)["digest"] != dataset_identity(b)["digest"]
