"""The runtime streamer: an onnxruntime session over a streamse hop graph. No torch here.

`load_streamer("crn")` finds the weights shipped in the package; a path to a .onnx file works
too. The graph does STFT, network and overlap-add, so this code knows nothing about any model
beyond the metadata stored in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import StreamseError
from .metadata import METADATA_KEY, ModelMetadata
from .streamer import FrameGeometry, HopStreamer

ASSETS = Path(__file__).resolve().parent / "assets"
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def shipped_models() -> list[str]:
    """Names of the models whose ONNX file ships inside the package."""
    return sorted(p.parent.name for p in ASSETS.glob("*/*.onnx") if p.stem == p.parent.name)


def resolve_model(model: str) -> Path:
    """A shipped model name or a path to a .onnx file -> the .onnx path."""
    path = Path(model)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise StreamseError(f"model file not found: {path}")
        return path
    shipped = ASSETS / model / f"{model}.onnx"
    if shipped.is_file():
        return shipped
    raise StreamseError(
        f"no shipped weights named {model!r}: shipped models are "
        f"{', '.join(shipped_models())}. Other architectures (the GPU-sized "
        "*-paper ones; `streamse train --model NAME` with an unknown NAME lists "
        "them all) run once trained and exported: pass the .onnx file"
    )


def make_session(
    path: Path,
    threads: int = 1,
    provider: str = "cpu",
    batch: int | None = None,
    profile_prefix: str | None = None,
):
    """onnxruntime session with `threads` intra-op threads on `provider` ('cpu' or 'cuda').

    batch: fix the graph's symbolic "batch" axis (a single stream: 1). With every shape known,
    onnxruntime folds the graph's shape arithmetic away at load: about half of the nested
    U-Nets' hop-graph nodes, the dispatch of which dominates their step time on a CPU.
    profile_prefix: write onnxruntime's per-node profile there (benchmarks only).

    A single stream (batch 1) runs at optimisation level EXTENDED, everything else at ALL:
    ALL adds the NCHWc layout rewrites, whose reorders cost more than they save on one frame
    (one core here, interleaved, I/O-bound hops: cnunet-tb-ts p50 6.5 -> 5.5 ms, cnunet 6.6 ->
    5.9 ms, crn unchanged at 0.23 ms) but pay off at batch 16 (cnunet-tb-ts 36.5 -> 33.7 ms)."""
    import onnxruntime as ort

    if provider not in PROVIDERS:
        raise StreamseError(f"unknown provider {provider!r}; choose {sorted(PROVIDERS)}")
    if PROVIDERS[provider] not in ort.get_available_providers():
        raise StreamseError(
            f"onnxruntime has no {provider.upper()} provider here "
            "(for CUDA: pip install 'streamse[gpu]' on a machine with a GPU)"
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if batch is not None:
        opts.add_free_dimension_override_by_name("batch", batch)
    if batch == 1:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    if profile_prefix is not None:
        opts.enable_profiling, opts.profile_file_prefix = True, profile_prefix
    try:
        return ort.InferenceSession(str(path), opts, providers=[PROVIDERS[provider]])
    except Exception as exc:  # corrupt or truncated file, wrong format
        raise StreamseError(f"cannot load model {path}: {str(exc).splitlines()[0][:200]}") from None


def open_model(
    model: str | Path, threads: int = 1, provider: str = "cpu", batch: int | None = None
) -> tuple[Path, object, ModelMetadata, FrameGeometry]:
    """The session code every runtime streamer shares: a shipped name or .onnx path ->
    (path, onnxruntime session, its streamse metadata, its frame geometry)."""
    path = resolve_model(str(model))
    session = make_session(path, threads, provider, batch)
    meta = read_metadata(session, path)
    return (
        path,
        session,
        meta,
        FrameGeometry(meta.sample_rate, meta.hop, meta.window, meta.analysis_window, meta.lookahead),
    )


def read_metadata(session, path: Path) -> ModelMetadata:
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise StreamseError(f"{path} is not a streamse model (no '{METADATA_KEY}' metadata)")
    return ModelMetadata.from_json(props[METADATA_KEY])


class OnnxStreamer(HopStreamer):
    """Runs a streamse ONNX hop graph hop by hop for one stream.

    On the CPU the session runs with I/O binding: the hop, the enhanced hop and two sets of
    state buffers are bound once (states double-buffered: hop k reads set k % 2 and writes the
    other), so a hop passes no Python dicts and allocates nothing. Measured on one core here:
    cnunet-tb-ts 9.2 -> 6.8 ms p50 per hop, cnunet 6.7 -> 4.7, crn 0.22 -> 0.20."""

    def __init__(self, path: str | Path, threads: int = 1, provider: str = "cpu"):
        self.path, self.session, self.meta, geometry = open_model(path, threads, provider, 1)
        super().__init__(geometry)
        self._in_names = [s.name for s in self.meta.states]
        self._out_names = ["enhanced"] + [s.out_name for s in self.meta.states]
        self._bound = self._bind() if provider == "cpu" else None
        self._reset_state()

    def _bind(self):
        """(audio buffer, enhanced buffer, state buffer sets, [binding reading set 0, set 1])."""
        import onnxruntime as ort

        hop = self.meta.hop
        audio, enhanced = np.zeros((1, hop), np.float32), np.zeros((1, hop), np.float32)
        sets = [{s.name: np.zeros(s.shape, np.float32) for s in self.meta.states} for _ in (0, 1)]
        value = ort.OrtValue.ortvalue_from_numpy  # wraps the numpy buffer, no copy
        bindings = []
        for k in (0, 1):
            io = self.session.io_binding()
            io.bind_ortvalue_input("audio", value(audio))
            io.bind_ortvalue_output("enhanced", value(enhanced))
            for s in self.meta.states:
                io.bind_ortvalue_input(s.name, value(sets[k][s.name]))
                io.bind_ortvalue_output(s.out_name, value(sets[1 - k][s.name]))
            bindings.append(io)
        return audio, enhanced, sets, bindings

    def _reset_state(self) -> None:
        self._state = {s.name: np.zeros(s.shape, dtype=np.float32) for s in self.meta.states}
        self._k = 0
        if self._bound is not None:
            for buffers in self._bound[2]:
                for b in buffers.values():
                    b.fill(0.0)

    def _process(self, x: np.ndarray) -> np.ndarray:
        if self._bound is not None:
            return self._process_bound(x)
        hop, state = self.hop, self._state
        out = np.empty_like(x)
        for i in range(0, x.size, hop):
            res = self.session.run(self._out_names, {"audio": x[None, i : i + hop], **state})
            out[i : i + hop] = res[0][0]
            state = dict(zip(self._in_names, res[1:]))
        self._state = state
        return out

    def _process_bound(self, x: np.ndarray) -> np.ndarray:
        audio, enhanced, _, bindings = self._bound
        hop, run = self.hop, self.session.run_with_iobinding
        out = np.empty_like(x)
        for i in range(0, x.size, hop):
            audio[0] = x[i : i + hop]
            run(bindings[self._k])
            self._k ^= 1
            out[i : i + hop] = enhanced[0]
        return out


def load_streamer(model: str, threads: int = 1, provider: str = "cpu") -> OnnxStreamer:
    """A shipped model name ('crn') or a .onnx path -> a ready streamer."""
    return OnnxStreamer(resolve_model(model), threads=threads, provider=provider)
