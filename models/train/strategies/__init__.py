"""Training strategies, looked up by name: how a causal model learns from the data a user has.

| name | data | what is learned |
|---|---|---|
| supervised | clean speech + noise (paired mixtures) | `EnhancementLoss` to the clean target |
| cyclegan | clean speech and noisy speech, unpaired | Up-Cycle-SENet's cycle-consistent GAN |
| iddp | noisy speech (+ noise clips to add) | MIA-SE's implicit deep denoiser prior |
| ts-stage1 | mixtures + a speech teacher | CNUNet-TB, teacher fused at the bottleneck, stores latents |
| ts-stage2 | mixtures + stage-1 latents | the causal CNUNet-TB-TS: spectral + latent loss, no teacher |

Each entry is (trainer class, strategy config class or None). Every trainer subclasses `Trainer`
(checkpoints, exact resume, validation, TensorBoard), and its checkpoints' model entry is the
noisy -> clean model, so `streamse export --checkpoint` works for all of them.
"""

from __future__ import annotations

from streamse.errors import StreamseError

from ..two_stage import Stage1Config, Stage1Trainer, Stage2Config, Stage2Trainer
from .cyclegan import CycleGANConfig, CycleGANTrainer
from .iddp import IDDPConfig, IDDPTrainer
from .supervised import SupervisedTrainer

STRATEGIES: dict[str, tuple[type, type | None]] = {
    "supervised": (SupervisedTrainer, None),
    "cyclegan": (CycleGANTrainer, CycleGANConfig),
    "iddp": (IDDPTrainer, IDDPConfig),
    "ts-stage1": (Stage1Trainer, Stage1Config),
    "ts-stage2": (Stage2Trainer, Stage2Config),
}


def strategy(name: str) -> tuple[type, type | None]:
    """Strategy name -> (trainer class, config class or None)."""
    try:
        return STRATEGIES[name]
    except KeyError:
        choices = sorted(STRATEGIES)
        raise StreamseError(f"unknown strategy {name!r}; choose one of {choices}") from None
