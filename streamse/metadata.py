"""Model metadata stored inside every exported ONNX file (and beside it as JSON).

It is all the runtime knows about a model: rate, hop, window, delay and the state tensors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

METADATA_KEY = "streamse"


@dataclass(frozen=True)
class StateInfo:
    name: str  # graph input name
    out_name: str  # graph output name holding the next value
    shape: tuple[int, ...]  # for one stream (batch = 1)
    batch_axis: int


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    family: str
    sample_rate: int
    hop: int
    window: int
    delay_samples: int
    algorithmic_latency_samples: int
    states: tuple[StateInfo, ...]
    params: int
    macs_per_second: float
    config: dict = field(default_factory=dict)
    analysis_window: int = 0  # samples one analysis frame spans when longer than `window`; 0: same
    lookahead: int = 0  # samples of later input an output frame waits for; in delay and latency

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        data = json.loads(text)
        data["states"] = tuple(
            StateInfo(s["name"], s["out_name"], tuple(s["shape"]), s["batch_axis"]) for s in data["states"]
        )
        return cls(**data)

    @property
    def analysis(self) -> int:
        return self.analysis_window or self.window

    def ms(self, samples: int) -> float:
        return 1000.0 * samples / self.sample_rate
