"""Live engine: duplex sound device -> streaming enhancer -> sound device (`streamse live`).

Importing this package does not import sounddevice; only opening a stream does.
"""

from streamse.live.engine import Engine, EngineConfig

__all__ = ["Engine", "EngineConfig"]
