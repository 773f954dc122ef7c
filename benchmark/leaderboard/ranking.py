"""The leaderboard table: one row per accepted system version, ranked by pooled OOD EER.

Every number is a value of the store: ``pooled_ood_eer`` and its CI and ``in_domain_eer`` (columns of
``submissions``), per-test-set EER (the cell of the uncoded condition, or the first condition), the
codec-robustness columns (EER pooled over all test sets per condition, stored with the submission),
parameters, real-time factor and date. A system whose CI overlaps the leader's is *tied* with it.
Markdown and CSV renderings live here too.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .board import Leaderboard


@dataclass(frozen=True)
class Cell:
    """One number of the table with where it comes from (``anchor`` on the system page)."""

    value: float | None
    anchor: str
    domain: str = ""


@dataclass
class Row:
    rank: int
    submission: dict
    pooled: Cell
    ci: tuple[float | None, float | None]
    in_domain: Cell
    tests: dict[str, Cell] = field(default_factory=dict)
    codecs: dict[str, Cell] = field(default_factory=dict)
    tied: bool = False

    @property
    def system(self) -> str:
        return self.submission["system"]

    @property
    def version(self) -> int:
        return self.submission["version"]

    @property
    def slug(self) -> str:
        return system_slug(self.submission)


def system_slug(submission: dict) -> str:
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in submission["system"])
    return f"{name}-v{submission['version']}"


def primary_codec(board: Leaderboard) -> str:
    return "none" if "none" in board.codecs else board.codecs[0]


def leaderboard_rows(board: Leaderboard) -> list[Row]:
    """Accepted submissions ranked by pooled OOD EER (systems without OOD cells last)."""
    rows = []
    first = primary_codec(board)
    for sub in board.store.submissions():
        cells = {(c["test_set"], c["codec"]): c for c in board.store.cells(sub["id"])}
        tests = {t.name: Cell(cells[(t.name, first)]["eer"], f"cell-{t.name}-{first}",
                              cells[(t.name, first)]["domain"])
                 for t in board.config.test_sets if (t.name, first) in cells}
        by_codec = sub["details"].get("by_codec_eer", {})
        codecs = {c: Cell(by_codec.get(c), f"codec-{c}") for c in board.codecs}
        rows.append(Row(0, sub, Cell(sub["pooled_ood_eer"], "pooled"),
                        (sub["pooled_ood_ci_low"], sub["pooled_ood_ci_high"]),
                        Cell(sub["in_domain_eer"], "in-domain"), tests, codecs))
    rows.sort(key=lambda r: (r.pooled.value is None, r.pooled.value if r.pooled.value is not None else 0.0,
                             r.submission["id"]))
    for rank, row in enumerate(rows, 1):
        row.rank = rank
    if rows and rows[0].ci[1] is not None:
        leader_high = rows[0].ci[1]
        for row in rows[1:]:
            row.tied = row.ci[0] is not None and row.ci[0] <= leader_high
    return rows


def parameters_source(sub: dict) -> str:
    """Who counted a submission's parameters: ``verified`` (the operator, without running submitted code),
    else ``reported by the submission †`` (a model's own report) or ``declared by the submission †``."""
    if sub["parameters_verified"]:
        return "verified"
    verified = (sub.get("details") or {}).get("verified") or {}
    if verified.get("unsafe_no_sandbox"):
        return "reported by the submission †, run WITHOUT a sandbox (--unsafe-no-sandbox)"
    return "reported by the submission †" if sub["kind"] == "model" else "declared by the submission †"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}"


def table_columns(board: Leaderboard) -> list[str]:
    first = primary_codec(board)
    return (["rank", "system", "version", "pooled OOD EER %", "95% CI", "in-domain EER %"]
            + [f"{t.name} EER % ({first})" for t in board.config.test_sets]
            + [f"{c} EER %" for c in board.codecs] + ["parameters", "RTF", "date", "tied with leader"])


def table_records(board: Leaderboard, rows: list[Row]) -> list[list[str]]:
    """Rows as text (percentages with two decimals); in-domain per-test cells end with ``*``."""
    out = []
    for row in rows:
        sub = row.submission
        ci = "" if row.ci[0] is None else f"[{percent(row.ci[0])}, {percent(row.ci[1])}]"
        tests = [percent(row.tests[t.name].value) + ("*" if row.tests[t.name].domain == "in-domain" else "")
                 if t.name in row.tests else "" for t in board.config.test_sets]
        params = "" if sub["parameters"] is None else f"{sub['parameters']}" + ("" if sub["parameters_verified"] else "†")
        out.append([str(row.rank), row.system, str(row.version), percent(row.pooled.value), ci,
                    percent(row.in_domain.value), *tests, *(percent(row.codecs[c].value) for c in board.codecs),
                    params, "" if sub["rtf"] is None else f"{sub['rtf']:.4f}", sub["submitted_at"][:10],
                    "yes" if row.tied else ""])
    return out


def render_markdown(board: Leaderboard, rows: list[Row]) -> str:
    columns = table_columns(board)
    lines = [f"# {board.config.name}", "",
             "Ranked by pooled out-of-domain EER (95% bootstrap CI). `*`: in-domain for that system "
             "(its declared training data includes the test set's corpus). `†`: parameter count declared, "
             "not verified.", "",
             "| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in record) + " |"
              for record in table_records(board, rows)]
    return "\n".join(lines) + "\n"


def render_csv(board: Leaderboard, rows: list[Row]) -> str:
    """Machine-readable: fractions (not percent), full precision, one column per number."""
    first = primary_codec(board)
    header = (["rank", "system", "version", "submission_id", "pooled_ood_eer", "pooled_ood_ci_low",
               "pooled_ood_ci_high", "in_domain_eer"]
              + [f"eer__{t.name}__{first}" for t in board.config.test_sets]
              + [f"domain__{t.name}" for t in board.config.test_sets]
              + [f"eer__pooled__{c}" for c in board.codecs]
              + ["parameters", "parameters_verified", "rtf", "submitted_at", "tied_with_leader"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        sub = row.submission

        def text(value):
            return "" if value is None else repr(value)
        writer.writerow([row.rank, row.system, row.version, sub["id"], text(row.pooled.value), text(row.ci[0]),
                         text(row.ci[1]), text(row.in_domain.value),
                         *(text(row.tests[t.name].value) if t.name in row.tests else "" for t in board.config.test_sets),
                         *(row.tests[t.name].domain if t.name in row.tests else "" for t in board.config.test_sets),
                         *(text(row.codecs[c].value) for c in board.codecs),
                         text(sub["parameters"]), sub["parameters_verified"], text(sub["rtf"]),
                         sub["submitted_at"], row.tied])
    return buffer.getvalue()
