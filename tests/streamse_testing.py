"""Small seeded models for fast tests of the streaming machinery."""

from __future__ import annotations

import torch

from streamse.models.crn import CRNConfig, MaskCRN

TINY_CRN = CRNConfig(channels=(4, 8), rnn_hidden=32, rnn_layers=2, fc_hidden=32)


def tiny_crn(seed: int = 0, **overrides) -> MaskCRN:
    """A randomly initialised CRN small enough for per-test export and streaming runs."""
    import dataclasses

    torch.manual_seed(seed)
    return MaskCRN(dataclasses.replace(TINY_CRN, **overrides)).eval()


def tiny_cnunet(seed: int = 0, **overrides):
    """A randomly initialised causal CNUNet with the shipped STFT (320/160/512) but two shallow
    encoder levels and narrow channels; it still has every block kind (CTFA included)."""
    import dataclasses

    from streamse.models.cnunet import CNUNet, CNUNetConfig

    cfg = CNUNetConfig(mid=8, out=8, stages=(2, 1), dense_layers=3, attn_hidden=2, attn_frames=4)
    torch.manual_seed(seed)
    return CNUNet(dataclasses.replace(cfg, **overrides)).eval()
