"""streamse: real-time streaming speech enhancement.

The runtime (this package, minus `streamse.models`, `streamse.export` and the torch parts of
`streamse.bench`) needs only numpy, onnxruntime, soundfile and soxr: no torch.
"""

__version__ = "0.1.0"
