"""Seeds' statistics per sweep point, and the aligned tables the loop prints.

The spread over seeds is the sample standard deviation (ddof = 1) with the number of seeds n
and the standard error std / sqrt(n); a single seed has no spread (``std`` and ``sem`` None).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def summarize(per_member: list[dict[str, float]], member_list) -> list[dict[str, Any]]:
    """Mean, std (ddof=1), standard error and n over seeds of each metric, per sweep point.

    Args:
      per_member: one ``{metric: float}`` per member.
      member_list: the loop's members (``{"seed", "point", "hparams"}``), same order.

    Returns:
      One ``{"point", "hparams", "metrics": {name: {"mean", "std", "sem", "n"}}}`` per point.
    """
    points: dict[int, list[int]] = {}
    for i, m in enumerate(member_list):
        points.setdefault(m["point"], []).append(i)
    out = []
    for p, idx in points.items():
        stats = {}
        for k in per_member[idx[0]]:
            vals = np.array([float(per_member[i][k]) for i in idx], dtype=np.float64)
            n = len(vals)
            std = float(vals.std(ddof=1)) if n > 1 else None
            stats[k] = {"mean": float(vals.mean()), "std": std,
                        "sem": std / math.sqrt(n) if std is not None else None, "n": n}
        out.append({"point": p, "hparams": member_list[idx[0]]["hparams"], "metrics": stats})
    return out


def sweep_columns(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One results-table row's metric columns: ``name`` (mean), ``name_std``, ``name_n``.

    Args:
      metrics: a summary point's ``"metrics"`` (see :func:`summarize`).
    """
    row: dict[str, Any] = {}
    for k, v in metrics.items():
        row[k] = v["mean"]
        if v["n"] > 1:
            row[f"{k}_std"] = v["std"]
            row[f"{k}_n"] = v["n"]
    return row


def format_table(summary: list[dict[str, Any]], title: str) -> str:
    """An aligned table: one row per metric, one column per sweep point (mean ± std, n).

    Args:
      summary: what :func:`summarize` returned.
      title: the first line (e.g. ``"final"`` or ``"step 500 eval"``).
    """
    ns = sorted({v["n"] for s in summary for v in s["metrics"].values()})
    many = len(summary) > 1
    swept = _swept(summary) if many else []
    header = ["metric"] + [",".join(f"{k}={s['hparams'][k]:g}" for k in swept) or
                           f"point {s['point']}" for s in summary] if many else ["metric", "value"]
    names = list(dict.fromkeys(k for s in summary for k in s["metrics"]))
    rows = [[k] + [_cell(s["metrics"].get(k)) for s in summary] for k in names]
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
    seeds = ("1 seed" if ns == [1] else
             f"n = {'/'.join(map(str, ns))} seeds, mean ± std (ddof=1)")
    return "\n".join([f"{title} ({seeds})", line(header), *map(line, rows)])


def _swept(summary: list[dict[str, Any]]) -> list[str]:
    """The hyperparameters that differ between points."""
    keys = summary[0]["hparams"]
    return [k for k in keys if len({s["hparams"][k] for s in summary}) > 1]


def _cell(v: dict[str, Any] | None) -> str:
    if v is None:
        return "-"
    if v["std"] is None:
        return f"{v['mean']:.5g}"
    return f"{v['mean']:.5g} ± {v['std']:.2g}"
