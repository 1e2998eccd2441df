"""`streamse enhance` never loses or mislabels a user's data: no overwriting an input or an
existing output, the format follows the file name, the bit depth follows the input, normal file
permissions, clear one-line errors for impossible output paths, truncated files reported."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamse.cli import main
from bundled import DATA

DATA_NOISY = DATA / "noisy.wav"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, match):
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err


def _pcm24(path: Path) -> bytes:
    x, sr = sf.read(DATA_NOISY, dtype="float32")
    sf.write(path, x, sr, subtype="PCM_24")
    return path.read_bytes()


def test_output_equal_to_the_input_is_refused_even_through_links(tmp_path, capsys):
    src = tmp_path / "talk.wav"
    original = _pcm24(src)
    (tmp_path / "sym.wav").symlink_to(src)
    os.link(src, tmp_path / "hard.wav")
    for out in (src, tmp_path / "sym.wav", tmp_path / "hard.wav"):
        for extra in ([], ["--overwrite"]):
            code, _, err = _run(capsys, "enhance", src, "-o", out, *extra)
            _one_line_error(code, err, "is one of the inputs")
    assert src.read_bytes() == original  # the 24-bit original is untouched


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "o.wav"
    out.write_bytes(b"precious")
    code, _, err = _run(capsys, "enhance", DATA_NOISY, "-o", out)
    _one_line_error(code, err, "exists: pass --overwrite")
    assert out.read_bytes() == b"precious"
    assert _run(capsys, "enhance", DATA_NOISY, "-o", out, "--overwrite")[0] == 0
    assert sf.info(str(out)).frames > 0


def test_folder_outputs_are_checked_before_any_work(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(src / name, np.zeros(1600, np.float32), 16000)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.wav").write_bytes(b"keep")
    code, _, err = _run(capsys, "enhance", src, "-o", tmp_path / "out")
    _one_line_error(code, err, "exists")
    assert not (tmp_path / "out" / "a.wav").exists()  # nothing written before the refusal


def test_bit_depth_follows_the_input_unless_asked(tmp_path, capsys):
    src = tmp_path / "in24.wav"
    _pcm24(src)
    assert _run(capsys, "enhance", src, "-o", tmp_path / "a.wav")[0] == 0
    assert sf.info(str(tmp_path / "a.wav")).subtype == "PCM_24"
    assert _run(capsys, "enhance", src, "-o", tmp_path / "b.wav", "--subtype", "FLOAT")[0] == 0
    assert sf.info(str(tmp_path / "b.wav")).subtype == "FLOAT"
    assert _run(capsys, "enhance", DATA_NOISY, "-o", tmp_path / "c.flac")[0] == 0
    info = sf.info(str(tmp_path / "c.flac"))
    assert info.format == "FLAC" and info.subtype == "PCM_16"


def test_format_follows_the_name_or_is_refused(tmp_path, capsys):
    assert _run(capsys, "enhance", DATA_NOISY, "-o", tmp_path / "o.ogg")[0] == 0
    assert sf.info(str(tmp_path / "o.ogg")).format == "OGG"
    code, _, err = _run(capsys, "enhance", DATA_NOISY, "-o", tmp_path / "o.mp4")
    _one_line_error(code, err, "cannot tell the format")
    code, _, err = _run(
        capsys, "enhance", DATA_NOISY, "-o", tmp_path / "o.ogg", "--overwrite", "--subtype", "PCM_24"
    )
    _one_line_error(code, err, "cannot hold PCM_24")
    if "MP3" in sf.available_formats():
        assert _run(capsys, "enhance", DATA_NOISY, "-o", tmp_path / "o.mp3")[0] == 0
        assert sf.info(str(tmp_path / "o.mp3")).format == "MP3"  # not WAV data named .mp3


def test_output_file_mode_follows_the_umask(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        assert _run(capsys, "enhance", DATA_NOISY, "-o", tmp_path / "o.wav")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.wav").stat().st_mode) == 0o644  # not mkstemp's 0600


def test_impossible_output_paths_are_one_line_errors(tmp_path, capsys):
    two = tmp_path / "two.wav"
    code, _, err = _run(capsys, "enhance", DATA_NOISY, DATA_NOISY, "-o", two)
    _one_line_error(code, err, "names a file")
    assert not two.exists()
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", np.zeros(1600, np.float32), 16000)
    existing = tmp_path / "existing.txt"
    existing.write_text("x")
    code, _, err = _run(capsys, "enhance", folder, "-o", existing)
    _one_line_error(code, err, "names a file")


def test_output_clipping_is_counted_and_reported(tmp_path):
    from streamse.audio_io import write_audio
    from streamse.enhance import EnhanceResult

    y = np.array([0.5, 1.5, -2.0, 0.999, -1.0], np.float32)
    assert write_audio(tmp_path / "a.wav", y, 16000) == 2
    assert np.abs(sf.read(tmp_path / "a.wav")[0]).max() <= 1.0
    assert write_audio(tmp_path / "b.wav", y, 16000, subtype="FLOAT") == 0  # kept as they are
    np.testing.assert_array_equal(sf.read(tmp_path / "b.wav", dtype="float32")[0], y)
    res = EnhanceResult(Path("x.wav"), Path("y.wav"), 1.0, 0.1, 3, 2)
    lines = res.warnings()
    assert lines == [
        "3 clipped input samples",
        "2 output samples beyond full scale were clipped (--subtype FLOAT keeps them)",
    ]


def test_truncated_wav_is_reported_and_enhanced(tmp_path, capsys):
    full = tmp_path / "full.wav"
    sf.write(full, np.full(16000, 0.1, np.float32), 16000, subtype="PCM_16")
    data = full.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])  # header says 16000 frames
    code, _, err = _run(capsys, "enhance", cut, "-o", tmp_path / "o.wav")
    assert code == 0 and "truncated file (header says 16000 frames, file holds 79" in err
    assert sf.info(str(tmp_path / "o.wav")).frames == sf.info(str(cut)).frames


def test_train_without_data_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "train", "--model", "crn-s", "--steps", "1", "--out", tmp_path / "r")
    _one_line_error(code, err, "no training audio folders")  # no config: no data paths in code
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nclean_dirs = ["../shared/data/train/clean"]\nnoise_dirs = ["n"]\n')
    code, _, err = _run(
        capsys, "train", "--model", "crn-s", "--steps", "1", "--config", cfg, "--out", tmp_path / "r"
    )
    _one_line_error(code, err, "audio folder not found")


@pytest.mark.parametrize(
    "argv,match",
    [
        (["live", "--duration", "-1"], "--duration"),
        (["live", "--duration", "0"], "--duration"),
        (["live", "--threads", "0"], "--threads"),
        (["live", "--threads", "-1"], "--threads"),
        (["live", "--samplerate", "0"], "--samplerate"),
        (["live", "--blocksize", "16"], "--blocksize"),
        (["live", "--input-channel", "0"], "--input-channel"),
        (["enhance", "x.wav", "-o", "y.wav", "-t", "0"], "--threads"),
        (["bench", "--seconds", "0"], "--seconds"),
    ],
)
def test_impossible_numbers_are_one_line_errors(capsys, argv, match):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and match in err and len(err.strip().splitlines()) == 1, err


def test_real_time_factor_is_worded_so_it_cannot_be_misread():
    from streamse.enhance import describe_rtf

    assert describe_rtf(0.05) == "RTF 0.050: 20.0 times faster than real time"
    assert "NOT real time" in describe_rtf(1.84) and "1.8 times slower" in describe_rtf(1.84)


def test_a_file_too_short_to_time_gets_no_real_time_factor(tmp_path, capsys):
    from streamse.enhance import MIN_TIMED_SECONDS, EnhanceResult

    def speed(seconds: float, rtf: float) -> str:
        return EnhanceResult(Path("in.wav"), Path("out.wav"), seconds, rtf * seconds, 0).describe_speed()

    assert speed(MIN_TIMED_SECONDS, 0.05) == "RTF 0.050: 20.0 times faster than real time"
    assert "too short to time" in speed(0.2, 5.3) and "RTF" not in speed(0.2, 5.3)
    tiny = tmp_path / "tiny.wav"
    sf.write(tiny, np.zeros(10, "float32"), 16000)  # start-up and flush dominate: read "NOT real time"
    code, out, _ = _run(capsys, "enhance", tiny, "-o", tmp_path / "out.wav")
    assert code == 0 and "too short to time" in out and "RTF" not in out, out
    code, out, _ = _run(capsys, "enhance", DATA_NOISY, "-o", tmp_path / "full.wav")
    assert code == 0 and "times faster than real time" in out, out
