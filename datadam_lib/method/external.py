"""Synthetic sets made elsewhere (a download, another code base), read into
``(images, labels)`` for evaluation (``python -m datadam_lib evaluate --load PATH``).

Layouts understood (``torch.load`` with ``weights_only=True``: tensors,
lists and dicts only):

- a kit set: a directory with ``synthetic.pt`` (``SyntheticSet.save``), or the
  ``synthetic.pt`` file itself (a dict with ``images`` and ``labels``);
- a dict with ``data`` = ``[images, labels]``: the authors' published
  ``syn_data_<dataset>_ipc_<n>.pt`` (their ``distill_test_model.py`` reads
  ``["data"][0]`` and ``["data"][1]``), or ``[[images, labels], ...]``, one pair
  per experiment, as DC/DSA/DM's ``res_*.pt`` (the first pair is used);
- two files, images and labels: a path to ``..images...pt`` whose name with
  ``images`` replaced by ``labels`` exists (the DataDAM release's
  ``CIFAR10_IPC10_images.pt`` / ``..._labels.pt``, MTT's ``images_best.pt`` /
  ``labels_best.pt``), or a directory holding exactly one such pair.

The images must already be in the preprocessing of the preset they are
evaluated with (the authors' tensors: mean/std normalisation, the
``released`` preset's ``normalise``). :func:`check_against` refuses shapes,
labels or classes that do not fit the dataset.
"""
from __future__ import annotations

import glob
import os

import torch

from .data import DataError, RealData
from .io import CheckpointError

LAYOUTS = ("a kit directory or synthetic.pt (images, labels)",
           "a .pt with data = [images, labels] (the authors' syn_data_*.pt, DC/DM's res_*.pt)",
           "*images*.pt beside *labels*.pt")


def _load(path: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickled numpy arrays, a damaged or non-torch file
        raise CheckpointError(f"{path}: not readable as tensors ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
                          "re-save it with torch.save of plain tensors") from None


def _pair(images_path: str) -> str | None:
    head, name = os.path.split(images_path)
    other = os.path.join(head, name.replace("images", "labels"))
    return other if "images" in name and os.path.isfile(other) else None


def _unknown(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: unknown layout ({what}); expected one of: {'; '.join(LAYOUTS)}")


def _from_object(obj, path: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    if isinstance(obj, dict) and "images" in obj and "labels" in obj:
        return obj["images"], obj["labels"], "kit synthetic set"
    if isinstance(obj, dict) and "data" in obj and isinstance(obj["data"], (list, tuple)) and obj["data"]:
        data = obj["data"]
        pair = data[0] if isinstance(data[0], (list, tuple)) else data
        if len(pair) >= 2 and all(isinstance(t, torch.Tensor) for t in pair[:2]):
            return pair[0], pair[1], "data = [images, labels]"
    kind = f"a dict with keys {sorted(map(str, obj))[:6]}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
    raise _unknown(path, kind)


def load_external(path: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(images, labels, layout)`` from ``path`` (see the module docstring);
    a :class:`CheckpointError` with a one-line message for anything else."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "synthetic.pt")):
            return load_external(os.path.join(path, "synthetic.pt"))
        pairs = [(p, _pair(p)) for p in sorted(glob.glob(os.path.join(path, "*images*.pt"))) if _pair(p)]
        if len(pairs) != 1:
            raise _unknown(path, f"a directory with {len(pairs)} images/labels pairs and no synthetic.pt")
        path = pairs[0][0]
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file or directory")
    labels_path = _pair(path)
    if labels_path:
        images, labels = _load(path), _load(labels_path)
        layout = f"images + labels files ({os.path.basename(labels_path)})"
        if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
            raise _unknown(path, "the images/labels files do not hold one tensor each")
    else:
        images, labels, layout = _from_object(_load(path), path)
    return images.float(), labels.long().flatten(), layout


def check_against(images: torch.Tensor, labels: torch.Tensor, data: RealData, path: str) -> None:
    """Refuse a set that cannot be evaluated on ``data``, saying what differs."""
    want = (data.channels, data.im_size, data.im_size)
    if images.dim() != 4 or tuple(images.shape[1:]) != want:
        raise DataError(f"{path}: images have shape {tuple(images.shape)}, but {data.name!r} needs (N, {want[0]}, "
                        f"{want[1]}, {want[2]}); evaluate it with its own dataset")
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= data.num_classes):
        raise DataError(f"{path}: labels span {int(labels.min())}..{int(labels.max())} but {data.name!r} has "
                        f"{data.num_classes} classes")
    if not torch.isfinite(images).all():
        raise DataError(f"{path}: images contain NaN or infinite values")
