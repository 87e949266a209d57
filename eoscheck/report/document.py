"""The report as data (sections of text, tables, figures and verdicts) and its Markdown rendering.

Every table is rendered with tabulate into ``index.md`` and also written as ``data/<section>/<id>.csv``
and ``.json``; ``report.json`` holds every section with its tables, figures and verdicts.  Numbers in
the Markdown are the JSON numbers formatted by :func:`fmt` (4 significant digits), and each table is
preceded by an HTML comment ``<!-- table: <section>/<id> -->`` so the two can be matched (the
end-to-end test does).  Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import csv
import io
import json
import math
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from tabulate import tabulate

from ..outputs import atomic_write  # noqa: F401  (re-exported for the section modules)
from .._errors import reraise_interrupt

#: Verdict words.  Exact claims: holds / VIOLATED.  Fitted, asymptotic and empirical claims:
#: consistent / INCONSISTENT, reproduced / NOT REPRODUCED.  Others: inconclusive (the run cannot
#: decide it), trend only (outside the theorem's hypotheses), missing (an input is absent),
#: error (the computation failed).
VERDICTS = ("holds", "VIOLATED", "consistent", "INCONSISTENT", "reproduced", "NOT REPRODUCED",
            "inconclusive", "trend only", "missing", "error")
BAD_VERDICTS = ("VIOLATED", "INCONSISTENT", "NOT REPRODUCED", "error")


@dataclass
class Table:
    """Rows of named values; ``columns`` fixes the order (default: the first row's keys)."""

    id: str
    title: str
    rows: list[dict[str, Any]]
    columns: list[str] | None = None
    note: str = ""

    def cols(self) -> list[str]:
        if self.columns:
            return list(self.columns)
        out: list[str] = []
        for r in self.rows:
            out.extend(k for k in r if k not in out)
        return out


@dataclass
class Figure:
    """A PNG under the report folder (``file`` relative to it) with its caption."""

    id: str
    file: str
    caption: str


@dataclass
class Verdict:
    """One claim of the theory next to its measurement."""

    claim: str
    source: str
    kind: str
    predicted: str
    measured: str
    verdict: str
    ratio: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")


@dataclass
class Section:
    """A numbered section: what the theory predicts (``intro``), blocks, verdicts, explicit gaps."""

    number: int
    key: str
    title: str
    intro: str = ""
    blocks: list[Any] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def error(self) -> str | None:
        """The errors of this section joined, or None."""
        return "; ".join(self.errors) if self.errors else None

    def fail(self, label: str, err: BaseException) -> None:
        """Record an error (with its traceback in the text) — a bug must show, never pass silently."""
        self.errors.append(f"{label}: {type(err).__name__}: {err}" if label else f"{type(err).__name__}: {err}")
        self.text("```\n" + "".join(traceback.format_exception(err, limit=8)) + "```")

    def part(self, label: str, fn, *args, **kw):
        """Run one part of the section; a crash becomes an explicit error (with its traceback) and the
        other parts still run."""
        try:
            return fn(*args, **kw)
        except Exception as err:
            reraise_interrupt(err)
            self.fail(label, err)
        return None

    def text(self, s: str) -> None:
        self.blocks.append(s)

    def table(self, t: Table) -> Table:
        self.blocks.append(t)
        return t

    def figure(self, f: Figure) -> Figure:
        self.blocks.append(f)
        return f

    def verdict(self, *args, **kw) -> Verdict:
        v = Verdict(*args, **kw)
        self.verdicts.append(v)
        return v

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.missing:
            return "incomplete"
        return "complete"


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


def plain(v: Any) -> Any:
    """A JSON-ready value: numpy scalars to Python, non-finite floats to strings."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else str(f)
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    return v


def fmt(v: Any) -> str:
    """The Markdown form of a table value: 4 significant digits, ``–`` for none, yes/no."""
    if v is None:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return "0" if f == 0 else f"{f:.4g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


def render_table(section_key: str, t: Table) -> str:
    cols = t.cols()
    body = [[fmt(r.get(c)) for c in cols] for r in t.rows]
    md = tabulate(body, headers=[fmt(c) for c in cols], tablefmt="github", disable_numparse=True)
    out = [f"<!-- table: {section_key}/{t.id} -->", f"**{t.title}**", "", md]
    if t.note:
        out += ["", f"*{t.note}*"]
    out.append(f"\n<sub>data: [csv](data/{section_key}/{t.id}.csv) · [json](data/{section_key}/{t.id}.json)</sub>")
    return "\n".join(out)


VERDICT_COLUMNS = ["claim", "source", "kind", "predicted", "measured", "worst ratio", "verdict"]


def verdict_table(sec: Section) -> Table:
    rows = [{"claim": v.claim, "source": v.source, "kind": v.kind, "predicted": v.predicted,
             "measured": v.measured, "worst ratio": v.ratio, "verdict": v.verdict} for v in sec.verdicts]
    return Table("verdicts", f"Section {sec.number} verdicts", rows, VERDICT_COLUMNS)


def render_section(sec: Section) -> str:
    out = [f"## {sec.number}. {sec.title}", ""]
    if sec.error:
        out += [f"> **This section failed with an error** — {sec.error}", ""]
    for m in sec.missing:
        out += [f"> **Missing:** {m}", ""]
    if sec.intro:
        intro = sec.intro.strip()
        out += ["**What the theory predicts.** " + intro[:1].upper() + intro[1:], ""]
    for b in sec.blocks:
        if isinstance(b, Table):
            out += [render_table(sec.key, b), ""]
        elif isinstance(b, Figure):
            out += [f"![{b.caption}]({b.file})", "", f"*Figure {b.id}: {b.caption}*", ""]
        else:
            out += [str(b).strip(), ""]
    if sec.verdicts:
        out += [render_table(sec.key, verdict_table(sec)), ""]
        notes = [f"- *{v.claim}*: {v.note}" for v in sec.verdicts if v.note]
        if notes:
            out += ["Notes on the verdicts:", "", *notes, ""]
    out.append(f"<sub>section wall time: {sec.wall_s:.1f} s</sub>")
    return "\n".join(out)


def verdict_counts(verdicts: Iterable[Verdict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return counts


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[k]} {k}" for k in VERDICTS if counts.get(k)) or "no verdicts"


def render_index(sections: list[Section], header: dict[str, Any]) -> str:
    allv = [v for s in sections for v in s.verdicts]
    lines = [
        "# eoscheck report: large-stepsize GD theory, every bound next to its measurement",
        "",
        "Wu, Bartlett, Telgarsky, Yu, *Large Stepsize Gradient Descent for Logistic Loss: Non-Monotonicity of "
        "the Loss Improves Optimization Efficiency*, COLT 2024 (arXiv:2402.15926); section references "
        "(§) are to the project's theory notes `paper.md`.",
        "",
        f"Generated by `{header['command']}` (profile **{header['profile']}**, seed {header['seed']}, device "
        f"{header['device']}) on {header['time_utc']} in {header['wall_s']:.0f} s from "
        f"{header.get('code', 'unknown code')}; configuration hash `{header['config_hash']}`.",
        "",
        f"**Verdicts of this report ({'§' + ', '.join(str(s.number) for s in sections if s.verdicts) if allv else 'none'}):** "
        f"{counts_text(verdict_counts(allv))}."
        + (" **`eoscheck check` (§7):** " + ", ".join(f"{v} {k}" for k, v in sorted(header["check_counts"].items()))
           + "." if header.get("check_counts") else ""),
        "",
    ]
    if header.get("stand_ins"):   # data that replaced a section's first choice on this machine
        lines += ["**Data stand-ins on this machine:** " + "; ".join(header["stand_ins"]) + ".", ""]
    lines += [
        "Verdict words: *holds* / *VIOLATED* for exact claims (explicit constants; the only allowance is "
        "floating-point rounding), *consistent* / *INCONSISTENT* for fitted or asymptotic ones, *reproduced* / "
        "*NOT REPRODUCED* for the paper's and the slides' experiments and trends (an observation, never a verdict "
        "on a theorem), *inconclusive* when a run cannot decide, *trend only* outside a theorem's hypotheses, "
        "*missing* when a part of eoscheck is not there yet.",
        "",
        "| § | section | status | verdicts | wall time (s) |",
        "|---|---|---|---|---|",
    ]
    for s in sections:
        anchor = f"{s.number}-{s.title}".lower()
        anchor = "".join(c if c.isalnum() or c in "- " else "" for c in anchor).replace(" ", "-")
        lines.append(f"| {s.number} | [{s.title}](#{anchor}) | {s.status} | "
                     f"{counts_text(verdict_counts(s.verdicts))} | {s.wall_s:.1f} |")
    lines.append("")
    for s in sections:
        lines += [render_section(s), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def table_json(t: Table) -> dict[str, Any]:
    cols = t.cols()
    return {"id": t.id, "title": t.title, "columns": cols, "note": t.note,
            "rows": [{c: plain(r.get(c)) for c in cols} for r in t.rows]}


def table_csv(t: Table) -> str:
    cols = t.cols()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for r in t.rows:
        w.writerow([_csv_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


def section_json(sec: Section) -> dict[str, Any]:
    tables = [table_json(t) for t in sec.tables]
    if sec.verdicts:
        tables.append(table_json(verdict_table(sec)))
    return {
        "number": sec.number, "key": sec.key, "title": sec.title, "status": sec.status,
        "wall_s": sec.wall_s, "missing": sec.missing, "error": sec.error, "intro": sec.intro,
        "tables": tables, "figures": [asdict(f) for f in sec.figures],
        "verdicts": [plain(asdict(v)) for v in sec.verdicts],
    }


def write_report(out: Path, sections: list[Section], header: dict[str, Any], extra: dict[str, Any]) -> Path:
    """Write data files, ``report.json`` and, last, ``index.md``; the path of ``index.md``."""
    out = Path(out)
    for s in sections:
        tables = list(s.tables) + ([verdict_table(s)] if s.verdicts else [])
        for t in tables:
            atomic_write(out / "data" / s.key / f"{t.id}.json", json.dumps(table_json(t), indent=1))
            atomic_write(out / "data" / s.key / f"{t.id}.csv", table_csv(t))
    doc = {"header": plain(header), "sections": [section_json(s) for s in sections], **plain(extra)}
    atomic_write(out / "report.json", json.dumps(doc, indent=1))
    return atomic_write(out / "index.md", render_index(sections, header))
