"""Speaker-encoder teacher that runs here with real weights: the 3-layer LSTM (40 mel -> 256)
shipped inside the `resemblyzer` package (`pretrained.pt`), read without importing the
package (its audio module imports webrtcvad, which needs the removed `pkg_resources`).

Frame-level embedding = the last LSTM layer's hidden state per mel frame (100 Hz: 25 ms
window, 10 ms hop, librosa's centred frames), unnormalised; resemblyzer's utterance embedding
would be linear + ReLU + L2-norm of the final one. Input loudness is raised to -30 dBFS as in
resemblyzer's preprocessing (never lowered).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamse.errors import StreamseError

from .base import FrameGrid, Teacher

MEL_BANDS, HIDDEN, LAYERS = 40, 256, 3
WIN, HOP = 400, 160  # samples at 16 kHz
TARGET_DBFS = -30.0


def weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise StreamseError("the resemblyzer teacher needs `resemblyzer` (pip install 'streamse[train]')")
    return Path(spec.submodule_search_locations[0]) / "pretrained.pt"


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(N,) float -> (1 + N // HOP, 40) power mel spectrogram, as resemblyzer computes it."""
    import librosa

    mel = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=WIN, hop_length=HOP, n_mels=MEL_BANDS)
    return mel.astype(np.float32).T


def raise_loudness(wav: np.ndarray) -> np.ndarray:
    rms_db = 10 * np.log10(np.mean(wav.astype(np.float64) ** 2) + 1e-12)
    gain_db = TARGET_DBFS - rms_db
    return wav * 10 ** (gain_db / 20) if gain_db > 0 and rms_db > -90 else wav


class ResemblyzerTeacher(Teacher):
    """wav (B, N) -> (B, 1 + N // 160, 256) LSTM hidden states at 100 Hz."""

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        self.lstm = nn.LSTM(MEL_BANDS, HIDDEN, LAYERS, batch_first=True)
        ckpt = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
        state = {k[5:]: v for k, v in ckpt["model_state"].items() if k.startswith("lstm.")}
        self.lstm.load_state_dict(state)
        self.lstm.eval().requires_grad_(False)
        self.dim, self.grid = HIDDEN, FrameGrid(float(HOP), 0.0)

    def frames(self, wav: torch.Tensor) -> torch.Tensor:
        mels = [mel_frames(raise_loudness(w)) for w in wav.detach().cpu().numpy()]
        x = torch.from_numpy(np.stack(mels)).to(wav.device)  # (B, T_t, 40)
        return self.lstm(x)[0]  # (B, T_t, 256)
