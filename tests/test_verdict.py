"""Computed verdicts (kit/verdict.py): hand-computed cases, and every claim of
paper_numbers.toml naming cells its target's family generates."""
from __future__ import annotations

import math

import pytest

from datadam_lib.families import load_all
from datadam_lib.kit.registry import TARGETS
from datadam_lib.kit.verdict import NO_VERDICT, NOT_SHOWN, REVERSED, SHOWS, Claim, cell, compare, judge, overall, \
    section, values_from_summary

load_all()


def test_compare_by_hand():
    # a = 1, 2, 3 (mean 2, ss 2); b = 4, 5, 6 (mean 5, ss 2): s_p = sqrt(4 / 4) = 1, se = sqrt(2/3)
    d, se = compare([1, 2, 3], [4, 5, 6])
    assert d == pytest.approx(-3) and se == pytest.approx(math.sqrt(2 / 3))


def _values(**cells):
    return {(*cell(k.replace("_", "=")), "accuracy"): v for k, v in cells.items()}


@pytest.mark.parametrize("left, right, want", [
    ([50, 51, 52], [40, 41, 42], SHOWS),          # d = 10, se = 0.82
    ([40, 41, 42], [50, 51, 52], REVERSED),
    ([50, 51, 52], [50.5, 51.5, 52.5], NOT_SHOWN),
])
def test_above(left, right, want):
    assert judge(Claim.parse("p=1 > p=2 | words"), _values(p_1=left, p_2=right)).status == want


def test_the_threshold_is_two_standard_errors():
    c = Claim.parse("p=1 > p=2")
    base = [0.0, 1.0, 2.0]                         # s = 1 in both cells: se = sqrt(2/3) = 0.8165
    se = math.sqrt(2 / 3)
    assert judge(c, _values(p_1=[x + 2.01 * se for x in base], p_2=base)).status == SHOWS
    assert judge(c, _values(p_1=[x + 1.99 * se for x in base], p_2=base)).status == NOT_SHOWN
    assert judge(c, _values(p_1=[x - 2.01 * se for x in base], p_2=base)).status == REVERSED


def test_level_and_between():
    level = Claim.parse("p=1 = p=2")
    assert judge(level, _values(p_1=[50, 51, 52], p_2=[50.5, 51.5, 52.5])).status == SHOWS
    assert judge(level, _values(p_1=[50, 51, 52], p_2=[60, 61, 62])).status == NOT_SHOWN
    between = Claim.parse("p=1 ~ p=2, p=3")
    assert judge(between, _values(p_1=[55, 56, 57], p_2=[50, 51, 52], p_3=[60, 61, 62])).status == SHOWS
    assert judge(between, _values(p_1=[65, 66, 67], p_2=[50, 51, 52], p_3=[60, 61, 62])).status == NOT_SHOWN


def test_no_verdict_without_a_spread_or_a_cell():
    c = Claim.parse("p=1 > p=2@dm")
    assert judge(c, _values(p_1=[50, 51], **{"p_2@dm": [40]})).detail.endswith("n = 1, no spread to compare against")
    assert judge(c, _values(p_1=[50, 51])).status == NO_VERDICT


def test_overall():
    o = lambda s: type("O", (), {"status": s})()  # noqa: E731
    assert overall([o(SHOWS), o(SHOWS)]) == SHOWS
    assert overall([o(SHOWS), o(NOT_SHOWN)]) == NOT_SHOWN
    assert overall([o(SHOWS), o(REVERSED)]) == REVERSED
    assert overall([o(SHOWS), o(NO_VERDICT)]) == NOT_SHOWN      # a claim left unjudged is not shown
    assert overall([o(NO_VERDICT)]) == NO_VERDICT


def test_section_reads_a_summary_and_first_last():
    summary = [{"setting": "iterations=0", "kind": "datadam", "accuracies": "10.00;11.00;12.00"},
               {"setting": "iterations=500", "kind": "datadam", "accuracies": "30.00;31.00;32.00"}]
    v = values_from_summary(summary)
    assert v[("first", "datadam", "accuracy")] == [10, 11, 12] and v[("last", "datadam", "accuracy")] == [30, 31, 32]
    text = section(["last > first | it learns"], summary)
    assert text.startswith("**Verdict: shows** (1 of 1 claims show") and "it learns" in text
    assert section(["first > last"], summary).startswith("**Verdict: reversed**")


def test_bad_claims_are_refused():
    for bad in ("p=1 >", "p=1 ~ p=2", "p=1 > p=2, p=3", "nonsense"):
        with pytest.raises(ValueError):
            Claim.parse(bad)


def test_every_claim_names_cells_its_target_generates():
    """A claim on a setting or kind the family never makes would leave the
    verdict 'not run' forever: catch the typo here."""
    for name, t in TARGETS.items():
        claims = [Claim.parse(c) for c in t.paper.claims]
        if not claims:
            continue
        keys = set()
        for scale in ("quick", "paper"):
            p = t.params_for(scale)
            if t.settings:
                keys |= {s.key for s in t.settings(p)}
        keys |= {"first", "last"}
        kinds = set(t.params_for("quick").get("kinds", ())) | {"datadam", "random"}
        for c in claims:
            for name_ in (c.left, *c.right):
                setting, kind = cell(name_)
                if t.settings is not None:
                    assert setting in keys, (name, name_)
                assert kind in kinds, (name, name_)


def test_runner_gathers_the_verdicts_into_a_doc(tmp_path, monkeypatch):
    from datadam_lib.runner import VERDICTS, main
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    res = tmp_path / "results" / "quick"
    res.mkdir(parents=True)
    (res / "fig1.md").write_text("### fig1\n\n**Ours:** cifar10-5k · quick scale · IPC 10 · 3 evaluated models\n\n"
                                 + section(["p=1 > p=2"], [
                                     {"setting": "p=1", "kind": "datadam", "accuracies": "50;51;52"},
                                     {"setting": "p=2", "kind": "datadam", "accuracies": "40;41;42"}]) + "\n")
    doc = tmp_path / "targets.md"
    doc.write_text(f"before\n{VERDICTS[0]}\nold\n{VERDICTS[1]}\nafter\n")
    assert main(["verdicts", "--write", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| [fig1](results/quick/fig1.md) | cifar10-5k · quick scale · IPC 10 | shows | 1 of 1 |" in text
    doc.write_text("no markers\n")
    assert main(["verdicts", "--write", str(doc)]) == 2


def test_a_targets_table_states_its_verdict(tmp_path, monkeypatch):
    """Run.table ends with the verdict computed from the rows it tabulates."""
    from datadam_lib.kit import report
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    run = report.start("fig5", "quick", "digits", params={"ipc": 1})
    row = lambda s, accs: {"setting": s, "label": s, "kind": "datadam", "mean": sum(accs) / 3, "std": 1.0,  # noqa: E731
                           "n_models": 3, "accuracies": ";".join(map(str, accs))}
    summary = [row("distance=mse", [50, 51, 52]), row("distance=mae", [40, 41, 42]),
               row("distance=cosine", [55, 56, 57])]
    text = run.table(summary, ("datadam",), setting_name="distance")
    assert "**Verdict: reversed** (1 of 2 claims show" in text          # MSE above MAE, but below cosine
    assert f"{text.splitlines()[-1]}\n\n*Made by* " in (tmp_path / "results" / "quick" / "fig5.md").read_text()
