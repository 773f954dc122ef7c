"""Tables rendered from a run result only (:class:`~spoofbench.runner.result_model.RunResult`; a dict is
validated into one): metric pivot, in-domain → OOD gap, codec robustness.

Rates are fractions in the result; how each metric is shown (percent, cost, bits, decimals) comes
from :mod:`spoofbench.metrics.catalog` alone, so every table, plot and report rounds the same way.
Several seeds give ``mean ± sd`` cells. Each :class:`Table` carries a title, a caption and its unit;
``render`` writes Markdown, numeric CSV (long form, one row per table cell), LaTeX (booktabs,
escaped) or a self-contained HTML ``<table>`` with its caption.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import SpoofbenchError
from ..metrics.catalog import metric_info
from .result_model import ResultLike, as_result
from .results import METRIC_KEYS, tidy_cells

FORMATS = ("md", "csv", "latex", "html")
SUFFIX = {"md": "md", "csv": "csv", "latex": "tex", "html": "html"}
_KEYS = ("detector", "seed", "test_set", "codec", "domain")


@dataclass(frozen=True)
class Table:
    """A titled table.

    ``frame``: display strings; ``numeric``: the means behind them in the result's units
    (fractions for rates); ``sd`` / ``count``: spread and number of seeds per cell (optional);
    ``metric``: the catalog metric of the values; ``delta``: values are differences
    (percentage points for rates); ``unit``: the unit a reader sees, spelled out.
    """

    title: str
    frame: object  # pandas.DataFrame of strings
    numeric: object  # pandas.DataFrame of floats
    caption: str = ""
    unit: str = ""
    metric: str = "eer"
    delta: bool = False
    sd: object = None
    count: object = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _check_metric(metric: str) -> None:
    if metric not in METRIC_KEYS:
        raise SpoofbenchError(f"unknown metric {metric!r}; expected one of {', '.join(METRIC_KEYS)}")
    metric_info(metric)


def unit_text(metric: str, delta: bool = False) -> str:
    """What a number of ``metric`` is, in words: ``%``, ``percentage points``, ``normalised cost``."""
    info = metric_info(metric)
    if info.kind == "percent":
        return "percentage points" if delta else "%"
    return {"cost": "normalised cost (not a percentage)", "bits": "bits",
            "fraction": "fraction"}.get(info.kind, "")


def format_cell(metric: str, mean: float, sd: float | None = None, n: int = 1, *,
                delta: bool = False) -> str:
    """One table cell by the catalog's rule; a delta gets a sign and no ``%`` (it is in points)."""
    info = metric_info(metric)
    if mean is None or mean != mean:
        return "—"
    spread = sd if (n > 1 and sd is not None and sd == sd) else None
    if not delta:
        return info.format(mean, sd=spread, unit=False)
    text = f"{mean * info.scale:+.{info.decimals}f}"
    if spread is not None:
        text += f" ± {spread * info.scale:.{info.decimals}f}"
    return text


def _cells(result: ResultLike):
    cells = tidy_cells(result)
    if cells.empty:
        raise SpoofbenchError("the result has no finished cells")
    return cells


def _display(metric: str, mean, sd, count, *, delta: bool = False):
    import pandas as pd

    display = pd.DataFrame(index=mean.index, columns=mean.columns, dtype=object)
    for r in mean.index:
        for c in mean.columns:
            n = int(count.loc[r, c]) if count is not None else 1
            display.loc[r, c] = format_cell(metric, mean.loc[r, c], sd.loc[r, c] if sd is not None else None,
                                            n, delta=delta)
    return display


DEV_MARK, STALE_MARK = "‡", "*"


def flags(result: ResultLike) -> tuple[dict[str, str], dict[str, str]]:
    """({test set: why it is not held out (dev-as-test)}, {detector: why some of its cells are stale})."""
    result = as_result(result)
    dev = {t: why for t in result.test_sets if (why := result.dev_as_test(t))}
    stale: dict[str, str] = {}
    for cell in result.cells:
        if cell.stale is not None:
            stale.setdefault(cell.detector, cell.stale.reason)
    return dev, stale


def mark_flags(table: Table, result: ResultLike) -> Table:
    """Mark dev-as-test test sets (‡) and detectors with stale cells (*) in the labels, with a note each."""
    import dataclasses

    dev, stale = flags(result)
    if not dev and not stale:
        return table
    labels = {**{t: f"{t} {DEV_MARK}" for t in dev}, **{d: f"{d} {STALE_MARK}" for d in stale}}
    frame = table.frame.rename(index=lambda v: labels.get(v, v), columns=lambda v: labels.get(v, v))
    notes = [f"{DEV_MARK} dev set used as a test set: {why}." for why in dev.values()]
    notes += [f"{STALE_MARK} {d}: some cells are {why}." for d, why in stale.items()]
    return dataclasses.replace(table, frame=frame, notes=tuple(table.notes) + tuple(notes))


def _seed_note(cells) -> str:
    seeds = sorted(cells.seed.dropna().unique().tolist())
    if len(seeds) > 1:
        return f"Mean ± sd over {len(seeds)} training seeds ({', '.join(map(str, seeds))})."
    return f"One training seed ({seeds[0] if seeds else '—'}): no spread across seeds is shown."


def pivot_table(result: ResultLike, metric: str = "eer", rows: tuple[str, ...] = ("detector",),
                columns: tuple[str, ...] = ("test_set", "codec")) -> Table:
    """``metric`` (mean ± sd over seeds) with ``rows`` × ``columns`` taken from the cell keys."""
    _check_metric(metric)
    for key in (*rows, *columns):
        if key not in _KEYS:
            raise SpoofbenchError(f"cannot pivot on {key!r}; expected some of {', '.join(_KEYS)}")
    cells = _cells(result)
    grouped = cells.groupby([*rows, *columns], sort=False)[metric]
    stats = grouped.agg(["mean", "std", "count"]).reset_index()
    mean = stats.pivot_table(index=list(rows), columns=list(columns), values="mean", sort=False)
    sd = stats.pivot_table(index=list(rows), columns=list(columns), values="std", sort=False,
                           dropna=False).reindex_like(mean)
    count = stats.pivot_table(index=list(rows), columns=list(columns), values="count",
                              sort=False).reindex_like(mean).fillna(0)
    info = metric_info(metric)
    unit = unit_text(metric)
    better = "Lower is better." if info.lower_is_better else "Higher is better."
    display = _display(metric, mean, sd, count)
    with_ci = metric == "eer" and _single_seed_cis(display, cells, rows, columns, info)
    ci_note = " [95% bootstrap CI of the one seed's cell]." if with_ci else ""
    caption = (f"{info.label}: {info.description}. Unit: {unit}. Rows: {' × '.join(rows)}; columns: "
               f"{' × '.join(columns)}. {_seed_note(cells)}{ci_note} {better}")
    return mark_flags(Table(f"{info.column_label} by {' × '.join(rows)} and {' × '.join(columns)}",
                            display, mean, caption=caption, unit=unit, metric=metric,
                            sd=sd, count=count), result)


def _single_seed_cis(display, cells, rows: tuple[str, ...], columns: tuple[str, ...], info) -> bool:
    """Add the cell's bootstrap CI to each value that stands for one cell (one seed); True if any was added."""
    added = False
    for _, row in cells.iterrows():
        if row.eer_ci_low is None or row.eer_ci_low != row.eer_ci_low:
            continue
        r = tuple(row[k] for k in rows)
        c = tuple(row[k] for k in columns)
        r, c = (r[0] if len(r) == 1 else r), (c[0] if len(c) == 1 else c)
        if r not in display.index or c not in display.columns:
            continue
        if len(cells[(cells[list(rows)] == list(r if isinstance(r, tuple) else (r,))).all(axis=1)
                     & (cells[list(columns)] == list(c if isinstance(c, tuple) else (c,))).all(axis=1)]) != 1:
            continue  # a mean over seeds: its spread is the ± sd
        display.loc[r, c] = (f"{display.loc[r, c]} [{info.format(row.eer_ci_low, unit=False)}, "
                             f"{info.format(row.eer_ci_high, unit=False)}]")
        added = True
    return added


def domain_gap_table(result: ResultLike, metric: str = "eer") -> Table:
    """Per detector: mean ``metric`` on uncoded in-domain and OOD test sets, their gap, and OOD over
    all codecs. Each number is a mean over the test sets of that domain and over seeds."""
    import pandas as pd

    _check_metric(metric)
    cells = _cells(result)
    numeric = {}
    for detector, group in cells.groupby("detector", sort=False):
        clean = group[group.codec == "none"]
        ind = clean[clean.domain == "in-domain"][metric].mean()
        ood = clean[clean.domain == "ood"][metric].mean()
        numeric[detector] = {"in-domain": ind, "ood": ood, "gap": ood - ind,
                             "ood (all codecs)": group[group.domain == "ood"][metric].mean()}
    numeric = pd.DataFrame.from_dict(numeric, orient="index")
    numeric.index.name, numeric.columns.name = "detector", "quantity"
    display = numeric.copy().astype(object)
    for col in numeric.columns:
        display[col] = [format_cell(metric, v, delta=col.startswith("gap")) for v in numeric[col]]
    info = metric_info(metric)
    unit = unit_text(metric)
    ind_sets = sorted({t for t, d in zip(cells.test_set, cells.domain) if d == "in-domain"})
    ood_sets = sorted({t for t, d in zip(cells.test_set, cells.domain) if d == "ood"})
    if set(ind_sets) & set(ood_sets):  # detectors trained on different data label test sets differently
        where = ("In-domain and OOD: each detector's own labels (a test set can be in-domain for one detector "
                 "and OOD for another); means over those test sets")
    else:
        where = (f"In-domain: mean over {', '.join(ind_sets) or 'none'}; OOD: mean over "
                 f"{', '.join(ood_sets) or 'none'}")
    caption = (f"{info.label} in {unit}; the gap (ood − in-domain) is in {unit_text(metric, delta=True)}. {where} "
               f"(uncoded audio unless the column says all codecs), and over seeds.")
    return mark_flags(Table(f"{info.column_label}: in-domain vs out-of-distribution", display, numeric,
                            caption=caption, unit=unit, metric=metric), result)


def codec_robustness_table(result: ResultLike, metric: str = "eer") -> Table:
    """Per detector × (test set, codec): mean increase of ``metric`` over the same test set uncoded.

    Each test set keeps its own column block: an in-domain and an OOD set are never averaged.
    """
    import pandas as pd

    _check_metric(metric)
    cells = _cells(result)
    base = cells[cells.codec == "none"].set_index(["detector", "seed", "test_set"])[metric]
    coded = cells[cells.codec != "none"].copy()
    if coded.empty or base.empty:
        raise SpoofbenchError("codec robustness needs cells with codec 'none' and at least one other codec")
    ref = base.reindex(pd.MultiIndex.from_frame(coded[["detector", "seed", "test_set"]])).to_numpy()
    coded["delta"] = coded[metric].to_numpy() - ref
    group = coded.groupby(["detector", "test_set", "codec"], sort=False)["delta"]
    stats = group.agg(["mean", "std", "count"]).reset_index()
    mean = stats.pivot_table(index="detector", columns=["test_set", "codec"], values="mean", sort=False)
    sd = stats.pivot_table(index="detector", columns=["test_set", "codec"], values="std", sort=False,
                           dropna=False).reindex_like(mean)
    count = stats.pivot_table(index="detector", columns=["test_set", "codec"], values="count",
                              sort=False).reindex_like(mean).fillna(0)
    info = metric_info(metric)
    unit = unit_text(metric, delta=True)
    domains = dict(zip(cells.test_set, cells.domain))
    caption = (f"Increase of {info.label} over the same test set uncoded, in {unit} (positive: worse under "
               f"the codec). One column block per test set ("
               + ", ".join(f"{t}: {domains.get(t, '?')}" for t in dict.fromkeys(coded.test_set))
               + f"). {_seed_note(cells)}")
    return mark_flags(Table(f"{info.label} increase over uncoded audio, per test set ({unit})",
                            _display(metric, mean, sd, count, delta=True), mean, caption=caption, unit=unit,
                            metric=metric, delta=True, sd=sd, count=count), result)


def _attack_eers(cell, key, run: Path, resamples: int, seed: int) -> dict[str, tuple[float, float, float]]:
    """``{attack: (EER, CI low, CI high)}`` of one cell: the test set's bona fide trials against each attack."""
    import numpy as np

    from ..metrics import bootstrap_ci, compute_eer, read_scores

    attacks = key.columns.get("attack")
    if attacks is None:
        raise SpoofbenchError(f"{run / 'keys' / (cell.test_set + '.txt')}: no attack column; no per-attack breakdown")
    scores = read_scores(run / str(cell.score_file))
    present = np.fromiter((i in scores for i in key.ids), dtype=bool, count=len(key))
    got = np.fromiter((scores[i] for i in key.ids[present]), dtype=np.float64, count=int(present.sum()))
    labels, names = key.labels[present], np.asarray(attacks)[present]
    bona = got[labels == 1]
    out = {}
    for attack in sorted(set(names[labels == 0].tolist())):
        spoof = got[(labels == 0) & (names == attack)]
        eer, _ = compute_eer(bona, spoof)
        subset = np.concatenate([bona, spoof])
        y = np.concatenate([np.ones(len(bona), dtype=np.int8), np.zeros(len(spoof), dtype=np.int8)])
        ci = bootstrap_ci(subset, y, n_resamples=resamples, seed=seed + cell.seed, metrics=("eer",))["eer"]
        out[attack] = (eer, ci.low, ci.high)
    return out


def attack_table(result: ResultLike, run_dir: str | os.PathLike, *, codecs: tuple[str, ...] | None = ("none",),
                 resamples: int = 200, seed: int = 0) -> Table:
    """EER per attack with 95% bootstrap CIs: rows detector (× codec when several), columns test set × attack.

    Each attack's EER pits the test set's bona fide trials against that attack's spoofs (the ASVspoof
    evaluation packages' breakdown), from the cells' score files and the run's key files. Several seeds:
    mean EER and the mean of the seeds' CI bounds. ``codecs=None``: every codec of the run (the per
    codec × attack breakdown).
    """
    import numpy as np
    import pandas as pd

    from ..metrics import read_keys

    result = as_result(result)
    run = Path(run_dir)
    cells = [c for c in result.cells if codecs is None or c.codec in codecs]
    if not cells:
        raise SpoofbenchError(f"no finished cells with codec(s) {', '.join(codecs or ())}")
    keys: dict[str, object] = {}
    values: dict[tuple, list[tuple[float, float, float]]] = {}
    for cell in cells:
        if cell.test_set not in keys:
            keys[cell.test_set] = read_keys(run / "keys" / f"{cell.test_set}.txt")
        for attack, eer_ci in _attack_eers(cell, keys[cell.test_set], run, resamples, seed).items():
            values.setdefault((cell.detector, cell.codec, cell.test_set, attack), []).append(eer_ci)
    several = len({k[1] for k in values}) > 1 or codecs is None
    rows = ["detector", "codec"] if several else ["detector"]
    records = [{"detector": d, "codec": c, "test_set": t, "attack": a, "mean": float(np.mean([v[0] for v in vs])),
                "low": float(np.mean([v[1] for v in vs])), "high": float(np.mean([v[2] for v in vs])), "n": len(vs)}
               for (d, c, t, a), vs in values.items()]
    frame = pd.DataFrame(records)
    mean = frame.pivot_table(index=rows, columns=["test_set", "attack"], values="mean", sort=False)
    low = frame.pivot_table(index=rows, columns=["test_set", "attack"], values="low", sort=False).reindex_like(mean)
    high = frame.pivot_table(index=rows, columns=["test_set", "attack"], values="high", sort=False).reindex_like(mean)
    count = frame.pivot_table(index=rows, columns=["test_set", "attack"], values="n", sort=False).reindex_like(mean)
    info = metric_info("eer")
    display = pd.DataFrame(index=mean.index, columns=mean.columns, dtype=object)
    for r in mean.index:
        for c in mean.columns:
            m = mean.loc[r, c]
            display.loc[r, c] = "—" if m != m else (f"{info.format(m, unit=False)} "
                                                     f"[{info.format(low.loc[r, c], unit=False)}, "
                                                     f"{info.format(high.loc[r, c], unit=False)}]")
    seeds = sorted({c.seed for c in cells})
    spread = (f"mean over {len(seeds)} seeds, then the mean of the seeds' CI bounds" if len(seeds) > 1
              else f"one seed ({seeds[0]})")
    caption = (f"EER (%) per attack: the test set's bona fide trials against one attack's spoofs; [95% percentile "
               f"bootstrap CI, {resamples} resamples within class]; {spread}. Codec(s): "
               f"{', '.join(sorted({c.codec for c in cells}))}. Lower is better.")
    title = "EER per attack" + (" and codec" if several else "") + " with 95% CIs"
    return mark_flags(Table(title, display, mean, caption=caption, unit="%", metric="eer", count=count), result)


# ----------------------------------------------------------------------------- rendering

def _flat_columns(frame):
    frame = frame.copy()
    if getattr(frame.columns, "nlevels", 1) > 1:
        frame.columns = [" / ".join(map(str, c)) for c in frame.columns]
    if getattr(frame.index, "nlevels", 1) > 1:
        frame.index = [" / ".join(map(str, i)) for i in frame.index]
    return frame


def _markdown(table: Table) -> str:
    frame = _flat_columns(table.frame)
    parts = [f"### {table.title}", "", f"*{table.caption}*" if table.caption else "", "",
             frame.to_markdown(disable_numparse=True), ""]
    parts += [f"> {note}" for note in table.notes]
    return "\n".join(p for i, p in enumerate(parts) if p or (i and parts[i - 1])) + "\n"


def _csv(table: Table) -> str:
    """Long form, numbers only: one row per table cell, values in the unit named by the header."""
    import pandas as pd

    info = metric_info(table.metric)
    slug = {"%": "percent", "percentage points": "pp"}.get(table.unit, info.kind)
    mean = table.numeric.stack(list(range(table.numeric.columns.nlevels)), future_stack=True)
    frame = pd.DataFrame({f"{table.metric}_{slug}": mean * info.scale})
    if table.sd is not None:
        sd = table.sd.stack(list(range(table.sd.columns.nlevels)), future_stack=True)
        frame[f"sd_{slug}"] = sd.reindex(mean.index) * info.scale
    if table.count is not None:
        count = table.count.stack(list(range(table.count.columns.nlevels)), future_stack=True)
        frame["n_seeds"] = count.reindex(mean.index).astype("Int64")
    frame = frame.reset_index()
    names = list(table.numeric.index.names) + list(table.numeric.columns.names)
    frame.columns = [n if n else ("row" if i == 0 else "column") for i, n in enumerate(names)] + \
        list(frame.columns[len(names):])
    return frame.round(10).to_csv(index=False, float_format="%.10g")


def _latex(table: Table) -> str:
    """A booktabs ``table`` environment; every label and cell is LaTeX-escaped (``_``, ``%``, ``&``)."""
    frame = table.frame.copy()
    frame.index.names = [_latex_escape(str(n)) if n else n for n in frame.index.names]
    frame.columns.names = [_latex_escape(str(n)) if n else n for n in frame.columns.names]
    styler = frame.style
    styler = styler.format(lambda v: _latex_escape(str(v)))
    styler = styler.format_index(lambda v: _latex_escape(str(v)), axis=0)
    styler = styler.format_index(lambda v: _latex_escape(str(v)), axis=1)
    caption = _latex_escape(f"{table.title}. {table.caption}" if table.caption else table.title)
    body = styler.to_latex(hrules=True, caption=caption, position_float="centering",
                           multicol_align="c", label=f"tab:{_slug(table.title)}")
    return body.replace("\\begin{table}", "% requires \\usepackage{booktabs}\n\\begin{table}", 1)


def _latex_escape(text: str) -> str:
    out = []
    for ch in text:
        out.append({"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                    "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                    "^": r"\textasciicircum{}", "±": r"$\pm$", "—": "--", "−": "$-$",
                    "×": r"$\times$", "→": r"$\rightarrow$"}.get(ch, ch))
    return "".join(out)


def _html(table: Table) -> str:
    """A ``<figure>`` holding a ``<table>`` with ``<caption>`` (title, caption, unit), escaped."""
    frame = _flat_columns(table.frame)
    index_name = " / ".join(str(n) for n in table.frame.index.names if n) or ""
    head = "".join(f"<th scope=\"col\">{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for label, row in frame.iterrows():
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        rows.append(f"<tr><th scope=\"row\">{html.escape(str(label))}</th>{cells}</tr>")
    notes = "".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in table.notes)
    unit = f" <span class=\"unit\">Unit: {html.escape(table.unit)}.</span>" if table.unit else ""
    return (f"<figure class=\"spoofbench-table\">\n<table>\n<caption><strong>{html.escape(table.title)}"
            f"</strong><br>{html.escape(table.caption)}{unit}</caption>\n"
            f"<thead><tr><th scope=\"col\">{html.escape(index_name)}</th>{head}</tr></thead>\n"
            f"<tbody>\n" + "\n".join(rows) + f"\n</tbody>\n</table>\n{notes}</figure>\n")


def render(table: Table, fmt: str = "md") -> str:
    """Render a table as Markdown, CSV (numeric, long form), LaTeX (booktabs) or HTML."""
    renderers = {"md": _markdown, "csv": _csv, "latex": _latex, "html": _html}
    if fmt not in renderers:
        raise SpoofbenchError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return renderers[fmt](table)


def standard_tables(result: ResultLike, metrics: tuple[str, ...] = ("eer",)) -> list[Table]:
    """The tables a run reports: pivot per metric, the domain gap, and codec robustness."""
    result = as_result(result)
    tables = [pivot_table(result, m) for m in metrics]
    tables.append(domain_gap_table(result))
    try:
        tables.append(codec_robustness_table(result))
    except SpoofbenchError:
        pass  # a run without codec conditions has no robustness table
    return tables


def write_tables(result: ResultLike, out_dir: str | os.PathLike, *, metrics: tuple[str, ...] = ("eer", "min_dcf"),
                 formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write every standard table in every format: ``out_dir/NN_<slug>.<md|csv|tex|html>``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, table in enumerate(standard_tables(result, metrics)):
        for fmt in formats:
            path = out / f"{i:02d}_{_slug(table.title)}.{SUFFIX[fmt]}"
            write_text_atomic(path, render(table, fmt))
            written.append(path)
    return written


def _slug(text: str) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in text.lower())
    while "__" in slug:
        slug = slug.replace("__", "_")
    return slug.strip("_")[:60]


__all__ = ["FORMATS", "Table", "attack_table", "codec_robustness_table", "domain_gap_table", "format_cell", "pivot_table",
           "render", "standard_tables", "unit_text", "write_tables"]
