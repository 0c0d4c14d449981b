"""Pieces of the offline engine that synthetic signals can pin down: steady-sound rejection,
diarization of segments of very different lengths, the narrowband noise floor, word confidences."""

from __future__ import annotations

import numpy as np
from callcare.transcription.audio import DecodedAudio
from callcare.transcription.diarization import cluster_speakers
from callcare.transcription.pocketsphinx_engine import (
    NARROWBAND_NOISE_DBFS,
    PocketsphinxEngine,
    SpeechSegment,
    with_noise_floor,
)
from callcare.transcription.segmentation import STEADY_FLUX, is_steady_sound, spectral_flux

RATE = 16000


def two_tone(seconds: float, level: float = 1600.0) -> np.ndarray:
    """A hold or call-waiting tone: two sines alternating every half second."""
    t = np.arange(int(RATE * seconds)) / RATE
    high = (t % 1.0) < 0.5
    return (level * np.where(high, np.sin(2 * np.pi * 480 * t), np.sin(2 * np.pi * 620 * t))).astype(np.int16)


def babble(seconds: float, rng: np.random.Generator, f0: float = 140.0, tilt: float = 1.0) -> np.ndarray:
    """Speech-like sound: the pitch, the harmonic weights (formants) and voicing change every 60-120 ms."""
    pieces = []
    total = int(RATE * seconds)
    while sum(len(p) for p in pieces) < total:
        n = int(RATE * rng.uniform(0.06, 0.12))
        t = np.arange(n) / RATE
        if rng.random() < 0.25:  # a fricative: shaped noise
            piece = rng.standard_normal(n) * 0.3
        else:
            pitch = f0 * rng.uniform(0.85, 1.2)
            formant = rng.uniform(300, 2500)
            piece = sum(
                np.sin(2 * np.pi * pitch * k * t) * np.exp(-(((pitch * k - formant) / 600) ** 2)) / k**tilt
                for k in range(1, int(3800 / pitch))
            )
        pieces.append(np.asarray(piece) * np.hanning(n) ** 0.3)
    signal = np.concatenate(pieces)[:total]
    return (8000 * signal / (np.abs(signal).max() + 1e-9)).astype(np.int16)


def test_tones_are_steady_and_speech_like_sound_is_not() -> None:
    rng = np.random.default_rng(5)
    assert is_steady_sound(two_tone(4.0), RATE)
    assert spectral_flux(two_tone(4.0), RATE) < 0.5
    for seed in range(5):
        speechlike = babble(rng.uniform(0.4, 3.0), np.random.default_rng(seed))
        assert spectral_flux(speechlike, RATE) > STEADY_FLUX and not is_steady_sound(speechlike, RATE)
    assert not is_steady_sound(np.zeros(100, dtype=np.int16), RATE)  # too short to judge


def test_engine_skips_steady_segments() -> None:
    rng = np.random.default_rng(6)
    gap = np.zeros(int(0.8 * RATE), dtype=np.int16)
    signal = np.concatenate([gap, babble(2.0, rng), gap, two_tone(4.0), gap, babble(1.5, rng), gap])
    kept = [(round(s.start, 1), round(s.end, 1)) for s in PocketsphinxEngine().segments(signal, RATE)]
    assert len(kept) == 2
    assert kept[0][0] < 1.0 and kept[1][0] > 7.0  # the tone between 3.6 and 7.6 s is gone


def test_short_segments_join_their_own_voice() -> None:
    """Two voices, one of them with only a few short replies: length must not decide the cluster."""
    rng = np.random.default_rng(7)
    low = [babble(3.0, rng, f0=105, tilt=0.6) for _ in range(5)]
    high = [babble(3.0, rng, f0=230, tilt=1.6) for _ in range(2)] + [
        babble(0.45, rng, f0=230, tilt=1.6) for _ in range(4)
    ]
    order = [("a", low[0]), ("b", high[2]), ("a", low[1]), ("b", high[0]), ("a", low[2]), ("b", high[3])]
    order += [("a", low[3]), ("b", high[1]), ("a", low[4]), ("b", high[4]), ("b", high[5])]
    labels = cluster_speakers([s for _, s in order], RATE)
    truth = [0 if who == "a" else 1 for who, _ in order]
    assert labels == truth


def test_noise_floor_is_quiet_and_reproducible() -> None:
    segment = SpeechSegment(1.0, 2.0, np.zeros(RATE, dtype=np.int16))
    once, twice = with_noise_floor(segment), with_noise_floor(segment)
    assert np.array_equal(once.samples, twice.samples) and (once.start, once.end) == (1.0, 2.0)
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(once.samples.astype(np.float64) ** 2)) / 32768)
    assert abs(rms_dbfs - NARROWBAND_NOISE_DBFS) < 1.5
    loud = SpeechSegment(0.0, 0.1, np.full(1600, 32767, dtype=np.int16))
    assert with_noise_floor(loud).samples.max() == 32767  # clipped, not wrapped around


def test_words_carry_a_confidence() -> None:
    """pocketsphinx's lattice posterior becomes Word.confidence, in 0..1."""
    rng = np.random.default_rng(8)
    gap = np.zeros(int(0.5 * RATE), dtype=np.int16)
    signal = np.concatenate([gap, babble(2.0, rng), gap])
    audio = DecodedAudio(samples=signal[None, :], sample_rate=RATE, source_rate=8000, codec="pcm_mulaw")
    transcript = PocketsphinxEngine().transcribe("synthetic", audio)
    words = [w for t in transcript.turns for w in t.words]
    assert words, "babble decodes into some words"
    assert all(w.confidence is not None and 0.0 <= w.confidence <= 1.0 for w in words)
    assert all(0.4 <= w.start <= w.end <= 2.6 for w in words)
