"""The results site (datadam_lib/site.py) without a browser: every output
present on the right page, links that resolve, the index grouped by family,
verdicts, cold times, provenance and the executed notebooks. The browser
check is ``./reproduce.sh site --check`` (needs Chromium)."""
from __future__ import annotations

import glob
import json
import os
import re

import nbformat
import pytest

from datadam_lib.families import load_all
from datadam_lib.kit.paths import kit_root
from datadam_lib.kit.registry import TARGETS, ordered
from datadam_lib.site import broken_links, build, collect

load_all()
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f80f0000010101005c0d0a2d0000000049454e44ae426082")


def _write(root, rel, data: bytes | str, manifest: dict | None = None):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    if manifest is not None:
        with open(path + ".manifest.json", "w") as f:
            json.dump(manifest, f)


@pytest.fixture()
def root(tmp_path):
    r = str(tmp_path / "root")
    m = {"git_sha": "abc1234def", "scale": "quick", "dataset": "digits", "wall_time_s": 12.5}
    for rel in ("figures/quick/fig1.png", "figures/quick/fig10.png", "figures/quick/fig10_images.png",
                "figures/quick/quickstart_attention.png", "figures/quick/stray.png", "figures/quick/fig1b.png"):
        _write(r, rel, PNG, m)
        _write(r, rel[:-4] + ".pdf", b"%PDF-1.4\n", m)
    _write(r, "results/quick/fig1.md", "### fig1\n\n**Verdict: shows** (1 of 1 claims show: the same ordering of p).\n"
                                       "- shows: power=4 > power=8\n\n"
                                       "| p | ours |\n|---|---|\n| 4 | 91.0 |\n", m)
    _write(r, "results/quick/fig1.csv", "setting,mean\npower=4,91.0\n", m)
    _write(r, "results/quick/fig1.failed.ipynb", "{}")            # a failed run's notebook is not shown
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Attention\n$a_p$"),
        nbformat.v4.new_code_cell("x", outputs=[
            nbformat.v4.new_output("display_data", {"application/vnd.jupyter.widget-view+json":
                                                    {"model_id": "m1", "version_major": 2, "version_minor": 0},
                                                    "text/plain": "VBox()"}),
            nbformat.v4.new_output("display_data", {"text/html": "<div class='dd-explorer'>explorer</div>"}),
            nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                            "version_minor": 0}}
    _write(r, "results/quick/attention.ipynb", nbformat.writes(nb), m)
    return r


def _read(out, name):
    with open(os.path.join(out, name)) as f:
        return f.read()


def test_every_output_lands_on_its_targets_page(root, tmp_path):
    arts = {a.name: a for a in collect(root)}
    assert arts["fig1"].figures == ["figures/quick/fig1.png"]
    assert arts["fig10"].figures == ["figures/quick/fig10.png", "figures/quick/fig10_images.png"]   # not fig1's
    assert arts["quickstart"].figures == ["figures/quick/quickstart_attention.png"]
    assert arts["attention"].notebook == "results/quick/attention.ipynb" and arts["fig1"].notebook is None
    assert arts["other"].figures == ["figures/quick/fig1b.png", "figures/quick/stray.png"]   # no target's

    out = str(tmp_path / "site")
    pages = build(out, root)
    assert broken_links(out) == []
    names = {os.path.relpath(p, out) for p in pages}
    assert {f"{t.name}.html" for t in ordered()} | {"index.html", "other.html", "notebooks/attention.html"} == names
    fig10 = _read(out, "fig10.html")
    assert "src='files/figures/quick/fig10_images.png'" in fig10 and "fig10_images.pdf" in fig10
    assert "fig10_images" not in _read(out, "fig1.html")
    for png in glob.glob(os.path.join(root, "figures", "quick", "*.png")):     # every figure, copied whole
        with open(os.path.join(out, "files", os.path.relpath(png, root)), "rb") as f:
            assert f.read() == PNG
    fig1 = _read(out, "fig1.html")
    assert "<table>" in fig1 and "<td>91.0</td>" in fig1                        # the table, rendered
    assert "abc1234def" in fig1 and "fig1.csv" in fig1                          # provenance and data
    assert "No outputs of this target" in _read(out, "fig7.html")


def test_the_index_groups_targets_by_family_with_verdicts_and_times(root, tmp_path):
    out = str(tmp_path / "site")
    build(out, root)
    index = _read(out, "index.html")
    families = list(dict.fromkeys(t.family for t in ordered()))
    assert re.findall(r"<h2 id='(\w+)'>", index) == families + ["other"]
    for fam in families:
        section = index.split(f"<h2 id='{fam}'>")[1].split("<h2")[0]
        assert re.findall(r"<td><a href='([\w-]+)\.html'>", section) == [t.name for t in ordered() if t.family == fam]
    fig1_row = index.split("<a href='fig1.html'>")[1].split("</tr>")[0]
    assert "<strong>Verdict: shows</strong>" in fig1_row and "same ordering of p" in fig1_row
    assert "power=4 &gt; power=8" not in fig1_row                        # the line, not the claims under it
    t = TARGETS["quickstart"]
    if t.measured_s("quick") is not None:
        assert f"{t.measured_s('quick') / 60:.1f} min cold, alone" in index
    assert "<a href='notebooks/attention.html'>executed</a>" in index


def test_the_executed_notebook_page_stands_alone(root, tmp_path):
    out = str(tmp_path / "site")
    build(out, root)
    page = _read(out, "notebooks/attention.html")
    assert "A live ipywidget: it needs a running kernel" in page and "VBox()" not in page
    assert "widget-state+json" not in page and "require.min.js" not in page and "html-manager" not in page
    assert re.search(r"""<div class=["']dd-explorer["']>explorer</div>""", page)     # HTML outputs kept as they are
    assert "data:image/png;base64,iVBORw0KGgo=" in page
    assert "href='../index.html'" in page and "href='../attention.html'" in page


def test_the_committed_outputs_make_a_whole_site(tmp_path):
    kit = kit_root()
    out = str(tmp_path / "site")
    build(out, kit)
    assert broken_links(out) == []
    for png in glob.glob(os.path.join(kit, "figures", "quick", "*.png")):
        assert os.path.isfile(os.path.join(out, "files", os.path.relpath(png, kit))), png
    for md in glob.glob(os.path.join(kit, "results", "quick", "*.md")):
        assert os.path.isfile(os.path.join(out, "files", os.path.relpath(md, kit))), md
