"""What the shipped weights do to speech, through the runtime users run (the ONNX streamer),
on bundled audio only (tests/data: a VoiceBank+DEMAND pair; the demo sample):

- transparency: clean speech comes out with its active level within 1 dB and SI-SDR >= 20 dB
  against the input;
- gain invariance: the input at -20 dB and +10 dB gives the 0 dB output scaled (level within
  1 dB, SI-SDR >= 20 dB against the scaled reference), on clean and noisy input;
- leading silence: 0.01-4 s of exact zeros ahead of the input change the rest of the output by
  at most 1 dB (SI-SDR >= 25 dB against a fresh start at the same frame phase: a lead that is
  not a whole number of hops also shifts the frame grid, `bh.frame_phase`), on clean, noisy and
  the demo sample;
- stationary noise: clean speech + white and pink noise at 5 dB SNR: SI-SDR improves by
  >= 6 dB and PESQ-WB by >= 0.3;
- quiet start under the silence threshold: 1 s of white noise at -100 or -90 dBFS (a
  converter's floor, a resampler's pre-ringing) ahead of a noisy input is silence: the speech
  after it scores as after a fresh start (SI-SDR against the clean speech within 0.05 dB), on
  the noisy pair and on clean speech + white noise at 5 dB. Quieter rooms above the threshold
  (-70 dBFS) still cost the crn 1.4 dB on the noisy pair: `bh.LIMITS` holds the 0.5 dB target
  that reports check, not yet met (docs/quality.md, ninth round).

The limits live in `streamse.quality.behaviour.LIMITS`. The weights shipped before these tests
(crn trained with the old recipe) failed all four (docs/quality.md has their numbers).
"""

from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf

from streamse.quality import behaviour as bh
from streamse.demo import DEMO_INPUT as DEMO
from streamse.runtime import load_streamer
from bundled import DATA

# models whose model card claims these behaviours (the CNUNet family is retrained in #14)
MODELS = ["crn", "crn-32ms"]
LIMITS = bh.LIMITS


@pytest.fixture(scope="module", params=MODELS)
def enhance(request):
    streamer = load_streamer(request.param)

    def enhance(x):
        return streamer.process(np.asarray(x, np.float32))

    enhance.hop = streamer.hop  # leading silence is compared at the model's frame phase
    return enhance


def _demo() -> np.ndarray:
    x, sr = sf.read(DEMO, dtype="float32")
    assert sr == 16000
    return x


def test_clean_speech_passes_nearly_unchanged(enhance, noisy_clean):
    level, sisdr = bh.transparency(enhance, noisy_clean[1])
    assert abs(level) <= LIMITS["transparency_level_db"], f"level changed by {level:.2f} dB"
    assert sisdr >= LIMITS["transparency_sisdr_db"], f"SI-SDR {sisdr:.2f} dB against the input"


@pytest.mark.parametrize("which", ["noisy", "clean"])
def test_louder_or_softer_input_gives_the_same_output_scaled(enhance, noisy_clean, which):
    x = noisy_clean[0] if which == "noisy" else noisy_clean[1]
    for gain_db, (level, sisdr) in bh.gain_invariance(enhance, x, (-20.0, 10.0)).items():
        assert abs(level) <= LIMITS["gain_level_db"], f"{gain_db:+} dB in: level off {level:.2f}"
        assert sisdr >= LIMITS["gain_sisdr_db"], f"{gain_db:+} dB in: SI-SDR {sisdr:.2f}"


@pytest.mark.parametrize("which", ["noisy", "clean", "demo"])
def test_leading_digital_silence_does_not_change_the_speech(enhance, noisy_clean, which):
    x = {"noisy": noisy_clean[0], "clean": noisy_clean[1]}.get(which)
    x = _demo() if x is None else x
    for lead, (level, sisdr) in bh.leading_silence(
        enhance, x, (0.01, 0.5, 1.0, 2.0, 4.0), enhance.hop
    ).items():
        assert abs(level) <= LIMITS["lead_level_db"], f"{lead} s of zeros: level {level:+.2f} dB"
        assert sisdr >= LIMITS["lead_sisdr_db"], f"{lead} s of zeros: SI-SDR {sisdr:.2f} dB"


def test_stationary_noise_is_clearly_removed(enhance, noisy_clean):
    for kind, (d_sisdr, d_pesq) in bh.stationary_noise_gain(enhance, noisy_clean[1]).items():
        assert d_sisdr >= LIMITS["noise_sisdr_gain_db"], f"{kind}: SI-SDR +{d_sisdr:.2f} dB"
        assert d_pesq >= LIMITS["noise_pesq_gain"], f"{kind}: PESQ +{d_pesq:.2f}"


@pytest.mark.parametrize("which", ["noisy", "white"])
def test_a_floor_under_the_silence_threshold_is_a_fresh_start(enhance, noisy_clean, which):
    """A live stream starts with the converter's floor, not exact zeros. The weights shipped
    before `silence_db` lost 1.2 dB on the noisy pair after 1 s at -90 dBFS: the level
    normaliser started on the floor and measured the speech against it."""
    noisy, clean = noisy_clean
    if which == "white":
        noisy = bh.noisy_at_snr(clean, "white", 5.0)
    for floor, loss in bh.quiet_start(enhance, noisy, clean, (-100.0, -90.0), hop=enhance.hop).items():
        assert abs(loss) <= 0.05, f"1 s at {floor} dBFS first: SI-SDR {-loss:+.2f} dB"


def test_the_checks_can_fail():
    """A denoiser that halves its input, one that passes noise through, one that changes with
    what came before and one that removes less after a quiet start fail the checks."""
    clean = sf.read(DATA / "clean.wav", dtype="float32")[0]
    level, _ = bh.transparency(lambda x: 0.5 * x, clean)
    assert abs(level) > LIMITS["transparency_level_db"]
    (d_sisdr, d_pesq), _ = bh.stationary_noise_gain(lambda x: x, clean).values()
    assert d_sisdr < LIMITS["noise_sisdr_gain_db"] and d_pesq < LIMITS["noise_pesq_gain"]
    level, sisdr = bh.leading_silence(lambda x: x * (1 + (x.size > clean.size)), clean, (1.0,))[1.0]
    assert abs(level) > LIMITS["lead_level_db"]
    noisy = bh.noisy_at_snr(clean, "white", 5.0)

    def forgets_less_after_a_quiet_start(x):  # 20 % of the noise fresh, all of it after a lead
        keep = 1.0 if x.size > clean.size else 0.2
        return np.concatenate([x[: x.size - clean.size], clean + keep * (x[-clean.size :] - clean)])

    losses = bh.quiet_start(forgets_less_after_a_quiet_start, noisy, clean)
    assert min(losses.values()) > LIMITS["quiet_start_loss_db"]


def test_shipped_cnunet_tb_ts_does_not_halve_its_output(noisy_clean):
    """cnunet-tb-ts (not yet retrained, so not in MODELS) adds its two branches instead of
    averaging them: its mapping branch is near-silent (docs/cnunet-tb-ts.md), and the mean cost
    every output 6 dB (clean speech came out at -9.8 dB). Now -3.8 dB; the other behaviours
    are scale-invariant and unchanged."""
    streamer = load_streamer("cnunet-tb-ts")
    assert streamer.meta.config["combine"] == "sum"
    level, _ = bh.transparency(lambda x: streamer.process(np.asarray(x, np.float32)), noisy_clean[1])
    assert -4.5 < level < -3.0, f"clean speech level changed by {level:.2f} dB"
