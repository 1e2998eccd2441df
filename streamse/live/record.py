"""--record DIR: the raw (downmixed) input and the enhanced output as WAV files, written by a
thread of their own so that disk I/O never delays the worker."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from streamse.errors import StreamseError


class Recorder:
    """push(x, y): x (n,) input and y (k,) enhanced chain output, float32 at `rate` Hz.
    Writes DIR/input.wav and DIR/enhanced.wav (mono float); the enhanced file lags the input by
    the model's delay (the chain output before the --dry mix)."""

    def __init__(self, folder: str | Path, rate: int):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._files = [
                sf.SoundFile(self.folder / name, "w", rate, 1, "FLOAT")
                for name in ("input.wav", "enhanced.wav")
            ]
        except (OSError, RuntimeError) as exc:
            raise StreamseError(f"cannot record into {self.folder}: {exc}") from exc
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="streamse-record", daemon=True)
        self._thread.start()

    def push(self, x: np.ndarray, y: np.ndarray) -> None:
        self._q.put((x.copy(), y.copy()))

    def _write(self) -> None:
        while (item := self._q.get()) is not None:
            for f, data in zip(self._files, item):
                if data.size:
                    f.write(data)

    def close(self) -> list[Path]:
        self._q.put(None)
        self._thread.join(timeout=10)
        for f in self._files:
            f.close()
        return [Path(f.name) for f in self._files]
