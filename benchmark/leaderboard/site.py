"""``leaderboard build``: a static site (plain HTML, CSS and a little JS; no CDN; works from file://).

``SITE/index.html`` holds the ranked table (sortable by a header click); every number carries its
exact stored value in ``data-value`` and links to the cell it comes from on the system's page,
``SITE/systems/<system>-v<N>.html`` (details, status history, every cell with CIs and overlap flags,
an EER heatmap of test sets × conditions and DET curves per test set). ``leaderboard.md``,
``leaderboard.csv`` and ``store.json`` (the rows behind the page) sit beside it.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import SpoofbenchError
from .board import Leaderboard
from .ranking import (
    Cell,
    Row,
    coverage_text,
    leaderboard_rows,
    parameters_source,
    percent,
    primary_codec,
    ranking_rule,
    render_csv,
    render_markdown,
    system_slug,
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:right}th{background:#f6f8fa;cursor:pointer}
td.text,th.text{text-align:left}a{color:#0550ae;text-decoration:none}a:hover{text-decoration:underline}
td.in-domain{background:#fff8c5}td.in-domain::after{content:" *";color:#9a6700}
tr.tied td:first-child::after{content:" ≈";color:#8250df}.badge{font-size:.75rem;color:#8250df}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.legend{color:#57606a;font-size:.85rem;max-width:60rem}td.heat{color:#000}img.det{max-width:44rem}
"""

JS = """
// Sort the leaderboard table by a header click (numbers by their stored value; blanks last).
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, index) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (other) { other.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var numeric = th.dataset.type === 'number';
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
        if (x === '' || x === undefined) return 1;
        if (y === '' || y === undefined) return -1;
        var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _page(title: str, body: str, depth: int = 0) -> str:
    up = "../" * depth
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title><link rel=\"stylesheet\" href=\"{up}style.css\"></head>\n"
            f"<body>\n{body}\n<script src=\"{up}sort.js\"></script>\n</body></html>\n")


def _number(cell: Cell, href: str, css: str = "") -> str:
    value = "" if cell.value is None else repr(float(cell.value))
    shown = percent(cell.value)
    inner = f"<a href=\"{href}#{cell.anchor}\">{shown}</a>" if shown else ""
    classes = " ".join(c for c in (css, "in-domain" if cell.domain == "in-domain" else "") if c)
    title = " title=\"in-domain for this system\"" if cell.domain == "in-domain" else ""
    return f"<td class=\"{classes}\" data-value=\"{value}\" data-anchor=\"{cell.anchor}\"{title}>{inner}</td>"


def _header(board: Leaderboard) -> str:
    first = primary_codec(board)
    heads = [("#", "number", ""), ("system", "text", "text"), ("pooled OOD EER %", "number", ""),
             ("95% CI", "number", ""), ("in-domain EER %", "number", "")]
    heads += [(f"{t.name} ({first})", "number", "") for t in board.config.test_sets]
    heads += [(f"{c}", "number", "") for c in board.codecs]
    heads += [("params", "number", ""), ("RTF", "number", ""), ("date", "text", "text"),
              ("rank key", "number", ""), ("coverage", "number", "")]
    return "<tr>" + "".join(f"<th data-type=\"{kind}\" class=\"{css}\">{html.escape(name)}</th>"
                            for name, kind, css in heads) + "</tr>"


def _row(board: Leaderboard, row: Row) -> str:
    sub = row.submission
    href = f"systems/{row.slug}.html"
    ci = "" if row.ci[0] is None else f"[{percent(row.ci[0])}, {percent(row.ci[1])}]"
    tied = " <span class=\"badge\" title=\"95% CI overlaps the leader's\">tied</span>" if row.tied else ""
    if ((sub["details"].get("verified") or {}).get("unsafe_no_sandbox")):
        tied += " <span class=\"badge\" title=\"scored without the sandbox (--unsafe-no-sandbox)\">UNSAFE: no sandbox</span>"
    cells = [f"<td data-value=\"{row.rank}\">{row.rank}</td>",
             f"<td class=\"text\" data-value=\"{html.escape(row.system)}\"><a href=\"{href}\">"
             f"{html.escape(row.system)}</a> v{row.version}{tied}</td>",
             _number(row.pooled, href, "pooled"),
             f"<td data-value=\"{'' if row.ci[0] is None else repr(row.ci[0])}\">{ci}</td>",
             _number(row.in_domain, href)]
    cells += [_number(row.tests.get(t.name, Cell(None, "")), href, "test") for t in board.config.test_sets]
    cells += [_number(row.codecs[c], href, "codec") for c in board.codecs]
    params, rtf = sub["parameters"], sub["rtf"]
    mark = "" if sub["parameters_verified"] else "†"
    params_text = "" if params is None else f"{params:,}{mark}"
    rtf_text = "" if rtf is None else f"{rtf:.4f}"
    cells += [f"<td data-value=\"{'' if params is None else params}\" title=\"{html.escape(parameters_source(sub))}\">"
              f"{params_text}</td>",
              f"<td data-value=\"{'' if rtf is None else repr(rtf)}\">{rtf_text}</td>",
              f"<td class=\"text\" data-value=\"{sub['submitted_at']}\">{sub['submitted_at'][:10]}</td>",
              f"<td data-value=\"{_raw(row.key)}\" title=\"{html.escape(row.key_name)}\">"
              f"{percent(row.key)}{' (' + html.escape(row.key_name) + ')' if row.key_name else ''}</td>",
              f"<td data-value=\"{row.coverage[0]}\">{html.escape(coverage_text(row))}</td>"]
    css = " class=\"tied\"" if row.tied else ""
    return f"<tr data-submission=\"{sub['id']}\"{css}>" + "".join(cells) + "</tr>"


def _index(board: Leaderboard, rows: list[Row]) -> str:
    legend = (html.escape(ranking_rule(board)) + " Pooled OOD EER with its 95% bootstrap CI. Shaded cells "
              "marked * are in-domain for that system (its declared training data includes the test set's corpus). "
              "≈ / tied: the CI overlaps the leader's. † parameter count declared or reported by the submission, "
              "not counted by the operator. Condition columns: EER pooled over all test sets for that codec condition. "
              "Click a header to sort; every number links to its cell on the system's page.")
    body = (f"<h1>{html.escape(board.config.name)}</h1>\n<p class=\"legend\">{legend}</p>\n"
            f"<table id=\"leaderboard\" class=\"sortable\"><thead>{_header(board)}</thead><tbody>\n"
            + "\n".join(_row(board, row) for row in rows)
            + "\n</tbody></table>\n<p><a href=\"leaderboard.csv\">CSV</a> · <a href=\"leaderboard.md\">Markdown</a>"
            " · <a href=\"store.json\">store rows</a></p>")
    return _page(board.config.name, body)


def build_site(board: Leaderboard, out_dir: str | Path, *, det: bool = True) -> list[Path]:
    """Write the site into a fresh folder beside ``out_dir``, then put it in ``out_dir``'s place (the old
    site, withdrawn systems' pages and plots included, goes as a whole); returns the files, as placed."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        written = _write_site(board, fresh, det=det)
        _replace_folder(fresh, out)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return [out / p.relative_to(fresh) for p in written]


def _replace_folder(fresh: Path, out: Path) -> None:
    """``fresh`` becomes ``out``: two renames (the old site is moved aside first, then removed)."""
    if out.exists() and not (out / "index.html").exists() and any(out.iterdir()):
        raise SpoofbenchError(f"{out}: exists and is not a leaderboard site (no index.html); choose an empty "
                              "or new folder for --out (build replaces the folder as a whole)")
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "site")
    os.rename(fresh, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def public_submission(sub: dict) -> dict:
    """A stored submission without what stays private: the contact e-mail."""
    return {k: v for k, v in sub.items() if k != "contact"}


def _write_site(board: Leaderboard, out: Path, *, det: bool) -> list[Path]:
    rows = leaderboard_rows(board)
    written = []
    for name, text in (("style.css", CSS), ("sort.js", JS), ("index.html", _index(board, rows)),
                       ("leaderboard.md", render_markdown(board, rows)), ("leaderboard.csv", render_csv(board, rows))):
        write_text_atomic(out / name, text)
        written.append(out / name)
    store_rows = {"submissions": [public_submission(r.submission) for r in rows],
                  "cells": {str(r.submission["id"]): board.store.cells(r.submission["id"]) for r in rows}}
    write_json_atomic(out / "store.json", store_rows)
    written.append(out / "store.json")
    for row in rows:
        written += _system_page(board, row, out / "systems", det=det)
    return written


def _system_page(board: Leaderboard, row: Row, folder: Path, *, det: bool) -> list[Path]:
    sub = row.submission
    cells = board.store.cells(sub["id"])
    written = []
    plots = _det_plots(board, sub, folder / row.slug) if det else []
    written += plots
    body = (f"<p><a href=\"../index.html\">← {html.escape(board.config.name)}</a></p>"
            f"<h1>{html.escape(sub['system'])} v{sub['version']} (rank {row.rank} of the board, by "
            f"{html.escape(row.key_name or 'no rank key')})</h1>\n"
            + _details(sub, row) + _heatmap(board, cells) + _cells_table(cells)
            + "".join(f"<h2>DET: {html.escape(p.stem.removeprefix('det__'))}</h2>"
                      f"<img class=\"det\" src=\"{row.slug}/{p.name}\" alt=\"DET curves\">" for p in plots)
            + _history(board, sub))
    path = folder / f"{row.slug}.html"
    write_text_atomic(path, _page(f"{sub['system']} v{sub['version']}", body, depth=1))
    return written + [path]


def _details(sub: dict, row: Row) -> str:
    items = [("kind", sub["kind"]), ("authors", ", ".join(sub["authors"])),
             ("training data", ", ".join(sub["training_data"])),
             ("parameters", f"{sub['parameters']} ({parameters_source(sub)})"),
             ("real-time factor", "" if sub["rtf"] is None else f"{sub['rtf']:.4f}"),
             ("licence", sub["licence"]), ("submitted", sub["submitted_at"]), ("description", sub["description"]),
             ("normalisation", json.dumps(sub["normalization"], sort_keys=True))]
    verified = sub["details"].get("verified") or {}
    if sub["kind"] == "model":
        items.insert(1, ("sandbox", verified.get("isolation") or "unknown"))
        if verified.get("rtf_source"):
            items.insert(6, ("real-time factor measured as", verified["rtf_source"]))
    items += [("coverage", f"{coverage_text(row)} test sets"),
              ("rank key", f"{percent(row.key)} ({row.key_name})" if row.key is not None else "none (ranked last)")]
    pooled = (f"<p id=\"pooled\">pooled OOD EER <b data-value=\"{_raw(row.pooled.value)}\">"
              + (f"{percent(row.pooled.value)}%</b>" if row.pooled.value is not None else "n/a</b> (no OOD cells)")
              + (f" (95% CI {percent(row.ci[0])}–{percent(row.ci[1])}%)" if row.ci[0] is not None else "") + "</p>"
              f"<p id=\"in-domain\">in-domain EER <b data-value=\"{_raw(row.in_domain.value)}\">"
              + (f"{percent(row.in_domain.value)}%" if row.in_domain.value is not None else "n/a") + "</b></p>")
    codecs = "".join(f"<li id=\"codec-{html.escape(c)}\">{html.escape(c)}: <b data-value=\"{'' if cell.value is None else repr(cell.value)}\">"
                     f"{percent(cell.value)}%</b> (pooled over test sets)</li>" for c, cell in row.codecs.items())
    return ("<table class=\"details\">" + "".join(f"<tr><th class=\"text\">{k}</th><td class=\"text\">{html.escape(str(v))}</td></tr>"
                                                for k, v in items) + "</table>" + pooled + f"<ul>{codecs}</ul>")


def _raw(value: float | None) -> str:
    return "" if value is None else repr(value)


def _heatmap(board: Leaderboard, cells: list[dict]) -> str:
    by = {(c["test_set"], c["codec"]): c for c in cells}
    head = "<tr><th class=\"text\">test set</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in board.codecs) + "</tr>"
    body = ""
    for test in board.config.test_sets:
        tds = []
        for codec in board.codecs:
            cell = by.get((test.name, codec))
            if cell is None:
                tds.append("<td></td>")
                continue
            shade = int(255 - min(cell["eer"], 0.5) * 2 * 155)  # 0% white → 50% strong red
            tds.append(f"<td class=\"heat\" style=\"background:rgb(255,{shade},{shade})\" data-value=\"{cell['eer']!r}\">"
                       f"{percent(cell['eer'])}</td>")
        body += f"<tr><th class=\"text\">{html.escape(test.name)}</th>{''.join(tds)}</tr>"
    return f"<h2>EER heatmap (%)</h2><table class=\"heatmap\">{head}{body}</table>"


def _cells_table(cells: list[dict]) -> str:
    head = ("<tr><th class=\"text\">test set</th><th class=\"text\">condition</th><th class=\"text\">domain</th>"
            "<th>EER %</th><th>95% CI</th><th>minDCF</th><th>actDCF</th><th>Cllr</th><th>AUC</th>"
            "<th>bona fide / spoof</th><th>missing trials (scored worst)</th><th class=\"text\">overlap flags</th></tr>")
    rows = []
    for c in cells:
        ci = "" if c["eer_ci_low"] is None else f"[{percent(c['eer_ci_low'])}, {percent(c['eer_ci_high'])}]"
        flags = ", ".join(c["overlap"].get("flagged", [])) or "none"
        unknown = [k for k, v in c["overlap"].get("by_corpus", {}).items() if v == "unknown"]
        flags += f" (unknown for {', '.join(unknown)})" if unknown else ""
        rows.append(f"<tr id=\"cell-{html.escape(c['test_set'])}-{html.escape(c['codec'])}\">"
                    f"<td class=\"text\">{html.escape(c['test_set'])}</td><td class=\"text\">{html.escape(c['codec'])}</td>"
                    f"<td class=\"text{' in-domain' if c['domain'] == 'in-domain' else ''}\">{c['domain']}</td>"
                    f"<td data-value=\"{c['eer']!r}\">{percent(c['eer'])}</td><td>{ci}</td>"
                    f"<td>{c['min_dcf']:.4f}</td><td>{c['act_dcf']:.4f}</td><td>{c['cllr']:.4f}</td>"
                    f"<td>{c['auc']:.4f}</td><td>{c['n_bonafide']} / {c['n_spoof']}</td>"
                    f"<td data-value=\"{int(c.get('n_missing') or 0)}\">{int(c.get('n_missing') or 0)}</td>"
                    f"<td class=\"text\">{html.escape(flags)}</td></tr>")
    return f"<h2>Cells</h2><table class=\"cells\">{head}{''.join(rows)}</table>"


def _history(board: Leaderboard, sub: dict) -> str:
    items = "".join(f"<li>{html.escape(h['at'])}: {html.escape(h['status'])} ({html.escape(h['reason'])})</li>"
                    for h in board.store.history(sub["id"]))
    return f"<h2>Status history</h2><ul>{items}</ul>"


def _det_plots(board: Leaderboard, sub: dict, folder: Path) -> list[Path]:
    """One SVG per test set with a DET curve per condition, from the stored score files."""
    from ..metrics import plot_det
    from ..metrics.readers import ScoreNormalization, align, read_scores

    norm = {k: v for k, v in sub["normalization"].items() if k in ("score_col", "id_map", "flip")}
    normalization = ScoreNormalization(**norm, on_extra="drop")
    by_test: dict[str, dict] = {}
    for file in board.store.files(sub["id"]):
        table = read_scores(board.directory / "files" / f"{file['sha256']}.txt", normalization)
        trials = align(table, board.keys(file["test_set"]), on_extra="drop")
        by_test.setdefault(file["test_set"], {})[file["codec"]] = (np.asarray(trials.scores), trials.labels)
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for test_set, systems in by_test.items():
        path = folder / f"det__{test_set}.svg"
        plot_det(systems, path, title=f"{sub['system']} v{sub['version']}: {test_set}")
        written.append(path)
    return written


__all__ = ["build_site", "system_slug"]
