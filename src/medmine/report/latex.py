"""Leaderboard tables as LaTeX (booktabs), one table per task and dataset, ready to \\input."""

from __future__ import annotations

import io
import math

from medmine.report.data import FAILURE_KEYS, ReportData

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "α": r"$\alpha$",
    "–": "--",
    "—": "---",
    "·": r"$\cdot$",
    "…": r"\ldots{}",
    "×": r"$\times$",
}


def escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _num(x: float | None, digits: int = 3) -> str:
    """A number cell ('--' when missing)."""
    if x is None or math.isnan(x):
        return "--"
    return f"{x:.{digits}f}"


def _pct(rate: float | None) -> str:
    """A rate as a percentage cell."""
    if rate is None or math.isnan(rate):
        return "--"
    return f"{100 * rate:.1f}\\%"


def to_latex(data: ReportData) -> str:
    """A LaTeX fragment (needs ``\\usepackage{booktabs}``) with every leaderboard."""
    out = io.StringIO()
    w = out.write
    w("% medmine leaderboards; requires \\usepackage{booktabs}\n")
    for notice in data.notices:
        w(f"% NOTE: {notice}\n")
    for b in data.boards:
        w("\\begin{table}[ht]\n\\centering\n\\small\n")
        head = b.declared.headline.label if b.declared else b.headline
        caption = f"{escape(b.task)} on {escape(b.dataset)} (headline: {escape(head)})."
        caption += " " + escape(b.note[:1].upper() + b.note[1:]) + "."
        w(f"\\caption{{{caption}}}\n")
        extra = "".join(f" & {escape(c.label)}" for c in b.columns)
        w(f"\\begin{{tabular}}{{lrr{'r' * len(b.columns)}rrrr}}\n\\toprule\n")
        w(
            f"Model & {escape(head)} & 95\\% CI{extra} & $n$ & Parse fail. & Refused & Errors"
            " \\\\\n\\midrule\n"
        )
        for i, e in enumerate(b.entries):
            value = _num(e.value)
            if i == 0 and b.best_significant:
                value = f"\\textbf{{{value}}}"
            ci = f"{_num(e.ci[0])}--{_num(e.ci[1])}" if e.ci else "--"
            fails = " & ".join(_pct(e.metrics.get(k)) for k in FAILURE_KEYS)
            cols = "".join(f" & {_num(e.metrics.get(c.key, math.nan))}" for c in b.columns)
            w(f"{escape(e.model)} & {value} & {ci}{cols} & {e.n} & {fails} \\\\\n")
        span = 6 + len(b.columns)
        for e in b.failed:
            why = escape(f"no valid answers — {e.no_valid}")
            w(f"{escape(e.model)} & \\multicolumn{{{span}}}{{l}}{{{why}}} \\\\\n")
        w("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n")
    return out.getvalue()
