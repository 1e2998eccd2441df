"""GTCRN and DTLN from their authors' ONNX files, loaded by path (never bundled: MIT-licensed
model files that users point us at with `--peers-dir` or `STREAMSE_PEERS_DIR`).

Both run at 16 kHz, frame by frame, in our onnxruntime session with one intra-op thread. The
STFT and overlap-add around the graphs are ours (numpy), written from the facts the files'
README states:

- GTCRN (`gtcrn_simple.onnx`): 512-point sqrt-Hann STFT, hop 256 (16 ms); per hop the 257-bin
  spectrum as (1, 257, 1, 2) plus three caches in, the enhanced spectrum and the caches out;
  inverse FFT, sqrt-Hann synthesis window, overlap-add. Output index j reconstructs input
  j - 256; algorithmic latency 512 samples (32 ms).
- DTLN (`dtln_model_1.onnx`, `dtln_model_2.onnx`): block 512, shift 128 (8 ms), no analysis
  window. Stage 1 turns the block's magnitude (1, 1, 257) and an LSTM state into a mask; the
  masked spectrum (noisy phase) goes back to a 512-sample block, which stage 2 (block + its
  own state) refines; blocks overlap-add with shift 128. Output index j reconstructs input
  j - 384; algorithmic latency 512 samples (32 ms).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import FrameCore, FramePeer, PeerUnavailable, SlidingBlocks

ENV_DIR = "STREAMSE_PEERS_DIR"
DEFAULT_DIRS = ("../shared/peers",)  # tried relative to the working directory


def peers_dir(path: str | None = None) -> Path | None:
    """The folder holding the peers' ONNX files: `path`, else $STREAMSE_PEERS_DIR, else
    ../shared/peers when it exists; None when none is given or found."""
    if path:
        if not Path(path).is_dir():
            raise PeerUnavailable(f"peer folder not found: {path}")
        return Path(path)
    for cand in (os.environ.get(ENV_DIR), *DEFAULT_DIRS):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def _session(path: Path):
    import onnxruntime as ort

    if not path.is_file():
        raise PeerUnavailable(
            f"{path.name} not found in {path.parent} (give the folder with --peers-dir or ${ENV_DIR})"
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a corrupt or foreign file
        raise PeerUnavailable(f"{path}: onnxruntime cannot load it ({exc.__class__.__name__})") from None


def _zeros_like_inputs(sess, skip: int = 1) -> list[np.ndarray]:
    """Zero arrays for a session's state inputs (all inputs after the first `skip`)."""
    return [np.zeros(i.shape, np.float32) for i in sess.get_inputs()[skip:]]


class GTCRNCore(FrameCore):
    name = "GTCRN"
    package = "gtcrn_simple.onnx (DNS3)"
    sample_rate = 16000
    frame = 256
    delay = 256
    n_fft = 512

    def __init__(self, folder: Path):
        self._sess = _session(folder / "gtcrn_simple.onnx")
        self._in_names = [i.name for i in self._sess.get_inputs()]
        n = np.arange(self.n_fft)
        self._window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / self.n_fft)).astype(np.float32)
        self._blocks = SlidingBlocks(self.n_fft, self.frame)
        self.reset()

    def reset(self) -> None:
        self._caches = _zeros_like_inputs(self._sess)
        self._blocks.reset()

    def process_frame(self, x: np.ndarray) -> np.ndarray:
        """x: (256,) float32 -> (256,) float32, input delayed by 256 samples."""
        spec = np.fft.rfft(self._blocks.push(x) * self._window)  # (257,)
        mix = np.stack([spec.real, spec.imag], axis=-1).astype(np.float32)[None, :, None, :]
        enh, *self._caches = self._sess.run(None, dict(zip(self._in_names, [mix, *self._caches])))
        block = np.fft.irfft(enh[0, :, 0, 0] + 1j * enh[0, :, 0, 1], self.n_fft) * self._window
        return self._blocks.overlap_add(block)


class DTLNCore(FrameCore):
    name = "DTLN"
    package = "dtln_model_1/2.onnx (DNS)"
    sample_rate = 16000
    frame = 128
    delay = 384
    block = 512

    def __init__(self, folder: Path):
        self._s1 = _session(folder / "dtln_model_1.onnx")
        self._s2 = _session(folder / "dtln_model_2.onnx")
        self._n1 = [i.name for i in self._s1.get_inputs()]
        self._n2 = [i.name for i in self._s2.get_inputs()]
        self._blocks = SlidingBlocks(self.block, self.frame)
        self.reset()

    def reset(self) -> None:
        self._st1 = _zeros_like_inputs(self._s1)[0]
        self._st2 = _zeros_like_inputs(self._s2)[0]
        self._blocks.reset()

    def process_frame(self, x: np.ndarray) -> np.ndarray:
        """x: (128,) float32 -> (128,) float32, input delayed by 384 samples."""
        spec = np.fft.rfft(self._blocks.push(x))
        mag = np.abs(spec).astype(np.float32)[None, None, :]
        mask, self._st1 = self._s1.run(None, {self._n1[0]: mag, self._n1[1]: self._st1})
        est = np.fft.irfft(spec * mask[0, 0], self.block).astype(np.float32)[None, None, :]
        out, self._st2 = self._s2.run(None, {self._n2[0]: est, self._n2[1]: self._st2})
        return self._blocks.overlap_add(out[0, 0])


def _load(core_cls, folder: str | None) -> FramePeer:
    where = peers_dir(folder)
    if where is None:
        raise PeerUnavailable(
            f"no peer folder (give --peers-dir DIR or ${ENV_DIR}; {DEFAULT_DIRS[0]} not found)"
        )
    return FramePeer(core_cls(where), note=f"onnxruntime 1 thread, from {where}")


def load_gtcrn(folder: str | None = None) -> FramePeer:
    return _load(GTCRNCore, folder)


def load_dtln(folder: str | None = None) -> FramePeer:
    return _load(DTLNCore, folder)
