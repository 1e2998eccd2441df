"""Objective speech-quality metrics on numpy signals (no torch).

Every function takes a clean reference `ref` and an estimate `est`: 1-D float arrays of the same
length (samples), sample-aligned, at `sr` Hz. The optional packages (scipy, pesq, pystoi,
speechmos) are imported on first use, so a missing one names the extra that provides it.

- si_sdr: scale-invariant SDR in dB (Le Roux et al., 2019), means removed.
- pesq_wb: ITU-T P.862.2 wideband PESQ (MOS-LQO 1.04-4.64), via the `pesq` package at 16 kHz.
- stoi: short-time objective intelligibility (0-1), via `pystoi`.
- composite: CSIG / CBAK / COVL (Hu & Loizou, 2008) from LLR, WSS, segmental SNR and PESQ.
- dnsmos: DNSMOS P.835 SIG / BAK / OVRL (+ P.808) via `speechmos`; reference-free.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from streamse.errors import MissingExtraError, require

PESQ_RATE = 16000
NAN = float("nan")


class MetricUndefinedWarning(UserWarning):
    """A metric could not be computed for this input and was reported as nan."""


def _pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 1-D, checked to have the same length."""
    ref, est = np.asarray(ref, np.float64).ravel(), np.asarray(est, np.float64).ravel()
    if ref.shape != est.shape:
        raise ValueError(f"ref and est differ in length: {ref.size} vs {est.size} samples")
    return ref, est


def _at_rate(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return x
    from streamse.dsp.resample import resample_hq

    return resample_hq(x, sr, target).astype(np.float64)


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR in dB: 10 log10(|a ref|^2 / |a ref - est|^2), a the optimal scale.

    Means are removed first. +inf when est is an exact scaled copy of ref; nan if ref is silent.
    """
    ref, est = _pair(ref, est)
    ref, est = ref - ref.mean(), est - est.mean()
    ref_energy = float(np.dot(ref, ref))
    if ref_energy == 0.0:
        return NAN
    target = (np.dot(est, ref) / ref_energy) * ref
    noise_energy = float(np.sum((est - target) ** 2))
    if noise_energy == 0.0:
        return math.inf
    with np.errstate(divide="ignore"):  # est orthogonal to ref: -inf
        return float(10 * np.log10(np.sum(target**2) / noise_energy))


def leak_and_artefacts(clean: np.ndarray, noisy: np.ndarray, est: np.ndarray, cap_db: float = 100.0) -> dict:
    """Where an output's error comes from: est split by least squares into a * clean + b * noise
    + rest, noise = noisy - clean (all (N,), sample-aligned). Returns
    {"noise_leak_db": 10 log10(|a clean|^2 / |b noise|^2), "artefacts_db": 10 log10(|a clean|^2 /
    |rest|^2), "speech_gain_db": 20 log10 |a|}: a mask that removes more noise raises the first
    and, when it also removes speech, lowers the second. A part more than `cap_db` below the
    speech (none of it: the noisy input's artefacts, a noise-free output's leak) is nan, as is
    everything for a silent clean reference or a noise-free input."""
    clean, est = _pair(clean, est)
    noise = _pair(clean, noisy)[1] - clean
    nan = {"noise_leak_db": NAN, "artefacts_db": NAN, "speech_gain_db": NAN}
    basis = np.stack([clean, noise], axis=1)
    gram = basis.T @ basis
    if np.linalg.matrix_rank(gram) < 2:  # silent clean, no noise, or noise a copy of the speech
        return nan
    a, b = np.linalg.solve(gram, basis.T @ est)
    speech = float(np.sum((a * clean) ** 2))
    if speech == 0.0:
        return nan

    def ratio(part: float) -> float:
        return NAN if part <= speech * 10 ** (-cap_db / 10) else float(10 * np.log10(speech / part))

    rest = est - a * clean - b * noise
    return {
        "noise_leak_db": ratio(float(np.sum((b * noise) ** 2))),
        "artefacts_db": ratio(float(np.sum(rest**2))),
        "speech_gain_db": float(20 * np.log10(abs(a))),
    }


def pesq_wb(ref: np.ndarray, est: np.ndarray, sr: int = 16000) -> float:
    """Wideband PESQ (MOS-LQO); input at another rate is resampled to 16 kHz first.

    Returns nan, with a MetricUndefinedWarning giving the reason, when PESQ is undefined:
    input shorter than 0.25 s, a silent reference, or no utterance detected.
    """
    pesq = require("pesq", "eval")
    ref, est = (_at_rate(x, sr, PESQ_RATE) for x in _pair(ref, est))
    reason = None
    if ref.size < PESQ_RATE // 4:
        reason = f"input shorter than 0.25 s ({ref.size} samples at 16 kHz)"
    elif not np.any(ref) or not np.any(est):
        reason = "reference or estimate is all zeros"
    else:
        try:
            return float(pesq.pesq(PESQ_RATE, ref, est, "wb"))
        except pesq.PesqError as exc:  # NoUtterancesError, BufferTooShortError, ...
            reason = f"{type(exc).__name__}: {exc}"
    warnings.warn(f"PESQ undefined, reported as nan: {reason}", MetricUndefinedWarning, stacklevel=2)
    return NAN


def stoi(ref: np.ndarray, est: np.ndarray, sr: int = 16000, extended: bool = False) -> float:
    """STOI (0-1, higher is more intelligible); ESTOI with extended=True."""
    pystoi = require("pystoi", "eval")
    ref, est = _pair(ref, est)
    return float(pystoi.stoi(ref, est, sr, extended=extended))


def composite(
    ref: np.ndarray, est: np.ndarray, sr: int = 16000, pesq_value: float | None = None
) -> dict[str, float]:
    """{"csig", "cbak", "covl"} (1-5 each) plus their parts {"llr", "wss", "segsnr"}.

    Computed at 16 kHz (resampled if needed) with wideband PESQ, as in the usual SE tables
    (MetricGAN/CMGAN `compute_metrics`). Pass `pesq_value` to reuse an already computed PESQ.
    """
    ref, est = (_at_rate(x, sr, PESQ_RATE) for x in _pair(ref, est))
    if pesq_value is None:
        pesq_value = pesq_wb(ref, est, PESQ_RATE)
    return composite_from_pesq(ref, est, PESQ_RATE, pesq_value)


def dnsmos(x: np.ndarray, sr: int = 16000) -> dict[str, float] | None:
    """{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"} (1-5) for one signal, or None
    (with a warning saying why) when `speechmos` (+ librosa, requests) is not installed.

    Reference-free. The signal is resampled to 16 kHz and clipped to [-1, 1] as the model needs.
    """
    try:
        dnsmos_mod = require("speechmos.dnsmos", "eval")
    except MissingExtraError as exc:  # speechmos, or one of its undeclared deps, is missing
        warnings.warn(
            f"DNSMOS skipped ({exc.__cause__}): pip install speechmos librosa requests",
            MetricUndefinedWarning,
            stacklevel=2,
        )
        return None
    x = np.clip(_at_rate(np.asarray(x, np.float64).ravel(), sr, PESQ_RATE), -1.0, 1.0)
    out = dnsmos_mod.run(x.astype(np.float32), sr=PESQ_RATE)
    return {f"dnsmos_{k}": float(out[f"{k}_mos"]) for k in ("sig", "bak", "ovrl", "p808")}


def score(ref: np.ndarray, est: np.ndarray, sr: int = 16000, with_dnsmos: bool = False) -> dict[str, float]:
    """All metrics of one (ref, est) pair: pesq, stoi, si_sdr, csig, cbak, covl, pause_db,
    speech_snr (`streamse.quality.frames`) (+ dnsmos_* of est when with_dnsmos and speechmos is
    available). Undefined values are nan."""
    from .frames import pause_and_speech

    ref, est = _pair(ref, est)
    pesq_value = pesq_wb(ref, est, sr)
    comp = composite(ref, est, sr, pesq_value=pesq_value)
    out = {
        "pesq": pesq_value,
        "stoi": stoi(ref, est, sr),
        "si_sdr": si_sdr(ref, est),
        "csig": comp["csig"],
        "cbak": comp["cbak"],
        "covl": comp["covl"],
        **pause_and_speech(ref, est, sr),
    }
    if with_dnsmos:
        out.update(dnsmos(est, sr) or {})
    return out


# --- composite measures (Hu & Loizou 2008, "Evaluation of objective quality measures for
# speech enhancement", IEEE TASLP 16(1)). Framing, constants and the 95 % trimming follow
# Loizou's composite.m as ported in the MetricGAN/CMGAN `compute_metrics.py`, so numbers are
# comparable with published tables: 30 ms Hann frames, 75 % overlap.

_CENT_FREQ = np.array(
    [
        50.0,
        120.0,
        190.0,
        260.0,
        330.0,
        400.0,
        470.0,
        540.0,
        617.372,
        703.378,
        798.717,
        904.128,
        1020.38,
        1148.30,
        1288.72,
        1442.54,
        1610.70,
        1794.16,
        1993.93,
        2211.08,
        2446.71,
        2701.97,
        2978.04,
        3276.17,
        3597.63,
    ]
)
_BANDWIDTH = np.array(
    [
        70.0,
        70.0,
        70.0,
        70.0,
        70.0,
        70.0,
        70.0,
        77.3724,
        86.0056,
        95.3398,
        105.411,
        116.256,
        127.914,
        140.423,
        153.823,
        168.154,
        183.457,
        199.776,
        217.153,
        235.631,
        255.255,
        276.072,
        298.126,
        321.465,
        346.136,
    ]
)


def _frames(x: np.ndarray, sr: int) -> np.ndarray:
    """Hann-windowed 30 ms frames every 7.5 ms, (n_frames, win); composite.m's frame count."""
    win = round(30 * sr / 1000)
    hop = win // 4
    n_frames = int(x.size / hop - win / hop)
    idx = np.arange(n_frames)[:, None] * hop + np.arange(win)[None, :]
    window = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, win + 1) / (win + 1)))
    return x[idx] * window


def _trimmed_mean(values: np.ndarray, keep: float = 0.95) -> float:
    """Mean of the lowest `keep` fraction (outlier frames dropped, as composite.m does)."""
    return float(np.mean(np.sort(values)[: round(values.size * keep)]))


def _lpc(frames: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation (n, order+1) and LPC polynomial [1, -a1..] (n, order+1), by batched
    Levinson-Durbin. Silent frames give non-finite values, handled by the caller."""
    w = frames.shape[1]
    r = np.stack([np.sum(frames[:, : w - k] * frames[:, k:], axis=1) for k in range(order + 1)], 1)
    a, err = np.zeros((frames.shape[0], order)), r[:, 0].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(order):
            k = (r[:, i + 1] - np.sum(a[:, :i] * r[:, i:0:-1], axis=1)) / err
            a[:, :i] = a[:, :i] - k[:, None] * a[:, i - 1 :: -1][:, :i]
            a[:, i] = k
            err = (1 - k * k) * err
    return r, np.concatenate([np.ones((frames.shape[0], 1)), -a], axis=1)


def _llr(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Log-likelihood ratio of the LPC fits (order 16 at 16 kHz), 95 % trimmed mean."""
    order = 10 if sr < 10000 else 16
    r_ref, a_ref = _lpc(_frames(ref, sr), order)
    _, a_est = _lpc(_frames(est, sr), order)
    lag = np.abs(np.arange(order + 1)[:, None] - np.arange(order + 1)[None, :])
    toeplitz = r_ref[:, lag]  # (n, order+1, order+1)
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.einsum("ni,nij,nj->n", a_est, toeplitz, a_est)
        den = np.einsum("ni,nij,nj->n", a_ref, toeplitz, a_ref)
        return _trimmed_mean(np.nan_to_num(np.log(num / den)))


def _critical_band_filters(n_half: int, sr: int) -> np.ndarray:
    """25 Gaussian-shaped critical-band weightings over FFT bins, (25, n_half)."""
    f0 = np.floor(_CENT_FREQ / (sr / 2) * n_half)[:, None]
    bw = (_BANDWIDTH / (sr / 2) * n_half)[:, None]
    norm = np.log(_BANDWIDTH[0]) - np.log(_BANDWIDTH)[:, None]
    filters = np.exp(-11 * ((np.arange(n_half)[None, :] - f0) / bw) ** 2 + norm)
    return np.where(filters > np.exp(-30.0 / (2.0 * 2.303)), filters, 0.0)


def _local_peaks(energy: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """composite.m's nearest spectral peak for each band (n, 24): rightwards on a rising slope,
    leftwards otherwise (including its index quirk, energy[n-1], for fidelity)."""
    n_bands = slope.shape[1]
    nxt = np.empty(slope.shape, dtype=int)  # first band >= i with slope <= 0 (or the last)
    for i in range(n_bands - 1, -1, -1):
        after = nxt[:, i + 1] if i + 1 < n_bands else np.full(slope.shape[0], n_bands)
        nxt[:, i] = np.where(slope[:, i] <= 0, i, after)
    prv = np.empty(slope.shape, dtype=int)  # last band <= i with slope > 0 (or -1)
    for i in range(n_bands):
        before = prv[:, i - 1] if i > 0 else np.full(slope.shape[0], -1)
        prv[:, i] = np.where(slope[:, i] > 0, i, before)
    rows = np.arange(slope.shape[0])[:, None]
    return np.where(slope > 0, energy[rows, nxt - 1], energy[rows, prv + 1])


def _band_energies(x: np.ndarray, sr: int, filters: np.ndarray, n_fft: int) -> np.ndarray:
    spec = np.abs(np.fft.rfft(_frames(x, sr), n_fft)) ** 2  # (n, n_fft/2 + 1)
    return 10 * np.log10(np.maximum(spec[:, : n_fft // 2] @ filters.T, 1e-10))  # (n, 25) dB


def _wss(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Weighted spectral slope distance (Klatt 1982), 95 % trimmed mean."""
    n_fft = 2 ** int(np.ceil(np.log2(2 * round(30 * sr / 1000))))
    filters = _critical_band_filters(n_fft // 2, sr)
    weights, slopes = [], []
    for x in (ref, est):
        energy = _band_energies(x, sr, filters, n_fft)
        slope = np.diff(energy, axis=1)  # (n, 24)
        peak = _local_peaks(energy, slope)
        w_max = 20.0 / (20.0 + energy.max(axis=1, keepdims=True) - energy[:, :-1])
        w_loc = 1.0 / (1.0 + peak - energy[:, :-1])
        weights.append(w_max * w_loc)
        slopes.append(slope)
    w = (weights[0] + weights[1]) / 2
    dist = np.sum(w * (slopes[0] - slopes[1]) ** 2, axis=1) / np.sum(w, axis=1)
    return _trimmed_mean(dist)


def _segsnr(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Segmental SNR in dB, each frame clamped to [-10, 35]."""
    fr, fe = _frames(ref, sr), _frames(est, sr)
    eps = np.finfo(np.float64).eps
    snr = 10 * np.log10(np.sum(fr**2, 1) / (np.sum((fr - fe) ** 2, 1) + eps) + eps)
    return float(np.mean(np.clip(snr, -10.0, 35.0)))


def composite_from_pesq(ref: np.ndarray, est: np.ndarray, sr: int, pesq_value: float) -> dict[str, float]:
    """CSIG/CBAK/COVL (each clamped to [1, 5]) from LLR, WSS, segSNR and the given PESQ."""
    llr, wss, seg = _llr(ref, est, sr), _wss(ref, est, sr), _segsnr(ref, est, sr)
    csig = 3.093 - 1.029 * llr + 0.603 * pesq_value - 0.009 * wss
    cbak = 1.634 + 0.478 * pesq_value - 0.007 * wss + 0.063 * seg
    covl = 1.594 + 0.805 * pesq_value - 0.512 * llr - 0.007 * wss
    out = {k: float(np.clip(v, 1.0, 5.0)) for k, v in (("csig", csig), ("cbak", cbak), ("covl", covl))}
    return {**out, "llr": llr, "wss": wss, "segsnr": seg}
