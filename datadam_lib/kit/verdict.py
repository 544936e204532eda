"""Computed verdicts: does a run show the paper's finding?

The paper's finding for a target is written as *claims* in
``paper_numbers.toml`` (``claims = ["power=4 > power=8 | p = 8 loses some
accuracy", ...]``), each a comparison of two cells of the run's own table:

    LEFT > RIGHT      LEFT above RIGHT
    LEFT = RIGHT      level: no difference beyond the noise
    LEFT ~ A, B       between: LEFT lies within the range of A and B

A cell is a setting key (``power=4``), optionally ``@kind`` (``ipc=10@dm``;
default ``datadam``), optionally ``on MEASURE`` after the claim (``accuracy``
by default; ``contrast`` and ``brightness`` are statistics of the learned
images, one value per image). A claim's verdict comes from the run's numbers
alone:

- d = mean(LEFT) - mean(RIGHT), se = s_p * sqrt(1/n_L + 1/n_R), with s_p the
  pooled sample standard deviation of the values (the evaluated models'
  accuracies, or the images' statistics);
- ``>``: **shows** when d > 2 se, **reversed** when d < -2 se, else **does
  not show** (within noise);
- ``=``: **shows** when |d| <= 2 se, else **does not show**;
- fewer than 2 values in a cell: no verdict (``n = 1``); a missing cell: ``not run``.

A target's verdict: **shows** when every claim shows, **reversed** when any
is reversed, **does not show** otherwise (``k of n claims show``)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

SHOWS, NOT_SHOWN, REVERSED, NO_VERDICT = "shows", "does not show", "reversed", "no verdict"
Z = 2.0                   # a difference counts when it exceeds 2 standard errors
MARK = "**Verdict"        # how a results .md states it (read() and the site read it back)


@dataclass(frozen=True)
class Claim:
    left: str
    op: str                       # ">", "=", "~"
    right: tuple[str, ...]
    measure: str = "accuracy"
    text: str = ""                # the paper's words

    @classmethod
    def parse(cls, line: str) -> "Claim":
        spec, _, text = line.partition("|")
        m = re.fullmatch(r"\s*(\S+)\s+([>=~])\s+(.+?)(?:\s+on\s+(\w+))?\s*", spec)   # the operator stands alone
        if not m:
            raise ValueError(f"claim {line!r}: expected 'LEFT > RIGHT | words', 'LEFT = RIGHT' or 'LEFT ~ A, B'")
        left, op, right, measure = m.groups()
        cells = tuple(c.strip() for c in right.split(","))
        if (op == "~") != (len(cells) == 2) or any(not c for c in cells):
            raise ValueError(f"claim {line!r}: '~' takes two cells, '>' and '=' one")
        return cls(left, op, cells, measure or "accuracy", text.strip())

    def describe(self) -> str:
        rhs = " and ".join(self.right) if self.op == "~" else self.right[0]
        word = {">": "above", "=": "level with", "~": "between"}[self.op]
        return f"{self.left} {word} {rhs}" + ("" if self.measure == "accuracy" else f" in {self.measure}")


def cell(name: str) -> tuple[str, str]:
    """``power=4`` -> (``power=4``, ``datadam``); ``ipc=10@dm`` -> (``ipc=10``, ``dm``)."""
    setting, _, kind = name.partition("@")
    return setting, kind or "datadam"


def compare(a: list[float], b: list[float]) -> tuple[float, float]:
    """Difference of means and its standard error from the pooled sample
    standard deviation."""
    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    ss = sum((x - ma) ** 2 for x in a) + sum((x - mb) ** 2 for x in b)
    sp = math.sqrt(ss / (na + nb - 2))
    return ma - mb, sp * math.sqrt(1 / na + 1 / nb)


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    status: str
    detail: str


def judge(claim: Claim, values: dict[tuple[str, str, str], list[float]]) -> Outcome:
    """One claim against ``values[(setting, kind, measure)]``."""
    got = {}
    for name in (claim.left, *claim.right):
        v = values.get((*cell(name), claim.measure))
        if not v:
            return Outcome(claim, NO_VERDICT, f"{name} not run")
        if len(v) < 2:
            return Outcome(claim, NO_VERDICT, f"{name}: n = 1, no spread to compare against")
        got[name] = v
    left = got[claim.left]
    if claim.op == "~":
        (d1, se1), (d2, se2) = (compare(left, got[r]) for r in claim.right)
        inside = (d1 >= -Z * se1 and d2 <= Z * se2) or (d2 >= -Z * se2 and d1 <= Z * se1)
        return Outcome(claim, SHOWS if inside else NOT_SHOWN,
                       f"{claim.left} − {claim.right[0]} = {d1:+.2f} ± {se1:.2f}, "
                       f"{claim.left} − {claim.right[1]} = {d2:+.2f} ± {se2:.2f}")
    d, se = compare(left, got[claim.right[0]])
    detail = f"{claim.left} − {claim.right[0]} = {d:+.2f} ± {se:.2f} (se; n = {len(left)}, {len(got[claim.right[0]])})"
    if claim.op == "=":
        return Outcome(claim, SHOWS if abs(d) <= Z * se else NOT_SHOWN, detail)
    return Outcome(claim, SHOWS if d > Z * se else REVERSED if d < -Z * se else NOT_SHOWN, detail)


def overall(outcomes: list[Outcome]) -> str:
    judged = [o for o in outcomes if o.status != NO_VERDICT]
    if not judged:
        return NO_VERDICT
    if any(o.status == REVERSED for o in judged):
        return REVERSED
    return SHOWS if all(o.status == SHOWS for o in judged) and len(judged) == len(outcomes) else NOT_SHOWN


def values_from_summary(summary: list[dict]) -> dict[tuple[str, str, str], list[float]]:
    """The per-model accuracies (``accuracies``: ';'-joined percents) and the
    per-image statistics (``<measure>_values``) of report.summarize's rows;
    the cells ``first`` and ``last`` are each kind's first and last setting
    (a curve's start and end)."""
    out: dict[tuple[str, str, str], list[float]] = {}
    order = list(dict.fromkeys(r["setting"] for r in summary))
    for r in summary:
        for key, measure in (("accuracies", "accuracy"), ("contrast_values", "contrast"),
                             ("brightness_values", "brightness")):
            raw = r.get(key)
            if raw not in (None, ""):
                vals = raw if isinstance(raw, list) else [float(x) for x in str(raw).split(";")]
                out[(r["setting"], r["kind"], measure)] = vals
                for end, at in (("first", 0), ("last", -1)):
                    if r["setting"] == order[at]:
                        out[(end, r["kind"], measure)] = vals
    return out


def section(claim_lines: list[str], summary: list[dict]) -> str:
    """The verdict as markdown for a results .md: the overall word, then each
    claim with its numbers."""
    claims = [Claim.parse(c) for c in claim_lines]
    if not claims:
        return f"{MARK}: {NO_VERDICT}** (the paper's finding here is not a comparison of this run's numbers)."
    values = values_from_summary(summary)
    outcomes = [judge(c, values) for c in claims]
    word = overall(outcomes)
    n_shown = sum(o.status == SHOWS for o in outcomes)
    lines = [f"{MARK}: {word}** ({n_shown} of {len(outcomes)} claims show; computed from this run's numbers: "
             f"a difference counts when it exceeds {Z:g} standard errors of the pooled spread)."]
    for o in outcomes:
        lines.append(f"- {o.status}: {o.claim.describe()}"
                     + (f" — the paper: {o.claim.text}" if o.claim.text else "") + f" ({o.detail})")
    return "\n".join(lines)


def read(line: str) -> tuple[str, str]:
    """The verdict word and "k of n" that a results .md's verdict line states."""
    m = re.match(re.escape(MARK) + r": (.+?)\*\*(?: \((\d+ of \d+) claims show)?", line)
    return (m.group(1), m.group(2) or "—") if m else (NO_VERDICT, "—")


def table(results_dir: str, targets, link: str = "") -> str:
    """One markdown row per target with a results .md under ``results_dir``:
    what ran, the verdict and the claims shown, read back from the .md (what
    ``docs/targets.md`` gathers; nothing typed by hand). ``link``: the
    results folder as the table's reader reaches it (e.g. ``../results/quick``)."""
    import os
    rows = ["| target | ours (from its .md) | verdict | claims shown |", "|---|---|---|---|"]
    for t in targets:
        path = os.path.join(results_dir, f"{t.name}.md")
        if not os.path.isfile(path):
            continue
        ours, word, shown = "", NO_VERDICT, "—"
        with open(path) as f:
            for line in f:
                if line.startswith("**Ours:**") and not ours:
                    head = line[len("**Ours:**"):].split("evaluated models")[0].split(":")[0].split(",")[0]
                    ours = re.sub(r"\s*·\s*[\d/]+$", "", " · ".join(head.strip(" ·\n").split(" · ")[:5]))
                if line.startswith(MARK):
                    word, shown = read(line)
        name = f"[{t.name}]({link}/{t.name}.md)" if link else t.name
        rows.append(f"| {name} | {ours} | {word} | {shown} |")
    return "\n".join(rows)
