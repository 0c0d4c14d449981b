"""Telling two voices apart on mono recordings, without a neural model.

Each speech segment is described by its long-term average log spectrum (a voice's timbre and
pitch range show there); weighted two-means clustering on those vectors splits the call into two
speakers, since a care call has two parties. No separation score tried here told a one-voice
recording from a two-voice one reliably (a single flite voice scored like two real ones), so
there is no such gate: a monologue gets two labels, and role assignment reports low confidence.
Offline and cheap; a real diarization model is the upgrade path (Amazon Transcribe does its own).
"""

from __future__ import annotations

import numpy as np

N_FFT = 512
N_BANDS = 24


def _band_edges(sample_rate: int) -> np.ndarray:
    # telephony band only: 8 kHz recordings carry nothing above it, and they must cluster alike
    mel_max = 2595 * np.log10(1 + min(sample_rate / 2, 3400) / 700)
    mels = np.linspace(2595 * np.log10(1 + 80 / 700), mel_max, N_BANDS + 1)
    hz = 700 * (10 ** (mels / 2595) - 1)
    return np.floor(hz / sample_rate * N_FFT).astype(int)


def voice_profile(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    x = samples.astype(np.float64)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    hop = N_FFT // 2
    n = 1 + (len(x) - N_FFT) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::hop][:n] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    # keep the louder half of the frames: pauses inside a segment say nothing about the voice
    loud = power.sum(axis=1) >= np.median(power.sum(axis=1))
    spectrum = power[loud].mean(axis=0)
    edges = _band_edges(sample_rate)
    bands = np.array([spectrum[edges[i] : max(edges[i + 1], edges[i] + 1)].sum() for i in range(N_BANDS)])
    logb = np.log(bands + 1e-9)
    return logb - logb.mean()  # level-independent: loudness is not identity


def cluster_speakers(segments: list[np.ndarray], sample_rate: int, seed: int = 0) -> list[int]:
    """Speaker index per segment (0 = whoever speaks first)."""
    if len(segments) < 2:
        return [0] * len(segments)
    features = np.stack([voice_profile(s, sample_rate) for s in segments])
    weights = np.array([len(s) for s in segments], dtype=np.float64)
    labels = _two_means(features, weights, seed)
    if labels is None:
        return [0] * len(segments)
    first = labels[0]
    return [0 if label == first else 1 for label in labels]


def _two_means(features: np.ndarray, weights: np.ndarray, seed: int) -> list[int] | None:
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray] | None = None
    for _ in range(8):
        centers = features[rng.choice(len(features), 2, replace=False)]
        for _ in range(50):
            dist = np.linalg.norm(features[:, None, :] - centers[None, :, :], axis=2)
            labels = dist.argmin(axis=1)
            if len(set(labels.tolist())) < 2:
                break
            new = np.stack(
                [np.average(features[labels == k], axis=0, weights=weights[labels == k]) for k in (0, 1)]
            )
            if np.allclose(new, centers):
                break
            centers = new
        if len(set(labels.tolist())) < 2:
            continue
        inertia = float(sum(weights[i] * dist[i, labels[i]] ** 2 for i in range(len(labels))))
        if best is None or inertia < best[0]:
            best = (inertia, labels.copy())
    if best is None:
        return None
    return best[1].tolist()
