"""`streamse serve`: many live calls denoised by one process over WebSockets (docs/serve.md).

protocol: the messages; hub: the streams, stepped together (one batched onnxruntime call per
hop tick); server: the WebSocket front (websockets); client: `streamse serve-client`.
"""
