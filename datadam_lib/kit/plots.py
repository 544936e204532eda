"""Figures for the notebooks: image grids, attention-map panels, accuracy
plots. Every function returns a ``matplotlib.figure.Figure`` built without
pyplot (no global state, any backend); :func:`save` writes PNG and PDF,
:func:`show` displays a figure in a notebook.
"""
from __future__ import annotations

import io
import os

import torch
from matplotlib.figure import Figure

COLORS = {"datadam": "#1f77b4", "random": "#ff7f0e"}


def save(fig: Figure, stem: str, dpi: int = 150) -> list[str]:
    """Write ``stem.png`` and ``stem.pdf`` atomically; return both paths."""
    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi, bbox_inches="tight", metadata=_metadata(ext))
        atomic_write_bytes(buf.getvalue(), f"{stem}.{ext}")
        paths.append(f"{stem}.{ext}")
    return paths


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write to a temporary file beside ``path``, then rename it into place."""
    import tempfile
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes it private; a figure is not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _metadata(ext: str) -> dict:
    # No creation date: re-running an unchanged figure gives the same bytes.
    return {"CreationDate": None} if ext == "pdf" else {"Software": None}


def show(fig: Figure) -> None:
    """Display ``fig`` in a notebook (as PNG, whatever the backend)."""
    from IPython.display import Image, display
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    display(Image(data=buf.getvalue()))


def _img(x: torch.Tensor):
    """(C, H, W) in [0, 1] -> an array imshow takes (grey images squeezed)."""
    x = x.detach().cpu().float().clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def image_grid(images: torch.Tensor, rows: int, row_labels: list[str] | None = None, title: str = "",
               cell: float = 0.9) -> Figure:
    """Images (N, C, H, W) in [0, 1], ``rows`` rows filled row by row."""
    n = len(images)
    cols = -(-n // rows)
    fig = Figure(figsize=(cols * cell + 0.8, rows * cell + (0.4 if title else 0.1)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
        if i < n:
            ax.imshow(_img(images[i]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if row_labels:
        for r, lab in enumerate(row_labels[:rows]):
            axes[r, 0].set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def class_grid(images_pixels: torch.Tensor, classes: list[str], per_class: int, title: str = "") -> Figure:
    """A class-major set (K*ipc, C, H, W) in [0, 1]: one row per class."""
    K = len(classes)
    x = images_pixels.view(K, -1, *images_pixels.shape[1:])[:, :per_class].flatten(0, 1)
    return image_grid(x, K, classes, title)


def snapshots(snaps: dict[int, torch.Tensor], data, per_class: int = 1,
              losses: list[float] | None = None, title: str = "") -> Figure:
    """Synthetic images as they are learned: one row per snapshot iteration
    (``SyntheticSet.snapshots``), ``per_class`` images of each class of
    ``data`` (a ``RealData``, which maps them back to pixels) across; the
    loss curve below when ``losses`` is given."""
    its = sorted(snaps)
    K = len(data.classes)
    cols = K * per_class
    fig = Figure(figsize=(cols * 0.8 + 0.9, len(its) * 0.8 + (1.6 if losses else 0) + 0.5), layout="constrained")
    gs = fig.add_gridspec(len(its) + (2 if losses else 0), cols)
    for i, it in enumerate(its):
        x = data.to_pixels(snaps[it].float().to(data.device))
        x = x.view(K, -1, *x.shape[1:])[:, :per_class].flatten(0, 1)
        for j in range(cols):
            ax = fig.add_subplot(gs[i, j])
            ax.imshow(_img(x[j]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0 and j % per_class == 0:
                ax.set_title(data.classes[j // per_class], fontsize=8)
            if j == 0:
                ax.set_ylabel(f"it {it}", rotation=0, ha="right", va="center", fontsize=8)
    if losses:
        ax = fig.add_subplot(gs[len(its):, :])
        ax.plot(range(1, len(losses) + 1), losses, lw=1)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@torch.no_grad()
def attention_maps(encoder, images: torch.Tensor, power: float = 4.0, norm: str = "l2") -> list[torch.Tensor]:
    """The spatial attention map of ``images`` at every tap of ``encoder``
    (``losses.attention_map``), each (N, H_l, W_l), scaled per image to
    [0, 1] for display (clipped at its 99th percentile, so a few bright
    border positions do not hide the rest)."""
    from ..method.losses import attention_map
    taps, _ = encoder.forward_features(images)
    out = []
    for t in taps:
        a = attention_map(t, power, norm).view(len(images), *t.shape[-2:])
        flat = a.flatten(1)
        lo, hi = flat.min(1).values, torch.quantile(flat, 0.99, dim=1)
        out.append(((a - lo[:, None, None]) / (hi - lo).clamp_min(1e-12)[:, None, None]).clamp(0, 1))
    return out


def attention_panel(pixels: torch.Tensor, maps: list[torch.Tensor], labels: list[str],
                    title: str = "") -> Figure:
    """Each image (column) above its attention map at every layer (rows)."""
    n, L = len(pixels), len(maps)
    fig = Figure(figsize=(n * 0.85 + 1.0, (L + 1) * 0.85 + 0.6), layout="constrained")
    axes = fig.subplots(L + 1, n, squeeze=False)
    for i in range(n):
        axes[0, i].imshow(_img(pixels[i]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0, i].set_title(labels[i], fontsize=8)
        for l, m in enumerate(maps):
            axes[l + 1, i].imshow(m[i].cpu().numpy(), cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("image", rotation=0, ha="right", va="center", fontsize=8)
    for l, m in enumerate(maps):
        axes[l + 1, 0].set_ylabel(f"layer {l + 1}\n{m.shape[-2]}x{m.shape[-1]}", rotation=0, ha="right",
                                  va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def accuracy_bars(summary: list[dict], xlabel: str, title: str = "", kinds: tuple[str, ...] = ("datadam",),
                  ylabel: str = "test accuracy (%), mean ± std", names=None) -> Figure:
    """Accuracy (mean ± std, %) per setting from ``sweep.summarize`` rows, one
    bar per (setting, kind) with its error bar and value; ``names`` (kind ->
    legend label, e.g. ``report.kind_name``) names the kinds."""
    settings = list(dict.fromkeys(r["setting"] for r in summary))
    width = 0.8 / len(kinds)
    fig = Figure(figsize=(max(3.5, 1.0 * len(settings) * len(kinds) + 1.5), 3.4), layout="constrained")
    ax = fig.subplots()
    lows = []
    for j, k in enumerate(kinds):
        xs, ms, ss = [], [], []
        for i, s in enumerate(settings):
            r = next((r for r in summary if r["setting"] == s and r["kind"] == k), None)
            if r:
                xs.append(i + (j - (len(kinds) - 1) / 2) * width)
                ms.append(r["mean"])
                ss.append(r["std"])
        name = names(k) if names else "DataDAM" if k == "datadam" else k.capitalize()
        ax.bar(xs, ms, width * 0.9, yerr=ss, capsize=4, label=name, color=COLORS.get(k), alpha=0.85)
        for x, m, s in zip(xs, ms, ss):
            ax.text(x, m + s + 0.3, f"{m:.1f}", ha="center", va="bottom", fontsize=8)
        lows += [m - s for m, s in zip(ms, ss)]
    lo = max(0.0, min(lows) - 10) if lows else 0.0
    hi = max(r["mean"] + r["std"] for r in summary)
    ax.set_ylim(lo, hi + 0.1 * (hi - lo) + 1.5)   # room for the value labels
    ax.set_xticks(range(len(settings)), settings)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(kinds) > 1:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def tsne_panels(real_xy, real_labels, synthetic: dict[str, tuple], classes: list[str], names=None,
                title: str = "", cell: float = 3.0) -> Figure:
    """Supplement Fig. 9: one panel per synthetic set, all from the same joint
    embedding: the real points (``real_xy`` (N, 2), ``real_labels``) as small
    dots coloured by class, the set's points (``synthetic[kind] = (xy, labels)``)
    as stars of their class's colour with a black edge."""
    import numpy as np
    kinds = list(synthetic)
    fig = Figure(figsize=(cell * len(kinds) + 1.2, cell + 0.8), layout="constrained")
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    cmap = _class_colours(len(classes))
    real_xy, real_labels = np.asarray(real_xy), np.asarray(real_labels)
    for ax, k in zip(axes, kinds):
        xy, labels = (np.asarray(a) for a in synthetic[k])
        ax.scatter(real_xy[:, 0], real_xy[:, 1], c=cmap[real_labels], s=3, alpha=0.35, linewidths=0)
        ax.scatter(xy[:, 0], xy[:, 1], c=cmap[labels], s=70, marker="*", edgecolors="black", linewidths=0.5)
        ax.set_title(names(k) if names else k, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    handles = [axes[0].scatter([], [], c=[cmap[i]], s=20, label=c) for i, c in enumerate(classes)]
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _class_colours(n: int):
    """``n`` distinguishable RGBA colours (tab10, then tab20, then a continuous map)."""
    import numpy as np
    from matplotlib import colormaps
    if n <= 10:
        return np.asarray(colormaps["tab10"].colors)[:n]
    if n <= 20:
        return np.asarray(colormaps["tab20"].colors)[:n]
    return colormaps["turbo"](np.linspace(0, 1, n))
