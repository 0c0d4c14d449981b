"""Every accepted container and codec decodes to the same 16 kHz int16 channels."""

from pathlib import Path

import av
import numpy as np
import pytest
from callcare.transcription.audio import AudioDecodeError, decode_audio


def tone(rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    left = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    right = (8000 * np.sin(2 * np.pi * 660 * t)).astype(np.int16)
    return np.stack([left, right][:channels])


def write(path: Path, codec: str, rate: int, channels: int) -> Path:
    layout = "stereo" if channels == 2 else "mono"
    data = tone(rate, channels=channels)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(data.T.reshape(1, -1).copy(), format="s16", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        for out in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    ("name", "codec", "rate", "channels"),
    [
        ("pcm.wav", "pcm_s16le", 16000, 1),
        ("mulaw.wav", "pcm_mulaw", 8000, 1),
        ("stereo.wav", "pcm_s16le", 44100, 2),
        ("a.mp3", "libmp3lame", 22050, 1),
        ("a.flac", "flac", 48000, 2),
        ("a.ogg", "libopus", 48000, 2),
        ("a.m4a", "aac", 32000, 1),
    ],
)
def test_formats_decode_to_16k(tmp_path: Path, name: str, codec: str, rate: int, channels: int) -> None:
    decoded = decode_audio(write(tmp_path / name, codec, rate, channels))
    assert decoded.sample_rate == 16000
    assert decoded.channels == channels
    assert decoded.duration_s == pytest.approx(1.0, abs=0.08)
    assert decoded.samples.dtype == np.int16
    assert np.abs(decoded.samples).max() > 2000  # the tone survived, not silence


def test_bytes_and_paths_decode_alike(tmp_path: Path) -> None:
    path = write(tmp_path / "a.flac", "flac", 16000, 1)
    assert np.array_equal(decode_audio(path).samples, decode_audio(path.read_bytes()).samples)


@pytest.mark.parametrize("payload", [b"", b"not audio at all" * 64, b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_corrupt_input_gives_a_clear_error(payload: bytes) -> None:
    with pytest.raises(AudioDecodeError, match=r"decode|no audio|no samples|too short"):
        decode_audio(payload)


def test_truncated_file_is_still_decoded_or_refused_clearly(tmp_path: Path) -> None:
    data = write(tmp_path / "a.wav", "pcm_s16le", 16000, 1).read_bytes()
    try:
        decoded = decode_audio(data[: len(data) // 2])
    except AudioDecodeError:
        return
    assert decoded.duration_s < 0.6


def test_an_over_long_recording_is_refused_from_its_header(tmp_path: Path) -> None:
    path = write(tmp_path / "long.flac", "flac", 16000, 1)
    with pytest.raises(AudioDecodeError, match="limit is"):
        decode_audio(path, max_duration_s=0.5)
    assert decode_audio(path, max_duration_s=5).duration_s == pytest.approx(1.0, abs=0.08)


def test_a_header_without_a_length_is_caught_while_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams can omit or misstate their length: the decode loop enforces the limit too."""
    import callcare.transcription.audio

    monkeypatch.setattr(
        callcare.transcription.audio, "_declared_duration_s", lambda _container, _stream: None
    )
    path = write(tmp_path / "stream.wav", "pcm_s16le", 16000, 1)
    with pytest.raises(AudioDecodeError, match="limit is"):
        decode_audio(path, max_duration_s=0.5)
