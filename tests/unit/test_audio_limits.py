"""Security review M2 and L9: decoding hostile audio is bounded before and while it runs.

The recordings are made here with PyAV's own encoders: FLAC compresses digital silence about 175
times (against 16 kHz PCM), so two hours of it are 1.3 MB that decode to 220 MiB, and a few
minutes of it are enough to show a limit being applied while decoding.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from callcare.transcription import audio
from callcare.transcription.audio import AudioDecodeError, DecodedAudio, decode_audio

HOUR = 3600
MiB = 2**20


def encode(container: str, codec: str, data: np.ndarray, rate: int, **options: str) -> bytes:
    """`data` (channels, n) int16, encoded in blocks of 10 s as a file of `container`."""
    channels = data.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    out = io.BytesIO()
    with av.open(out, "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, options=options)
        stream.layout = layout
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        block = 10 * rate
        for start in range(0, data.shape[1], block):
            part = np.ascontiguousarray(data[:, start : start + block].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(part, format="s16", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            for packet in [p for f in resampler.resample(frame) for p in stream.encode(f)]:
                output.mux(packet)
        for packet in [p for f in resampler.resample(None) for p in stream.encode(f)] + list(
            stream.encode(None)
        ):
            output.mux(packet)
    return out.getvalue()


def silence_flac(seconds: float, rate: int = 8000) -> bytes:
    return encode("flac", "flac", np.zeros((1, int(seconds * rate)), np.int16), rate)


def speech_like(seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    """Tone bursts with noise: what a recording of speech costs a codec, roughly."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(3).normal(0, 900, (channels, len(t)))
    voice = 6000 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.4 * t) > 0)
    return np.clip(voice + noise, -32768, 32767).astype(np.int16)


_MEASURE = """
import json, sys, tracemalloc
from pathlib import Path
from callcare.transcription import audio

source, floor, hide_length, max_duration = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
if hide_length:
    audio._declared_duration_s = lambda _container, _stream: None
audio.EXPANSION_FLOOR_BYTES = floor
data = Path(source).read_bytes()
tracemalloc.start()
try:
    decoded = audio.decode_audio(data, max_duration_s=float(max_duration) if max_duration else None)
    outcome = {"duration_s": decoded.duration_s, "nbytes": decoded.samples.nbytes}
except audio.AudioDecodeError as exc:
    outcome = {"refused": type(exc).__name__, "reason": str(exc)}
outcome["peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(outcome))
"""


def peak_of(
    recording: bytes,
    tmp_path: Path,
    *,
    max_duration_s: float | None = None,
    floor: int = audio.EXPANSION_FLOOR_BYTES,
    hide_length: bool = False,
) -> dict[str, Any]:
    """What decoding `recording` returned or refused, and the most memory Python and numpy held.

    Measured in a fresh interpreter: tracemalloc counts every thread of its process, and threads
    that earlier tests left running (servers, pools) would add their allocations to the peak.
    """
    source = tmp_path / "recording.bin"
    source.write_bytes(recording)
    plugins = Path(audio.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")])}
    arguments = [str(source), str(floor), "1" if hide_length else "0", str(max_duration_s or "")]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *arguments], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hours_of_silence_are_refused_from_the_header_before_decoding(tmp_path: Path) -> None:
    """Under the 3 h duration cap, but 220 MiB of PCM from a 1.3 MB file: refused, nothing decoded."""
    bomb = silence_flac(2 * HOUR)
    assert len(bomb) < 2 * MiB
    outcome = peak_of(bomb, tmp_path, max_duration_s=3 * HOUR)
    assert outcome.get("refused") == "RecordingTooLarge", "the bomb was decoded"
    assert outcome["reason"].startswith("the recording expands too much when decoded: 219.7 MiB of audio")
    assert outcome["peak"] < 16 * MiB, f"peak {outcome['peak'] / MiB:.0f} MiB"


def test_a_bomb_whose_header_hides_its_length_stops_at_the_size_limit(tmp_path: Path) -> None:
    """No length in the header: decoding itself stops once the decoded size passes the limit.

    The floor is lowered so that a 10-minute bomb (110 KB, 18 MiB decoded) is enough to show it.
    """
    bomb = silence_flac(10 * 60)
    limit = 100 * len(bomb)
    outcome = peak_of(bomb, tmp_path, max_duration_s=3 * HOUR, floor=2 * MiB, hide_length=True)
    assert outcome.get("refused") == "RecordingTooLarge", "the bomb was decoded"
    assert "expands too much when decoded: more than" in outcome["reason"], outcome
    peak = outcome["peak"]
    assert peak < limit + 2 * MiB, f"peak {peak / MiB:.0f} MiB for a limit of {limit / MiB:.0f} MiB"


def test_ordinary_compression_is_not_mistaken_for_a_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Low-bitrate speech (MP3 at 8 kb/s, 32 times) and FLAC of speech decode past a low floor."""
    monkeypatch.setattr(audio, "EXPANSION_FLOOR_BYTES", 1 * MiB, raising=False)
    speech = speech_like(90.0, rate=8000)
    for data in (
        encode("mp3", "libmp3lame", speech, 8000, b="8k"),
        encode("flac", "flac", speech, 8000),
    ):
        decoded = decode_audio(data, max_duration_s=HOUR)
        assert decoded.duration_s == pytest.approx(90.0, abs=0.2)


def test_decoding_holds_the_samples_about_once(tmp_path: Path) -> None:
    """Written in place into an array sized from the header: no chunk list, concatenation or copy."""
    path = tmp_path / "stereo.wav"
    path.write_bytes(encode("wav", "pcm_s16le", speech_like(60.0, channels=2), 16000))
    outcome = peak_of(path.read_bytes(), tmp_path)
    assert outcome["duration_s"] == pytest.approx(60.0, abs=0.05)
    size, peak = outcome["nbytes"], outcome["peak"]
    assert peak < 1.5 * size, f"peak {peak / size:.1f} times the decoded samples"


def test_mixing_to_mono_is_the_channels_mean() -> None:
    rng = np.random.default_rng(5)
    samples = rng.integers(-32768, 32768, (2, 3 * 2**20 + 17), dtype=np.int16)
    decoded = DecodedAudio(samples=samples, sample_rate=16000, source_rate=16000, codec="pcm_s16le")
    expected = np.clip(samples.astype(np.int32).mean(axis=0), -32768, 32767).astype("<i2").tobytes()
    assert decoded.mono_pcm() == expected
    assert decoded.channel_pcm(1) == samples[1].astype("<i2").tobytes()


def test_containers_other_than_the_accepted_audio_ones_are_refused() -> None:
    """FFmpeg picks a demuxer by content: an AIFF (or a playlist, an image sequence) named .wav is
    not handed to one of its hundreds of other demuxers."""
    aiff = encode("aiff", "pcm_s16be", speech_like(1.0), 16000)
    with pytest.raises(AudioDecodeError, match="cannot decode audio"):
        decode_audio(aiff)


def test_a_read_error_is_not_a_decode_error() -> None:
    """A lost connection to the lake is retried by Airflow; only bad audio fails the call."""
    data = encode("wav", "pcm_s16le", speech_like(5.0), 16000)

    class Flaky(io.BytesIO):
        reads = 0

        def read(self, n: int | None = -1) -> bytes:
            self.reads += 1
            if self.reads > 2:
                raise ConnectionResetError("connection reset by peer")
            return super().read(n)

    with pytest.raises(OSError, match="cannot read the recording") as raised:
        decode_audio(Flaky(data))
    assert not isinstance(raised.value, AudioDecodeError)


def lying_flac(real_s: float, claimed_s: float, rate: int = 8000) -> bytes:
    """A FLAC whose STREAMINFO says `claimed_s` while its frames hold `real_s` (36 bits at byte 21)."""
    data = bytearray(encode("flac", "flac", speech_like(real_s, rate), rate))
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # the first block is STREAMINFO
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | int(claimed_s * rate)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def test_the_measured_length_is_the_audio_not_the_header() -> None:
    """L9: the header claims 1 s, the file holds 30 s; measuring counts the 30 and stops past a limit."""
    data = lying_flac(30.0, 1.0)
    assert audio.probe_audio(data).declared_s == pytest.approx(1.0)
    assert audio.measure_audio(data).measured_s == pytest.approx(30.0, abs=0.01)
    with pytest.raises(audio.RecordingTooLong, match=r"lasts more than 10\.0 s; the limit is 10\.0 s"):
        audio.measure_audio(data, max_duration_s=10)
