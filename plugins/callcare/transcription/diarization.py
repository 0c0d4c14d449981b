"""Telling two voices apart on mono recordings, without a neural model.

Every speech segment is described frame by frame by cepstra of its log mel spectrum (the vocal
tract's shape, i.e. timbre), mean-normalized over the recording so the line's colouring cancels.
Segments are merged bottom-up, always the pair whose union costs the least likelihood under one
full-covariance Gaussian (the BIC / GLR criterion of classic speaker diarization) until two groups
are left, because a care call has two parties. Unlike clustering one average vector per segment,
the likelihood test weighs each segment by its length: a half-second "hello" is weak evidence and
moves less than a ten-second explanation. A few rounds of resegmentation then move every segment to
the speaker model that explains its frames best.

No separation score tried here told a one-voice recording from a two-voice one reliably (a single
flite voice scored like two real ones), so there is no such gate: a monologue gets two labels, and
role assignment reports low confidence. Offline and cheap; a real diarization model is the upgrade
path (Amazon Transcribe does its own).
"""

from __future__ import annotations

import numpy as np

N_FFT = 512
HOP = 256  # 16 ms at 16 kHz, half a window
N_BANDS = 24
N_CEPS = 13  # c0 (loudness) is dropped: loudness is not identity
# Band energies below this fraction of the frame's loudest band are floored: the empty bands of a
# band-limited (telephony, mu-law) recording would otherwise add quantization noise to the cepstra.
DYNAMIC_RANGE = 1e-4
# Covariances are shrunk this much toward the recording's: a short segment cannot estimate a
# 12x12 covariance alone, and an unshrunk one would make it look unlike everything.
SHRINKAGE = 0.05
RESEGMENT_ROUNDS = 5
# Bottom-up merging costs O(n^2) memory and about O(n^3) time: beyond this many segments only the
# longest take part (the most reliable evidence, and a 30-minute call has about 600), the others
# join the speaker model that explains them best in the resegmentation that follows.
MAX_AGGLOMERATED = 400


def _band_edges(sample_rate: int) -> np.ndarray:
    # telephony band only: 8 kHz recordings carry nothing above it, and they must cluster alike
    mel_max = 2595 * np.log10(1 + min(sample_rate / 2, 3400) / 700)
    mels = np.linspace(2595 * np.log10(1 + 80 / 700), mel_max, N_BANDS + 1)
    hz = 700 * (10 ** (mels / 2595) - 1)
    return np.floor(hz / sample_rate * N_FFT).astype(int)


def _dct_matrix() -> np.ndarray:
    k = np.arange(N_CEPS)[:, None]
    n = np.arange(N_BANDS)[None, :]
    return np.cos(np.pi * k * (2 * n + 1) / (2 * N_BANDS))


_DCT = _dct_matrix()


def frame_cepstra(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, N_CEPS - 1) cepstra of the louder half of the frames: pauses say nothing about a voice."""
    x = samples.astype(np.float64)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    hop = max(1, HOP * sample_rate // 16000)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::hop] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    edges = _band_edges(sample_rate)
    cumulative = np.concatenate([np.zeros((len(power), 1)), np.cumsum(power, axis=1)], axis=1)
    upper = np.maximum(edges[1:], edges[:-1] + 1)
    bands = cumulative[:, upper] - cumulative[:, edges[:-1]]
    bands = np.maximum(bands, bands.max(axis=1, keepdims=True) * DYNAMIC_RANGE)
    loud = power.sum(axis=1) >= np.median(power.sum(axis=1))
    return (np.log(bands[loud] + 1e-3) @ _DCT.T)[:, 1:]


def voice_profile(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """One vector per segment (mean cepstrum): for callers that want a single number per voice."""
    return frame_cepstra(samples, sample_rate).mean(axis=0)


class _Stats:
    """Sufficient statistics of a group of frames: count, sum and sum of outer products."""

    def __init__(self, n: float, total: np.ndarray, outer: np.ndarray) -> None:
        self.n, self.total, self.outer = n, total, outer

    @classmethod
    def of(cls, frames: np.ndarray) -> _Stats:
        return cls(float(len(frames)), frames.sum(axis=0), frames.T @ frames)

    def __add__(self, other: _Stats) -> _Stats:
        return _Stats(self.n + other.n, self.total + other.total, self.outer + other.outer)


def _logdets(n: np.ndarray, total: np.ndarray, outer: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """log|covariance| of many groups at once, each shrunk toward `prior`."""
    mean = total / n[:, None]
    cov = outer / n[:, None, None] - mean[:, :, None] * mean[:, None, :]
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * prior
    return np.linalg.slogdet(cov)[1]


def _agglomerate(frames: list[np.ndarray], prior: np.ndarray) -> np.ndarray:
    """Merge segments pairwise, cheapest likelihood loss first, until two groups are left."""
    stats = [_Stats.of(f) for f in frames]
    size = len(stats)
    alive = np.ones(size, dtype=bool)
    group = np.arange(size)
    own = _logdets(
        np.array([s.n for s in stats]),
        np.stack([s.total for s in stats]),
        np.stack([s.outer for s in stats]),
        prior,
    )
    own_cost = np.array([s.n for s in stats]) * own
    cost = np.full((size, size), np.inf)
    for i in range(size):
        _update_costs(cost, i, stats, alive, own_cost, prior)
    for _ in range(size - 2):
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
        i, j = min(i, j), max(i, j)
        stats[i] = stats[i] + stats[j]
        alive[j] = False
        cost[j, :] = cost[:, j] = np.inf
        group[group == j] = i
        own_cost[i] = (
            stats[i].n
            * _logdets(np.array([stats[i].n]), stats[i].total[None], stats[i].outer[None], prior)[0]
        )
        _update_costs(cost, i, stats, alive, own_cost, prior)
    first = group[0]
    return (group != first).astype(int)


def _update_costs(
    cost: np.ndarray, i: int, stats: list[_Stats], alive: np.ndarray, own_cost: np.ndarray, prior: np.ndarray
) -> None:
    others = np.flatnonzero(alive)
    others = others[others != i]
    if others.size == 0:
        return
    n = np.array([stats[i].n + stats[k].n for k in others])
    total = np.stack([stats[i].total + stats[k].total for k in others])
    outer = np.stack([stats[i].outer + stats[k].outer for k in others])
    merged = n * _logdets(n, total, outer, prior)
    loss = 0.5 * (merged - own_cost[i] - own_cost[others])
    cost[i, others] = cost[others, i] = loss


def _log_likelihood(frames: np.ndarray, model: tuple[np.ndarray, np.ndarray, float]) -> float:
    mean, inverse, logdet = model
    d = frames - mean
    return float(-0.5 * (np.einsum("ij,jk,ik->", d, inverse, d) + len(frames) * logdet))


def _gaussian(frames: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    cov = (1 - SHRINKAGE) * np.cov(frames.T, bias=True) + SHRINKAGE * prior
    return frames.mean(axis=0), np.linalg.inv(cov), float(np.linalg.slogdet(cov)[1])


def _resegment(frames: list[np.ndarray], labels: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Move segments to the better-fitting speaker model until nothing moves; -1 means not yet labelled."""
    for _ in range(max(1, RESEGMENT_ROUNDS)):
        models = [
            _gaussian(
                np.concatenate([f for f, label in zip(frames, labels, strict=True) if label == k]), prior
            )
            for k in (0, 1)
        ]
        new = np.array([int(_log_likelihood(f, models[1]) > _log_likelihood(f, models[0])) for f in frames])
        if len(set(new.tolist())) < 2:
            # one model swallowed everything: keep the partition there was, labelling only the rest
            return np.where(labels < 0, new, labels)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def cluster_speakers(segments: list[np.ndarray], sample_rate: int, seed: int = 0) -> list[int]:
    """Speaker index per segment (0 = whoever speaks first).

    `seed` is kept for callers of the earlier k-means version; the clustering is deterministic.
    """
    if len(segments) < 2:
        return [0] * len(segments)
    frames = [frame_cepstra(s, sample_rate) for s in segments]
    everything = np.concatenate(frames)
    center = everything.mean(axis=0)
    frames = [f - center for f in frames]
    prior = np.cov(everything.T, bias=True) + 1e-6 * np.eye(everything.shape[1])
    longest = np.argsort([-len(f) for f in frames], kind="stable")[:MAX_AGGLOMERATED]
    labels = np.full(len(frames), -1)
    labels[longest] = _agglomerate([frames[i] for i in longest], prior)
    labels = _resegment(frames, labels, prior)
    first = labels[0]
    return [0 if label == first else 1 for label in labels.tolist()]
