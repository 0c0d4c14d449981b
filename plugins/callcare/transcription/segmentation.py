"""Splitting a channel into speech segments at pauses, before decoding.

Decoding short segments is faster and more accurate for pocketsphinx than one long utterance,
and segment edges become turn edges. The threshold adapts to each channel's own noise floor and
level, so a quiet line and a loud one segment alike.

Loud is not the same as speech: hold tones, beeps and hum pass an energy threshold too.
`is_steady_sound` tells them apart by how little their spectrum changes from frame to frame
(speech changes sound every few tens of milliseconds), so engines can skip them rather than
decode them into words and count them as talk time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from callcare.transcription.diarization import frame_cepstra

FRAME_S = 0.01
# Median frame-to-frame distance of a segment's cepstra (diarization.frame_cepstra) below which it is
# a steady sound, not speech. On the dev corpus speech never went below 4.3 (short "hello"s included)
# and the rendered hold tone stays under 0.2, on 16 kHz PCM and 8 kHz mu-law alike.
STEADY_FLUX = 1.5
# 20*log10(rms) of int16 samples: about -40 dBFS, quieter than any speech on a call recording
SPEECH_LEVEL_DB = 50.0


@dataclass(frozen=True)
class Segment:
    start: float
    end: float


def frame_energy_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    hop = int(sample_rate * FRAME_S)
    n_frames = len(samples) // hop
    if n_frames == 0:
        return np.zeros(0)
    frames = samples[: n_frames * hop].astype(np.float64).reshape(n_frames, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20 * np.log10(rms + 1e-3)


def speech_segments(
    samples: np.ndarray,
    sample_rate: int,
    min_silence_s: float = 0.25,
    min_speech_s: float = 0.12,
    pad_s: float = 0.05,
    max_segment_s: float = 20.0,
) -> list[Segment]:
    energy = frame_energy_db(samples, sample_rate)
    if energy.size == 0:
        return []
    floor = np.percentile(energy, 10)
    peak = np.percentile(energy, 99)
    if peak - floor < 10:
        # nothing stands out from the rest: all background, or speech with hardly a pause
        if peak < SPEECH_LEVEL_DB:
            return []
        floor = peak - 30.0
    threshold = max(floor + 10.0, peak - 40.0)
    voiced = energy > threshold
    segments = _runs(voiced, min_gap=int(min_silence_s / FRAME_S), min_len=int(min_speech_s / FRAME_S))
    limit = int(max_segment_s / FRAME_S)
    split: list[tuple[int, int]] = []
    for start, end in segments:
        split.extend(_split_long(energy, start, end, limit))
    total = len(energy)
    pad = int(pad_s / FRAME_S)
    return [
        Segment(round(max(0, s - pad) * FRAME_S, 3), round(min(total, e + pad) * FRAME_S, 3))
        for s, e in split
    ]


def _runs(voiced: np.ndarray, min_gap: int, min_len: int) -> list[tuple[int, int]]:
    runs: list[list[int]] = []
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev > min_gap:
            runs.append([start, prev + 1])
            start = i
        prev = i
    runs.append([start, prev + 1])
    return [(s, e) for s, e in runs if e - s >= min_len]


def _split_long(energy: np.ndarray, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut an over-long segment at its quietest frame, recursively."""
    if end - start <= limit:
        return [(start, end)]
    margin = limit // 4
    window = energy[start + margin : end - margin]
    cut = start + margin + int(np.argmin(window))
    return _split_long(energy, start, cut, limit) + _split_long(energy, cut, end, limit)


def spectral_flux(samples: np.ndarray, sample_rate: int) -> float:
    """Median change of the spectral envelope between consecutive frames (cepstral distance)."""
    cepstra = frame_cepstra(samples, sample_rate)
    if len(cepstra) < 3:
        return float("inf")  # too short to judge: let the decoder decide
    return float(np.median(np.linalg.norm(np.diff(cepstra, axis=0), axis=1)))


def is_steady_sound(samples: np.ndarray, sample_rate: int) -> bool:
    """A tone, beep or hum rather than speech."""
    return spectral_flux(samples, sample_rate) < STEADY_FLUX
