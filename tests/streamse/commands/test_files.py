"""`streamse enhance` / `demo` / `bench` through the CLI with the shipped model: alignment,
rates, channels, folders, and every kind of bad input (one-line error, exit 2, no output)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from streamse.cli import main
from streamse.runtime import load_streamer
from bundled import DATA, run_streamse

DATA_NOISY = str(DATA / "noisy.wav")


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_enhance_output_is_aligned_and_same_length(tmp_path, capsys, noisy_clean):
    out = tmp_path / "out.wav"
    code, stdout, _ = _run(capsys, "enhance", DATA_NOISY, "-o", str(out))
    assert code == 0 and "RTF" in stdout
    y, sr = sf.read(out, dtype="float32")
    x = noisy_clean[0]
    assert sr == 16000 and y.size == x.size
    ref = load_streamer("crn").process(x)  # delay-compensated streaming output
    assert np.abs(y - ref).max() < 2.0 / 32768 + 1e-6  # only 16-bit rounding


def test_stereo_44k_is_downmixed_and_written_back_at_44k(tmp_path, capsys, noisy_clean):
    import soxr

    x = soxr.resample(noisy_clean[0], 16000, 44100).astype(np.float32)
    src = tmp_path / "stereo.flac"
    sf.write(src, np.stack([x, 0.5 * x], axis=1), 44100)
    out = tmp_path / "o.wav"
    assert _run(capsys, "enhance", str(src), "-o", str(out))[0] == 0
    y, sr = sf.read(out)
    assert sr == 44100 and y.ndim == 1 and y.size == x.size


def test_folder_in_folder_out(tmp_path, capsys, noisy_clean):
    src = tmp_path / "in" / "sub"
    src.mkdir(parents=True)
    for name in ("a.wav", "b.flac"):
        sf.write(src / name, noisy_clean[0][:8000], 16000)
    code, _, _ = _run(capsys, "enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out" / "sub").iterdir()) == ["a.wav", "b.flac"]


def test_silence_in_silence_out(tmp_path, capsys):
    src, out = tmp_path / "silence.wav", tmp_path / "o.wav"
    sf.write(src, np.zeros(16000, np.float32), 16000)
    assert _run(capsys, "enhance", str(src), "-o", str(out))[0] == 0
    assert np.all(sf.read(out)[0] == 0)


def test_clipped_input_is_enhanced_with_a_warning(tmp_path, capsys, noisy_clean):
    src, out = tmp_path / "clip.wav", tmp_path / "o.wav"
    sf.write(src, np.clip(noisy_clean[0] * 20, -1, 1), 16000)
    code, _, err = _run(capsys, "enhance", str(src), "-o", str(out))
    assert code == 0 and "clipped" in err and out.is_file()


def _nan_file(path):
    x = np.ones(4000, np.float32) * 0.1
    x[100] = np.nan
    sf.write(path, x, 16000, subtype="FLOAT")


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00garbage-not-audio" * 20), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "no audio samples"),
        (_nan_file, "NaN/Inf"),
    ],
)
def test_bad_input_one_line_error_no_output(tmp_path, capsys, make, match):
    src, out = tmp_path / "bad.wav", tmp_path / "out" / "o.wav"
    make(src)
    code, _, err = _run(capsys, "enhance", str(src), "-o", str(out))
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("out/.streamse-*"))


def test_missing_input_and_missing_or_corrupt_model(tmp_path, capsys):
    out = tmp_path / "o.wav"
    assert _run(capsys, "enhance", str(tmp_path / "nope.wav"), "-o", str(out))[0] == 2
    code, _, err = _run(capsys, "enhance", DATA_NOISY, "-o", str(out), "--model", "nope")
    assert code == 2 and "no shipped weights named 'nope'" in err
    assert "shipped models are cnunet, cnunet-tb-ts, crn" in err
    code, _, err = _run(capsys, "enhance", DATA_NOISY, "-o", str(out), "--model", "cnunet-tb-ts-paper")
    assert code == 2 and "no shipped weights" in err and "GPU-sized" in err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx at all")
    code, _, err = _run(capsys, "enhance", DATA_NOISY, "-o", str(out), "--model", str(bad))
    assert code == 2 and "cannot load model" in err and not out.exists()


def test_user_error_has_no_traceback():
    r = run_streamse("enhance", "missing.wav", "-o", "x.wav")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "input not found" in r.stderr


def test_demo_writes_file_and_reports_latency(tmp_path, capsys):
    out = tmp_path / "demo.wav"
    code, stdout, _ = _run(capsys, "demo", "-o", str(out))
    assert code == 0 and out.is_file()
    assert "algorithmic 20.0 ms" in stdout and "RTF" in stdout


def test_bench_json_keys(capsys):
    code, stdout, _ = _run(capsys, "bench", "--rtf", "--model", "crn", "--seconds", "1", "--json")
    assert code == 0
    r = json.loads(stdout)
    for key in (
        "model",
        "rtf",
        "hop_ms",
        "algorithmic_latency_ms",
        "hop_time_p50_ms",
        "hop_time_p99_ms",
        "params",
        "macs_per_second",
    ):
        assert key in r
    assert r["hop_ms"] == 10.0 and r["algorithmic_latency_ms"] == 20.0
    assert r["stream_vs_offline_error"] < 1e-4
    assert 0 < r["rtf"] < 5
    # what onnxruntime runs per hop, and the arithmetic rate it reaches (bench, not a target)
    assert 50 < r["nodes"] < 500 and r["gflops_p50"] > 0 and r["p99_over_hop"] > 0
    assert abs(sum(r["op_time_share"].values()) - 1) < 1 and "GRU" in r["op_time_share"]


def test_a_bad_file_in_a_batch_is_skipped_and_the_rest_enhanced(tmp_path, capsys, noisy_clean):
    """Several inputs: a corrupt one is reported and skipped, the others are written, exit 1;
    one input: its error is the run's (exit 2)."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    sf.write(src / "a.wav", noisy_clean[0][:16000], 16000)
    (src / "b.wav").write_bytes(b"RIFF not really a wav")
    sf.write(src / "c.wav", noisy_clean[0][:8000], 16000)
    code, _, err = _run(capsys, "enhance", str(src), "-o", str(out))
    assert code == 1 and "skipped" in err and "b.wav" in err and "1 of 3 files failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "c.wav"]
    code, _, err = _run(capsys, "enhance", str(src / "b.wav"), "-o", str(tmp_path / "b.wav"))
    assert code == 2 and "skipped" not in err and not (tmp_path / "b.wav").exists()
