"""Paired differences between systems of one quality report: is a gap larger than the set's noise?

Every system of a `run_compare_quality` report is scored on the same files, so two systems can
be compared file by file: the mean of the per-file differences, a bootstrap 95 % interval of
that mean (files resampled with replacement, seeded) and on how many files the first is ahead.
A gap whose interval holds 0 is not told apart from chance by this set. No torch.

    table = paired_differences(report)
    {"keys": ["pesq", "stoi", "si_sdr"],
     "rows": [{"name": "streamse crn", "other": "DTLN",
               "cells": [{"mean": d, "low": lo, "high": hi, "ahead": k, "n": n} per key]}, ...]}
"""

from __future__ import annotations

import math

import numpy as np

from .by_snr import KEYS, decimals
from .evaluate import METRIC_LABELS


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def paired_cell(a: dict[str, dict], b: dict[str, dict], key: str, n_boot: int, seed: int) -> dict:
    """Per-file `key` of system a minus system b ({file name: metrics}), over the files both
    scored: mean, bootstrap 95 % interval (low, high), files where a is ahead, n."""
    names = [f for f in a if f in b and _finite(a[f].get(key)) and _finite(b[f].get(key))]
    d = np.array([a[f][key] - b[f][key] for f in names], np.float64)
    if d.size == 0:
        return {"mean": None, "low": None, "high": None, "ahead": 0, "n": 0}
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, d.size, (n_boot, d.size))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {
        "mean": float(d.mean()),
        "low": float(low),
        "high": float(high),
        "ahead": int((d > 0).sum()),
        "n": int(d.size),
    }


def paired_differences(
    report: dict, keys: tuple[str, ...] = KEYS, n_boot: int = 10000, seed: int = 0
) -> dict | None:
    """Each streamse system of `report` (package "streamse") against every other system, per
    metric in `keys` (see the module docstring); None when the report has no streamse system
    or nothing to compare it with."""
    files = {s["name"]: {f["name"]: f["enhanced"] for f in s["files"]} for s in report["systems"]}
    ours = [s["name"] for s in report["systems"] if s.get("package") == "streamse"]
    rows = [
        {
            "name": a,
            "other": b,
            "cells": [paired_cell(files[a], files[b], k, n_boot, seed) for k in keys],
        }
        for a in ours
        for b in files
        if b != a
    ]
    return {"keys": list(keys), "n_boot": n_boot, "rows": rows} if rows else None


def _cell(c: dict, key: str) -> str:
    """ "+0.076 [+0.041, +0.110] 40/52": dB metrics to two decimals, the others to three."""
    if c["mean"] is None:
        return "-"
    d = decimals(key)
    return f"{c['mean']:+.{d}f} [{c['low']:+.{d}f}, {c['high']:+.{d}f}] {c['ahead']}/{c['n']}"


def format_paired_table(table: dict) -> str:
    """Plain text: a row per (our system, other system), a column per metric."""
    keys = table["keys"]
    cells = [[_cell(c, k) for c, k in zip(r["cells"], keys)] for r in table["rows"]]
    width = max(16, *(len(c) + 2 for row in cells for c in row))
    pairs = [f"{r['name']} - {r['other']}" for r in table["rows"]]
    first = max(22, *(len(p) + 2 for p in pairs))
    lines = [
        "paired, per file (mean difference [bootstrap 95 % interval] files ahead/files):",
        f"{'':<{first}}" + "".join(f"{METRIC_LABELS[k].replace(' (dB)', ''):>{width}}" for k in keys),
    ]
    lines += [f"{p:<{first}}" + "".join(f"{c:>{width}}" for c in row) for p, row in zip(pairs, cells)]
    return "\n".join(lines)


def paired_markdown(table: dict) -> list[str]:
    """The same table in Markdown, as lines."""
    keys = table["keys"]
    return [
        "Paired per file: mean difference [bootstrap 95 % interval], files ahead / files:",
        "",
        "| systems | " + " | ".join(METRIC_LABELS[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
        *(
            f"| {r['name']} - {r['other']} | "
            + " | ".join(_cell(c, k) for c, k in zip(r["cells"], keys))
            + " |"
            for r in table["rows"]
        ),
    ]
