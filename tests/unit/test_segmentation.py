import numpy as np
from callcare.transcription.diarization import cluster_speakers
from callcare.transcription.segmentation import speech_segments

RATE = 16000


def burst(seconds: float, freq: float, rng: np.random.Generator, harmonics: int = 6) -> np.ndarray:
    """A voiced-like sound: a harmonic series with jitter, so its spectrum has a shape."""
    t = np.arange(int(RATE * seconds)) / RATE
    wave = sum(np.sin(2 * np.pi * freq * k * t + rng.uniform(0, 6)) / k for k in range(1, harmonics + 1))
    return (6000 * wave / harmonics * (1 + 0.05 * rng.standard_normal(len(t)))).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), dtype=np.int16)


def test_segments_split_at_pauses() -> None:
    rng = np.random.default_rng(1)
    audio = np.concatenate(
        [silence(0.5), burst(1.0, 200, rng), silence(0.6), burst(2.0, 200, rng), silence(0.5)]
    )
    segments = speech_segments(audio, RATE)
    assert len(segments) == 2
    assert abs(segments[0].start - 0.5) < 0.1 and abs(segments[0].end - 1.5) < 0.1
    assert abs(segments[1].start - 2.1) < 0.1 and abs(segments[1].end - 4.1) < 0.1


def test_short_pauses_inside_speech_do_not_split() -> None:
    rng = np.random.default_rng(2)
    audio = np.concatenate([burst(1.0, 150, rng), silence(0.1), burst(1.0, 150, rng)])
    assert len(speech_segments(audio, RATE)) == 1


def test_silence_has_no_segments() -> None:
    assert speech_segments(silence(3.0), RATE) == []


def test_long_speech_is_cut_below_the_limit() -> None:
    rng = np.random.default_rng(3)
    audio = burst(50.0, 180, rng)
    segments = speech_segments(audio, RATE, max_segment_s=20.0)
    assert len(segments) >= 3
    assert all(s.end - s.start <= 20.2 for s in segments)


def test_two_voices_are_told_apart() -> None:
    rng = np.random.default_rng(4)
    low = [burst(1.5, 110, rng, harmonics=10) for _ in range(4)]
    high = [burst(1.5, 320, rng, harmonics=3) for _ in range(4)]
    interleaved = [x for pair in zip(low, high, strict=True) for x in pair]
    assert cluster_speakers(interleaved, RATE) == [0, 1, 0, 1, 0, 1, 0, 1]
    assert cluster_speakers(high[:1], RATE) == [0]
