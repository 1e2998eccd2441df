"""bench.by_snr: reading each file's SNR, means per SNR, the tables, and `bench --quality`
reporting them for a set whose pairs.json names SNRs."""

import json

import numpy as np
import pytest
import soundfile as sf

from bundled import DATA
from streamse.bench.by_snr import file_snrs, format_snr_table, snr_groups, snr_markdown
from streamse.bench.compare import format_compare, results_markdown, run_bench_compare
from streamse.errors import StreamseError


def _report() -> dict:
    """Two systems on four files: a.wav and b.wav at -5 dB, c.wav at 10 dB, d.wav unnamed."""

    def files(values):
        return [
            {"name": f"{n}.wav", "noisy": {"pesq": 1.0 + k, "stoi": 0.5, "si_sdr": float(k)}, "enhanced": v}
            for k, (n, v) in enumerate(zip("abcd", values))
        ]

    def scores(p):
        return {"pesq": p, "stoi": p / 10, "si_sdr": 10 * p}

    return {
        "systems": [
            {"name": "one", "files": files([scores(k) for k in (1, 2, 3, 4)])},
            {"name": "two", "files": files([scores(k) for k in (5, 7, 9, 11)])},
        ]
    }


SNRS = {"a.wav": -5.0, "b.wav": -5.0, "c.wav": 10.0, "x.wav": 0.0}


def test_means_per_snr_for_the_input_and_every_system():
    g = snr_groups(_report(), SNRS)
    assert g["snr_db"] == [-5.0, 10.0]  # only SNRs of files in the report
    assert g["n_files"] == [2, 1] and g["unknown"] == 1
    assert [r["name"] for r in g["rows"]] == ["noisy input", "one", "two"]
    noisy, one, two = (r["means"] for r in g["rows"])
    assert noisy == [[1.5, 0.5, 0.5], [3.0, 0.5, 2.0]]
    assert one == [[1.5, pytest.approx(0.15), 15.0], [3.0, pytest.approx(0.3), 30.0]]
    assert two == [[6.0, pytest.approx(0.6), 60.0], [9.0, pytest.approx(0.9), 90.0]]


def test_undefined_scores_are_left_out_of_a_mean():
    r = _report()
    r["systems"][1]["files"][0]["enhanced"]["pesq"] = None  # a.wav: PESQ not defined
    r["systems"][1]["files"][1]["enhanced"]["stoi"] = float("nan")
    two = snr_groups(r, SNRS)["rows"][2]["means"]
    assert two[0][0] == 7.0 and two[0][1] == pytest.approx(0.5)


def test_noise_leak_and_artefacts_join_the_groups_when_the_report_has_them():
    r = _report()
    for sys_ in r["systems"]:
        for k, f in enumerate(sys_["files"]):
            f["enhanced"].update(noise_leak_db=10.0 + k, artefacts_db=5.0)
            f["noisy"].update(noise_leak_db=float(k), artefacts_db=None)  # the input has no artefacts
    g = snr_groups(r, SNRS)
    assert g["keys"] == ["pesq", "stoi", "si_sdr", "noise_leak_db", "artefacts_db"]
    noisy, one, _ = (row["means"] for row in g["rows"])
    assert noisy[0][3:] == [0.5, None] and one[0][3:] == [10.5, 5.0]
    assert "noise leak dB / artefacts dB" in format_snr_table(g)
    assert "1.500 / 0.150 / 15.00 / 10.50 / 5.00" in format_snr_table(g)


def test_no_groups_when_no_file_is_named():
    assert snr_groups(_report(), {}) is None
    assert snr_groups(_report(), {"x.wav": 5.0}) is None


def test_tables_show_every_system_and_snr():
    g = snr_groups(_report(), SNRS)
    text = format_snr_table(g)
    assert "-5 dB (2)" in text and "+10 dB (1)" in text
    assert "6.000 / 0.600 / 60.00" in text and "noisy input" in text
    md = snr_markdown(g)
    rows = [line for line in md if line.startswith("| ")]
    assert len(rows) == 4 and all(line.count("|") == 4 for line in rows)  # header + 3 systems


def test_file_snrs_reads_pairs_json(tmp_path):
    assert file_snrs(tmp_path) == {}  # no pairs.json: no grouping, no error
    (tmp_path / "pairs.json").write_text(json.dumps([{"file": "a.flac", "snr_db": -5}, {"file": "b.flac"}]))
    assert file_snrs(tmp_path) == {"a.flac": -5.0}
    (tmp_path / "pairs.json").write_text(json.dumps([{"file": "a.flac", "noise": "n1"}]))
    assert file_snrs(tmp_path) == {}
    for bad in ('{"a.flac": 5}', '[{"file": "a.flac", "snr_db": "loud"}]', "[1, 2]", "not json"):
        (tmp_path / "pairs.json").write_text(bad)
        with pytest.raises(StreamseError, match="pairs.json"):
            file_snrs(tmp_path)


def _bundled_pair(seconds: float):
    """The bundled (noisy, clean) pair cut to its first `seconds`, and the rate."""
    noisy, sr = sf.read(DATA / "noisy.wav", dtype="float32")
    clean, _ = sf.read(DATA / "clean.wav", dtype="float32")
    n = min(noisy.size, clean.size, int(seconds * sr))
    return noisy[:n], clean[:n], sr


def test_bench_quality_reports_the_snr_groups(tmp_path):
    """The bundled pair as three files at two SNRs (the noise scaled), through `bench --quality`'s
    function with the shipped crn: the groups in the JSON, the text and the Markdown."""
    noisy, clean, sr = _bundled_pair(3.0)
    for sub in ("noisy", "clean"):
        (tmp_path / sub).mkdir()
    entries = []
    for name, scale, snr in (("a.wav", 1.0, 5.0), ("b.wav", 1.0, 5.0), ("c.wav", 0.1, 25.0)):
        sf.write(tmp_path / "noisy" / name, clean + scale * (noisy - clean), sr)
        sf.write(tmp_path / "clean" / name, clean, sr)
        entries.append({"file": name, "snr_db": snr})
    (tmp_path / "pairs.json").write_text(json.dumps(entries))

    report = run_bench_compare(["crn"], with_peers=False, rtf=False, quality_dirs=[str(tmp_path)])
    q = report["quality"][0]
    g = q["by_snr"]
    assert g["snr_db"] == [5.0, 25.0] and g["n_files"] == [2, 1]
    noisy_means, crn_means = g["rows"][0]["means"], g["rows"][1]["means"]
    files = {f["name"]: f for f in q["systems"][0]["files"]}
    assert crn_means[1] == [files["c.wav"]["enhanced"][k] for k in g["keys"]]
    ab = [files[f]["noisy"]["si_sdr"] for f in ("a.wav", "b.wav")]
    assert noisy_means[0][2] == pytest.approx(float(np.mean(ab)))
    assert noisy_means[1][2] > noisy_means[0][2] + 10  # the quieter noise reads as the higher SNR
    assert "by input SNR" in format_compare(report)
    assert "By input SNR" in results_markdown(quality=report["quality"])


def test_a_set_without_snrs_has_no_groups(tmp_path):
    noisy, clean, sr = _bundled_pair(2.0)
    for sub, x in (("noisy", noisy), ("clean", clean)):
        (tmp_path / sub).mkdir()
        sf.write(tmp_path / sub / "a.wav", x, sr)
    report = run_bench_compare(["crn"], with_peers=False, rtf=False, quality_dirs=[str(tmp_path)])
    assert "by_snr" not in report["quality"][0]
    assert "by input SNR" not in format_compare(report)
