"""On-the-fly noisy/clean training mixtures, the DataLoader around them, and dev-set pairing.

Each item is rebuilt from scratch by a generator seeded with (seed, epoch, index), so an item
is reproducible anywhere (any worker, any rank, after a restart) and every epoch sees new
mixtures. Steps per item (all on 16 kHz float64 numpy, cast to float32 at the end):

1. crop `segment_seconds` of a random utterance (shorter ones are zero-padded at a random spot);
2. with `p_reverb`, convolve with a random RIR from a seeded bank made at construction.
   The TARGET is then the direct path + first 50 ms (early reflections) of the reverberant
   speech, not the dry speech: early reflections are perceptually benign and cannot be undone
   causally, while the late tail is what hurts intelligibility (the DNS-Challenge convention).
   Input and target share the RIR's direct-path filter, so they stay sample-aligned;
3. noise: babble of 3-6 other utterances (`p_babble`), or white/pink/brown noise
   (`p_colored`), or else a random crop (looped if short) of a real noise clip; with
   `p_second_noise` a second real noise clip is added 0-10 dB below the first;
4. scale the noise to an SNR drawn from `snr_db`, measured against the active speech level
   of the (reverberant) speech;
5. one random gain on both so the mixture has RMS drawn from `level_db` dBFS, lowered further
   if any peak would exceed 0.99 (no clipping).

Optional augmentations (all off by default; probabilities per item, drawn from a second
generator seeded with (seed, epoch, index, 1), so turning them on leaves every other draw as
it was): `p_speed` plays the speech 0.9-1.1x faster (tempo and pitch, before the crop is
taken), `p_eq_speech` / `p_eq_noise` colour speech (input and target alike) or noise with a
random 2nd-order filter, `p_lowpass` band-limits the speech, `p_lead` gives the item a quiet
start (`augment.quiet_lead`: scaled down or muted, over a converter-like noise floor),
`p_speed_noise` plays a real noise clip 0.75-1.33x faster (its hums, engines and bells shift
in pitch: the real training noise is under an hour in about 400 clips), and `p_clean` adds no
noise at all: the model must learn to leave clean speech alone (without
such items it never sees a noise-free input and attenuates clean speech). `p_fill` continues
an utterance shorter than the segment with further random utterances, a pause of `fill_gap_s`
between them, instead of zero-padding it: most training clips are 1-2 s long, so on 6 s
segments two thirds of such an item would otherwise be noise alone, while the speech a
denoiser hears (and the dev sets) runs on for many seconds; `speech_by_duration` draws the
utterances by length rather than per clip (from the main generator: it changes every item),
so the long read speech is not outnumbered by the short clips (docs/quality.md, seventeenth
round).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from . import augment as aug
from streamse.quality.pairs import load_pairs  # noqa: F401  (re-exported for training code)

from .audio_pool import AudioPool


@dataclass(frozen=True)
class DataConfig:
    """Training-mixture recipe. Paths are relative to the working directory.

    Probabilities are per item; babble, coloured and tonal noise replace the real noise clip.
    """

    clean_dirs: tuple[str, ...] = ()  # training speech folders: the config names them
    noise_dirs: tuple[str, ...] = ()
    sample_rate: int = 16000
    segment_seconds: float = 3.0
    snr_db: tuple[float, float] = (-5.0, 20.0)
    level_db: tuple[float, float] = (-35.0, -15.0)  # mixture RMS, dBFS
    p_reverb: float = 0.25
    p_babble: float = 0.15
    p_colored: float = 0.15
    p_tonal: float = 0.0  # tonal noise (hum/buzz, tones, narrowband: `augment.tonal_noise`)
    p_second_noise: float = 0.2
    seed: int = 0
    epoch_size: int = 2000  # mixtures per epoch
    babble_talkers: tuple[int, int] = (3, 6)  # inclusive range of utterances in babble
    second_noise_db: tuple[float, float] = (-10.0, 0.0)  # second noise level re the first
    rir_bank_size: int = 200
    rt60_s: tuple[float, float] = (0.2, 0.8)
    early_ms: float = 50.0  # reverberant target keeps this much after the direct path
    p_clean: float = 0.0  # items with no noise at all (noisy = speech as heard)
    p_speed: float = 0.0  # speed (tempo + pitch) perturbation of the speech
    speed_range: tuple[float, float] = (0.9, 1.1)
    p_speed_noise: float = 0.0  # speed (pitch + tempo) perturbation of each real noise clip
    noise_speed_range: tuple[float, float] = (0.75, 1.33)
    p_eq_speech: float = 0.0  # random 2nd-order filter on the speech (input and target)
    p_eq_noise: float = 0.0  # random 2nd-order filter on the noise
    eq_coef: float = 0.375  # filter coefficients uniform in [-eq_coef, eq_coef]
    p_lowpass: float = 0.0  # band-limited speech (input and target)
    lowpass_hz: tuple[float, float] = (3500.0, 7500.0)
    p_lead: float = 0.0  # a quiet start (`augment.quiet_lead`): scaled down, plus a noise floor
    lead_seconds: tuple[float, float] = (0.1, 1.0)
    lead_gain_db: tuple[float, float] = (-60.0, -10.0)  # re the rest; half the leads are muted
    lead_floor_db: tuple[float, float] = (-100.0, -60.0)  # dBFS RMS of the floor noise
    p_fill: float = 0.0  # a short utterance is continued by others instead of zero-padded
    fill_gap_s: tuple[float, float] = (0.1, 0.8)  # pause between the joined utterances
    speech_by_duration: bool = False  # draw utterances by length (each second alike), not per clip

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))


def make_rir_bank(cfg: DataConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """`cfg.rir_bank_size` (full, early) RIR pairs, seeded by cfg.seed (same bank every run)."""
    rng = np.random.default_rng((cfg.seed, 0x5217))
    return [
        aug.synth_rir(rng, cfg.sample_rate, cfg.rt60_s, early_ms=cfg.early_ms)
        for _ in range(cfg.rir_bank_size if cfg.p_reverb > 0 else 0)
    ]


class MixtureDataset(Dataset):
    """`cfg.epoch_size` random (noisy, clean) pairs per epoch, each float32 (segment_samples,).

    Call `set_epoch(e)` before iterating an epoch (with DataLoader workers, before the iterator
    is created; do not use persistent_workers, or the workers keep the old epoch).
    """

    def __init__(self, cfg: DataConfig, speech: AudioPool, noise: AudioPool):
        if len(speech) < 2 or len(noise) < 1:
            raise ValueError(
                f"need >= 2 speech clips and >= 1 noise clip, got {len(speech)} and {len(noise)}"
            )
        for pool in (speech, noise):
            if pool.sample_rate != cfg.sample_rate:
                raise ValueError(f"pool at {pool.sample_rate} Hz, config at {cfg.sample_rate}")
        self.cfg, self.speech, self.noise = cfg, speech, noise
        self.epoch = 0
        self.rirs = make_rir_bank(cfg)
        ends = np.cumsum(speech.lengths, dtype=np.float64) if cfg.speech_by_duration else None
        self._speech_cdf = None if ends is None else ends / ends[-1]  # (clips,) draws by duration

    def _pick_speech(self, rng: np.random.Generator) -> int:
        """A random utterance index: each clip alike, or with `speech_by_duration` each second
        of speech alike (a 14 s clip 14 times as likely as a 1 s one)."""
        if self._speech_cdf is None:
            return int(rng.integers(len(self.speech)))
        return int(np.searchsorted(self._speech_cdf, rng.random(), side="right"))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.cfg.epoch_size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(noisy, clean), float32 tensors of shape (segment_samples,), sample-aligned."""
        seed = (self.cfg.seed, self.epoch, index)
        noisy, clean = self.make_item(np.random.default_rng(seed), np.random.default_rng(seed + (1,)))
        return torch.from_numpy(noisy), torch.from_numpy(clean)

    def make_item(
        self, rng: np.random.Generator, aux: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One (noisy, clean) float32 numpy pair drawn with `rng`; the optional augmentations
        draw from `aux` (default: a generator seeded from `rng`)."""
        cfg, n = self.cfg, self.cfg.segment_samples
        aux = aux if aux is not None else np.random.default_rng(rng.integers(2**63))
        speech_idx = self._pick_speech(rng)
        reverberant, target = self._speech(speech_idx, n, rng, aux)
        noise = self._noise(speech_idx, n, rng, aux)  # unit power
        if aux.random() < cfg.p_eq_noise:
            noise = aug.random_biquad(noise, aux, cfg.eq_coef)
        speech_power = aug.active_power(reverberant, cfg.sample_rate)
        if aux.random() < cfg.p_clean:
            noise = np.zeros_like(noise)
            rng.uniform(*cfg.snr_db)  # keep the draw sequence independent of this branch
        elif speech_power > 0.0:
            noise = noise * aug.noise_gain_for_snr(speech_power, noise, rng.uniform(*cfg.snr_db))
        else:  # speech-free crop: noise only, still a valid (noisy, silent target) pair
            rng.uniform(*cfg.snr_db)  # keep the draw sequence independent of this branch
        noisy, clean = aug.level_and_clip_guard(reverberant + noise, target, rng.uniform(*cfg.level_db))
        if aux.random() < cfg.p_lead:
            n_lead = int(aux.uniform(*cfg.lead_seconds) * cfg.sample_rate)
            gain = None if aux.random() < 0.5 else aux.uniform(*cfg.lead_gain_db)
            noisy, clean = aug.quiet_lead(noisy, clean, n_lead, gain, aux.uniform(*cfg.lead_floor_db), aux)
        return noisy.astype(np.float32), clean.astype(np.float32)

    def _speech(self, idx: int, n: int, rng: np.random.Generator, aux: np.random.Generator):
        """(speech as heard in the mixture, target), each (n,) float64."""
        if not self.rirs or rng.random() >= self.cfg.p_reverb:
            dry = self._dry(idx, n, rng, aux)
            return dry, dry
        full, early = self.rirs[int(rng.integers(len(self.rirs)))]
        context = full.size  # earlier speech whose reverb tail reaches into the crop
        dry = self._dry(idx, n + context, rng, aux)
        wet, target = aug.convolve_same(dry, [full, early])
        return wet[context:], target[context:]

    def _dry(self, idx: int, n: int, rng: np.random.Generator, aux: np.random.Generator):
        """n samples of utterance idx (n,) float64, with the optional speech augmentations."""
        cfg = self.cfg
        speech = self._utterance(idx, int(np.ceil(n * max(1.0, cfg.speed_range[1]))) + 32, aux)
        if aux.random() < cfg.p_speed:
            dry = aug.speed_crop(speech, n, aux.uniform(*cfg.speed_range), rng)
        else:
            dry = aug.crop_or_pad(speech, n, rng)
        if aux.random() < cfg.p_eq_speech:
            dry = aug.random_biquad(dry, aux, cfg.eq_coef)
        if aux.random() < cfg.p_lowpass:
            dry = aug.lowpass(dry, aux.uniform(*cfg.lowpass_hz), cfg.sample_rate)
        return dry

    def _utterance(self, idx: int, n: int, aux: np.random.Generator) -> np.ndarray:
        """Utterance idx (samples,); with `p_fill`, if shorter than n samples, followed by
        random others (a `fill_gap_s` pause of zeros before each) until it is n long. Draws
        nothing when p_fill is 0, so recipes without it make the items they always made."""
        first = self.speech[idx]
        cfg = self.cfg
        if cfg.p_fill <= 0.0 or first.size >= n or aux.random() >= cfg.p_fill:
            return first
        parts, total = [first], first.size
        while total < n:
            gap = np.zeros(int(aux.uniform(*cfg.fill_gap_s) * cfg.sample_rate), dtype=first.dtype)
            more = self.speech[self._pick_speech(aux)]
            parts += [gap, more]
            total += gap.size + more.size
        return np.concatenate(parts)

    def _noise(
        self, speech_idx: int, n: int, rng: np.random.Generator, aux: np.random.Generator
    ) -> np.ndarray:
        """Unit-power noise (n,) float64: babble, coloured, tonal or real (+ maybe a second one)."""
        cfg, u = self.cfg, rng.random()
        if u < cfg.p_babble:
            noise = self._babble(speech_idx, n, rng)
        elif u < cfg.p_babble + cfg.p_colored:
            noise = aug.colored_noise(n, float(rng.choice([0.0, 1.0, 2.0])), rng)
        elif u < cfg.p_babble + cfg.p_colored + cfg.p_tonal:
            noise = aug.tonal_noise(n, cfg.sample_rate, rng)
        else:
            noise = self._real_noise(n, rng, aux)
        if rng.random() < cfg.p_second_noise:
            gain_db = rng.uniform(*cfg.second_noise_db)
            noise = noise + self._real_noise(n, rng, aux) * 10 ** (gain_db / 20)
        return aug.scale_to_power(noise, 1.0)

    def _real_noise(self, n: int, rng: np.random.Generator, aux: np.random.Generator) -> np.ndarray:
        """A random real noise clip, looped to n samples, unit power; with `p_speed_noise`
        played faster or slower (draws from aux only when p_speed_noise > 0, so recipes
        without it make the items they always made)."""
        cfg = self.cfg
        clip = self.noise[int(rng.integers(len(self.noise)))]
        if cfg.p_speed_noise > 0.0 and aux.random() < cfg.p_speed_noise:
            seg = aug.speed_crop(clip, n, aux.uniform(*cfg.noise_speed_range), rng, loop=True)
        else:
            seg = aug.crop_loop(clip, n, rng)
        return aug.scale_to_power(seg, 1.0)

    def _babble(self, speech_idx: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Sum of 3-6 other utterances at equal active level, each looped to n samples."""
        lo, hi = self.cfg.babble_talkers
        others = np.delete(np.arange(len(self.speech)), speech_idx)
        picks = rng.choice(others, size=min(int(rng.integers(lo, hi + 1)), others.size), replace=False)
        talkers = [aug.crop_loop(self.speech[int(k)], n, rng) for k in picks]
        return sum(t / np.sqrt(aug.active_power(t, self.cfg.sample_rate) + aug.EPS) for t in talkers)


def make_loader(
    cfg: DataConfig,
    dataset: MixtureDataset,
    batch_size: int,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader:
    """Batches of (noisy, clean), each (batch, segment_samples) float32.

    With world_size > 1 each rank gets a disjoint, deterministic 1/world_size of the indices
    (items are random already, so no shuffling). Incomplete last batches are dropped.
    Workers are not persistent, so `dataset.set_epoch` before each epoch reaches them.
    """
    if dataset.cfg != cfg:
        raise ValueError("make_loader: cfg differs from the config the dataset was built with")
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=False, drop_last=True)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=True,
        persistent_workers=False,
    )
