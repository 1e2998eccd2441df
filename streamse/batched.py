"""Many independent streams through one onnxruntime session: one call per hop for all of them.

Serving N streams with N `OnnxStreamer`s costs N session calls per hop, and for a small model the
fixed cost of a call dominates. `BatchedStreamer` stacks the state of every active stream along
each state tensor's batch axis (`StateInfo.batch_axis`) and advances all of them with one call.

Dimensions: N = active streams, H = hop (samples at the model rate).

Contract (hop-synchronous): every `step` takes exactly one hop for each active stream and
returns one enhanced hop for each. A server with a stream that has no packet this tick feeds
zeros (or its own concealment) for it. Per stream, the output equals what an `OnnxStreamer`
returns from `feed` for the same hops: raw stream, output j reconstructs input j -
`delay_samples` (no delay compensation here).

Lifecycle: `add_stream()` gives a new id whose state is zero (a fresh stream); `reset_stream(id)`
zeroes one stream's state (a new utterance on the same id); `remove_stream(id)` drops it. None of
these changes the output of any other stream. Rows of `step` follow `ids` (join order).

Memory: states are tensors of batch N. A step copies no state: the outputs of one call are the
inputs of the next. A join or leave rebuilds the state tensors once (O(N) copy).
With `io_binding=True` (always, for provider "cuda") the states are kept as OrtValues on the
session's device between hops; only the audio hop goes in and the enhanced hop comes out. Joins
and leaves round-trip the states through host memory, steps never do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import StreamseError
from .metadata import ModelMetadata, StateInfo
from .runtime import open_model
from .streamer import HasGeometry


def _zero_slot(info: StateInfo) -> np.ndarray:
    """Zero state of one stream: `info.shape` (batch 1 on `info.batch_axis`)."""
    return np.zeros(info.shape, dtype=np.float32)


def _empty(info: StateInfo) -> np.ndarray:
    """State tensor for N = 0 streams."""
    shape = list(info.shape)
    shape[info.batch_axis] = 0
    return np.zeros(shape, dtype=np.float32)


class _HostStates:
    """States as numpy arrays, run with `session.run`."""

    def __init__(self, session, meta: ModelMetadata):
        self.session, self.meta = session, meta
        self._out_names = ["enhanced"] + [s.out_name for s in meta.states]
        self.values = {s.name: _empty(s) for s in meta.states}

    def to_host(self) -> dict[str, np.ndarray]:
        return self.values

    def from_host(self, values: dict[str, np.ndarray]) -> None:
        self.values = values

    def run_hop(self, audio: np.ndarray) -> np.ndarray:
        """audio (N, H) float32 -> enhanced (N, H); the states advance one hop."""
        res = self.session.run(self._out_names, {"audio": audio, **self.values})
        self.values = {s.name: v for s, v in zip(self.meta.states, res[1:])}
        return res[0]


class _BoundStates:
    """States as OrtValues on `device` ("cpu" or "cuda"), run with I/O binding."""

    def __init__(self, session, meta: ModelMetadata, device: str):
        self.session, self.meta, self.device = session, meta, device
        self.values: dict = {}
        self.from_host({s.name: _empty(s) for s in meta.states})

    def to_host(self) -> dict[str, np.ndarray]:
        return {name: value.numpy() for name, value in self.values.items()}

    def from_host(self, values: dict[str, np.ndarray]) -> None:
        import onnxruntime as ort

        self.values = {
            name: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v), self.device, 0)
            for name, v in values.items()
        }

    def run_hop(self, audio: np.ndarray) -> np.ndarray:
        """audio (N, H) float32 on the host -> enhanced (N, H) on the host."""
        # A fresh binding per call: a reused one would hand last call's output buffers back to
        # onnxruntime as preallocated outputs, i.e. write the new state over the one being read.
        io = self.session.io_binding()
        io.bind_cpu_input("audio", audio)
        io.bind_output("enhanced", "cpu")
        for s in self.meta.states:
            io.bind_ortvalue_input(s.name, self.values[s.name])
            io.bind_output(s.out_name, self.device)
        self.session.run_with_iobinding(io)
        outs = io.get_outputs()
        self.values = {s.name: v for s, v in zip(self.meta.states, outs[1:])}
        return outs[0].numpy()


class BatchedStreamer(HasGeometry):
    """N streams of one model, one onnxruntime call per hop for all of them.

    model: shipped model name ("crn") or .onnx path. threads: intra-op threads of the one
    session. provider: "cpu" or "cuda". io_binding: keep states on the session's device between
    hops (forced on for "cuda"; on "cpu" it exercises the same code path).
    """

    def __init__(self, model: str | Path, threads: int = 1, provider: str = "cpu", io_binding: bool = False):
        _, self.session, self.meta, self.geometry = open_model(model, threads, provider)
        self.provider = provider
        self.io_binding = io_binding or provider == "cuda"
        self._store = (
            _BoundStates(self.session, self.meta, provider)
            if self.io_binding
            else _HostStates(self.session, self.meta)
        )
        self._ids: list[int] = []
        self._next_id = 0
        self.nonfinite_count = 0

    @property
    def ids(self) -> tuple[int, ...]:
        """Active stream ids, in the row order of `step`."""
        return tuple(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    # lifecycle ------------------------------------------------------------------------------
    def add_stream(self) -> int:
        """Start a new stream with zero state; returns its id (never reused)."""
        values = self._store.to_host()
        self._store.from_host(
            {
                s.name: np.concatenate([values[s.name], _zero_slot(s)], axis=s.batch_axis)
                for s in self.meta.states
            }
        )
        self._ids.append(self._next_id)
        self._next_id += 1
        return self._ids[-1]

    def remove_stream(self, stream_id: int) -> None:
        """Drop a stream; the others keep their state and their row order."""
        row = self._row(stream_id)
        values = self._store.to_host()
        self._store.from_host(
            {s.name: np.delete(values[s.name], row, axis=s.batch_axis) for s in self.meta.states}
        )
        del self._ids[row]

    def reset_stream(self, stream_id: int) -> None:
        """Zero one stream's state: its next hop starts a new utterance."""
        row = self._row(stream_id)
        values = {k: v.copy() for k, v in self._store.to_host().items()}
        for s in self.meta.states:
            index = [slice(None)] * values[s.name].ndim
            index[s.batch_axis] = row
            values[s.name][tuple(index)] = 0.0
        self._store.from_host(values)

    def _row(self, stream_id: int) -> int:
        try:
            return self._ids.index(stream_id)
        except ValueError:
            raise StreamseError(f"no active stream with id {stream_id}") from None

    # processing -----------------------------------------------------------------------------
    def step(self, audio: np.ndarray) -> np.ndarray:
        """One hop for every active stream: audio (N, H), rows in `ids` order -> (N, H).

        Non-finite input samples become zeros (counted in `nonfinite_count`), so one bad
        stream cannot poison its own recurrent state.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.shape != (len(self._ids), self.hop):
            raise StreamseError(
                f"step needs one hop per active stream: shape "
                f"({len(self._ids)}, {self.hop}), got {audio.shape}"
            )
        if not self._ids:
            return np.zeros((0, self.hop), dtype=np.float32)
        return self._store.run_hop(self._finite(audio))

    def _finite(self, audio: np.ndarray) -> np.ndarray:
        """audio with non-finite samples zeroed (counted in `nonfinite_count`), contiguous."""
        bad = ~np.isfinite(audio)
        if bad.any():
            self.nonfinite_count += int(bad.sum())
            audio = np.where(bad, np.float32(0.0), audio)
        return np.ascontiguousarray(audio)

    def step_some(self, hops: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """One hop for some of the active streams, one call: {id: (H,)} -> {id: (H,)}. The
        streams left out keep their state untouched (a server steps only the streams that
        have a full hop, so a slow client never makes the others wait or get padding)."""
        unknown = set(hops) - set(self._ids)
        if unknown:
            raise StreamseError(f"no active streams with ids {sorted(unknown)}")
        if set(hops) == set(self._ids):
            return self.step_streams(hops)
        if not hops:
            return {}
        rows = np.array([r for r, i in enumerate(self._ids) if i in hops])
        ids = [self._ids[r] for r in rows]
        values = self._store.to_host()
        sub = {s.name: np.take(values[s.name], rows, axis=s.batch_axis) for s in self.meta.states}
        audio = np.stack([np.asarray(hops[i], dtype=np.float32) for i in ids])
        part = _HostStates(self.session, self.meta)
        part.from_host(sub)
        out = part.run_hop(self._finite(audio))
        new = {k: v.copy() for k, v in values.items()}
        for s in self.meta.states:
            index = [slice(None)] * new[s.name].ndim
            index[s.batch_axis] = rows
            new[s.name][tuple(index)] = part.values[s.name]
        self._store.from_host(new)
        return dict(zip(ids, out))

    def step_streams(self, hops: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Same as `step`, keyed by stream id: {id: (H,)} for exactly the active ids."""
        if set(hops) != set(self._ids):
            raise StreamseError(
                f"step_streams needs one hop for each active stream {sorted(self._ids)}, got {sorted(hops)}"
            )
        out = self.step(
            np.stack([np.asarray(hops[i], dtype=np.float32) for i in self._ids])
            if self._ids
            else np.zeros((0, self.hop), np.float32)
        )
        return dict(zip(self._ids, out))
