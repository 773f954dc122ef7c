"""The leaderboard table: one row per accepted system version, ranked by the board's rank key.

The rank key (``rank_by`` in the leaderboard YAML) is always defined: ``pooled_ood_eer`` falls back to
the pooled EER of all the system's cells where it has no out-of-domain cell (the row says so); a
system that lacks the key altogether (a ``rank_by: TEST`` board, a system without that test set) ranks
after those that have it. Partial coverage (k of n test sets) ranks in tiers (more test sets first) or
with a penalty per missing test set, as the YAML says; missing cells are never pooled.

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
    key: float | None = None            # the rank key's value for this system
    key_name: str = ""                  # what it is ("pooled OOD EER", "pooled EER (no OOD cells)", ...)
    coverage: tuple[int, int] = (0, 0)  # test sets covered, of the board's
    n_missing: int = 0                  # trials scored as the worst score (missing_trials: worst_score)

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
    """A file name unique per submission: its id (when stored), the system name made safe, its version."""
    name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in submission["system"])[:60]
    prefix = f"{submission['id']}-" if submission.get("id") is not None else ""
    return f"{prefix}{name}-v{submission['version']}"


KEY_NAMES = {"pooled_ood_eer": "pooled OOD EER", "pooled_eer": "pooled EER", "min_dcf": "pooled minDCF"}


def rank_key(board: Leaderboard, sub: dict, cells: dict) -> tuple[float | None, str]:
    """``(value, name)`` of the board's rank key for ``sub`` (see the module docstring)."""
    by = board.config.rank_by
    values = sub["details"].get("rank_values") or {}
    if by == "pooled_ood_eer":
        if sub["pooled_ood_eer"] is not None:
            return sub["pooled_ood_eer"], KEY_NAMES[by]
        pooled = values.get("pooled_eer")
        return pooled, "pooled EER (no OOD cells)" if pooled is not None else ""
    if by in KEY_NAMES:
        return values.get(by), KEY_NAMES[by]
    cell = cells.get((by, primary_codec(board)))
    return (cell["eer"], f"{by} EER") if cell else (None, "")


def primary_codec(board: Leaderboard) -> str:
    return "none" if "none" in board.codecs else board.codecs[0]


def leaderboard_rows(board: Leaderboard) -> list[Row]:
    """Accepted submissions ranked by the rank key within coverage tiers (or with the coverage penalty)."""
    rows = []
    first = primary_codec(board)
    n_tests = len(board.config.test_sets)
    for sub in board.store.submissions():
        stored = board.store.cells(sub["id"])
        cells = {(c["test_set"], c["codec"]): c for c in stored}
        tests = {t.name: Cell(cells[(t.name, first)]["eer"], f"cell-{t.name}-{first}",
                              cells[(t.name, first)]["domain"])
                 for t in board.config.test_sets if (t.name, first) in cells}
        by_codec = sub["details"].get("by_codec_eer", {})
        codecs = {c: Cell(by_codec.get(c), f"codec-{c}") for c in board.codecs}
        key, key_name = rank_key(board, sub, cells)
        covered = len({c["test_set"] for c in stored})
        rows.append(Row(0, sub, Cell(sub["pooled_ood_eer"], "pooled"),
                        (sub["pooled_ood_ci_low"], sub["pooled_ood_ci_high"]),
                        Cell(sub["in_domain_eer"], "in-domain"), tests, codecs, key=key, key_name=key_name,
                        coverage=(covered, n_tests), n_missing=sum(int(c.get("n_missing") or 0) for c in stored)))
    rows.sort(key=lambda r: _order(board, r))
    for rank, row in enumerate(rows, 1):
        row.rank = rank
    leader = rows[0] if rows else None
    if leader is not None and leader.ci[1] is not None and leader.key_name == "pooled OOD EER":
        for row in rows[1:]:
            row.tied = (row.key_name == leader.key_name and row.coverage == leader.coverage
                        and row.ci[0] is not None and row.ci[0] <= leader.ci[1])
    return rows


def _order(board: Leaderboard, row: Row) -> tuple:
    missing = row.coverage[1] - row.coverage[0]
    if board.config.coverage == "penalty":
        value = None if row.key is None else row.key + board.config.coverage_penalty * missing
        return (value is None, value if value is not None else 0.0, row.submission["id"])
    return (missing, row.key is None, row.key if row.key is not None else 0.0, row.submission["id"])


def ranking_rule(board: Leaderboard) -> str:
    """One sentence for the page: what the board ranks by and how partial coverage ranks."""
    by = board.config.rank_by
    key = {"pooled_ood_eer": "the EER pooled over every out-of-domain cell (test sets × codec conditions), "
                             "or, for a system without out-of-domain cells, the EER pooled over all its cells "
                             "(marked 'no OOD cells')",
           "pooled_eer": "the EER pooled over all of a system's cells",
           "min_dcf": "the minimum DCF pooled over all of a system's cells"}.get(by, f"the EER on test set {by}")
    coverage = ("systems covering more test sets rank first (coverage tiers), then by the key"
                if board.config.coverage == "tiers" else
                f"each test set a system does not cover adds {board.config.coverage_penalty * 100:g} points to its key")
    return f"Ranked by {key}; {coverage}; missing cells are never pooled."


def parameters_source(sub: dict) -> str:
    """Who counted a submission's parameters: ``verified`` (the operator, without running submitted code;
    ``verified: matched the wheel's weight files (...)`` where a wheel's report equals the count of the weight
    files it ships), else ``reported by the submission †`` (a model's own report, with what its weight files
    hold where they disagree) or ``declared by the submission †``."""
    verified = (sub.get("details") or {}).get("verified") or {}
    source = str(verified.get("parameters_source") or "")
    if sub["parameters_verified"]:
        return f"verified: {source}" if source.startswith("matched the wheel's weight files") else "verified"
    held = source.partition("; ")[2] if source.startswith("reported by the submission; its weight files") else ""
    extra = f"; {held}" if held else ""
    if verified.get("unsafe_no_sandbox"):
        return "reported by the submission †, run WITHOUT a sandbox (--unsafe-no-sandbox)" + extra
    if sub["kind"] != "model":
        return "declared by the submission †"
    return "reported by the submission †" + extra


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}"


def table_columns(board: Leaderboard) -> list[str]:
    first = primary_codec(board)
    return (["rank", "system", "version", "pooled OOD EER %", "95% CI", "in-domain EER %"]
            + [f"{t.name} EER % ({first})" for t in board.config.test_sets]
            + [f"{c} EER %" for c in board.codecs] + ["parameters", "RTF", "date", "tied with leader", "rank key",
                                                      "coverage"])


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
                    "yes" if row.tied else "", f"{percent(row.key)} ({row.key_name})" if row.key is not None else "",
                    coverage_text(row)])
    return out


def coverage_text(row: Row) -> str:
    k, n = row.coverage
    return f"{k} of {n}" + (f", {row.n_missing} missing trial(s) scored worst" if row.n_missing else "")


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+!~")  # | is escaped per cell by render_markdown


def markdown_text(text: str) -> str:
    """Submitted text as inert Markdown: HTML and Markdown syntax escaped, line breaks flattened."""
    flat = " ".join(str(text).split())
    return "".join(f"&#{ord(ch)};" if ch in "<>&" else f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in flat)


def render_markdown(board: Leaderboard, rows: list[Row]) -> str:
    columns = table_columns(board)
    lines = [f"# {markdown_text(board.config.name)}", "",
             ranking_rule(board) + " `*`: in-domain for that system (its declared training data includes the test "
             "set's corpus). `†`: parameter count declared or reported by the submission, not counted by the "
             "operator.", "",
             "| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for record in table_records(board, rows):
        record[1] = markdown_text(record[1])
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in record) + " |")
    return "\n".join(lines) + "\n"


def csv_safe(value):
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab / CR) gets a leading
    apostrophe (OWASP's CSV-injection rule); numbers, including negative ones, stay numbers."""
    if not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def render_csv(board: Leaderboard, rows: list[Row]) -> str:
    """Machine-readable: fractions (not percent), full precision, one column per number."""
    first = primary_codec(board)
    header = (["rank", "system", "version", "submission_id", "pooled_ood_eer", "pooled_ood_ci_low",
               "pooled_ood_ci_high", "in_domain_eer"]
              + [f"eer__{t.name}__{first}" for t in board.config.test_sets]
              + [f"domain__{t.name}" for t in board.config.test_sets]
              + [f"eer__pooled__{c}" for c in board.codecs]
              + ["parameters", "parameters_verified", "rtf", "submitted_at", "tied_with_leader", "rank_key",
                 "rank_value", "coverage", "n_test_sets", "missing_trials_filled", "parameters_source"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer = _SafeWriter(writer)
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
                         sub["submitted_at"], row.tied, row.key_name, text(row.key), row.coverage[0],
                         row.coverage[1], row.n_missing, parameters_source(sub)])
    return buffer.getvalue()


class _SafeWriter:
    """A csv writer whose every cell goes through :func:`csv_safe`."""

    def __init__(self, writer):
        self.writer = writer

    def writerow(self, row) -> None:
        self.writer.writerow([csv_safe(v) for v in row])
