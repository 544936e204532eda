"""``./reproduce.sh site``: one static HTML site of the kit's outputs, to
browse instead of loose files.

    python -m datadam_lib.site [--from ROOT] [--scale quick] [--out site] [--check] [--screenshots DIR]

From ``ROOT`` (default: the kit, i.e. what is committed) it reads every
figure ``figures/<scale>/*.png`` (and its PDF), every table beside the
paper's ``results/<scale>/*.md`` (with its verdict line, when it has one),
every executed notebook ``results/<scale>/*.ipynb``, the manifests beside
them, and the cold times of ``kit/measured.toml``, and writes ``site/``:

- ``index.html``: every target grouped by family (``Target.family``), with
  its verdict and cold time;
- ``<target>.html``: one page per artefact (its figures, its table, the
  manifests' provenance, links to the CSV, the PDFs and the notebook);
- ``notebooks/<target>.html``: the executed notebook (nbconvert, the ``lab``
  template); a live ipywidget needs a kernel, so its output is replaced by a
  note (the attention notebook also holds a kernel-less explorer, which works
  here);
- ``files/``: copies of the figures, tables and CSVs, so the folder is whole.

Every link is relative: the site opens from ``file://`` with no server, and
can be moved or zipped. Only MathJax (the notebooks' formulas) is fetched
from the web; offline the formulas stay as TeX. ``--check`` opens every page
in headless Chromium (``kit``-independent: Debian's ``chromium`` driven by
the ``playwright`` package) and fails on a page that does not load, an image
that does not show or a link to nothing; it writes screenshots of the index
and of the attention explorer before and after moving its sliders.

Why nbconvert with a small template and not jupyter-book or mkdocs: the site
is a page per artefact generated from the registry (families, targets, cold
times) and from files whose names the kit chooses; nbconvert is already a
Jupyter dependency pinned in constraints.txt, renders the executed notebooks
exactly as Jupyter does, and needs no site configuration, theme or build
tool of its own (jupyter-book 1 pulls Sphinx and ~40 packages and re-executes
or caches notebooks itself; mkdocs needs a plugin for notebooks and a YAML
navigation we would generate anyway).
"""
from __future__ import annotations

import argparse
import glob
import html
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from .families import load_all
from .kit.paths import kit_root
from .kit.registry import Target, ordered
from .kit.verdict import MARK as VERDICT_MARK

FAMILY_TITLES = {
    "ablations": "Ablations: one setting changed, distil, evaluate (quickstart, Figs 1, 2, 4-6, 10-13)",
    "visuals": "Visuals: distilled images and their progression (Figs 3, 14-22)",
    "baselines": "Baselines: other methods, generative models, t-SNE (Tables 1, 3, Fig. 9, cross-architecture)",
    "nas": "Architecture search with distilled proxies (Tables 4-5, Figs 7-8)",
    "teaching": "Teaching: the method explained interactively",
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p class='dd-note'><i>A live ipywidget: it needs a running kernel. Run the notebook in Jupyter "
               "(<code>./reproduce.sh lab</code>) to use it.</i></p>")
CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
a{color:#1f5fa8} h1{font-size:1.6em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em} td,th{border:1px solid #ccc;padding:.25em .5em}
th{background:#f3f3f3} img{max-width:100%;border:1px solid #eee} .muted{color:#777} .verdict{font-weight:600}
nav{margin-bottom:1em} details pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.85em}
.missing{color:#a33}
"""
NB_TEMPLATE = ("{%- extends 'lab/index.html.j2' -%}"
               "{% block html_head_js_requirejs %}{% endblock %}"   # no require.js from a CDN: nothing needs it
               "{% block jupyter_widgets %}{% endblock %}")          # widget outputs are replaced by a note


@dataclass
class Artefact:
    """A target's files under the root (paths relative to it)."""
    name: str
    target: Target | None
    figures: list[str] = field(default_factory=list)     # PNGs (their PDFs beside them)
    tables: list[str] = field(default_factory=list)      # .md
    csvs: list[str] = field(default_factory=list)
    notebook: str | None = None                           # the executed notebook

    @property
    def files(self) -> list[str]:
        return self.figures + self.tables + self.csvs + ([self.notebook] if self.notebook else [])


def _owner(stem: str, names: list[str]) -> str | None:
    """The target a file stem belongs to: ``fig10_images`` -> ``fig10``
    (``<target>`` or ``<target>_<part>``; never ``fig1`` for ``fig10``)."""
    best = [n for n in names if stem == n or stem.startswith(n + "_")]
    return max(best, key=len) if best else None


def collect(root: str, scale: str = "quick") -> list[Artefact]:
    """Every registered target with its files under ``root``, in the
    registry's order, then one ``other`` artefact for files no target owns."""
    targets = ordered()
    names = [t.name for t in targets]
    arts = {t.name: Artefact(t.name, t) for t in targets}
    other = Artefact("other", None)
    pattern = {"figures": (f"figures/{scale}/*.png", "figures"), "tables": (f"results/{scale}/*.md", "tables"),
               "csvs": (f"results/{scale}/*.csv", "csvs"), "notebooks": (f"results/{scale}/*.ipynb", None)}
    for pat, attr in pattern.values():
        for path in sorted(glob.glob(os.path.join(root, pat))):
            rel = os.path.relpath(path, root)
            stem = os.path.splitext(os.path.basename(path))[0]
            if stem.endswith(".failed"):
                continue
            art = arts.get(_owner(stem, names) or "", other)
            if attr is None:
                if stem == art.name:
                    art.notebook = rel
                else:
                    other.csvs.append(rel)      # a notebook of no target: listed as a file
            else:
                getattr(art, attr).append(rel)
    out = list(arts.values())
    return out + ([other] if other.files else [])


def _manifest(root: str, rel: str) -> dict | None:
    path = os.path.join(root, rel + ".manifest.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _verdict(root: str, rel: str) -> str | None:
    """The verdict line of a results .md (``kit/verdict.py`` writes it), if any."""
    with open(os.path.join(root, rel)) as f:
        return next((line.strip() for line in f if line.startswith(VERDICT_MARK)), None)


def _markdown(text: str) -> str:
    import mistune
    return mistune.create_markdown(plugins=["table"], escape=False)(text)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _times(t: Target | None, scale: str) -> str:
    if t is None:
        return ""
    cold, in_all = t.measured_s(scale), t.measured_s(scale, "in_all")
    parts = []
    if cold is not None:
        parts.append(f"{_minutes(cold)} cold, alone")
    if in_all is not None:
        parts.append(f"{_minutes(in_all)} within the whole kit's run")
    return "; ".join(parts) or "not measured"


def _page(title: str, body: str, up: str = "") -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<link rel='stylesheet' href='{up}style.css'></head><body>{body}</body></html>\n")


def _copy(root: str, rel: str, out: str) -> str:
    """Copy ``rel`` (and its PDF for a PNG) into ``out/files/``; the link to it."""
    dst = os.path.join(out, "files", rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(os.path.join(root, rel), dst)
    if rel.endswith(".png") and os.path.isfile(os.path.join(root, rel[:-4] + ".pdf")):
        shutil.copyfile(os.path.join(root, rel[:-4] + ".pdf"), dst[:-4] + ".pdf")
    return "files/" + rel


def _provenance(root: str, rel: str) -> str:
    m = _manifest(root, rel)
    if m is None:
        return f"<li><code>{html.escape(rel)}</code>: <span class='muted'>no manifest</span></li>"
    keys = [k for k in ("scale", "preset", "dataset", "seed", "git_sha", "git_dirty", "device", "end_time",
                        "wall_time_s") if k in m]
    short = ", ".join(f"{k} {html.escape(str(m[k]))[:40]}" for k in keys)
    return (f"<li><code>{html.escape(rel)}</code>: {short}<details><summary>manifest</summary>"
            f"<pre>{html.escape(json.dumps(m, indent=1, sort_keys=True))}</pre></details></li>")


def _notebook_page(root: str, rel: str, out: str, name: str) -> str:
    """The executed notebook as HTML (``notebooks/<name>.html``); its link."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.read(os.path.join(root, rel), as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if WIDGET_VIEW in o.get("data", {}):
                o["data"] = {"text/html": WIDGET_NOTE}
    exporter = HTMLExporter(template_name="lab", template_file="datadam-nb.html.j2",
                            extra_loaders=[jinja2.DictLoader({"datadam-nb.html.j2": NB_TEMPLATE})])
    body, _ = exporter.from_notebook_node(nb)
    nav = (f"<nav style='margin:1em'><a href='../index.html'>index</a> · <a href='../{name}.html'>{name}</a>"
           f" · executed notebook <code>{html.escape(rel)}</code></nav>")
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    path = os.path.join(out, "notebooks", f"{name}.html")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(body)
    return f"notebooks/{name}.html"


def _artefact_page(a: Artefact, root: str, out: str, scale: str) -> dict:
    """Write ``<name>.html``; what the index shows of it."""
    t = a.target
    title = f"{a.name}: {t.title}" if t else "Files of no target"
    parts = [f"<nav><a href='index.html'>index</a></nav><h1>{html.escape(title)}</h1>"]
    verdicts = [v for v in (_verdict(root, md) for md in a.tables) if v]
    if t:
        p = t.paper
        parts.append(f"<p>Family <b>{html.escape(t.family)}</b> · notebook <code>{html.escape(t.notebook)}</code>"
                     f" · measured at {scale} scale: {html.escape(_times(t, scale))}</p>")
        if p.source:
            parts.append(f"<p class='muted'>Paper: {html.escape(p.source)} · {html.escape(p.dataset)} · "
                         f"{html.escape(p.setup)}</p>")
    for v in verdicts:
        parts.append(f"<p class='verdict'>{_markdown(v)}</p>")
    nb_link = _notebook_page(root, a.notebook, out, a.name) if a.notebook else None
    if nb_link:
        parts.append(f"<p><a href='{nb_link}'>The executed notebook</a></p>")
    elif t:
        parts.append(f"<p class='muted'>No executed notebook under <code>results/{scale}/</code> here "
                     f"(<code>./reproduce.sh {a.name} --publish</code> writes one).</p>")
    for rel in a.figures:
        link = _copy(root, rel, out)
        pdf = link[:-4] + ".pdf"
        has_pdf = os.path.isfile(os.path.join(out, pdf))
        parts.append(f"<figure><img src='{link}' alt='{html.escape(os.path.basename(rel))}'><figcaption>"
                     f"<code>{html.escape(rel)}</code>{f' · <a href={chr(39)}{pdf}{chr(39)}>PDF</a>' if has_pdf else ''}"
                     "</figcaption></figure>")
    for rel in a.tables:
        _copy(root, rel, out)
        with open(os.path.join(root, rel)) as f:
            parts.append(f"<h2>{html.escape(os.path.basename(rel))}</h2>{_markdown(f.read())}")
    if a.csvs:
        parts.append("<p>Data: " + ", ".join(f"<a href='{_copy(root, rel, out)}'>{html.escape(os.path.basename(rel))}"
                                             "</a>" for rel in a.csvs) + "</p>")
    if a.files:
        parts.append("<h2>Provenance</h2><ul>" + "".join(_provenance(root, rel) for rel in a.files) + "</ul>")
    else:
        parts.append(f"<p class='missing'>No outputs of this target under <code>figures/{scale}/</code> or "
                     f"<code>results/{scale}/</code>.</p>")
    with open(os.path.join(out, f"{a.name}.html"), "w") as f:
        f.write(_page(title, "".join(parts)))
    return {"name": a.name, "title": t.title if t else title, "verdict": verdicts[0] if verdicts else "",
            "time": _times(t, scale), "figure": f"files/{a.figures[0]}" if a.figures else None,
            "notebook": nb_link, "present": bool(a.files)}


def build(out: str = "site", root: str | None = None, scale: str = "quick") -> list[str]:
    """Write the site into ``out`` (replaced whole); the pages written."""
    load_all()
    root = os.path.abspath(root or kit_root())
    out = os.path.abspath(out)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(out, "style.css"), "w") as f:
        f.write(CSS)
    arts = collect(root, scale)
    rows = {a.name: _artefact_page(a, root, out, scale) for a in arts}
    families = list(dict.fromkeys(a.target.family for a in arts if a.target))
    body = [f"<h1>DataDAM reproducibility kit: outputs at {scale} scale</h1>",
            (f"<p class='muted'>Built from <code>{html.escape(os.path.basename(root) or root)}</code>: "
             f"<code>figures/{scale}/</code>, <code>results/{scale}/</code> and <code>kit/measured.toml</code>. "
             "Times: measured wall time, cold (from an empty cache) and alone, or within the whole kit's run.</p>")]
    for fam in families + (["other"] if "other" in rows else []):
        members = [a for a in arts if (a.target.family if a.target else "other") == fam]
        body.append(f"<h2 id='{fam}'>{html.escape(FAMILY_TITLES.get(fam, fam))}</h2><table><tr><th>target</th>"
                    "<th>what</th><th>verdict</th><th>time</th><th>notebook</th></tr>")
        for a in members:
            r = rows[a.name]
            nb = f"<a href='{r['notebook']}'>executed</a>" if r["notebook"] else "<span class='muted'>-</span>"
            body.append(f"<tr><td><a href='{a.name}.html'>{a.name}</a></td><td>{html.escape(r['title'])}"
                        f"{'' if r['present'] else ' <span class=missing>(no outputs)</span>'}</td>"
                        f"<td>{_markdown(r['verdict']) if r['verdict'] else ''}</td><td>{html.escape(r['time'])}"
                        f"</td><td>{nb}</td></tr>")
        body.append("</table>")
    with open(os.path.join(out, "index.html"), "w") as f:
        f.write(_page("DataDAM kit: outputs", "".join(body)))
    return sorted(glob.glob(os.path.join(out, "**", "*.html"), recursive=True))


# ---------------------------------------------------------------- checks

class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key) is not None and tag in ("a", "img", "link", "script"):
                self.refs.append((tag, a[key]))


def broken_links(out: str) -> list[str]:
    """Every local link or source of every page that points to no file
    (web addresses and in-page anchors are not followed)."""
    bad = []
    for page in glob.glob(os.path.join(out, "**", "*.html"), recursive=True):
        p = _Refs()
        with open(page) as f:
            p.feed(f.read())
        for tag, ref in p.refs:
            u = urlsplit(ref)
            if u.scheme or u.netloc or not u.path:
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(page), unquote(u.path)))
            if not os.path.isfile(target):
                bad.append(f"{os.path.relpath(page, out)}: <{tag}> {ref}")
    return bad


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_check(out: str, screenshots: str, chromium: str = "/usr/bin/chromium") -> list[str]:
    """Open every page in headless Chromium from ``file://`` (web requests
    blocked: the site must stand alone). Problems: a page that fails to
    load, an image with no pixels, a local link to nothing, a request for a
    local file that fails. Screenshots: the index, and the attention
    explorer before and after moving its sliders (which must change its
    maps and its L_SAM)."""
    from playwright.sync_api import sync_playwright
    problems = broken_links(out)
    os.makedirs(screenshots, exist_ok=True)
    pages = sorted(glob.glob(os.path.join(out, "**", "*.html"), recursive=True))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1200, "height": 900})
        ctx.route(re.compile(r"^https?://"), lambda route: route.abort())
        for path in pages:
            rel = os.path.relpath(path, out)
            page = ctx.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda r, f=failed: f.append(r.url) if r.url.startswith("file:") else None)
            page.on("pageerror", lambda e, f=failed, rel=rel: f.append(f"script error: {e}"))
            resp = page.goto("file://" + path, wait_until="load")
            if resp is not None and not resp.ok:
                problems.append(f"{rel}: did not load")
            for src in page.eval_on_selector_all("img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0))"
                                                        ".map(e => e.getAttribute('src'))"):
                problems.append(f"{rel}: image does not show: {src}")
            problems += [f"{rel}: {u}" for u in failed]
            if rel == "index.html":
                page.screenshot(path=os.path.join(screenshots, "index.png"), full_page=True)
            if page.query_selector(".dd-explorer"):
                problems += _drive_explorer(page, rel, screenshots)
            page.close()
        browser.close()
    return problems


def _drive_explorer(page, rel: str, screenshots: str) -> list[str]:
    """Move the kernel-less explorer's sliders as a reader would; its maps
    and its L_SAM must change. Screenshots before and after."""
    ex = page.query_selector(".dd-explorer")
    ex.scroll_into_view_if_needed()
    pixels = "e => Array.from(e.querySelectorAll('canvas.dd-map')).map(c => c.toDataURL()).join()"
    before = (ex.evaluate(pixels), page.inner_text(".dd-loss"))
    ex.screenshot(path=os.path.join(screenshots, "attention-explorer-p4-l2.png"))
    for sel, value in ((".dd-p", "8"), (".dd-layer", "2")):
        page.eval_on_selector(sel, f"(e) => {{ e.value = '{value}'; e.dispatchEvent(new Event('input')); }}")
    page.select_option(".dd-norm", "l1")
    page.eval_on_selector(".dd-norm", "e => e.dispatchEvent(new Event('input'))")
    after = (ex.evaluate(pixels), page.inner_text(".dd-loss"))
    ex.screenshot(path=os.path.join(screenshots, "attention-explorer-p8-l1-layer2.png"))
    problems = []
    if ex.get_attribute("data-state") != "8|l1|2":
        problems.append(f"{rel}: the explorer did not follow its sliders ({ex.get_attribute('data-state')})")
    if before[0] == after[0]:
        problems.append(f"{rel}: moving p did not change the maps")
    if before[1] == after[1] or "L_SAM" not in after[1]:
        problems.append(f"{rel}: moving the sliders did not change L_SAM ({after[1]!r})")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./reproduce.sh site", description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="root", help="the output root to read (default: the kit: what is committed)")
    p.add_argument("--scale", default="quick", help="which outputs (default: quick, the committed ones)")
    p.add_argument("--out", default=os.path.join(kit_root(), "site"), help="where to write (default: site/)")
    p.add_argument("--check", action="store_true", help="then open every page in headless Chromium")
    p.add_argument("--screenshots", help="where --check writes its screenshots (default: OUT/screenshots)")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium binary (default: Debian's)")
    a = p.parse_args(argv)
    if a.root and not os.path.isdir(a.root):
        print(f"error: --from {a.root}: no such folder", file=sys.stderr)
        return 2
    if a.check and not os.path.isfile(a.chromium):
        print(f"error: --check needs Chromium at {a.chromium}: apt-get install chromium (or --chromium PATH)",
              file=sys.stderr)
        return 2
    pages = build(a.out, a.root, a.scale)
    bad = broken_links(a.out)
    print(f"site: {len(pages)} pages in {a.out}; open {os.path.join(a.out, 'index.html')}", file=sys.stderr)
    if a.check:
        shots = a.screenshots or os.path.join(a.out, "screenshots")
        bad = browser_check(a.out, shots, a.chromium)
        print(f"browser check: {len(pages)} pages opened in Chromium; screenshots in {shots}", file=sys.stderr)
    for b in bad:
        print(f"error: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
