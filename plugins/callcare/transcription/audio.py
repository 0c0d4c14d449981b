"""Decoding any recording we accept into 16-bit PCM at the rate the speech engines want.

PyAV (FFmpeg's libraries, bundled in its wheel) decodes WAV (PCM, mu-law, A-law), MP3, FLAC, OGG,
M4A/AAC and more at any sample rate, so no system codec has to be installed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

TARGET_RATE = 16000


class AudioDecodeError(ValueError):
    """The recording cannot be decoded: the call fails with this reason, nothing else does."""


class RecordingTooLong(AudioDecodeError):
    """The recording is over `max_duration_s`; the message is the whole reason ("... is too long ...")."""


@dataclass(frozen=True)
class DecodedAudio:
    """`samples` is int16 with shape (channels, n) at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int
    source_rate: int
    codec: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate

    def channel_pcm(self, index: int) -> bytes:
        return np.ascontiguousarray(self.samples[index]).astype("<i2").tobytes()

    def mono_pcm(self) -> bytes:
        mixed = self.samples.astype(np.int32).mean(axis=0)
        return np.clip(mixed, -32768, 32767).astype("<i2").tobytes()


def _declared_duration_s(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def probe_audio(source: Any) -> tuple[int, float | None]:
    """(channels, declared duration in seconds or None) of an open file, decoding one frame only.

    For a recording another service will transcribe (Amazon Transcribe): ranged reads fetch the
    header and the first frame, and a file whose header is fine but whose audio is not fails here,
    before the service is paid to find out. Raises AudioDecodeError.
    """
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            stream = container.streams.audio[0]
            if stream.codec_context is None:  # FFmpeg knows no decoder for this codec
                raise AudioDecodeError(unsupported_codec_reason(container))
            channels = int(stream.codec_context.channels or 1)
            duration = _declared_duration_s(container, stream)
            next(container.decode(stream))
    except AudioDecodeError:
        raise
    except av.error.FFmpegError as exc:
        raise AudioDecodeError(f"cannot decode audio: {exc.strerror or type(exc).__name__}") from exc
    except (ValueError, StopIteration, EOFError, OSError) as exc:
        raise AudioDecodeError(f"cannot decode audio: {type(exc).__name__}: {exc}") from exc
    return channels, duration


def decode_audio(
    source: bytes | Path, target_rate: int = TARGET_RATE, max_duration_s: float | None = None
) -> DecodedAudio:
    """Decode and resample, keeping up to two channels apart (agent and customer may be split).

    A recording longer than `max_duration_s` is refused before it is decoded when its header says
    so, and while decoding when the header lies, so an endless file never fills memory.
    """
    stream_source = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    limit_samples = None if max_duration_s is None else int(max_duration_s * target_rate)
    try:
        with av.open(stream_source, mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            stream = container.streams.audio[0]
            if stream.codec_context is None:  # FFmpeg knows no decoder for this codec
                raise AudioDecodeError(unsupported_codec_reason(container))
            declared = _declared_duration_s(container, stream)
            if max_duration_s is not None and declared is not None and declared > max_duration_s:
                raise RecordingTooLong(too_long_reason(declared, max_duration_s))
            channels = min(2, stream.codec_context.channels or 1)
            layout = "stereo" if channels == 2 else "mono"
            resampler = av.AudioResampler(format="s16", layout=layout, rate=target_rate)
            chunks: list[np.ndarray] = []
            decoded = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1, channels).T
                    chunks.append(chunk)
                    decoded += chunk.shape[1]
                if limit_samples is not None and decoded > limit_samples:
                    raise RecordingTooLong(too_long_reason(None, max_duration_s or 0))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, channels).T)
            codec = stream.codec_context.name
            source_rate = stream.codec_context.sample_rate or target_rate
    except AudioDecodeError:
        raise
    except av.error.FFmpegError as exc:  # its str() carries an errno and '<none>': keep the words
        raise AudioDecodeError(f"cannot decode audio: {exc.strerror or type(exc).__name__}") from exc
    except (ValueError, OSError) as exc:
        raise AudioDecodeError(f"cannot decode audio: {exc.__class__.__name__}: {exc}") from exc
    if not chunks:
        raise AudioDecodeError("the audio stream holds no samples")
    samples = np.concatenate(chunks, axis=1).astype(np.int16)
    if samples.shape[1] < target_rate // 10:
        raise AudioDecodeError(f"the recording is too short ({samples.shape[1] / target_rate:.2f} s)")
    return DecodedAudio(samples=samples, sample_rate=target_rate, source_rate=source_rate, codec=codec)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.1f} s"


def too_long_reason(seconds: float | None, limit: float) -> str:
    """`seconds` is None when the length is unknown (found out while decoding): only past the limit."""
    lasts = f"more than {_duration(limit)}" if seconds is None else _duration(seconds)
    return f"the recording is too long: it lasts {lasts}; the limit is {_duration(limit)}"


def unsupported_codec_reason(container: av.container.InputContainer) -> str:
    return f"unsupported audio codec: no decoder for the audio in this {container.format.name} file"
