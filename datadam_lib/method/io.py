"""Atomic file writes under the kit's writer rule, checkpoint loading with
clear errors, devices, provenance manifests.

The writer rule (every writer: the CLI's ``--out``, cache entries, a target's
figures and tables): the kit never deletes or replaces a file it did not
write. A file is the kit's when a provenance record says so: a
``<file>.manifest.json`` beside it, or (a JSON output) its own ``manifest``
field; a directory is a kit output when its ``manifest.json`` is such a
record. So an output path that holds someone else's files is refused with one
:class:`OutputError` before any work is done, unless the caller passes
``overwrite`` (then only the kit's own file names are written, every other
file is kept); a kit output is replaced file by file, keeping whatever else
its directory holds; a directory the kit creates gets the mode the umask
gives, and an existing one keeps its own."""
from __future__ import annotations

import contextlib
import errno
import io
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


class OutputError(ValueError):
    """An output path the kit must not write (it holds files the kit did not
    write) or cannot write (a file where a directory is needed, no permission)."""


def _atomic_write(path: str, mode: str, write: Callable[[IO], None]) -> None:
    """Write through ``write`` to a temporary file beside ``path``, then
    rename: readers never see a half-written file. A full disk (or quota) is
    one OutputError naming ``path`` and the space left."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(folder).free
            raise OutputError(f"cannot write {path}: the disk is full ({free / 2**20:,.1f} MB free in {folder}); "
                              "free some space or write elsewhere") from None
        raise


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save`` atomically. The bytes are made in memory first: torch's
    own file writer turns a full disk into a RuntimeError without its errno."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write(path, "wb", lambda f: f.write(buf.getbuffer()))


def atomic_write_text(text: str, path: str) -> None:
    _atomic_write(path, "w", lambda f: f.write(text))


def write_json(obj: Any, path: str) -> None:
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


# ---------------------------------------------------------------- the writer rule

RECORD = "manifest.json"     # a kit output directory's provenance record, written last
WRITING = ".datadam-writing."  # prefix of the kit's temporary directories (an output being written)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _record(path: str) -> dict | None:
    """The JSON object in ``path`` when it is a provenance record of this kit
    (``datadam_lib`` named in it or in its ``manifest`` field), else None."""
    try:
        if os.path.getsize(path) > 2**24:
            return None
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    if "datadam_lib" in obj:
        return obj
    m = obj.get("manifest")
    return obj if isinstance(m, dict) and "datadam_lib" in m else None


def is_kit_record(path: str) -> bool:
    """Whether ``path`` is a JSON provenance record of this kit."""
    return _record(path) is not None


def evaluated_set(path: str) -> str | None:
    """The content digest of the synthetic set that ``path`` evaluates, when
    ``path`` is an evaluation the kit wrote under a name it chose itself
    (``evaluate DIR`` without ``--out``); else None. Only such a file may be
    removed as stale: a name the user chose is never the kit's to delete."""
    rec = _record(path) if path.endswith(".json") else None
    m = rec.get("manifest") if rec else None
    return m.get("set_digest") if isinstance(m, dict) and m.get("output_named_by") == "kit" else None


def is_kit_file(path: str) -> bool:
    """A file the kit wrote: its ``.manifest.json`` beside it, or its own record (JSON outputs)."""
    return is_kit_record(path + ".manifest.json") or (path.endswith(".json") and is_kit_record(path))


def is_kit_dir(path: str) -> bool:
    """A directory the kit wrote as one output (a synthetic set): its ``manifest.json`` is a kit record."""
    return is_kit_record(os.path.join(path, RECORD))


def _some(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def check_creatable(path: str) -> None:
    """``path`` can be created: its nearest existing parent is a writable directory."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError(f"cannot write {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: no permission to write in {parent}")


def check_output_dir(path: str, files: tuple[str, ...], overwrite: bool = False) -> None:
    """Raise OutputError unless the kit may write ``files`` into the directory
    ``path``: it does not exist (and can be created), is empty, or is a kit
    output; with ``overwrite`` any directory (the kit's ``files`` replace files
    of the same name, every other file stays)."""
    if not path:
        raise OutputError("the output directory is empty; give a directory path")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputError(f"output directory {path} is a file; give a directory (a new one is created)")
    if not os.path.isdir(path):
        check_creatable(path)
        return
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: no permission to write in it")
    theirs = sorted(n for n in os.listdir(path) if not n.startswith(WRITING))
    if theirs and not overwrite and not is_kit_dir(path):
        raise OutputError(f"{path} already holds files the kit did not write ({_some(theirs)}); choose a new or "
                          f"empty directory, or pass --overwrite to write {', '.join(files)} into it, keeping the rest")


def check_output_file(path: str, overwrite: bool = False) -> None:
    """Raise OutputError unless the kit may write the file ``path``: it does
    not exist (and can be created), or the kit wrote it, or ``overwrite``."""
    if os.path.isdir(path):
        raise OutputError(f"{path} is a directory; give a file path such as {os.path.join(path, 'metrics.json')}")
    if os.path.lexists(path) and not overwrite and not is_kit_file(path):
        raise OutputError(f"{path} exists and was not written by the kit; choose another path, or pass --overwrite "
                          "to replace it")
    check_creatable(path)


@contextlib.contextmanager
def output_dir(path: str, files: tuple[str, ...], overwrite: bool = False,
               stale: Callable[[str], bool] = lambda path: False) -> Iterator[str]:
    """Yield a temporary directory to write one output's ``files`` into; on
    success they go to the directory ``path`` under the writer rule:

    - ``path`` does not exist: the temporary directory (made beside it) becomes
      ``path`` in one rename (all files or none), with the mode the umask gives;
    - ``path`` is empty, a kit output, or ``overwrite``: each file is renamed
      into it (``manifest.json``, the record, last); the directory, its mode and
      every other file stay, except the files of a kit output that ``stale``
      says the new one makes wrong (a set's evaluations: ``evaluated_set``);
    - otherwise OutputError, before anything is written.

    On failure the temporary directory is removed and ``path`` is untouched."""
    check_output_dir(path, files, overwrite)
    inside = os.path.isdir(path)
    parent = path if inside else os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=WRITING)
    try:
        yield tmp
        names = sorted(os.listdir(tmp), key=lambda n: n == RECORD)
        check_output_dir(path, files, overwrite)          # again: the directory may have changed meanwhile
        if not inside:
            os.chmod(tmp, 0o777 & ~_umask())              # mkdtemp makes it private; an output is not
            os.replace(tmp, path)
            return
        wrong = [n for n in os.listdir(path) if n not in names and stale(os.path.join(path, n))] \
            if is_kit_dir(path) else []
        for n in names:
            os.replace(os.path.join(tmp, n), os.path.join(path, n))
        for n in wrong:
            os.remove(os.path.join(path, n))
        os.rmdir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_checked(path: str, what: str, keys: tuple[str, ...], map_location="cpu",
                 advice: str = "delete it and run again") -> dict:
    """``torch.load`` a dict, raising one CheckpointError that says what to do
    (``advice``) when the file is missing, unreadable or lacks ``keys``."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{what} {path} is corrupted or not a DataDAM file ({type(e).__name__}); "
                              f"{advice}") from None
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise CheckpointError(f"{what} {path} lacks {[k for k in keys if k not in obj]}; "
                              f"it was not written by this kit: {advice}")
    return obj


LOCK_TAG = "datadam_lib lock, pid"


@contextlib.contextmanager
def exclusive(path: str, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` while the block writes ``what``: a second
    run gets one OutputError naming the first one's pid instead of racing it
    (an flock, so a killed holder leaves no lock behind). The file is removed
    when the block ends; a file of that name the kit did not write is refused."""
    import fcntl
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    while True:
        try:
            fd, mine = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            try:
                fd, mine = os.open(path, os.O_RDWR), False
            except FileNotFoundError:    # its holder just removed it
                continue
        f = os.fdopen(fd, "r+")
        held = f.read(200).strip()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise OutputError(f"another run ({held or 'pid unknown'}) is writing {what}; wait for it to end or "
                              "choose another --out") from None
        if not mine and held and not held.startswith(LOCK_TAG):
            f.close()
            raise OutputError(f"{path} exists and was not written by the kit, which locks {what} under that name; "
                              "move it away")
        if os.path.exists(path) and os.path.samestat(os.stat(path), os.fstat(fd)):
            break
        f.close()      # its holder removed it between our open and our lock: take a fresh one
    try:
        f.seek(0)
        f.truncate()
        f.write(f"{LOCK_TAG} {os.getpid()}\n")
        f.flush()
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        f.close()


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


# How many devices of each accelerator type this machine has.
DEVICE_COUNTS: dict[str, Callable[[], int]] = {
    "cpu": lambda: 1,
    "cuda": lambda: torch.cuda.device_count() if torch.cuda.is_available() else 0,
    "mps": lambda: int(torch.backends.mps.is_available()),
}


def check_device(name: str) -> torch.device:
    """``name`` as a torch.device that exists here, else a ValueError saying what to use."""
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in DEVICE_COUNTS:
        raise ValueError(f"--device {name!r} is not a device; use cpu or cuda (cuda:N for the N-th GPU)")
    count = DEVICE_COUNTS[dev.type]()
    if count == 0:
        raise ValueError(f"--device {name}: no {dev.type.upper()} device is visible here "
                         f"(torch {torch.__version__}); use --device cpu")
    if (dev.index or 0) >= count:
        raise ValueError(f"--device {name}: this machine has {count} {dev.type} device(s), numbered from 0")
    return dev


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name as Linux reports it (``AMD EPYC 7B13``), else
    the architecture (``x86_64``)."""
    try:
        with open(cpuinfo) as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration, IndexError):
        return platform.processor() or platform.machine()


def device_description(device: torch.device | str) -> str:
    """The machine a result came from, in words: the GPU's name, or the CPU's
    model and the threads torch uses (``cpu (AMD EPYC 7B13, 1 thread)``)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"cpu ({cpu_model()}, {n} thread{'s' if n > 1 else ''})"


def manifest(**fields) -> dict:
    """Provenance: git state, package versions, host, plus the given fields."""
    from . import __version__
    return {"datadam_lib": __version__, **git_state(), "packages": package_versions(),
            "host": platform.node(), **fields}
