"""The mixed set from any speech and noise folders: seeded, real noise at the stated SNR,
recursive search, silent noise files passed over, missing folders a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from streamse.bench.mixed_set import build
from streamse.bench.stationary_set import SNRS_DB
from streamse.dsp.level import active_power, power
from streamse.errors import StreamseError


@pytest.fixture()
def folders(tmp_path, noisy_clean):
    noisy, clean = noisy_clean
    speech, noise = tmp_path / "speech", tmp_path / "noise" / "sub"
    speech.mkdir()
    noise.mkdir(parents=True)
    for i in range(4):
        sf.write(speech / f"u{i}.wav", clean[i * 4000 : i * 4000 + 16000], 16000)
    sf.write(noise / "real.wav", (noisy - clean)[:6000], 16000)  # the pair's own noise, short
    sf.write(noise / "silent.wav", np.zeros(8000, np.float32), 16000)
    return speech, tmp_path / "noise"


def test_build_is_seeded_recursive_and_mixes_at_the_stated_snr(tmp_path, folders):
    speech, noise = folders
    entries = build(speech, noise, tmp_path / "a", n_clean=3, per_file=2, seed=4)
    again = build(speech, noise, tmp_path / "b", n_clean=3, per_file=2, seed=4)
    other = build(speech, noise, tmp_path / "c", n_clean=3, per_file=2, seed=5)
    assert entries == again and len(entries) == 6
    mixes = [sf.read(tmp_path / d / "noisy" / e["file"])[0] for d, e in (("a", entries[0]), ("c", other[0]))]
    assert not np.array_equal(*mixes)  # another seed: other speech or noise offsets
    assert json.loads((tmp_path / "a" / "pairs.json").read_text()) == entries
    assert {e["noise"] for e in entries} == {"sub/real.wav"}  # found below, silent one skipped
    assert [e["snr_db"] for e in entries] == list(SNRS_DB) + [SNRS_DB[0]]
    for e in entries:
        noisy, sr = sf.read(tmp_path / "a" / "noisy" / e["file"])
        clean, _ = sf.read(tmp_path / "a" / "clean" / e["file"])
        assert sr == 16000 and noisy.shape == clean.shape == (16000,)
        snr = 10 * np.log10(active_power(clean, sr) / power(noisy - clean))
        assert snr == pytest.approx(e["snr_db"], abs=0.05)  # 24-bit files
        np.testing.assert_array_equal(noisy, sf.read(tmp_path / "b" / "noisy" / e["file"])[0])


def test_missing_or_empty_folders_are_one_line_errors(tmp_path, folders):
    speech, noise = folders
    with pytest.raises(StreamseError, match="folder not found"):
        build(tmp_path / "nope", noise, tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StreamseError, match="no audio files"):
        build(speech, tmp_path / "empty", tmp_path / "o")
    silent = tmp_path / "silent"
    silent.mkdir()
    sf.write(silent / "z.wav", np.zeros(800, np.float32), 16000)
    with pytest.raises(StreamseError, match="no audible noise"):
        build(speech, silent, tmp_path / "o", n_clean=1, per_file=1)


def test_cli_builds_the_set_and_reports_a_missing_folder(tmp_path, folders, capsys):
    from streamse.cli import main

    speech, noise = folders
    out = tmp_path / "set"
    args = ["bench", "--make-mixed-set", str(out), "--mixed-speech", str(speech), "--mixed-noise", str(noise)]
    assert main(args) == 0
    assert "8 pairs" in capsys.readouterr().out  # 4 speech files x 2 noises
    assert len(json.loads((out / "pairs.json").read_text())) == 8
    code = main(["bench", "--make-mixed-set", str(out), "--mixed-speech", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and "folder not found" in err and len(err.strip().splitlines()) == 1, err
