"""Datasets (data.py): the built-in digits, npz and image-folder loaders,
per-class sampling, and a clear error for every bad input."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from datadam_lib import DataError, DatasetNotFoundError, RealData, load_dataset
from datadam_lib.method.data import DATASETS, dataset_status, load_arrays


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- digits

def test_digits_layout_and_normalisation(digits):
    assert digits.num_classes == 10 and digits.channels == 1 and digits.im_size == 32
    assert digits.classes == [str(i) for i in range(10)]
    n = len(digits.y_train)
    assert n + len(digits.y_test) == 1797 and len(digits.y_test) == 360        # fixed stratified 80/20 split
    assert torch.all(digits.y_train[1:] >= digits.y_train[:-1])                  # sorted by class
    assert int(digits.counts.sum()) == n and digits.counts.min() >= 139
    assert torch.equal(digits.offsets, torch.cumsum(digits.counts, 0) - digits.counts)
    for k in range(10):
        block = digits.y_train[digits.offsets[k]:digits.offsets[k] + digits.counts[k]]
        assert torch.all(block == k)
    # mean/std computed on the training split: normalised train has mean 0, std 1
    assert abs(digits.x_train.mean().item()) < 1e-4
    assert abs(digits.x_train.std().item() - 1) < 1e-3
    assert digits.zca is None and digits.x_train.dtype == torch.float32


def test_digits_pixels_round_trip(digits):
    """to_pixels undoes the normalisation: the test images (kept in the
    loader's order) come back as the loader's uint8 pixels / 255, which the
    clamp in to_pixels cannot fake; from_pixels goes back."""
    raw = torch.from_numpy(load_arrays("digits")[0].x_test).permute(0, 3, 1, 2).float() / 255
    x = digits.x_test
    torch.testing.assert_close(digits.to_pixels(x), raw, atol=1e-5, rtol=0)
    torch.testing.assert_close(digits.from_pixels(raw), x, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- sampling

def test_sample_indices_distinct_right_class_deterministic(digits):
    idx = digits.sample_indices(20, gen(0))
    assert idx.shape == (10, 20)
    for k in range(10):
        assert torch.all(digits.y_train[idx[k]] == k)
        assert len(set(idx[k].tolist())) == 20
    assert torch.equal(idx, digits.sample_indices(20, gen(0)))
    assert not torch.equal(idx, digits.sample_indices(20, gen(1)))
    x = digits.sample(20, gen(0))
    assert x.shape == (200, 1, 32, 32) and torch.equal(x, digits.x_train[idx.flatten()])


def test_sample_indices_whole_smallest_class_and_subset_of_classes(digits):
    k = int(digits.counts.argmin())
    n = int(digits.counts.min())
    idx = digits.sample_indices(n, gen(2))
    lo = int(digits.offsets[k])
    assert sorted(idx[k].tolist()) == list(range(lo, lo + n))
    sub = digits.sample_indices(3, gen(3), classes=torch.tensor([7, 2]))
    assert sub.shape == (2, 3)
    assert torch.all(digits.y_train[sub[0]] == 7) and torch.all(digits.y_train[sub[1]] == 2)


def test_sample_indices_unequal_classes_covers_every_image(tiny_data):
    data = tiny_data(counts=(2, 5, 3))
    assert data.counts.tolist() == [2, 5, 3] and data.offsets.tolist() == [0, 2, 7]
    seen = [set() for _ in range(3)]
    g = gen(4)
    for _ in range(40):
        idx = data.sample_indices(2, g)
        for k in range(3):
            assert torch.all(data.y_train[idx[k]] == k) and idx[k][0] != idx[k][1]
            seen[k] |= set(idx[k].tolist())
    assert seen == [{0, 1}, set(range(2, 7)), {7, 8, 9}]


def test_asking_for_more_images_than_a_class_has(tiny_data):
    data = tiny_data(counts=(4, 3, 5))
    with pytest.raises(DataError, match=r"asked for 4 images per class but class 1 \('c1'\).*has only 3"):
        data.sample_indices(4, gen(0))
    assert data.sample_indices(3, gen(0)).shape == (3, 3)


def test_realdata_sorts_by_class_keeping_pairs():
    g = gen(0)
    x = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 1, 2, 2).contiguous()
    y = torch.tensor([2, 0, 1, 0, 2, 1])
    d = RealData("t", x, y, x[:3], y[:3], ["a", "b", "c"], torch.zeros(1), torch.ones(1))
    assert d.y_train.tolist() == [0, 0, 1, 1, 2, 2]
    assert d.x_train[:, 0, 0, 0].tolist() == [1, 3, 2, 5, 0, 4]     # stable sort, images follow labels
    assert d.sample(2, g).shape == (6, 1, 2, 2)


# ---------------------------------------------------------------- npz and folder datasets

def _npz(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path}"


def _good_arrays(n_per_class=3, classes=2, size=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    return dict(x_train=rng.integers(0, 256, (len(y), size, size, 3), dtype=np.uint8), y_train=y,
                x_test=rng.integers(0, 256, (classes, size, size, 3), dtype=np.uint8), y_test=np.arange(classes))


def test_npz_uint8_nhwc(tmp_path):
    a = _good_arrays()
    name = _npz(tmp_path / "d.npz", **a, classes=np.array(["cat", "dog"]))
    data = load_dataset(name, zca=False)
    assert data.classes == ["cat", "dog"] and data.channels == 3 and data.im_size == 4
    # per-channel mean/std of the training split
    raw = torch.from_numpy(a["x_train"]).float().div(255).permute(0, 3, 1, 2)
    torch.testing.assert_close(data.mean, raw.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(data.to_pixels(data.x_train), raw, atol=1e-5, rtol=0)


def test_npz_float_nchw_and_grayscale(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((4, 1, 5, 5))                                  # float in [0, 1], (N, C, H, W)
    name = _npz(tmp_path / "f.npz", x_train=x, y_train=np.array([1, 0, 1, 0]), x_test=x[:2], y_test=np.array([0, 1]))
    data = load_dataset(name)
    assert data.channels == 1 and data.im_size == 5 and data.classes == ["0", "1"]
    want = torch.from_numpy((np.clip(x, 0, 1) * 255).round() / 255).float()[[1, 3, 0, 2]]   # class-sorted
    torch.testing.assert_close(data.to_pixels(data.x_train), want, atol=1e-5, rtol=0)
    # (N, H, W) without a channel axis is grayscale too
    name = _npz(tmp_path / "g.npz", x_train=x[:, 0], y_train=np.array([1, 0, 1, 0]), x_test=x[:2, 0],
                y_test=np.array([0, 1]))
    assert load_dataset(name).channels == 1


def test_image_folder(tmp_path):
    from PIL import Image
    colours = {"blue": (0, 0, 255), "red": (255, 0, 0)}
    for split, n in (("train", 3), ("test", 1)):
        for c, rgb in colours.items():
            os.makedirs(tmp_path / split / c)
            for i in range(n):
                Image.new("RGB", (12, 10), rgb).save(tmp_path / split / c / f"{i}.png")
    data = load_dataset(f"folder:{tmp_path}", im_size=8)
    # the green channel is 0 everywhere (std 0): it must not become 0/0 = NaN
    assert torch.isfinite(data.x_train).all() and torch.isfinite(data.x_test).all()
    assert data.classes == ["blue", "red"] and data.x_train.shape == (6, 3, 8, 8)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1] and data.y_test.tolist() == [0, 1]
    pix = data.to_pixels(data.x_train)
    torch.testing.assert_close(pix[0, :, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(pix[5, :, 3, 3], torch.tensor([1.0, 0.0, 0.0]))


# ---------------------------------------------------------------- errors

def test_unknown_dataset_name():
    with pytest.raises(KeyError, match="unknown dataset 'cifar11'.*digits"):
        load_dataset("cifar11")


def test_cifar10_with_an_empty_root(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("cifar10", root=str(tmp_path))
    msg = str(e.value)
    assert "not found" in msg and str(tmp_path) in msg and "cifar-10-batches-py" in msg and "download" in msg
    assert isinstance(e.value, FileNotFoundError)          # catchable as the built-in too


@pytest.mark.parametrize("name", ["cifar100", "tinyimagenet", "imagenet64", "imagenette", "imagewoof"])
def test_other_registered_datasets_missing(tmp_path, name):
    with pytest.raises(DatasetNotFoundError, match="not found"):
        load_dataset(name, root=str(tmp_path))


def test_npz_path_that_does_not_exist(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(DatasetNotFoundError, match=f"not found at {path}"):
        load_dataset(f"npz:{path}")


def test_folder_without_train_test(tmp_path):
    os.makedirs(tmp_path / "train" / "a")
    with pytest.raises(DatasetNotFoundError, match="train/<class>"):
        load_dataset(f"folder:{tmp_path}")


def test_npz_with_2d_images(tmp_path):
    a = _good_arrays()
    a["x_train"] = a["x_train"].reshape(len(a["x_train"]), -1)
    with pytest.raises(DataError, match=r"x_train has shape \(6, 48\)"):
        load_dataset(_npz(tmp_path / "d.npz", **a))


def test_npz_labels_images_length_mismatch(tmp_path):
    a = _good_arrays()
    a["y_train"] = a["y_train"][:-1]
    with pytest.raises(DataError, match="train has 6 images but 5 labels"):
        load_dataset(_npz(tmp_path / "d.npz", **a))


def test_npz_with_nan(tmp_path):
    a = _good_arrays()
    x = a["x_train"].astype(np.float32) / 255
    x[2, 1, 1, 0] = np.nan
    a["x_train"] = x
    with pytest.raises(DataError, match="x_train contains NaN"):
        load_dataset(_npz(tmp_path / "d.npz", **a))


def test_npz_missing_array_and_garbage_file(tmp_path):
    a = _good_arrays()
    del a["y_test"]
    with pytest.raises(DataError, match="missing array.*y_test"):
        load_dataset(_npz(tmp_path / "d.npz", **a))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(DataError, match="not an .npz archive") as e:
        load_dataset(f"npz:{bad}")
    assert "pickle" not in str(e.value)             # numpy's advice to allow pickles would be wrong here


def test_npz_labels_out_of_range_and_empty_class(tmp_path):
    a = _good_arrays()
    with pytest.raises(DataError, match="labels span 0..1 but there are 1 classes"):
        load_dataset(_npz(tmp_path / "a.npz", **a, classes=np.array(["only"])))
    a = _good_arrays(classes=3)
    a["y_train"] = np.where(a["y_train"] == 1, 2, a["y_train"])     # class 1 has no training image
    with pytest.raises(DataError, match=r"classes \[1\] have no training images"):
        load_dataset(_npz(tmp_path / "b.npz", **a))


def test_npz_train_test_shapes_differ(tmp_path):
    a = _good_arrays()
    a["x_test"] = np.zeros((2, 5, 5, 3), np.uint8)
    with pytest.raises(DataError, match="differ in shape"):
        load_dataset(_npz(tmp_path / "d.npz", **a))


def test_non_square_images(tmp_path):
    a = _good_arrays()
    a["x_train"] = np.zeros((6, 4, 5, 3), np.uint8)
    with pytest.raises(DataError, match="expected square"):
        load_dataset(_npz(tmp_path / "d.npz", **a))


# ---------------------------------------------------------------- registry

def test_registry_and_status(tmp_path):
    assert {"digits", "cifar10", "cifar100", "tinyimagenet", "imagenet64", "imagenette", "imagewoof",
            "imagesquawk"} <= set(DATASETS)
    assert DATASETS["cifar10"].zca and not DATASETS["digits"].zca
    rows = {r["name"]: r for r in dataset_status(str(tmp_path))}
    assert rows["digits"]["present"] is True and rows["cifar10"]["present"] is False
    arrays, spec = load_arrays("digits")
    assert arrays.x_train.dtype == np.uint8 and arrays.x_train.shape[1:] == (32, 32, 1)


# ---------------------------------------------------------------- npz encodings that mean the same data

def _same_data(a, b):
    for k in ("x_train", "y_train", "x_test", "y_test"):
        torch.testing.assert_close(getattr(a, k), getattr(b, k), atol=0, rtol=0)
    assert a.classes == b.classes


@pytest.mark.parametrize("encode", [
    lambda x: x.astype(np.float32),                           # floats on the 0..255 scale (was clipped to [0, 1])
    lambda x: x.astype(np.float64) / 255,                     # floats in [0, 1]
    lambda x: x.astype(np.int64),                             # integers 0..255 of another dtype
    lambda x: x.astype(np.float32).transpose(0, 3, 1, 2),     # (N, C, H, W)
])
def test_npz_images_in_any_unambiguous_encoding_give_the_same_data(tmp_path, encode):
    a = _good_arrays(n_per_class=4)
    ref = load_dataset(_npz(tmp_path / "ref.npz", **a), zca=False)
    enc = {**a, "x_train": encode(a["x_train"]), "x_test": encode(a["x_test"])}
    _same_data(load_dataset(_npz(tmp_path / "enc.npz", **enc), zca=False), ref)


def test_npz_float_0_255_is_not_clipped_to_near_binary_images(tmp_path):
    a = _good_arrays(n_per_class=4)
    data = load_dataset(_npz(tmp_path / "f.npz", **{**a, "x_train": a["x_train"].astype(np.float32),
                                                    "x_test": a["x_test"].astype(np.float32)}))
    pixels = data.to_pixels(data.x_train)
    assert len(torch.unique((pixels * 255).round())) > 100            # all the grey levels, not just 0 and 255


@pytest.mark.parametrize("x_train,x_test,message", [
    (np.full((6, 4, 4, 3), 300.0), None, r"spans \[300, 300\], which is neither"),
    (np.linspace(-2, 2, 6 * 48).reshape(6, 4, 4, 3), None, "undo a mean/std normalisation"),
    (np.linspace(0, 1.5, 6 * 48).reshape(6, 4, 4, 3), None, "neither"),
    (np.linspace(0, 255, 6 * 48).reshape(6, 4, 4, 3), np.full((2, 4, 4, 3), 0.5),
     r"x_train looks like \[0, 255\] pixels but x_test like \[0, 1\]"),
    (np.full((6, 4, 4, 3), 1000, np.uint16), None, r"values in \[1000, 1000\], outside 0..255"),
    (np.ones((6, 4, 4, 3), np.int32), None, "holds only 0 and 1"),
])
def test_npz_pixels_on_no_clear_scale_are_refused(tmp_path, x_train, x_test, message):
    a = _good_arrays()
    a["x_train"] = x_train
    if x_test is not None:
        a["x_test"] = x_test
    with pytest.raises(DataError, match=message):
        load_dataset(_npz(tmp_path / "d.npz", **a))


def test_npz_one_hot_and_string_labels(tmp_path):
    a = _good_arrays(n_per_class=3, classes=3)
    ref = load_dataset(_npz(tmp_path / "ref.npz", **a, classes=np.array(["cat", "dog", "emu"])), zca=False)
    eye = np.eye(3, dtype=np.float32)
    one_hot = load_dataset(_npz(tmp_path / "oh.npz", **{**a, "y_train": eye[a["y_train"]], "y_test": eye[a["y_test"]]},
                                classes=np.array(["cat", "dog", "emu"])), zca=False)
    _same_data(one_hot, ref)
    names = np.array(["cat", "dog", "emu"])
    strings = load_dataset(_npz(tmp_path / "s.npz", **{**a, "y_train": names[a["y_train"]],
                                                       "y_test": names[a["y_test"]]}), zca=False)
    _same_data(strings, ref)                                      # sorted names: cat, dog, emu
    order = np.array(["emu", "cat", "dog"])                      # the classes array fixes another order
    given = load_dataset(_npz(tmp_path / "g.npz", **{**a, "y_train": names[a["y_train"]],
                                                     "y_test": names[a["y_test"]]}, classes=order), zca=False)
    assert given.classes == ["emu", "cat", "dog"]
    for c in names:                                              # each name keeps its own images
        torch.testing.assert_close(given.x_train[given.y_train == given.classes.index(c)],
                                   ref.x_train[ref.y_train == ref.classes.index(c)], atol=0, rtol=0)
    column = load_dataset(_npz(tmp_path / "c.npz", **{**a, "y_train": a["y_train"][:, None]},
                               classes=np.array(["cat", "dog", "emu"])), zca=False)
    _same_data(column, ref)                                      # (N, 1) labels


@pytest.mark.parametrize("change,message", [
    ({"y_train": np.full((6, 2), 0.5)}, r"y_train has shape \(6, 2\) but is not one-hot"),
    ({"y_train": np.array(["a", "b", "a", "b", "a", "b"]), "y_test": np.array(["a", "b"]), "classes": np.array(["a"])},
     r"labels \['b'\] are not in its classes array \['a'\]"),
    ({"y_train": np.array(["a", "b", "a", "b", "a", "b"])}, "mix class names and numbers"),
    ({"y_train": np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.5])}, "holds values that are not class indices"),
    ({"y_train": np.array([[[0]]] * 6)}, r"y_train has shape \(6, 1, 1\)"),
])
def test_npz_labels_that_are_not_classes_are_refused(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        load_dataset(_npz(tmp_path / "d.npz", **{**_good_arrays(), **change}))


def test_npz_object_arrays_are_refused_without_pickle_advice(tmp_path):
    a = _good_arrays()
    a["y_train"] = np.array([0, "1", 0, 1, 0, 1], dtype=object)
    np.savez(tmp_path / "o.npz", **a)                                # np.savez pickles object arrays
    with pytest.raises(DataError, match="array 'y_train' holds Python objects") as e:
        load_dataset(f"npz:{tmp_path / 'o.npz'}")
    assert "allow_pickle" not in str(e.value)


# ---------------------------------------------------------------- folder datasets and splits

def _colour_folder(root, test_classes=("blue", "red")):
    from PIL import Image
    for split, classes in (("train", ("blue", "red")), ("test", test_classes)):
        for c in classes:
            os.makedirs(root / split / c)
            Image.new("RGB", (8, 8), (0, 0, 255) if c == "blue" else (255, 0, 0)).save(root / split / c / "0.png")


def test_a_folder_whose_test_split_lacks_a_class_is_refused(tmp_path):
    """It used to score 100 %: the missing class was never tested."""
    _colour_folder(tmp_path, test_classes=("blue",))
    with pytest.raises(DataError, match=r"classes \[1\] have no test images \('red'\)"):
        load_dataset(f"folder:{tmp_path}", im_size=8)


def test_a_folder_with_an_extra_test_class_or_a_broken_image_is_refused(tmp_path):
    _colour_folder(tmp_path / "a", test_classes=("blue", "red", "green"))
    with pytest.raises(DataError, match=r"has classes \['green'\] that .* does not"):
        load_dataset(f"folder:{tmp_path / 'a'}", im_size=8)
    _colour_folder(tmp_path / "b")
    (tmp_path / "b" / "train" / "red" / "1.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DataError, match=r"1.jpg: not a readable image \(UnidentifiedImageError\); remove or replace"):
        load_dataset(f"folder:{tmp_path / 'b'}", im_size=8)


def test_an_empty_split_is_refused(tmp_path):
    a = _good_arrays()
    a["x_test"], a["y_test"] = a["x_test"][:0], a["y_test"][:0]
    with pytest.raises(DataError, match="the test split has no images"):
        load_dataset(_npz(tmp_path / "d.npz", **a))
