"""The attention explorer of ``notebooks/attention.ipynb``: one real image's
spatial attention maps at every layer of a randomly initialised ConvNet, and
L_SAM between a real batch and synthetic batches, as the reader moves the
power p (1-8), the normalisation (L2 / L1 / none) and the layer.

- :class:`AttentionLab` holds what the explorer recomputes from: the encoder,
  the image, and for every batch (real, synthetic) the channel power sums
  ``sum_c |f_c|^p`` of every layer for p = 1..8 (``losses.channel_power_sum``),
  made once: a slider's move then only normalises and averages them
  (``losses.NORMALISATIONS``, ``class_means``, ``sam_loss``), milliseconds on
  a CPU;
- :func:`draw` makes the explorer's two figures for one state (the maps:
  ``plots.attention_maps`` / ``attention_panel``; the class-mean maps L_SAM
  compares at the chosen layer, with its terms);
- :class:`Explorer` is the ipywidgets glue (sliders -> :func:`draw`), live in
  Jupyter; :func:`static_html` is the same explorer for a page without a
  kernel (the results site, an executed notebook): every state precomputed,
  drawn by a few lines of JavaScript, no download.

Main paper Sec. 3 and supplement Sec. 2.2: ``a_p(f) = sum_c |f_c|^p``,
normalised per image; ``L_SAM = sum_k sum_l d(mean_{T_k} a_p, mean_{S_k} a_p)``
over every layer but the last. DSA augmentation, which distillation applies
to both batches, is left out here: the explorer shows the loss's geometry,
not one training step.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from ..method.losses import NORMALISATIONS, attention_map, channel_power_sum, class_means, sam_loss
from . import plots

POWERS = tuple(range(1, 9))               # the slider's p
NORMS = ("l2", "l1", "none")              # losses.NORMALISATIONS, in the slider's order
REAL = "real"


@dataclass(frozen=True)
class AttentionLab:
    """One random encoder, one image, and the batches L_SAM compares.

    ``sums[name][p][l]``: batch ``name``'s (``"real"`` and each synthetic
    batch's) channel power sums at layer ``l`` for power ``p``, (K*n, H_l*W_l),
    class-major; ``sam_layers``: the layers L_SAM sums over (0-based,
    ``losses.Objective.layers``); ``distance``: its distance (``losses.DISTANCES``)."""
    encoder: torch.nn.Module
    image: torch.Tensor                    # (1, C, H, W), as the encoder sees it
    pixels: torch.Tensor                   # (C, H, W) in [0, 1], to show
    label: str                             # its class
    cls: int                               # its class index
    shapes: tuple[tuple[int, int], ...]    # (H_l, W_l) of every layer
    sums: dict[str, dict[int, tuple[torch.Tensor, ...]]]
    num_classes: int
    sam_layers: tuple[int, ...]
    distance: str = "mse"

    @classmethod
    def build(cls, encoder, image: torch.Tensor, pixels: torch.Tensor, label: str, class_index: int,
              batches: dict[str, torch.Tensor], num_classes: int, sam_layers, distance: str = "mse",
              chunk: int = 64) -> AttentionLab:
        """Run every batch (class-major images, ``"real"`` first) through
        ``encoder`` once, ``chunk`` images at a time, keeping only the
        channel power sums of each layer for every p of :data:`POWERS`."""
        if REAL not in batches:
            raise ValueError(f"batches must hold the real batch under {REAL!r}; got {sorted(batches)}")
        sums, shapes = {}, ()
        with torch.no_grad():
            for name, x in batches.items():
                if len(x) % num_classes:
                    raise ValueError(f"batch {name!r}: {len(x)} images is not a class-major batch of "
                                     f"{num_classes} classes")
                parts: dict[int, list[list[torch.Tensor]]] = {p: [] for p in POWERS}
                for i in range(0, len(x), chunk):
                    taps, _ = encoder.forward_features(x[i:i + chunk])
                    shapes = tuple(tuple(t.shape[-2:]) for t in taps)
                    for p in POWERS:
                        parts[p].append([channel_power_sum(t, p).flatten(1) for t in taps])
                sums[name] = {p: tuple(torch.cat(layer) for layer in zip(*parts[p])) for p in POWERS}
        return cls(encoder, image, pixels, label, class_index, shapes, sums, num_classes,
                   tuple(sam_layers), distance)

    @property
    def layers(self) -> int:
        return len(self.shapes)

    @property
    def synthetic(self) -> list[str]:
        return [n for n in self.sums if n != REAL]

    def _check(self, power: int, norm: str, layer: int | None = None) -> None:
        if power not in POWERS:
            raise ValueError(f"power {power!r}: the explorer has p in {POWERS[0]}..{POWERS[-1]}")
        if norm not in NORMALISATIONS:
            raise ValueError(f"normalisation {norm!r}: choose one of {', '.join(NORMALISATIONS)}")
        if layer is not None and not 0 <= layer < self.layers:
            raise ValueError(f"layer {layer + 1}: this encoder has layers 1..{self.layers}")

    def maps(self, power: int, norm: str) -> list[torch.Tensor]:
        """The image's attention map at every layer, (H_l, W_l) each, scaled
        to [0, 1] for display (``plots.attention_maps``)."""
        self._check(power, norm)
        return [m[0] for m in plots.attention_maps(self.encoder, self.image, power, norm)]

    def peaks(self, power: int, norm: str) -> list[float]:
        """The largest value of the image's normalised map at every layer
        (``losses.attention_map``). The display scale of :meth:`maps` hides
        the normalisation (a per-image factor); this shows it: about
        1/sqrt(H*W) and up for L2, 1/(H*W) and up for L1, raw powers for none."""
        self._check(power, norm)
        with torch.no_grad():
            taps, _ = self.encoder.forward_features(self.image)
        return [float(attention_map(t, power, norm).max()) for t in taps]

    def class_means(self, power: int, norm: str, layer: int) -> dict[str, torch.Tensor]:
        """Every batch's class-mean attention maps at ``layer`` (0-based),
        (K, H_l*W_l): what L_SAM compares."""
        self._check(power, norm, layer)
        return {n: class_means(NORMALISATIONS[norm](s[power][layer]), self.num_classes) for n, s in self.sums.items()}

    def sam_terms(self, power: int, norm: str) -> dict[str, list[float | None]]:
        """L_SAM of each synthetic batch against the real one, layer by layer
        (None for a layer L_SAM leaves out): ``sum_k d(real mean, synthetic
        mean)`` at that layer; their sum is L_SAM."""
        self._check(power, norm)
        out = {}
        for name in self.synthetic:
            terms = []
            for l in range(self.layers):
                if l not in self.sam_layers:
                    terms.append(None)
                    continue
                r = class_means(NORMALISATIONS[norm](self.sums[REAL][power][l]), self.num_classes)
                s = class_means(NORMALISATIONS[norm](self.sums[name][power][l]), self.num_classes)
                terms.append(float(sam_loss([r], [s], self.distance)))
            out[name] = terms
        return out

    def sam(self, power: int, norm: str) -> dict[str, float]:
        """L_SAM of each synthetic batch (the sum of :meth:`sam_terms`)."""
        return {n: sum(t for t in terms if t is not None) for n, terms in self.sam_terms(power, norm).items()}


def _range(ref: torch.Tensor) -> tuple[float, float]:
    """A colour scale for class-mean maps: the real one's minimum to its 99th
    percentile (as ``plots.attention_maps``: a few bright border positions
    would darken the rest)."""
    lo, hi = float(ref.min()), float(torch.quantile(ref.float(), 0.99))
    return lo, hi if hi > lo else lo + 1.0


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def sam_text(lab: AttentionLab, power: int, norm: str, layer: int) -> str:
    """One line per synthetic batch: L_SAM and the chosen layer's term."""
    terms = lab.sam_terms(power, norm)
    lines = []
    for name, t in terms.items():
        here = "left out of L_SAM (the last layer enters through the embedding)" if t[layer] is None \
            else f"layer {layer + 1}: {_fmt(t[layer])}"
        lines.append(f"L_SAM(real, {name}) = {_fmt(sum(x for x in t if x is not None))}  ({here})")
    return "\n".join(lines)


def draw(lab: AttentionLab, power: int, norm: str, layer: int) -> dict[str, Figure]:
    """The explorer's figures for one state (``layer`` 0-based): ``"maps"``,
    the image above its attention map at every layer; ``"sam"``, the
    class-mean maps of each batch at ``layer`` for the image's class (one
    colour scale for the row, the real map's: ``_range``), with L_SAM in the
    title."""
    maps = lab.maps(power, norm)
    fig_maps = plots.attention_panel(lab.pixels[None], [m[None] for m in maps], [lab.label],
                                     title=f"p = {power}, {norm}")
    ax = fig_maps.axes[layer + 1]
    for s in ax.spines.values():
        s.set_visible(True), s.set_color("#1f77b4"), s.set_linewidth(3)
    for a, peak in zip(fig_maps.axes[1:], lab.peaks(power, norm)):
        a.set_xlabel(f"max {peak:.2g}", fontsize=7)
    means = lab.class_means(power, norm, layer)
    h, w = lab.shapes[layer]
    names = list(means)
    fig = Figure(figsize=(1.7 * len(names) + 0.4, 2.3), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    lo, hi = _range(means[REAL][lab.cls])
    terms = lab.sam_terms(power, norm)
    for a, n in zip(axes, names):
        a.imshow(means[n][lab.cls].view(h, w).numpy(), cmap="inferno", vmin=lo, vmax=hi,
                 interpolation="nearest")
        a.set_xticks([]), a.set_yticks([])
        term = terms.get(n, [None] * lab.layers)[layer]
        a.set_title(n if n == REAL else f"{n}\nlayer term {_fmt(term)}" if term is not None else n, fontsize=8)
    fig.suptitle(f"class '{lab.label}', mean map at layer {layer + 1} ({h}x{w})\n"
                 + "; ".join(f"L_SAM({n}) = {_fmt(v)}" for n, v in lab.sam(power, norm).items()), fontsize=8)
    return {"maps": fig_maps, "sam": fig}


class Explorer:
    """Sliders for p, the normalisation and the layer, redrawing :func:`draw`
    into an ``Output`` and L_SAM into a text line on every move. ``widget``
    is what a notebook displays; ``figures`` and ``text.value`` the last
    state drawn (what a test reads)."""

    def __init__(self, lab: AttentionLab, power: int = 4, norm: str = "l2", layer: int = 1):
        import ipywidgets as w
        self.lab = lab
        self.power = w.IntSlider(value=power, min=POWERS[0], max=POWERS[-1], description="p")
        self.norm = w.ToggleButtons(options=list(NORMS), value=norm, description="norm")
        self.layer = w.IntSlider(value=layer, min=1, max=lab.layers, description="layer")
        self.text = w.HTML()
        self.out = w.Output()
        self.figures: dict[str, Figure] = {}
        for s in (self.power, self.norm, self.layer):
            s.observe(self.update, names="value")
        self.widget = w.VBox([w.HBox([self.power, self.layer]), self.norm, self.text, self.out])
        self.update()

    def update(self, change=None) -> None:
        p, n, l = self.power.value, self.norm.value, self.layer.value - 1
        self.figures = draw(self.lab, p, n, l)
        self.text.value = "<pre>" + html.escape(sam_text(self.lab, p, n, l)) + "</pre>"
        self.out.clear_output(wait=True)
        with self.out:
            for f in self.figures.values():
                plots.show(f)


# ---------------------------------------------------------------- without a kernel

def _bytes(x: torch.Tensor, lo: float | None = None, hi: float | None = None) -> str:
    """A map as base64 of uint8 (x scaled from [lo, hi], default its own range)."""
    x = x.detach().float().flatten()
    lo = float(x.min()) if lo is None else lo
    hi = float(x.max()) if hi is None else hi
    q = ((x - lo) / (hi - lo if hi > lo else 1.0)).clamp(0, 1).mul(255).round().to(torch.uint8)
    return base64.b64encode(q.numpy().tobytes()).decode()


def states(lab: AttentionLab) -> dict:
    """Every state of the explorer (p x normalisation), as :func:`static_html`
    draws them: the image's maps per layer, each batch's class-mean map of the
    image's class per layer (scaled by the real one's range), L_SAM's terms."""
    out = {}
    for p in POWERS:
        for n in NORMS:
            means = []
            for l in range(lab.layers):
                m = {k: v[lab.cls] for k, v in lab.class_means(p, n, l).items()}
                lo, hi = _range(m[REAL])
                means.append({k: _bytes(v, lo, hi) for k, v in m.items()})
            out[f"{p}|{n}"] = {"maps": [_bytes(m, 0.0, 1.0) for m in lab.maps(p, n)], "peaks": lab.peaks(p, n),
                               "means": means,
                               "terms": lab.sam_terms(p, n)}
    return out


_JS = """
(function(){
const D = JSON.parse(document.getElementById("%(id)s-data").textContent);
const root = document.getElementById("%(id)s");
const stops = [[0,0,4],[87,16,110],[188,55,84],[249,142,9],[252,255,164]];   // inferno
function colour(v){ const t = v/255*(stops.length-1), i = Math.min(Math.floor(t), stops.length-2), f = t-i;
  return stops[i].map((c,j) => Math.round(c + f*(stops[i+1][j]-c))); }
function paint(canvas, b64, h, w, grey){
  const raw = atob(b64), img = canvas.getContext("2d").createImageData(w, h);
  for (let k = 0; k < h*w; k++){ const v = raw.charCodeAt(k), c = grey ? [v,v,v] : colour(v);
    img.data.set([c[0], c[1], c[2], 255], 4*k); }
  canvas.width = w; canvas.height = h; canvas.getContext("2d").putImageData(img, 0, 0); }
function fmt(v){ return v === null ? "-" : Number(v).toPrecision(4); }
const q = s => root.querySelector(s);
function update(){
  const p = q(".dd-p").value, n = q(".dd-norm").value, l = q(".dd-layer").value - 1, s = D.states[p + "|" + n];
  q(".dd-p-value").textContent = p; q(".dd-layer-value").textContent = l + 1;
  root.querySelectorAll(".dd-map").forEach((c, i) => { paint(c, s.maps[i], D.shapes[i][0], D.shapes[i][1], false);
    c.style.outline = i === l ? "3px solid #1f77b4" : "none"; });
  root.querySelectorAll(".dd-peak").forEach((e, i) => { e.textContent = "max " + Number(s.peaks[i]).toPrecision(2); });
  root.querySelectorAll(".dd-mean").forEach(c => paint(c, s.means[l][c.dataset.name], D.shapes[l][0], D.shapes[l][1], false));
  q(".dd-loss").textContent = Object.entries(s.terms).map(([k, t]) => "L_SAM(real, " + k + ") = " +
    fmt(t.reduce((a, x) => a + (x === null ? 0 : x), 0)) + "  (layer " + (l + 1) + ": " +
    (t[l] === null ? "left out of L_SAM" : fmt(t[l])) + ")").join("\\n");
  root.dataset.state = p + "|" + n + "|" + (l + 1);
}
paint(q(".dd-image"), D.image, D.size[0], D.size[1], true);
root.querySelectorAll("input, select").forEach(e => e.addEventListener("input", update));
update();
})();
"""


def static_html(lab: AttentionLab, element_id: str = "attention-explorer", power: int = 4, norm: str = "l2",
                layer: int = 1) -> str:
    """The explorer as one self-contained HTML fragment (sliders, canvases,
    the data of every state inline, no network): what the results site and
    an executed notebook show where no kernel runs."""
    if lab.pixels.shape[0] != 1:
        pix = lab.pixels.mean(0)     # colour images are shown in grey here; the figures keep their colours
    else:
        pix = lab.pixels[0]
    data = {"shapes": lab.shapes, "size": list(pix.shape), "image": _bytes(pix, 0.0, 1.0), "states": states(lab)}
    i = html.escape(element_id)
    names = [REAL] + lab.synthetic
    norm_opts = "".join(f'<option value="{n}"{" selected" if n == norm else ""}>{n}</option>' for n in NORMS)
    maps = "".join(f'<figure style="margin:0 6px"><canvas class="dd-map" width="1" height="1" style="{_PIXELATED}">'
                   f'</canvas><figcaption>layer {l + 1} ({h}x{w})<br><span class="dd-peak"></span></figcaption></figure>'
                   for l, (h, w) in enumerate(lab.shapes))
    means = "".join(f'<figure style="margin:0 6px"><canvas class="dd-mean" data-name="{html.escape(n)}" width="1" '
                    f'height="1" style="{_PIXELATED}"></canvas><figcaption>{html.escape(n)}</figcaption></figure>'
                    for n in names)
    return f"""<div id="{i}" class="dd-explorer" style="font-family:sans-serif;font-size:13px">
<div><label>p <input class="dd-p" type="range" min="{POWERS[0]}" max="{POWERS[-1]}" step="1" value="{power}">
<span class="dd-p-value">{power}</span></label>
<label style="margin-left:1em">normalisation <select class="dd-norm">{norm_opts}</select></label>
<label style="margin-left:1em">layer <input class="dd-layer" type="range" min="1" max="{lab.layers}" step="1"
value="{layer}"> <span class="dd-layer-value">{layer}</span></label></div>
<div style="display:flex;align-items:flex-end;margin-top:6px"><figure style="margin:0 6px"><canvas class="dd-image"
width="1" height="1" style="{_PIXELATED}"></canvas><figcaption>{html.escape(lab.label)}</figcaption></figure>{maps}</div>
<div style="margin-top:6px">class-mean maps of class '{html.escape(lab.label)}' at the chosen layer (what L_SAM
compares; one colour scale, the real batch's, clipped at its 99th percentile):</div>
<div style="display:flex;margin-top:4px">{means}</div>
<pre class="dd-loss" style="margin-top:6px"></pre>
<script type="application/json" id="{i}-data">{json.dumps(data)}</script>
<script>{_JS % {"id": i}}</script>
</div>"""


_PIXELATED = "width:96px;height:96px;image-rendering:pixelated"
