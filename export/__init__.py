"""ONNX export of streamse models and its self-checks (needs torch and onnx)."""
