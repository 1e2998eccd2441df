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
