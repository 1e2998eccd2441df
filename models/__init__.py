"""PyTorch side of streamse: architectures, streaming layers and trainers (needs torch)."""
