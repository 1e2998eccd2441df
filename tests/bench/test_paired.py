"""bench.paired: per-file differences between systems, their bootstrap interval, the tables, and
`bench --quality` reporting them."""

import json

import numpy as np
import pytest
import soundfile as sf

from bundled import DATA
from streamse.bench.compare import format_compare, results_markdown, run_bench_compare
from streamse.bench.paired import format_paired_table, paired_cell, paired_differences, paired_markdown


def _system(name: str, package: str, si_sdr: list[float], names: list[str] | None = None) -> dict:
    names = names or [f"f{k}.wav" for k in range(len(si_sdr))]
    return {
        "name": name,
        "package": package,
        "files": [
            {"name": n, "noisy": {}, "enhanced": {"pesq": 1.0 + v / 10, "stoi": 0.8, "si_sdr": v}}
            for n, v in zip(names, si_sdr)
        ],
    }


def _by_name(system: dict) -> dict[str, dict]:
    return {f["name"]: f["enhanced"] for f in system["files"]}


def test_mean_interval_and_files_ahead():
    b = [5.0, 6.0, 7.0, 8.0, 9.0]
    d = [1.0, 2.0, 3.0, -1.0, 0.0]
    a = [x + y for x, y in zip(b, d)]
    c = paired_cell(_by_name(_system("a", "streamse", a)), _by_name(_system("b", "x", b)), "si_sdr", 4000, 0)
    assert c["mean"] == pytest.approx(1.0) and c["n"] == 5
    assert c["ahead"] == 3  # a tie is not ahead
    assert min(d) <= c["low"] < c["mean"] < c["high"] <= max(d)


def test_identical_and_constant_differences_have_no_spread():
    b = _by_name(_system("b", "x", [3.0, 9.0, -2.0]))
    same = paired_cell(b, b, "si_sdr", 1000, 0)
    assert (same["mean"], same["low"], same["high"], same["ahead"]) == (0.0, 0.0, 0.0, 0)
    a = _by_name(_system("a", "streamse", [3.5, 9.5, -1.5]))
    c = paired_cell(a, b, "si_sdr", 1000, 0)
    assert (
        c["mean"] == pytest.approx(0.5) and c["low"] == pytest.approx(0.5) and c["high"] == pytest.approx(0.5)
    )
    assert c["ahead"] == 3


def test_interval_matches_the_normal_one_on_many_files():
    """The percentile bootstrap of a mean: about mean +- 1.96 sd / sqrt(n) for normal data."""
    rng = np.random.default_rng(1)
    d = rng.normal(0.4, 1.0, 400)
    b = rng.normal(10.0, 3.0, 400)
    c = paired_cell(
        _by_name(_system("a", "streamse", list(b + d))),
        _by_name(_system("b", "x", list(b))),
        "si_sdr",
        10000,
        0,
    )
    half = 1.96 * d.std(ddof=1) / np.sqrt(d.size)
    assert c["mean"] == pytest.approx(d.mean())
    assert c["high"] - c["low"] == pytest.approx(2 * half, rel=0.1)
    assert (c["low"] + c["high"]) / 2 == pytest.approx(d.mean(), abs=0.2 * half)


def test_files_are_matched_by_name_and_undefined_scores_left_out():
    names = ["a.wav", "b.wav", "c.wav", "d.wav"]
    ours = _system("ours", "streamse", [10.0, 11.0, 12.0, 13.0], names)
    peer = _system("peer", "x", [13.0, 12.0, 11.0, 10.0], names[::-1])  # the same scores, files reversed
    c = paired_cell(_by_name(ours), _by_name(peer), "si_sdr", 500, 0)
    assert c["mean"] == 0.0 and c["high"] == 0.0 and c["n"] == 4
    peer["files"][0]["enhanced"]["si_sdr"] = None  # d.wav: undefined for the peer
    ours["files"][1]["enhanced"]["si_sdr"] = float("nan")  # b.wav: undefined for ours
    c = paired_cell(_by_name(ours), _by_name(peer), "si_sdr", 500, 0)
    assert c["n"] == 2
    nothing = paired_cell(_by_name(ours), {}, "si_sdr", 500, 0)
    assert (
        nothing["n"] == 0
        and nothing["mean"] is None
        and "-"
        in format_paired_table(
            {"keys": ["si_sdr"], "rows": [{"name": "ours", "other": "none", "cells": [nothing]}]}
        )
    )


def test_each_of_ours_against_every_other_and_the_seed_fixes_it():
    report = {
        "systems": [
            _system("streamse crn", "streamse", [8.0, 9.0, 12.0]),
            _system("DTLN", "dtln", [9.0, 9.5, 10.0]),
            _system("GTCRN", "gtcrn", [7.0, 8.0, 9.0]),
        ]
    }
    t = paired_differences(report)
    assert [(r["name"], r["other"]) for r in t["rows"]] == [
        ("streamse crn", "DTLN"),
        ("streamse crn", "GTCRN"),
    ]
    assert t["keys"] == ["pesq", "stoi", "si_sdr"]
    si = [r["cells"][2] for r in t["rows"]]
    assert si[0]["mean"] == pytest.approx(0.5 / 3) and si[0]["ahead"] == 1
    assert si[1]["mean"] == pytest.approx(5.0 / 3) and si[1]["ahead"] == 3
    assert t == paired_differences(report)  # seeded: the same interval every run
    assert paired_differences({"systems": report["systems"][1:]}) is None  # no streamse system
    assert paired_differences({"systems": report["systems"][:1]}) is None  # nothing to compare with


def test_tables_show_every_pair():
    report = {
        "systems": [
            _system("streamse crn", "streamse", [8.0, 9.0, 12.0]),
            _system("DTLN", "dtln", [9.0, 9.5, 10.0]),
        ]
    }
    t = paired_differences(report)
    text = format_paired_table(t)
    assert "streamse crn - DTLN" in text and "SI-SDR" in text
    c = t["rows"][0]["cells"][2]
    assert f"{c['mean']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}] 1/3" in text
    md = paired_markdown(t)
    rows = [line for line in md if line.startswith("| ")]
    assert len(rows) == 2 and all(line.count("|") == 5 for line in rows)


def test_bench_quality_reports_paired_differences(tmp_path):
    """Two shipped models on the bundled pair as two files, through `bench --quality`'s function:
    each against the other, the mean difference that of the means."""
    noisy, sr = sf.read(DATA / "noisy.wav", dtype="float32")
    clean, _ = sf.read(DATA / "clean.wav", dtype="float32")
    n = min(noisy.size, clean.size, int(2.5 * sr))
    noisy, clean = noisy[:n], clean[:n]
    for sub in ("noisy", "clean"):
        (tmp_path / sub).mkdir()
    for name, scale in (("a.wav", 1.0), ("b.wav", 0.3)):
        sf.write(tmp_path / "noisy" / name, clean + scale * (noisy - clean), sr)
        sf.write(tmp_path / "clean" / name, clean, sr)
    (tmp_path / "pairs.json").write_text(json.dumps([{"file": "a.wav"}, {"file": "b.wav"}]))

    report = run_bench_compare(["crn", "crn-32ms"], with_peers=False, rtf=False, quality_dirs=[str(tmp_path)])
    q = report["quality"][0]
    rows = q["paired"]["rows"]
    assert [(r["name"], r["other"]) for r in rows] == [
        ("streamse crn", "streamse crn-32ms"),
        ("streamse crn-32ms", "streamse crn"),
    ]
    k = q["paired"]["keys"].index("si_sdr")
    means = [s["mean"]["enhanced"]["si_sdr"] for s in q["systems"]]
    assert rows[0]["cells"][k]["mean"] == pytest.approx(means[0] - means[1])
    assert rows[1]["cells"][k]["mean"] == pytest.approx(means[1] - means[0])
    assert rows[0]["cells"][k]["n"] == 2
    assert "paired, per file" in format_compare(report)
    assert "Paired per file" in results_markdown(quality=report["quality"])
