"""Figures for the notebooks: image grids, attention-map panels, accuracy
plots. Every function returns a ``matplotlib.figure.Figure`` built without
pyplot (no global state, any backend); :func:`save` writes PNG and PDF,
:func:`show` displays a figure in a notebook.
"""
from __future__ import annotations

import io
import os
import re

import torch
from matplotlib.figure import Figure

COLORS = {"datadam": "#1f77b4", "random": "#ff7f0e", "dm": "#2ca02c", "dc": "#9467bd", "dsa": "#8c564b",
          "cafe": "#e377c2", "kcenter": "#7f7f7f", "herding": "#bcbd22", "dc-vae": "#17becf", "cgan": "#d62728",
          "biggan": "#aec7e8", "gmmn": "#ff9896", "pixel-mmd": "#98df8a"}
# for a kind without its own colour: the j-th of these for the j-th kind of a figure, so one kind
# keeps one colour across the figure's groups (matplotlib's cycle would give each bar the next one)
SPARE_COLORS = ("#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#ffbb78")


# the widest a figure may be (inches; 1,650 px at save()'s 150 dpi): wider content wraps or shrinks
MAX_WIDTH = 11.0


def kind_color(kind: str, j: int) -> str:
    """The colour of ``kind``, the ``j``-th kind of its figure."""
    return COLORS.get(kind) or SPARE_COLORS[j % len(SPARE_COLORS)]


def _legend_outside(ax, fontsize: int) -> None:
    """The legend right of the axes, where it never covers a bar or its label."""
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def footnote(fig: Figure, text: str) -> None:
    """``text`` (what made the figure: command and machine) in small grey
    type under everything else in ``fig``, wrapped to the figure's width;
    :func:`save`'s tight bounding box takes it in."""
    import textwrap
    for old in [t for t in fig.texts if t.get_gid() == "footnote"]:   # a figure saved twice keeps one
        old.remove()
    bottom = fig.get_tightbbox().y0 / fig.get_figheight()   # the lowest artist's end (an x label, a legend)
    fig.text(0.01, min(bottom, 0.0) - 0.02, textwrap.fill(text, int(fig.get_figwidth() * 18)), ha="left",
             va="top", fontsize=6, color="0.45", gid="footnote")


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
    """(C, H, W) -> an array imshow takes (grey images squeezed), rescaled
    for display to the image's own [min, max] (one range for all its
    channels, so colours keep their balance; a constant image shows mid-grey).
    Nothing is clipped: a synthetic image's values leave [0, 1], and clipping
    them would flatten it to near-binary blocks."""
    x = x.detach().cpu().float()
    lo, hi = x.min(), x.max()
    x = (x - lo) / (hi - lo) if hi > lo else torch.full_like(x, 0.5)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def range_note(images) -> str:
    """The caption of a figure of images drawn by :func:`_img`: how they are
    shown and the range their pixel values actually span (``images``: a
    tensor or a list of tensors)."""
    xs = [images] if isinstance(images, torch.Tensor) else list(images)
    lo = min(float(x.min()) for x in xs)
    hi = max(float(x.max()) for x in xs)
    return (f"each image min-max rescaled on its own for display; pixel values span [{lo:.2f}, {hi:.2f}] "
            "(real images: [0, 1])")


def _caption(fig: Figure, images) -> None:
    fig.supxlabel(range_note(images), fontsize=7, color="0.3")


def _cell(cell: float, cols: int, margin: float) -> float:
    """An image cell's size (inches): ``cell``, smaller where ``cols`` of them would pass :data:`MAX_WIDTH`."""
    return min(cell, (MAX_WIDTH - margin) / max(cols, 1))


def image_grid(images: torch.Tensor, rows: int, row_labels: list[str] | None = None, title: str = "",
               cell: float = 0.9) -> Figure:
    """Images (N, C, H, W), ``rows`` rows filled row by row, each rescaled
    to its own range (the caption gives the pixel range)."""
    n = len(images)
    cols = -(-n // rows)
    cell = _cell(cell, cols, 0.8)
    fig = Figure(figsize=(cols * cell + 0.8, rows * cell + (0.4 if title else 0.1)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
        if i < n:
            ax.imshow(_img(images[i]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _caption(fig, images)
    if row_labels:
        for r, lab in enumerate(row_labels[:rows]):
            axes[r, 0].set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def class_grid(images_pixels: torch.Tensor, classes: list[str], per_class: int, title: str = "") -> Figure:
    """A class-major set (K*ipc, C, H, W) in pixels: one row per class."""
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
    cell = _cell(0.8, cols, 0.9)
    fig = Figure(figsize=(cols * cell + 0.9, len(its) * cell + (1.6 if losses else 0) + 0.6), layout="constrained")
    gs = fig.add_gridspec(len(its) + (2 if losses else 0), cols)
    shown = []
    for i, it in enumerate(its):
        x = data.to_pixels(snaps[it].float().to(data.device), clip=False)
        x = x.view(K, -1, *x.shape[1:])[:, :per_class].flatten(0, 1)
        shown.append(x)
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
    _caption(fig, shown)
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
    cell = _cell(0.85, n, 1.0)
    fig = Figure(figsize=(n * cell + 1.0, (L + 1) * cell + 0.7), layout="constrained")
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
    fig.supxlabel(range_note(pixels) + "; maps: each scaled to [0, 1] up to its 99th percentile", fontsize=7,
                  color="0.3")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _accuracies(row: dict) -> list[float]:
    """Every evaluated model's accuracy (%) of a summary row."""
    acc = row.get("accuracies", "")
    return [float(a) for a in acc.split(";")] if isinstance(acc, str) and acc else list(acc or [])


def _dataset_key(name) -> str:
    """A dataset's name compared across the kit and the paper: the part
    before any ``:``, lower case, letters and digits only ("CIFAR-10" and
    "cifar10" agree; "cifar10-5k", a subset, does not)."""
    return re.sub(r"[^a-z0-9]", "", str(name or "").split(":", 1)[0].lower())


def paper_ipc(paper, setting: str) -> int | None:
    """The IPC at which the paper measured its number for ``setting`` (a
    Setting key): the setting's own on an IPC axis, else the one IPC its
    setup names (None where it names several or none)."""
    if setting.startswith("ipc="):
        return int(float(setting[4:]))
    found = set(re.findall(r"IPC (\d+)(?![\d/])", paper.setup))
    return int(found.pop()) if len(found) == 1 else None


def same_data_as_paper(paper, setting: str, row: dict) -> bool:
    """Whether a summary row was made on the dataset and at the IPC of the
    paper's number for its setting: only then is that number drawn beside it."""
    ipc = paper_ipc(paper, setting)
    return (ipc is not None and row.get("ipc") not in (None, "") and int(row["ipc"]) == ipc
            and _dataset_key(row.get("dataset")) == _dataset_key(paper.dataset))


BAR_IN = 1.1       # inches per bar, at most
MIN_BAR_IN = 0.5   # ... and at least: below it the settings wrap onto more rows of axes


def _paper_value(paper, setting: str, kind: str, row: dict) -> float | None:
    ref = paper.lookup(setting, kind) if paper is not None and same_data_as_paper(paper, setting, row) else None
    try:
        return None if ref is None else float(ref.value.split("±")[0])
    except ValueError:
        return None


def accuracy_bars(summary: list[dict], xlabel: str, title: str = "", kinds: tuple[str, ...] = ("datadam",),
                  paper=None, names=None) -> Figure:
    """Accuracy per setting from ``report.summarize`` rows: one bar per
    (setting, kind) at the mean, its ± std, and every evaluated model as a
    dot, on a 0-100 % axis (a one-point difference looks like one point).
    The number of models is on the figure. ``paper`` (registry.PaperNumbers):
    the paper's number for a (setting, kind) drawn as a black x, only where
    the row was made on the paper's dataset at the paper's IPC
    (:func:`same_data_as_paper`). ``names``: kind -> legend label, a dict or
    a function (``report.kind_name``). At most :data:`MAX_WIDTH` wide: the
    bars narrow down to MIN_BAR_IN, then the settings wrap onto more rows."""
    import textwrap
    names = names or {}
    name = names if callable(names) else lambda k: names.get(k, k)
    settings = list(dict.fromkeys(r["setting"] for r in summary))
    labels = {r["setting"]: r.get("label", r["setting"]) for r in summary}
    marks = paper is not None and any(_paper_value(paper, r["setting"], r["kind"], r) is not None for r in summary)
    legend = len(kinds) > 1 or marks
    margin = 1.0 + (3.2 if legend else 0.0)      # the y axis, and the legend right of the axes
    room = MAX_WIDTH - margin
    bar = max(MIN_BAR_IN, min(BAR_IN, room / (len(settings) * len(kinds))))
    per_row = max(1, min(len(settings), int(room / (bar * len(kinds)))))
    groups = [settings[i:i + per_row] for i in range(0, len(settings), per_row)]
    width = 0.8 / len(kinds)
    fig = Figure(figsize=(max(4.0, bar * len(kinds) * per_row + margin), 3.0 * len(groups) + 0.8),
                 layout="constrained")
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    drew_paper, labelled = False, set()
    slot = bar * len(kinds)                      # inches per setting
    for ax, group in zip(axes, groups):
        for j, k in enumerate(kinds):
            for i, s in enumerate(group):
                r = next((r for r in summary if r["setting"] == s and r["kind"] == k), None)
                if r is None:
                    continue
                x = i + (j - (len(kinds) - 1) / 2) * width
                ax.bar(x, r["mean"], width * 0.9, yerr=r["std"], capsize=3, color=kind_color(k, j), alpha=0.8,
                       label=name(k) if k not in labelled else None)
                labelled.add(k)
                accs = _accuracies(r)
                offsets = [(n - (len(accs) - 1) / 2) * width * 0.5 / max(len(accs), 1) for n in range(len(accs))]
                ax.scatter([x + o for o in offsets], accs, s=9, color="black", alpha=0.6, zorder=3, linewidths=0)
                ax.text(x, min(r["mean"] + r["std"] + 1.5, 101), f"{r['mean']:.1f}", ha="center", va="bottom",
                        fontsize=8 if bar >= 0.7 else 6.5)
                value = _paper_value(paper, s, k, r)
                if value is not None:
                    ax.scatter([x], [value], marker="x", s=40, color="black", zorder=4,
                               label=None if drew_paper else f"the paper's number\n({paper.dataset}, same IPC, "
                                                             "paper scale)")
                    drew_paper = True
        ax.set_ylim(0, 108)
        ax.set_xlim(-0.5, len(group) - 0.5)
        ticks = [textwrap.fill(str(labels[s]), max(8, int(slot * 11)), break_long_words=False) for s in group]
        longest = max(len(line) for t in ticks for line in t.split("\n"))
        turn = longest * 0.075 > slot * 0.9    # 8-pt characters wider than a setting's slot: turn them
        ax.set_xticks(range(len(group)), ticks, fontsize=8, rotation=30 if turn else 0,
                      ha="right" if turn else "center")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", alpha=0.3)
    n = sorted({r["n_models"] for r in summary})
    # the number of models under the axis label, where no bar or legend can cover it
    axes[-1].set_xlabel(f"{xlabel}\nn = {'/'.join(map(str, n))} evaluated models per bar (dots)")
    if legend:
        handles, texts = zip(*[(h, t) for a in axes for h, t in zip(*a.get_legend_handles_labels())])
        axes[0].legend(handles, texts, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def accuracy_curve(points: list[dict], xlabel: str, title: str = "", paper_note: str = "") -> Figure:
    """Accuracy against a number (iterations): ``points`` are summary rows
    with an ``x`` field; the mean line, a ± std band, every model as a dot."""
    points = sorted(points, key=lambda r: r["x"])
    xs = [r["x"] for r in points]
    ms = [r["mean"] for r in points]
    sd = [r["std"] for r in points]
    fig = Figure(figsize=(5.2, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.plot(xs, ms, marker="o", color=COLORS["datadam"], label="mean over models")
    ax.fill_between(xs, [m - s for m, s in zip(ms, sd)], [m + s for m, s in zip(ms, sd)], alpha=0.2,
                    color=COLORS["datadam"], label="± std")
    for r in points:
        accs = _accuracies(r)
        ax.scatter([r["x"]] * len(accs), accs, s=8, color="black", alpha=0.5, linewidths=0)
    n = sorted({r["n_models"] for r in points})
    ax.text(0.99, 0.02, f"n = {'/'.join(map(str, n))} models per point" + (f"\n{paper_note}" if paper_note else ""),
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.3")
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    _legend_outside(ax, 7)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def setting_images(panels: list[tuple[str, torch.Tensor]], classes: list[str], per_class: int = 1,
                   title: str = "", cell: float = 0.7) -> Figure:
    """The learned images of several settings side by side: one row per
    setting (``panels``: (label, class-major pixels)), ``per_class``
    images of each class across."""
    K = len(classes)
    cols = K * per_class
    cell = _cell(cell, cols, 1.6)
    fig = Figure(figsize=(cols * cell + 1.6, len(panels) * cell + 0.8), layout="constrained")
    axes = fig.subplots(len(panels), cols, squeeze=False)
    for r, (label, pix) in enumerate(panels):
        x = pix.view(K, -1, *pix.shape[1:])[:, :per_class].flatten(0, 1)
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(_img(x[c]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0 and c % per_class == 0:
                ax.set_title(classes[c // per_class], fontsize=7)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    _caption(fig, [pix for _, pix in panels])
    if title:
        fig.suptitle(title, fontsize=9)
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


def rank_scatter(panels: list[dict], xlabel: str, ylabel: str, title: str = "", per_row: int = 4) -> Figure:
    """Architecture search with proxies (supplement Figs 7-8, Table 5): one
    panel per method, one point per candidate architecture, ``x`` its
    accuracy after training on the method's proxy, ``y`` its ground-truth
    accuracy. Each panel dict: ``name``, ``x``, ``y``, ``rho`` (Spearman,
    NaN when undefined) and optionally ``kind`` (its colour) and ``chosen``
    (the index of the proxy's first choice, drawn as a star)."""
    import math
    n = len(panels)
    cols = min(per_row, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.6 * cols + 0.4, 2.5 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    ys = [v for p in panels for v in p["y"]]
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad = 0.05 * (hi - lo) + 0.5
    for ax, p in zip(axes.flat, panels):
        ax.scatter(p["x"], p["y"], s=12, alpha=0.7, color=COLORS.get(p.get("kind", "")), edgecolors="none")
        if p.get("chosen") is not None:
            i = p["chosen"]
            ax.scatter([p["x"][i]], [p["y"][i]], marker="*", s=90, color="black", zorder=3)
        rho = p.get("rho", math.nan)
        ax.set_title(f"{p['name']}: ρ = {'n/a' if math.isnan(rho) else f'{rho:.2f}'}", fontsize=9)
        ax.set_ylim(lo - pad, hi + pad)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel, fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    if any(p.get("chosen") is not None for p in panels):
        title = (title + "\n" if title else "") + "★: the candidate the proxy ranks first"
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


def metric_bars(values: dict[str, dict[str, float]], names: dict[str, str], title: str = "",
                ylabel: str = "Spearman's ρ with the ground truth") -> Figure:
    """Grouped bars: for each method (the outer keys of ``values``, in order)
    one bar per metric (the inner keys), labelled by ``names[metric]``; a NaN
    value (undefined) is marked "n/a" instead of a bar."""
    import math
    methods = list(values)
    metrics = list(dict.fromkeys(m for v in values.values() for m in v))
    width = 0.8 / max(1, len(metrics))
    fig = Figure(figsize=(max(4.0, 0.9 * len(methods) * max(1, len(metrics)) + 1.5), 3.4), layout="constrained")
    ax = fig.subplots()
    for j, metric in enumerate(metrics):
        xs = [i + (j - (len(metrics) - 1) / 2) * width for i in range(len(methods))]
        vs = [values[m].get(metric, math.nan) for m in methods]
        ax.bar([x for x, v in zip(xs, vs) if not math.isnan(v)], [v for v in vs if not math.isnan(v)],
               width * 0.9, label=names.get(metric, metric), alpha=0.85)
        for x, v in zip(xs, vs):
            ax.text(x, (v if not math.isnan(v) else 0) + (0.02 if not math.isnan(v) and v >= 0 else -0.02),
                    "n/a" if math.isnan(v) else f"{v:.2f}", ha="center",
                    va="bottom" if math.isnan(v) or v >= 0 else "top", fontsize=7)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylim(-1.1, 1.15)
    ax.set_xticks(range(len(methods)), methods, fontsize=8)
    ax.set_ylabel(ylabel)
    if len(metrics) > 1:
        _legend_outside(ax, 8)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return fig
