"""Datasets (supplement Sec. 1.1 and Table 1), held on the device as tensors.

Every loader returns uint8 arrays in (N, H, W, C) layout plus int labels, the
torchvision convention; :class:`RealData` normalises them (per-dataset
mean/std), optionally ZCA-whitens them (CIFAR, supplement Sec. 1.2), sorts them
by class and samples ``batch_real`` images per class from a generator with one
vectorised call.

Loaders take ``root`` and ``download`` like torchvision datasets and raise one
:class:`DatasetNotFoundError` naming the path looked at, the layout expected
and how to get it.
"""
from __future__ import annotations

import glob
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Supplement Table 1, as ImageNet WordNet ids in the table's order.
IMAGENET_SUBSETS: dict[str, list[tuple[str, str]]] = {
    "imagenette": [
        ("n01440764", "tench"), ("n02102040", "English springer"), ("n02979186", "cassette player"),
        ("n03000684", "chainsaw"), ("n03028079", "church"), ("n03394916", "French horn"),
        ("n03417042", "garbage truck"), ("n03425413", "gas pump"), ("n03445777", "golf ball"),
        ("n03888605", "parachute")],
    "imagewoof": [
        ("n02096294", "Australian terrier"), ("n02093754", "Border terrier"), ("n02111889", "Samoyed"),
        ("n02088364", "beagle"), ("n02086240", "Shih-Tzu"), ("n02089973", "English foxhound"),
        ("n02087394", "Rhodesian ridgeback"), ("n02115641", "dingo"), ("n02099601", "golden retriever"),
        ("n02105641", "Old English sheepdog")],
    "imagesquawk": [
        ("n01806143", "peacock"), ("n02007558", "flamingo"), ("n01818515", "macaw"),
        ("n02051845", "pelican"), ("n02056570", "king penguin"), ("n01614925", "bald eagle"),
        ("n01843383", "toucan"), ("n01518878", "ostrich"), ("n01860187", "black swan"),
        ("n01819313", "cockatoo")],
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing or malformed; the message says what to do."""


class DataError(ValueError):
    """Data that cannot be used as given (NaN, wrong shapes, too few images)."""


@dataclass
class Arrays:
    """Raw splits: uint8 (N, H, W, C) images and int64 labels."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]


@dataclass(frozen=True)
class Subset:
    """A fixed, documented part of a dataset: the first ``per_block`` training
    images of each of ``blocks`` equal consecutive parts of the training split,
    and the first ``test`` test images.

    For CIFAR-10 the five parts are torchvision's five training batches
    (10,000 images each), so ``Subset(5, 1000, 1000)`` is training indices
    ``b * 10000 + [0, 1000)``, b = 0..4, and test indices ``[0, 1000)``. The
    same rule on an .npz holding the first M >= 1,000 images of each batch in
    order (e.g. a slice with M = 1,034) picks ``b * M + [0, 1000)``: the same
    images (tests/test_subset.py proves it)."""
    blocks: int
    per_block: int
    test: int

    def train_indices(self, n: int) -> np.ndarray:
        if n % self.blocks or n // self.blocks < self.per_block:
            raise DataError(f"this subset takes the first {self.per_block} images of each of {self.blocks} equal "
                            f"parts of the training split, but it holds {n} images (need a multiple of "
                            f"{self.blocks}, at least {self.blocks * self.per_block})")
        m = n // self.blocks
        return (np.arange(self.blocks)[:, None] * m + np.arange(self.per_block)).ravel()

    def apply(self, a: Arrays) -> Arrays:
        if len(a.x_test) < self.test:
            raise DataError(f"this subset takes the first {self.test} test images, but the test split holds "
                            f"{len(a.x_test)}")
        i = self.train_indices(len(a.x_train))
        return Arrays(a.x_train[i], a.y_train[i], a.x_test[:self.test], a.y_test[:self.test], a.classes)

    def describe(self) -> str:
        return (f"the first {self.per_block:,} images of each of the {self.blocks} training batches "
                f"({self.blocks * self.per_block:,}) and the first {self.test:,} test images")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    loader: Callable[[str, bool], Arrays]
    location: str                    # where it is looked for, relative to root
    im_size: int | None = None       # None: whatever the files hold
    mean: tuple[float, ...] | None = None  # None: computed on the training split
    std: tuple[float, ...] | None = None
    zca: bool = False                # supplement Sec. 1.2: ZCA for CIFAR only
    how_to_get: str = ""
    subset: Subset | None = None     # a fixed part of what the loader reads (Subset)


def _missing(name: str, path: str, layout: str, how: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"dataset {name!r} not found at {path}\n  expected: {layout}\n  to get it: {how}")


# ---------------------------------------------------------------- loaders

def _digits(root: str, download: bool) -> Arrays:
    """scikit-learn's bundled 8x8 digits (1,797 images), bilinearly upsampled to
    32x32; a fixed stratified 80/20 split (seed 0). Needs no download."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.from_numpy(d.images).float()[:, None] / 16.0
    x = F.interpolate(x, size=32, mode="bilinear", align_corners=False).clamp(0, 1)
    x = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, stratify=d.target, random_state=0)
    return Arrays(xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), [str(i) for i in range(10)])


def _torchvision_cifar(cls_name: str, folder: str) -> Callable[[str, bool], Arrays]:
    def load(root: str, download: bool) -> Arrays:
        import torchvision
        cls = getattr(torchvision.datasets, cls_name)
        path = os.path.join(root, folder)
        if not download and not os.path.isdir(path):
            raise _missing(cls_name.lower(), path, f"torchvision's {folder}/ (python pickle batches)",
                           f"pass download=True (CLI: --download) or put {folder}/ under {root}")
        try:
            tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
        except RuntimeError as e:
            raise _missing(cls_name.lower(), path, f"torchvision's {folder}/", f"re-download ({e})") from None
        return Arrays(tr.data, np.asarray(tr.targets, np.int64), te.data, np.asarray(te.targets, np.int64),
                      list(tr.classes))
    return load


def _read_images(files: list[str], size: int) -> np.ndarray:
    from PIL import Image
    out = np.empty((len(files), size, size, 3), np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                out[i] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
        except (OSError, ValueError, Image.DecompressionBombError) as e:   # PIL's UnidentifiedImageError is an OSError
            raise DataError(f"{f}: not a readable image ({type(e).__name__}); remove or replace it") from None
    return out


# what a folder dataset reads (PIL opens each; a GIF gives its first frame); other files are not images
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def _class_files(folder: str) -> list[str]:
    """The image files under one class folder, sorted; hidden names skipped
    (a Mac's ``._x.jpg``). A link to a directory inside it is refused, not
    followed: one link (``up -> ..``) would bring every other class's images in
    under this class's label."""
    files = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for d in dirs:
            if os.path.islink(os.path.join(here, d)):
                raise DataError(f"{os.path.join(here, d)} is a link to a directory inside class folder {folder}; "
                                "the kit does not follow such links (they can bring in other classes' images): "
                                "copy the images in or remove the link")
        files += [os.path.join(here, n) for n in names if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")]
    return sorted(files)


def _folder_split(path: str, classes: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    files, labels = [], []
    for k, c in enumerate(classes):
        fs = _class_files(os.path.join(path, c))
        files += fs
        labels += [k] * len(fs)
    return _read_images(files, size), np.asarray(labels, np.int64)


def image_folder(root: str, size: int, name: str = "folder", classes: list[str] | None = None,
                 names: list[str] | None = None) -> Arrays:
    """A folder with ``train/<class>/*`` and ``test/<class>/*`` (or ``val/``),
    resized to ``size`` x ``size``: every file named ``*.bmp``, ``.gif``,
    ``.jpeg``, ``.jpg``, ``.png``, ``.tif``, ``.tiff`` or ``.webp`` under a
    class folder, in subfolders too (links to directories refused)."""
    train = os.path.join(root, "train")
    test = next((os.path.join(root, s) for s in ("test", "val") if os.path.isdir(os.path.join(root, s))), None)
    if not os.path.isdir(train) or test is None:
        raise _missing(name, root, "train/<class>/*.jpg and test/<class>/*.jpg (or val/)",
                       "arrange the images in that layout")
    classes = classes or sorted(c for c in os.listdir(train) if os.path.isdir(os.path.join(train, c)))
    missing = [c for c in classes if not os.path.isdir(os.path.join(train, c))]
    if missing:
        raise _missing(name, train, f"one folder per class, e.g. {missing[0]}/", "download the full set")
    extra = sorted(set(c for c in os.listdir(test) if os.path.isdir(os.path.join(test, c))) - set(classes))
    if extra:
        raise DataError(f"{name}: {test} has classes {extra[:5]} that {train} does not; "
                        "the two splits need the same class folders")
    xtr, ytr = _folder_split(train, classes, size)
    xte, yte = _folder_split(test, classes, size)
    return Arrays(xtr, ytr, xte, yte, names or classes)


def _imagenet_subset(name: str) -> Callable[[str, bool], Arrays]:
    def load(root: str, download: bool) -> Arrays:
        wnids, names = zip(*IMAGENET_SUBSETS[name])
        for cand in (os.path.join(root, name), os.path.join(root, "imagenet")):
            if os.path.isdir(os.path.join(cand, "train")):
                return image_folder(cand, 128, name, list(wnids), list(names))
        raise _missing(name, os.path.join(root, name), "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG "
                       f"for the 10 WordNet ids of supplement Table 1 (or a full ImageNet at {root}/imagenet)",
                       "extract ImageNet (or fast.ai's imagenette2/imagewoof2) there")
    return load


def _tinyimagenet(root: str, download: bool) -> Arrays:
    path = os.path.join(root, "tiny-imagenet-200")
    wnids_file = os.path.join(path, "wnids.txt")
    if not os.path.isfile(wnids_file):
        raise _missing("tinyimagenet", path, "wnids.txt, train/<wnid>/images/*.JPEG, val/val_annotations.txt",
                       "download and unzip tiny-imagenet-200.zip from the CS231n site there")
    wnids = open(wnids_file).read().split()
    xtr, ytr = _folder_split(os.path.join(path, "train"), wnids, 64)
    ann = [line.split("\t")[:2] for line in open(os.path.join(path, "val", "val_annotations.txt"))]
    files = [os.path.join(path, "val", "images", f) for f, _ in ann]
    yte = np.asarray([wnids.index(w) for _, w in ann], np.int64)
    return Arrays(xtr, ytr, _read_images(files, 64), yte, wnids)


def _imagenet64(root: str, download: bool) -> Arrays:
    """Downsampled ImageNet 64x64 (Chrabaszcz et al.): train_data_batch_*.npz
    and val_data.npz with 'data' (N, 12288) and 1-based 'labels'."""
    path = os.path.join(root, "imagenet64")
    batches = sorted(glob.glob(os.path.join(path, "train_data_batch_*.npz")))
    if not batches or not os.path.isfile(os.path.join(path, "val_data.npz")):
        raise _missing("imagenet64", path, "train_data_batch_1..10.npz and val_data.npz",
                       "download 'Imagenet64_train' and 'Imagenet64_val' (npz) from image-net.org")

    def read(files):
        parts = [np.load(f) for f in files]
        x = np.concatenate([p["data"] for p in parts]).reshape(-1, 3, 64, 64).transpose(0, 2, 3, 1)
        return x, np.concatenate([p["labels"] for p in parts]).astype(np.int64) - 1
    xtr, ytr = read(batches)
    xte, yte = read([os.path.join(path, "val_data.npz")])
    return Arrays(xtr, ytr, xte, yte, [str(i) for i in range(1000)])


def load_npz(path: str) -> Arrays:
    """Any ``.npz`` with x_train, y_train, x_test, y_test and optionally ``classes``.

    Images: (N, H, W, C), (N, C, H, W) or (N, H, W); uint8, integers in
    0..255, or floats in [0, 1] or [0, 255] (the values' range says which,
    and both splits must agree; anything else is refused, never clipped).
    Labels: class indices (N,), one-hot rows (N, K), or class names (strings,
    ordered as ``classes`` when given, else sorted). Arrays of Python objects
    are refused: loading them could run code."""
    if not os.path.isfile(path):
        raise _missing("npz", path, "an .npz file with x_train, y_train, x_test, y_test",
                       "check the path (pass --dataset npz:/path/to/file.npz)")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz archive (a zip of .npy arrays); "
                        "write one with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
    keys = ("x_train", "y_train", "x_test", "y_test")
    a: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; an .npz dataset needs {', '.join(keys)}")
            for k in keys + (("classes",) if "classes" in z.files else ()):
                try:
                    a[k] = z[k]
                except ValueError:   # numpy refuses object arrays without allow_pickle, rightly
                    raise DataError(f"{path}: array {k!r} holds Python objects (dtype=object), which the kit does "
                                    "not load; save it as numbers, or names as fixed-width strings "
                                    "(numpy.asarray(names, dtype=str))") from None
    except DataError:
        raise
    except Exception as e:  # a damaged zip or .npy member
        raise DataError(f"{path}: not a readable .npz ({type(e).__name__}); re-create or re-download it") from None
    classes = [str(c) for c in a["classes"].astype(str)] if "classes" in a else None
    (y_train, y_test), classes = _labels(path, a["y_train"], a["y_test"], classes)
    x_train, x_test = _pixels_uint8(path, a["x_train"], a["x_test"])
    return Arrays(x_train, y_train, x_test, y_test, classes)


def _labels(path: str, y_train: np.ndarray, y_test: np.ndarray,
            classes: list[str] | None) -> tuple[tuple[np.ndarray, np.ndarray], list[str]]:
    """int64 class indices of both splits, and the class names."""
    ys, width = {}, 0
    for key, y in (("y_train", y_train), ("y_test", y_test)):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        elif y.ndim == 2 and y.dtype.kind in "biuf":
            if not (np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all()):
                raise DataError(f"{path}: {key} has shape {y.shape} but is not one-hot (each row zeros and a single "
                                "1); give class indices of shape (N,)")
            width = max(width, y.shape[1])
            y = y.argmax(1)
        elif y.ndim != 1:
            raise DataError(f"{path}: {key} has shape {y.shape}; expected class indices (N,) or one-hot rows (N, K)")
        ys[key] = y
    kinds = {y.dtype.kind for y in ys.values()}
    if kinds & set("US"):                      # class names
        if not kinds <= set("US"):
            raise DataError(f"{path}: y_train and y_test mix class names and numbers; use one or the other")
        names = [str(v) for v in np.concatenate([y.astype(str) for y in ys.values()])]
        classes = classes or sorted(set(names))
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise DataError(f"{path}: labels {unknown[:5]} are not in its classes array {classes[:10]}")
        index = {c: i for i, c in enumerate(classes)}
        out = tuple(np.asarray([index[v] for v in y.astype(str).tolist()], np.int64) for y in ys.values())
        return out, classes
    for key, y in ys.items():
        if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all())):
            raise DataError(f"{path}: {key} ({y.dtype}) holds values that are not class indices; "
                            "labels must be integers 0..K-1, one-hot rows or class names")
    out = tuple(y.astype(np.int64) for y in ys.values())
    num = max([width] + [int(y.max()) + 1 for y in out if len(y)])
    if classes is None and num > len(out[0]):   # every class needs training images: this many cannot all have them
        raise DataError(f"{path}: labels go up to {num - 1} but there are only {len(out[0])} training images; "
                        "labels must be class indices 0..K-1")
    return out, classes or [str(i) for i in range(num)]


def _nhwc(path: str, key: str, a: np.ndarray) -> np.ndarray:
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise DataError(f"{path}: {key} has shape {a.shape}; expected (N, H, W, C) or (N, C, H, W)")
    if a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(0, 2, 3, 1)
    return a


def _pixel_scale(path: str, key: str, a: np.ndarray) -> float:
    """255 or 1: the pixel range ``a`` is in, or a DataError when that is not
    clear. Integers: 0..255. Floats: [0, 1] when no value is above 1, [0, 255]
    when the largest is at least 2 (images in [0, 255] that are all below 2 are
    not plausible; a [0, 1] image set never goes above 1 by more than rounding)."""
    if a.dtype.kind == "b":
        return 1.0
    if a.dtype.kind not in "iuf":
        raise DataError(f"{path}: {key} has dtype {a.dtype}; images must be numbers")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{path}: {key} contains NaN or infinite values; clean the data first")
    lo, hi = float(a.min()), float(a.max())
    tol = 1e-3                                 # rounding of a conversion, not a different range
    if a.dtype.kind in "iu":
        if lo >= 0 and hi <= 255 and hi > 1:
            return 255.0
        what = "only 0 and 1 (binary images? save them as bool, or as uint8 0/255)" if lo >= 0 and hi <= 1 \
            else f"values in [{lo:g}, {hi:g}], outside 0..255"
        raise DataError(f"{path}: {key} ({a.dtype}) holds {what}; give pixels as uint8 0..255 or floats in [0, 1]")
    if lo >= -tol and hi <= 1 + tol:
        return 1.0
    if lo >= -255 * tol and 2 <= hi <= 255 * (1 + tol):
        return 255.0
    raise DataError(f"{path}: {key} ({a.dtype}) spans [{lo:.4g}, {hi:.4g}], which is neither [0, 1] nor [0, 255] "
                    "pixels; rescale it (e.g. undo a mean/std normalisation) before loading")


def _pixels_uint8(path: str, x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both splits as uint8 (N, H, W, C) 0..255, on one pixel scale."""
    out, scales = [], {}
    for key, a in (("x_train", x_train), ("x_test", x_test)):
        a = _nhwc(path, key, a)
        if a.dtype != np.uint8 and a.size:
            scales[key] = _pixel_scale(path, key, a)
            a = (np.clip(a.astype(np.float32) * (255.0 / scales[key]), 0, 255)).round().astype(np.uint8)
        out.append(a)
    if len(set(scales.values())) > 1:
        raise DataError(f"{path}: x_train looks like [0, {scales['x_train']:g}] pixels but x_test like "
                        f"[0, {scales['x_test']:g}]; give both splits on one scale")
    return out[0], out[1]


CIFAR10_5K = Subset(blocks=5, per_block=1000, test=1000)   # the real images of the committed quick figures

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    DatasetSpec("digits", "scikit-learn 8x8 digits upsampled to 32x32 (built in)", _digits,
                "bundled with scikit-learn", 32, how_to_get="nothing: it ships with scikit-learn"),
    DatasetSpec("cifar10", "CIFAR-10, 32x32, 10 classes", _torchvision_cifar("CIFAR10", "cifar-10-batches-py"),
                "cifar-10-batches-py", 32, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), zca=True,
                how_to_get="--download (torchvision)"),
    DatasetSpec("cifar10-5k", f"CIFAR-10 quick-scale subset: {CIFAR10_5K.describe()}",
                _torchvision_cifar("CIFAR10", "cifar-10-batches-py"), "cifar-10-batches-py", 32,
                (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), zca=True, subset=CIFAR10_5K,
                how_to_get="--download (torchvision's CIFAR-10), or cifar10-5k:npz:PATH for an .npz holding the "
                           "first M >= 1,000 images of each training batch in order and the first 1,000 test images"),
    DatasetSpec("cifar100", "CIFAR-100, 32x32, 100 classes", _torchvision_cifar("CIFAR100", "cifar-100-python"),
                "cifar-100-python", 32, (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762), zca=True,
                how_to_get="--download (torchvision)"),
    DatasetSpec("tinyimagenet", "TinyImageNet, 64x64, 200 classes", _tinyimagenet, "tiny-imagenet-200",
                64, IMAGENET_MEAN, IMAGENET_STD, how_to_get="unzip tiny-imagenet-200.zip"),
    DatasetSpec("imagenet64", "ImageNet-1K downsampled to 64x64, 1,000 classes", _imagenet64, "imagenet64",
                64, IMAGENET_MEAN, IMAGENET_STD, how_to_get="Imagenet64 npz batches from image-net.org"),
] + [
    DatasetSpec(n, f"{n.capitalize()}, ImageNet subset of supplement Table 1, 128x128", _imagenet_subset(n),
                n, 128, IMAGENET_MEAN, IMAGENET_STD, how_to_get="ImageNet train/val folders of its 10 wnids")
    for n in IMAGENET_SUBSETS
]}


def dataset_status(root: str) -> list[dict]:
    """Each registered dataset, where it is looked for, and whether it is there."""
    rows = []
    for s in DATASETS.values():
        path = s.location if s.name == "digits" else os.path.join(root, s.location)
        present = s.name == "digits" or os.path.exists(path)
        if s.name in IMAGENET_SUBSETS and not present:
            path2 = os.path.join(root, "imagenet")
            present = os.path.isdir(os.path.join(path2, "train"))
        rows.append({"name": s.name, "description": s.description, "path": path, "present": present,
                     "how_to_get": s.how_to_get})
    rows.append({"name": "npz:PATH", "description": "any .npz with x_train/y_train/x_test/y_test",
                 "path": "PATH", "present": None, "how_to_get": "bring your own"})
    rows.append({"name": "folder:PATH", "description": "any train/<class>/ + test/<class>/ image folder",
                 "path": "PATH", "present": None, "how_to_get": "bring your own"})
    return rows


def load_arrays(name: str, root: str = "data", download: bool = False, im_size: int = 32) -> tuple[Arrays, DatasetSpec]:
    """Raw arrays and the spec for a registered name, ``npz:PATH``,
    ``folder:PATH``, or ``NAME:npz:PATH``: a registered dataset's images read
    from an .npz instead of its own files, with everything else of ``NAME``
    (classes, mean/std, ZCA, subset), e.g. ``cifar10-5k:npz:cifar10-mini.npz``."""
    head, sep, rest = name.partition(":")
    if sep and head in DATASETS and rest.startswith("npz:"):
        spec = DATASETS[head]
        arrays = load_npz(rest[4:])
        return (spec.subset.apply(arrays) if spec.subset else arrays), spec
    if name.startswith("npz:"):
        path = name[4:]
        return load_npz(path), DatasetSpec(name, f"npz file {path}", lambda r, d: None, path)
    if name.startswith("folder:"):
        path = name[7:]
        return image_folder(path, im_size, name), DatasetSpec(name, f"image folder {path}", lambda r, d: None, path,
                                                              im_size)
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}, "
                       "npz:/path/to/file.npz or folder:/path/to/images (see `python -m datadam_lib datasets`)")
    spec = DATASETS[name]
    arrays = spec.loader(root, download)
    return (spec.subset.apply(arrays) if spec.subset else arrays), spec


@dataclass
class RealData:
    """A dataset on the device: normalised (and, for CIFAR, ZCA-whitened)
    float images sorted by class, with per-class offsets for sampling."""
    name: str
    x_train: torch.Tensor   # (N, C, H, W), class-sorted
    y_train: torch.Tensor   # (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    mean: torch.Tensor      # (C,)
    std: torch.Tensor
    zca: object | None = None           # fitted kornia ZCAWhitening, or None
    source_digest: str = ""             # fingerprint() of the raw arrays it was made from ("" if built by hand)
    counts: torch.Tensor = field(init=False)
    offsets: torch.Tensor = field(init=False)

    def __post_init__(self):
        order = torch.argsort(self.y_train, stable=True)
        self.x_train, self.y_train = self.x_train[order], self.y_train[order]
        self.counts = torch.bincount(self.y_train, minlength=self.num_classes)
        self.offsets = torch.cumsum(self.counts, 0) - self.counts

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return self.x_train.shape[1]

    @property
    def im_size(self) -> int:
        return self.x_train.shape[-1]

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def sample(self, n: int, generator: torch.Generator, classes: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` distinct random images of each class (of ``classes``, default
        all), class-major (K*n, C, H, W). One vectorised draw: a random key per
        image, the ``n`` smallest keys within each class."""
        idx = self.sample_indices(n, generator, classes)
        return self.x_train[idx.flatten()]

    def sample_indices(self, n: int, generator: torch.Generator, classes: torch.Tensor | None = None) -> torch.Tensor:
        if classes is None:
            classes = torch.arange(self.num_classes, device=self.device)
        counts, offsets = self.counts[classes], self.offsets[classes]
        if n > int(counts.min()):
            k = int(classes[counts.argmin()])
            raise DataError(f"asked for {n} images per class but class {k} ({self.classes[k]!r}) of "
                            f"{self.name!r} has only {int(counts.min())}; lower ipc / batch_real")
        width = int(counts.max())
        keys = torch.rand(len(classes), width, generator=generator, device=self.device)
        keys = keys.masked_fill(torch.arange(width, device=self.device) >= counts[:, None], 2.0)
        pick = keys.topk(n, dim=1, largest=False).indices
        return offsets[:, None] + pick

    def to_pixels(self, x: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """Undo ZCA and normalisation: images on the [0, 1] pixel scale, for
        display or pixel-space augmentations (``clip``: clamped into [0, 1];
        learned images may leave it)."""
        if self.zca is not None:
            x = self.zca.inverse_transform(x.flatten(1)).view_as(x)
        x = x * self.std[:, None, None] + self.mean[:, None, None]
        return x.clamp(0, 1) if clip else x

    def from_pixels(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        if self.zca is not None:
            x = self.zca(x.flatten(1)).view_as(x)
        return x


def fingerprint(*arrays) -> str:
    """SHA-256 over every byte (and the dtype and shape) of each array or
    tensor: any edit to any image or label changes it. About 1 GB/s; the
    loaders hash their raw uint8 arrays once (CIFAR-10: 0.2 s)."""
    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().contiguous().numpy() if isinstance(a, torch.Tensor) else np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:32]


def dataset_identity(data: RealData) -> dict:
    """Name, shapes, classes and a fingerprint of the contents of ``data``:
    every byte of the images and labels as loaded (``RealData.source_digest``,
    with the preprocessing's mean/std and ZCA) or, for data built by hand, of
    its tensors. Cache keys and checkpoints use it: other data under the same
    name never matches."""
    if getattr(data, "source_digest", ""):   # data built by hand (tests) have none
        digest = fingerprint(np.frombuffer(data.source_digest.encode(), np.uint8), data.mean, data.std)
    else:
        digest = fingerprint(data.x_train, data.y_train, data.x_test, data.y_test)
    return {"name": data.name, "train": list(data.x_train.shape), "test": list(data.x_test.shape),
            "classes": list(data.classes), "zca": data.zca is not None, "digest": digest}


def load_dataset(name: str, root: str = "data", download: bool = False, device: str | torch.device = "cpu",
                 preprocess: str = "mtt", zca: bool | None = None, im_size: int = 32) -> RealData:
    """Load a dataset onto ``device`` and preprocess it (``config.PREPROCESS``):

    - ``mtt`` (the paper and table2 presets): datasets that use ZCA (CIFAR,
      ``DatasetSpec.zca``) are ZCA-whitened (kornia, eps 0.1) on their [0, 1]
      pixels with no mean/std normalisation, as MTT's ``get_dataset`` does
      (supplement Sec. 1.2: ZCA "using the same setting as [2]"); the others
      are normalised with their mean/std;
    - ``normalise``: mean/std normalisation only (the released code's default);
    - ``normalise+zca``: mean/std normalisation, then ZCA where the dataset uses it.

    ``zca`` forces whitening on or off. The whitening is fitted once on the
    training split and cached under ``root``; mean/std are the dataset's
    (computed on the training split when it has none)."""
    from .config import PREPROCESS
    if preprocess not in PREPROCESS:
        raise ValueError(f"unknown preprocess {preprocess!r}; choose one of {sorted(PREPROCESS)}")
    arrays, spec = load_arrays(name, root, download, im_size)
    validate(arrays, name)
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div_(255)  # noqa: E731
    x_train, x_test = to_t(arrays.x_train), to_t(arrays.x_test)
    use_zca = (spec.zca and preprocess != "normalise") if zca is None else zca
    if use_zca and preprocess == "mtt":          # whiten the pixels themselves
        mean, std = torch.zeros(x_train.shape[1]), torch.ones(x_train.shape[1])
    else:
        mean = torch.tensor(spec.mean) if spec.mean else x_train.mean(dim=(0, 2, 3))
        std = torch.tensor(spec.std) if spec.std else x_train.std(dim=(0, 2, 3))
        std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel: no scaling, not 0/0 = NaN
    norm = lambda x: ((x - mean[:, None, None]) / std[:, None, None]).to(device)  # noqa: E731
    x_train, x_test = norm(x_train), norm(x_test)
    whitening = None
    if use_zca:
        from .zca import fit_zca
        whitening = fit_zca(x_train, cache_dir=root if os.path.isdir(root) else None, key=spec.name.split(":")[0])
        x_train = whitening(x_train.flatten(1)).view_as(x_train)
        x_test = whitening(x_test.flatten(1)).view_as(x_test)
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    source = fingerprint(arrays.x_train, arrays.y_train, arrays.x_test, arrays.y_test)
    return RealData(name, x_train, t(arrays.y_train), x_test, t(arrays.y_test), list(arrays.classes),
                    mean.to(device), std.to(device), whitening, source_digest=source)


def validate(a: Arrays, name: str) -> None:
    """Shapes and labels consistent, every class in both splits; raise
    DataError saying what is wrong. (A class missing from the test split would
    make the reported accuracy skip it: a folder whose test/ lacks a class once
    scored 100 %.)"""
    for split, x, y in (("train", a.x_train, a.y_train), ("test", a.x_test, a.y_test)):
        if len(y) == 0:
            raise DataError(f"{name}: the {split} split has no images")
        if x.ndim != 4 or x.shape[1] != x.shape[2] or x.shape[3] not in (1, 3):
            raise DataError(f"{name}: {split} images have shape {x.shape}; expected square (N, H, W, C) with C in 1 or 3")
        if len(x) != len(y):
            raise DataError(f"{name}: {split} has {len(x)} images but {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= len(a.classes)):
            raise DataError(f"{name}: {split} labels span {y.min()}..{y.max()} but there are {len(a.classes)} classes")
    if a.x_train.shape[1:] != a.x_test.shape[1:]:
        raise DataError(f"{name}: train images {a.x_train.shape[1:]} and test images {a.x_test.shape[1:]} differ in shape")
    for split, y in (("training", a.y_train), ("test", a.y_test)):
        empty = sorted(set(range(len(a.classes))) - set(np.unique(y).tolist()))
        if empty:
            names = [a.classes[k] for k in empty[:5]]
            raise DataError(f"{name}: classes {empty[:5]} have no {split} images ({', '.join(map(repr, names))}); "
                            f"every class needs {split} images")
