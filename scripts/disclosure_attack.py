#!/usr/bin/env python3
"""An outside analyst's differencing attack on published annual reports.

Reads report JSON files (releases or drafts of icac-ledger) and combines every
victim figure they publish, as anyone holding them could: one unknown per age
band and quarter, shared by every report that covers the quarter; each shown
figure (cell, band total, quarter total, grand total) an equation. For every
hidden figure it minimises and maximises the figure with an integer program
(SciPy's milp, i.e. HiGHS: a solver icac-ledger does not use) under three
reader models:

  at_least_one     hidden figures are >= 1 (zeros are shown)
  small_at_most_t  also: hidden figures that are small are <= T
  knows_small      also: which hidden figures are small (the others > T)

The last two need to know which hidden figures are small, which no report
says; give the true counts with --truth (JSON: {"2025-Q1": {"0-12": 3, ...}})
to grant the reader that knowledge. Without --truth only at_least_one runs.

Prints one line per hidden figure and model whose feasible interval holds fewer
than --width values, and exits 1 if there is any; 0 if every hidden figure
keeps its width. Shares no code with icac-ledger: it reads the JSON only.
"""

import argparse
import json
import sys

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

OPEN = 10**6


def load(paths):
    reports = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            reports.append(json.load(f))
    return reports


def figures(reports):
    """Every published figure: (label, set of (band, quarter), value or None)."""
    out = {}
    for r in reports:
        v = r["figures"]["victims_identified"]
        bands, quarters = v["rows"], v["columns"]
        period = f'{r["parameters"]["from"]}..{r["parameters"]["to"]}'

        def add(label, cells, value):
            key = frozenset(cells)
            shown = None if value == "suppressed" else int(value)
            old = out.get(key)
            if old is not None and old[1] is not None and shown is not None and old[1] != shown:
                raise SystemExit(f"inconsistent reports: {label} is {old[1]} and {shown}")
            if old is None or (old[1] is None and shown is not None):
                out[key] = (label, shown)

        for bi, band in enumerate(bands):
            for qi, q in enumerate(quarters):
                add(f"{q}, age {band}", [(band, q)], v["cells"][bi][qi])
            add(f"{period}, age {band}", [(band, q) for q in quarters], v["row_totals"][bi])
        for qi, q in enumerate(quarters):
            add(f"{q}, all ages", [(b, q) for b in bands], v["column_totals"][qi])
        add(f"{period}, all ages", [(b, q) for b in bands for q in quarters], v["total"])
    return [(label, cells, shown) for cells, (label, shown) in out.items()]


def true_value(truth, cells):
    return sum(truth[q][b] for (b, q) in cells)


def attack(items, threshold, width, truth):
    unknowns = sorted({c for _, cells, _ in items for c in cells})
    index = {c: i for i, c in enumerate(unknowns)}
    n = len(unknowns)

    def row(cells):
        a = np.zeros(n)
        for c in cells:
            a[index[c]] = 1
        return a

    models = ["at_least_one"] + (["small_at_most_t", "knows_small"] if truth else [])
    failures = []
    hidden = [(label, cells) for label, cells, shown in items if shown is None]
    for model in models:
        rows, lo, hi = [], [], []
        for label, cells, shown in items:
            rows.append(row(cells))
            if shown is not None:
                lo.append(shown)
                hi.append(shown)
                continue
            small = truth is not None and true_value(truth, cells) <= threshold
            low, high = 1, OPEN * n
            if model in ("small_at_most_t", "knows_small") and small:
                high = threshold
            if model == "knows_small" and not small:
                low = threshold + 1
            lo.append(low)
            hi.append(high)
        constraint = LinearConstraint(np.array(rows), lo, hi)
        bounds = Bounds(np.zeros(n), np.full(n, OPEN))
        need = width if model == "at_least_one" else max(2, -(-width // 2))
        for label, cells in hidden:
            c = row(cells)
            ends = []
            for sign in (1, -1):
                res = milp(c * sign, constraints=constraint, integrality=np.ones(n), bounds=bounds)
                if res.status != 0:
                    raise SystemExit(f"{model}: no table reproduces the reports ({res.message})")
                ends.append(round(res.fun * sign))
            values = ends[1] - ends[0] + 1
            if values < need:
                failures.append(f"{label}: {model}: {ends[0]}..{ends[1]} ({values} values, {need} required)")
    return failures, len(hidden), models


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--threshold", type=int, default=10)
    ap.add_argument("--width", type=int, default=10)
    ap.add_argument("--truth")
    a = ap.parse_args()
    truth = None
    if a.truth:
        with open(a.truth, encoding="utf-8") as f:
            truth = json.load(f)
    items = figures(load(a.reports))
    failures, hidden, models = attack(items, a.threshold, a.width, truth)
    for f in failures:
        print(f"DERIVED {f}")
    print(f"{len(a.reports)} report(s), {len(items)} distinct figures, {hidden} hidden, models {', '.join(models)}: {len(failures)} narrowed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
