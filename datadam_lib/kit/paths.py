"""Where things live: the kit's checkout, outputs, datasets and the cache.

- the kit: the directory holding ``reproduce.sh`` (the package's parent for an
  editable install, else the nearest such directory above the working directory);
- outputs: ``figures/<scale>/`` and ``results/<scale>/`` under the output
  root (:func:`output_root`): ``$DATADAM_OUT`` when set (the tests point it at
  a temporary directory), the kit itself when publishing the committed
  outputs (``$DATADAM_PUBLISH=1``, ``./reproduce.sh ... --publish``), else
  ``out/`` in the kit (git-ignored: a user's run leaves a clone unmodified);
- datasets: ``--root``, ``$DATADAM_DATA`` or ``data/`` in the kit;
- cache: ``$DATADAM_CACHE`` or ``cache/`` in the kit.
"""
from __future__ import annotations

import os


def kit_root() -> str:
    """The kit's checkout: the package's parent for an editable install, else
    the nearest directory above the working directory holding ``reproduce.sh``
    and ``notebooks/``, else the working directory."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(here, "reproduce.sh")):
        return here
    d = os.getcwd()
    while True:
        if os.path.isfile(os.path.join(d, "reproduce.sh")) and os.path.isdir(os.path.join(d, "notebooks")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.getcwd()
        d = parent


def _env_path(var: str) -> str | None:
    return os.path.abspath(os.environ[var]) if os.environ.get(var) else None


PUBLISH_ENV = "DATADAM_PUBLISH"   # "1": write into the kit's own figures/ and results/ (the committed outputs)
USER_OUT = "out"                  # a user's outputs, under the kit (in .gitignore)


def publishing() -> bool:
    """Whether runs publish into the kit's committed ``figures/`` and ``results/``
    (``$DATADAM_PUBLISH`` set to 1/true/yes)."""
    return os.environ.get(PUBLISH_ENV, "").strip().lower() in ("1", "true", "yes")


def output_root() -> str:
    """Where figures/ and results/ are written: ``$DATADAM_OUT`` when set; else
    the kit when :func:`publishing` (refreshing the committed outputs is a
    deliberate act); else ``out/`` in the kit, which git ignores."""
    explicit = _env_path("DATADAM_OUT")
    if explicit:
        return explicit
    return kit_root() if publishing() else os.path.join(kit_root(), USER_OUT)


def data_root(root: str | None = None) -> str:
    """Where datasets are looked for: ``root``, ``$DATADAM_DATA`` or ``data/`` in the kit."""
    if root:
        return os.path.abspath(root)
    return _env_path("DATADAM_DATA") or os.path.join(kit_root(), "data")


def cache_root(root: str | None = None) -> str:
    """``root``, else ``$DATADAM_CACHE``, else ``cache/`` in the kit's checkout."""
    if root:
        return os.path.abspath(root)
    return _env_path("DATADAM_CACHE") or os.path.join(kit_root(), "cache")


def absolute_dataset(name: str) -> str:
    """``npz:PATH`` / ``folder:PATH`` / ``NAME:npz:PATH`` with PATH made
    absolute (relative to the caller's directory: a notebook's kernel runs in
    notebooks/, where the relative path would point elsewhere); other names
    unchanged."""
    kind, sep, path = name.partition(":")
    if sep and kind not in ("npz", "folder") and path.startswith("npz:"):
        return f"{kind}:{absolute_dataset(path)}"
    return f"{kind}:{os.path.abspath(path)}" if sep and kind in ("npz", "folder") else name


def dataset_file(name: str) -> str | None:
    """The file or folder a path-given dataset reads (``npz:PATH``,
    ``folder:PATH``, ``NAME:npz:PATH``); None for a registered name."""
    kind, sep, path = name.partition(":")
    if not sep:
        return None
    return path if kind in ("npz", "folder") else dataset_file(path)


def display_dataset(name: str) -> str:
    """A dataset as titles and tables show it: no local directories
    (``cifar10-5k:npz:/home/me/cifar10-mini.npz`` -> ``cifar10-5k (from
    cifar10-mini.npz)``, ``npz:/data/x.npz`` -> ``npz:x.npz``)."""
    path = dataset_file(name)
    if path is None:
        return name
    kind = name.split(":", 1)[0]
    base = os.path.basename(path.rstrip("/")) or path
    return f"{kind}:{base}" if kind in ("npz", "folder") else f"{kind} (from {base})"
