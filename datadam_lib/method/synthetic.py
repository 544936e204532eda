"""A distilled set and its files: ``synthetic.pt``, ``config.json``,
``manifest.json``, written together or not at all."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import torch

from . import __version__
from .config import Config, canonical, from_dict
from .io import CheckpointError, atomic_save, evaluated_set, load_checked, output_dir, write_json


@dataclass
class SyntheticSet:
    """A distilled set: ``images`` (K*ipc, C, H, W) in the dataset's normalised
    (and ZCA) space, class-major, with hard ``labels``."""
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    config: Config
    losses: list[float] = field(default_factory=list)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    FILE = "synthetic.pt"
    FILES = (FILE, "config.json", "manifest.json")

    def save(self, out_dir: str, overwrite: bool = False) -> None:
        """Write ``synthetic.pt``, ``config.json`` and ``manifest.json`` to
        ``out_dir`` under the writer rule (``io.output_dir``): a new directory
        appears whole or not at all; an earlier set there is replaced, the
        directory's other files are kept; a directory holding files the kit
        did not write is refused unless ``overwrite``. synthetic.pt records a
        digest of the other two, so a set whose files were not written together
        is refused on load."""
        new = self.digest()
        try:
            old = SyntheticSet.load(out_dir).digest() if os.path.isfile(os.path.join(out_dir, self.FILE)) else None
        except CheckpointError:
            old = None

        def stale(path: str) -> bool:   # the kit's own evaluation of the set replaced, unless it is this very set
            return old is not None and evaluated_set(path) == old != new

        with output_dir(out_dir, self.FILES, overwrite, stale) as tmp:
            write_json(self.config.to_dict(), os.path.join(tmp, "config.json"))
            write_json({"datadam_lib": __version__, **self.info}, os.path.join(tmp, "manifest.json"))
            atomic_save({"images": self.images.cpu(), "labels": self.labels.cpu(), "classes": self.classes,
                         "losses": self.losses, "snapshots": {int(k): v.cpu() for k, v in self.snapshots.items()},
                         "files_digest": _files_digest(tmp)}, os.path.join(tmp, self.FILE))

    def digest(self) -> str:
        """SHA-256 of what the set is: its images, labels, class names and
        config (an evaluation records it, wherever the set is moved)."""
        h = hashlib.sha256()
        for t in (self.images, self.labels):
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
        h.update(json.dumps([self.classes, canonical(self.config)], sort_keys=True).encode())
        return h.hexdigest()

    @classmethod
    def load(cls, out_dir: str, device: str | torch.device = "cpu") -> "SyntheticSet":
        path = os.path.join(out_dir, cls.FILE)
        obj = load_checked(path, "synthetic set", ("images", "labels", "classes"), map_location=device)
        try:
            with open(os.path.join(out_dir, "config.json")) as f:
                cfg = from_dict(json.load(f))
            info = {}
            if os.path.isfile(os.path.join(out_dir, "manifest.json")):
                with open(os.path.join(out_dir, "manifest.json")) as f:
                    info = json.load(f)
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise CheckpointError(f"{out_dir}: config.json or manifest.json is missing or unreadable ({e}); "
                                  "re-run distill") from None
        if "files_digest" in obj and obj["files_digest"] != _files_digest(out_dir):
            raise CheckpointError(f"{out_dir}: config.json and manifest.json are not the ones written with "
                                  f"{cls.FILE} (edited, or an interrupted write); re-run distill")
        x, y = obj["images"], obj["labels"]
        if x.dim() != 4 or len(x) != len(y) or not torch.isfinite(x).all():
            raise CheckpointError(f"{path}: images {tuple(x.shape)} / labels {tuple(y.shape)} are inconsistent "
                                  "or not finite; re-run distill")
        return cls(x, y, list(obj["classes"]), cfg, list(obj.get("losses", [])),
                   dict(obj.get("snapshots", {})), info)


def _files_digest(folder: str) -> str:
    """SHA-256 of a set's config.json and manifest.json as written."""
    h = hashlib.sha256()
    for name in ("config.json", "manifest.json"):
        with open(os.path.join(folder, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()
