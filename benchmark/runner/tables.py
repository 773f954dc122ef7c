"""Tables rendered from a ``result.json`` only: EER pivot, in-domain → OOD gap, codec robustness.

Rates are fractions in the result and percentages in the tables. Several seeds give
``mean ± sd`` cells.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpoofbenchError
from .results import METRIC_KEYS, tidy_cells

FORMATS = ("md", "csv", "latex", "html")
#: Metrics shown as percentages; Cllr is in bits and AUC is a plain fraction.
PERCENT_METRICS = {"eer", "min_dcf", "act_dcf"}


@dataclass(frozen=True)
class Table:
    """A titled table: ``frame`` holds display strings, ``numeric`` the numbers behind them."""

    title: str
    frame: object  # pandas.DataFrame of strings
    numeric: object  # pandas.DataFrame of floats (means)


def _fmt(metric: str, mean: float, sd: float | None, n: int) -> str:
    if mean != mean:  # NaN: no cell
        return "—"
    scale, unit = (100.0, "%") if metric in PERCENT_METRICS else (1.0, "")
    text = f"{mean * scale:.2f}{unit}"
    if n > 1 and sd == sd and sd is not None:
        text += f" ± {sd * scale:.2f}"
    return text


def _check_metric(metric: str) -> None:
    if metric not in METRIC_KEYS:
        raise SpoofbenchError(f"unknown metric {metric!r}; expected one of {', '.join(METRIC_KEYS)}")


def pivot_table(result: dict, metric: str = "eer", rows: tuple[str, ...] = ("detector",),
                columns: tuple[str, ...] = ("test_set", "codec")) -> Table:
    """``metric`` (mean ± sd over seeds) with ``rows`` × ``columns`` taken from the cell keys."""
    import pandas as pd

    _check_metric(metric)
    cells = tidy_cells(result)
    keys = ("detector", "seed", "test_set", "codec", "domain")
    for key in (*rows, *columns):
        if key not in keys:
            raise SpoofbenchError(f"cannot pivot on {key!r}; expected some of {', '.join(keys)}")
    if cells.empty:
        raise SpoofbenchError("the result has no finished cells")
    grouped = cells.groupby([*rows, *columns], sort=False)[metric]
    stats = grouped.agg(["mean", "std", "count"]).reset_index()
    mean = stats.pivot_table(index=list(rows), columns=list(columns), values="mean", sort=False)
    sd = stats.pivot_table(index=list(rows), columns=list(columns), values="std", sort=False, dropna=False)
    count = stats.pivot_table(index=list(rows), columns=list(columns), values="count", sort=False)
    sd = sd.reindex_like(mean)
    count = count.reindex_like(mean).fillna(0)
    display = pd.DataFrame(index=mean.index, columns=mean.columns, dtype=object)
    for r in mean.index:
        for c in mean.columns:
            display.loc[r, c] = _fmt(metric, mean.loc[r, c], sd.loc[r, c], int(count.loc[r, c]))
    name = metric.upper() if metric in ("eer", "auc") else metric
    return Table(f"{name} by {' × '.join(rows)} and {' × '.join(columns)}", display, mean)


def domain_gap_table(result: dict, metric: str = "eer") -> Table:
    """Per detector: mean ``metric`` in-domain and out-of-distribution (uncoded, and over all codecs)."""
    import pandas as pd

    _check_metric(metric)
    cells = tidy_cells(result)
    if cells.empty:
        raise SpoofbenchError("the result has no finished cells")
    rows, numeric = {}, {}
    for detector, group in cells.groupby("detector", sort=False):
        clean = group[group.codec == "none"]
        ind = clean[clean.domain == "in-domain"][metric].mean()
        ood = clean[clean.domain == "ood"][metric].mean()
        ood_all = group[group.domain == "ood"][metric].mean()
        numeric[detector] = {"in-domain": ind, "ood": ood, "gap": ood - ind, "ood (all codecs)": ood_all}
        rows[detector] = {k: _fmt(metric, v, None, 1) for k, v in numeric[detector].items()}
    return Table(f"{metric} in-domain vs out-of-distribution", pd.DataFrame.from_dict(rows, orient="index"),
                 pd.DataFrame.from_dict(numeric, orient="index"))


def codec_robustness_table(result: dict, metric: str = "eer") -> Table:
    """Per detector × codec: mean increase of ``metric`` over the uncoded (``none``) condition."""
    import pandas as pd

    _check_metric(metric)
    cells = tidy_cells(result)
    base = cells[cells.codec == "none"].set_index(["detector", "seed", "test_set"])[metric]
    coded = cells[cells.codec != "none"].copy()
    if coded.empty or base.empty:
        raise SpoofbenchError("codec robustness needs cells with codec 'none' and at least one other codec")
    ref = base.reindex(pd.MultiIndex.from_frame(coded[["detector", "seed", "test_set"]])).to_numpy()
    coded["delta"] = coded[metric].to_numpy() - ref
    numeric = coded.pivot_table(index="detector", columns="codec", values="delta", sort=False)
    display = numeric.map(lambda v: "—" if v != v else
                          (f"{v * 100:+.2f}" if metric in PERCENT_METRICS else f"{v:+.3f}"))
    unit = " (percentage points)" if metric in PERCENT_METRICS else ""
    return Table(f"{metric} increase over uncoded audio{unit}", display, numeric)


def render(table: Table, fmt: str = "md") -> str:
    """Render a table as Markdown, CSV, LaTeX or HTML."""
    frame = table.frame.copy()
    if hasattr(frame.columns, "nlevels") and frame.columns.nlevels > 1:
        frame.columns = [" / ".join(map(str, c)) for c in frame.columns]
    if fmt == "md":
        return f"### {table.title}\n\n" + frame.to_markdown() + "\n"
    if fmt == "csv":
        return frame.to_csv()
    if fmt == "latex":
        return frame.to_latex(caption=table.title, escape=True)
    if fmt == "html":
        return frame.to_html(escape=True)
    raise SpoofbenchError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")


def standard_tables(result: dict, metrics: tuple[str, ...] = ("eer",)) -> list[Table]:
    """The tables a run reports: pivot per metric, the domain gap, and codec robustness."""
    tables = [pivot_table(result, m) for m in metrics]
    tables.append(domain_gap_table(result))
    try:
        tables.append(codec_robustness_table(result))
    except SpoofbenchError:
        pass  # a run without codec conditions has no robustness table
    return tables
