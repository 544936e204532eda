"""Atomic file writes, checkpoint loading with clear errors, provenance manifests."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from importlib import metadata
from typing import IO, Any, Callable, Iterator

import torch


class CheckpointError(RuntimeError):
    """A checkpoint or synthetic set that cannot be read."""


def _atomic_write(path: str, mode: str, write: Callable[[IO], None]) -> None:
    """Write through ``write`` to a temporary file beside ``path``, then
    rename: readers never see a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save`` atomically."""
    _atomic_write(path, "wb", lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path: str) -> None:
    _atomic_write(path, "w", lambda f: f.write(text))


def write_json(obj: Any, path: str) -> None:
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


@contextlib.contextmanager
def atomic_dir(path: str) -> Iterator[str]:
    """Yield a temporary directory beside ``path``; on success it replaces
    ``path`` whole, on failure it is removed and ``path`` is left untouched."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.")
    try:
        yield tmp
        if os.path.isdir(path):
            old = tmp + ".old"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_checked(path: str, what: str, keys: tuple[str, ...], map_location="cpu") -> dict:
    """``torch.load`` a dict, raising one CheckpointError that says what to do
    when the file is missing, unreadable or lacks ``keys``."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{what} {path} is corrupted or not a DataDAM file ({type(e).__name__}); "
                              "delete it and run again") from None
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise CheckpointError(f"{what} {path} lacks {[k for k in keys if k not in obj]}; "
                              "it was not written by this kit, delete it and run again")
    return obj


def git_state(path: str | None = None) -> dict:
    """The git SHA of the checkout holding ``path`` (or this package) and
    whether its code is modified (``git_dirty``; outputs and docs excluded)."""
    cwd = path or os.path.dirname(os.path.abspath(__file__))
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        # the code is modified when a tracked file outside the outputs differs from HEAD
        # (figures/, results/ and docs/ are what runs write, not what they run)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                ":(top,exclude)figures", ":(top,exclude)results", ":(top,exclude)docs"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip() != ""
        return {"git_sha": sha or None, "git_dirty": dirty if sha else None}
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": None, "git_dirty": None}


PACKAGES = ("torch", "torchvision", "kornia", "numpy", "scikit-learn", "tqdm", "matplotlib", "papermill")


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def device_description(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def manifest(**fields) -> dict:
    """Provenance: git state, package versions, host, plus the given fields."""
    from . import __version__
    return {"datadam_lib": __version__, **git_state(), "packages": package_versions(),
            "host": platform.node(), **fields}
