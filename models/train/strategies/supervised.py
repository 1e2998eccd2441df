"""`streamse train --strategy supervised` (the default): paired (noisy, clean) mixtures and
`EnhancementLoss`, exactly `Trainer`; it takes no strategy table."""

from __future__ import annotations

from ..trainer import Trainer


class SupervisedTrainer(Trainer):
    strategy = "supervised"
