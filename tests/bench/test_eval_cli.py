"""`streamse eval` on a folder or a pairs file, through the shipped streaming ONNX model."""

from __future__ import annotations

import json
import shutil

import pytest

from streamse.cli import main
from bundled import DATA


@pytest.fixture()
def pair_dir(tmp_path):
    for kind in ("noisy", "clean"):
        (tmp_path / kind).mkdir()
        shutil.copy(DATA / f"{kind}.wav", tmp_path / kind / "p287_002.wav")
    return tmp_path


def test_eval_folder_json_and_spectrograms(pair_dir, capsys):
    png = pair_dir / "png"
    code = main(["eval", str(pair_dir), "--json", "--no-dnsmos", "--spectrograms", str(png)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_files"] == 1 and out["model"] == "crn"
    noisy, enhanced = out["mean"]["noisy"], out["mean"]["enhanced"]
    for key in ("pesq", "stoi", "si_sdr", "csig", "cbak", "covl"):
        assert key in noisy and key in enhanced
    assert 1.0 < noisy["pesq"] < 2.5 and 0.7 < noisy["stoi"] < 0.95  # a real noisy VB pair
    assert (png / "p287_002.png").stat().st_size > 10_000


def test_eval_pairs_file_matches_folder(pair_dir, capsys):
    pairs = pair_dir / "pairs.json"
    pairs.write_text(json.dumps([["noisy/p287_002.wav", "clean/p287_002.wav"]]))
    main(["eval", "--pairs", str(pairs), "--json", "--no-dnsmos"])
    a = json.loads(capsys.readouterr().out)
    main(["eval", str(pair_dir), "--json", "--no-dnsmos"])
    b = json.loads(capsys.readouterr().out)
    assert a["mean"] == b["mean"]


def test_eval_bad_folder_is_a_user_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--no-dnsmos"]) == 2
    assert "noisy/ and clean/" in capsys.readouterr().err
