"""Decoding any recording we accept into 16-bit PCM at the rate the speech engines want.

PyAV (FFmpeg's libraries, bundled in its wheel) decodes WAV (PCM, mu-law, A-law), MP3, FLAC, OGG,
M4A/AAC and more at any sample rate, so no system codec has to be installed.

Recordings come from people we do not trust, so decoding is bounded before it starts and while it
runs (security review M2): a FLAC of three hours of silence is a few hundred KB and decodes to
hundreds of MB, and an out-of-memory kill is not a failed call but a dead worker that Airflow
retries. Two limits apply, each first to what the container's header declares (before a sample is
decoded) and then to what has been decoded so far (a header can omit or understate the length):
the duration (`max_duration_s`), and the decoded size, which may not exceed `MAX_EXPANSION` times
the file's own size beyond a floor every ordinary call fits in. Samples are written into one array
sized from the header, not collected and concatenated, so the peak is about the decoded size once.
The container formats FFmpeg may pick are limited to the audio ones we accept, so a file cannot
bring one of FFmpeg's hundreds of other demuxers (playlists, image sequences) into play.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np

TARGET_RATE = 16000
# Decoded 16 kHz PCM may be this many times the file's size. Speech codecs at their lowest bitrates
# stay under about 60 (Opus at 6 kb/s: 43; AMR-NB at 4.75 kb/s: 54); silence compressed by FLAC or
# Opus expands 140 to several thousand times.
MAX_EXPANSION = 100
# ... beyond this much decoded audio (35 min of stereo, 70 of mono), which any file may decode to:
# short silent recordings expand a lot and are harmless.
EXPANSION_FLOOR_BYTES = 128 * 2**20
# the demuxers FFmpeg may choose (by content): those of the extensions in callcare.names
ACCEPTED_CONTAINERS = "wav,mp3,flac,ogg,mov,aac,matroska,webm"
# bytes FFmpeg reads from a file object at a time: ranged reads of an S3 object are requests
READ_BUFFER_BYTES = 1 << 20
_SAMPLE_BYTES = 2  # int16


class AudioDecodeError(ValueError):
    """The recording cannot be decoded: the call fails with this reason, nothing else does."""


class RecordingRefused(AudioDecodeError):
    """A limit refuses the recording, before or while decoding; the message is the whole reason."""


class RecordingTooLong(RecordingRefused):
    """The recording is over `max_duration_s`; the message is the whole reason ("... is too long ...")."""


class RecordingTooLarge(RecordingRefused):
    """Decoding would expand the file past the size limit (a decompression bomb); the whole reason."""


class RecordingUnreadable(OSError):
    """Reading the recording's bytes failed (the lake, the network): worth a retry, unlike bad audio."""


@dataclass(frozen=True)
class AudioInfo:
    """What a recording is: from its header, and `measured_s` from counting its decoded samples."""

    channels: int
    declared_s: float | None
    codec: str
    source_rate: int
    measured_s: float | None = None


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
        return self.samples[index].astype("<i2", copy=False).tobytes()

    def mono_pcm(self) -> bytes:
        """The channels' mean, a block at a time: no int32 or float64 copy of the whole recording."""
        if self.channels == 1:
            return self.channel_pcm(0)
        mixed = np.empty(self.samples.shape[1], dtype="<i2")
        step = 1 << 20
        for start in range(0, len(mixed), step):
            block = self.samples[:, start : start + step].astype(np.float32).mean(axis=0)
            mixed[start : start + step] = np.clip(block, -32768, 32767)  # truncates, as astype does
        return mixed.tobytes()


def _declared_duration_s(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _source_size(stream: BinaryIO) -> int | None:
    size = getattr(stream, "size", None)
    if callable(size):  # pyarrow's NativeFile
        return int(size())
    try:
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
    except (OSError, ValueError):
        return None
    return int(end)


class _Reads:
    """A file object whose read and seek errors are RecordingUnreadable (PyAV re-raises them as they
    are): a lost connection to the lake is retried, not reported as a recording that cannot decode."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        try:
            return self._raw.read(n)
        except OSError as exc:
            raise RecordingUnreadable(f"cannot read the recording: {exc}") from exc

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        try:
            return self._raw.seek(offset, whence)
        except OSError as exc:
            raise RecordingUnreadable(f"cannot read the recording: {exc}") from exc

    def tell(self) -> int:
        return self._raw.tell()


@contextmanager
def _opened(source: Any) -> Iterator[BinaryIO]:
    """Bytes, a path or an open file, as a file object: FFmpeg never parses a path as a URL."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


@contextmanager
def open_audio(
    source: Any,
) -> Iterator[tuple[av.container.InputContainer, av.AudioStream, AudioInfo, int | None]]:
    """The container, its first audio stream, what its header says, and the file's size in bytes.

    The one place a recording is opened (probing, measuring and decoding share it), so each refuses
    the same things with the same words: no audio stream, a codec FFmpeg cannot decode, a container
    outside `ACCEPTED_CONTAINERS`. FFmpeg's own errors, raised here or in the caller's block while it
    decodes, become AudioDecodeError with the reason in words (its str() carries an errno and '<none>').
    """
    try:
        with _opened(source) as stream:
            size = _source_size(stream)
            options = {"format_whitelist": ACCEPTED_CONTAINERS}
            reads = _Reads(stream)
            with av.open(reads, mode="r", options=options, buffer_size=READ_BUFFER_BYTES) as container:
                if not container.streams.audio:
                    raise AudioDecodeError("the file has no audio stream")
                audio = container.streams.audio[0]
                if audio.codec_context is None:  # FFmpeg knows no decoder for this codec
                    raise AudioDecodeError(unsupported_codec_reason(container))
                context = audio.codec_context
                info = AudioInfo(
                    channels=int(context.channels or 1),
                    declared_s=_declared_duration_s(container, audio),
                    codec=context.name,
                    source_rate=int(context.sample_rate or 0),
                )
                yield container, audio, info, size
    except (AudioDecodeError, RecordingUnreadable):
        raise
    except av.error.FFmpegError as exc:
        raise AudioDecodeError(f"cannot decode audio: {exc.strerror or type(exc).__name__}") from exc
    except (ValueError, EOFError, OSError) as exc:
        raise AudioDecodeError(f"cannot decode audio: {type(exc).__name__}: {exc}") from exc


def _refuse_declared_length(info: AudioInfo, max_duration_s: float | None) -> None:
    if max_duration_s is not None and info.declared_s is not None and info.declared_s > max_duration_s:
        raise RecordingTooLong(too_long_reason(info.declared_s, max_duration_s))


def probe_audio(source: Any, max_duration_s: float | None = None) -> AudioInfo:
    """What the header says, decoding one frame only (so a file whose header is fine but whose audio
    is not fails here); a header over `max_duration_s` is refused. Raises AudioDecodeError.

    Cheap: ranged reads fetch the header and the first frame. The length is the header's claim;
    `measure_audio` is the one to trust where the length costs money.
    """
    with open_audio(source) as (container, stream, info, _size):
        _refuse_declared_length(info, max_duration_s)
        try:
            next(container.decode(stream))
        except StopIteration:
            raise AudioDecodeError("the audio stream holds no samples") from None
    return info


def measure_audio(source: Any, max_duration_s: float | None = None) -> AudioInfo:
    """`probe_audio` with `measured_s`: every frame decoded and counted, none kept (security review L9).

    The header's length is a claim anyone can write, and Amazon Transcribe bills the audio it finds:
    this is the length the worker can trust before paying for a job. Decoding stops as soon as the
    count passes `max_duration_s` (RecordingTooLong), so an endless file costs at most that much
    decoding, and memory stays one frame.
    """
    with open_audio(source) as (container, stream, info, _size):
        _refuse_declared_length(info, max_duration_s)
        samples: dict[int, int] = {}  # per sample rate (a stream may change it): exact sums
        seconds = 0.0
        for frame in container.decode(stream):
            rate = frame.sample_rate or info.source_rate or TARGET_RATE
            samples[rate] = samples.get(rate, 0) + frame.samples
            seconds = sum(n / r for r, n in samples.items())
            if max_duration_s is not None and seconds > max_duration_s:
                raise RecordingTooLong(too_long_reason(None, max_duration_s))
    if seconds == 0:
        raise AudioDecodeError("the audio stream holds no samples")
    return AudioInfo(info.channels, info.declared_s, info.codec, info.source_rate, measured_s=seconds)


class _Samples:
    """Decoded samples written in place into one array sized from the header's length.

    Chunks past that size (a header that understates, or has no length) are kept apart and joined
    once at the end; `limit` samples per channel is the most ever held (RecordingRefused past it).
    """

    def __init__(self, channels: int, expected: int, limit: int | None, refuse: Any) -> None:
        self.head = np.empty((channels, expected), dtype=np.int16)
        self.count = 0
        self.rest: list[np.ndarray] = []
        self.limit = limit
        self.refuse = refuse

    def add(self, chunk: np.ndarray) -> None:
        n = chunk.shape[1]
        if self.limit is not None and self.count + n > self.limit:
            raise self.refuse()
        room = max(0, min(n, self.head.shape[1] - self.count))
        start = min(self.count, self.head.shape[1])
        self.head[:, start : start + room] = chunk[:, :room]
        if room < n:
            self.rest.append(np.array(chunk[:, room:], dtype=np.int16))
        self.count += n

    def result(self) -> np.ndarray:
        used = min(self.count, self.head.shape[1])
        if self.rest:
            return np.concatenate([self.head[:, :used], *self.rest], axis=1)
        if used < self.head.shape[1] // 2:  # the header overstated: do not keep its size alive
            return self.head[:, :used].copy()
        return self.head[:, :used]


def decode_audio(
    source: bytes | Path | BinaryIO,
    target_rate: int = TARGET_RATE,
    max_duration_s: float | None = None,
    max_expansion: float | None = MAX_EXPANSION,
) -> DecodedAudio:
    """Decode and resample, keeping up to two channels apart (agent and customer may be split).

    A recording over `max_duration_s`, or one that would decode to more than `max_expansion` times
    its file's size (beyond `EXPANSION_FLOOR_BYTES`), is refused before it is decoded when its
    header says so, and while decoding when the header lies: RecordingTooLong or RecordingTooLarge.
    """
    with open_audio(source) as (container, stream, info, size):
        _refuse_declared_length(info, max_duration_s)
        channels = min(2, info.channels)
        frame_bytes = channels * _SAMPLE_BYTES
        by_length = None if max_duration_s is None else int(max_duration_s * target_rate)
        budget = None
        if max_expansion is not None and size is not None:
            budget = max(EXPANSION_FLOOR_BYTES, int(max_expansion * size))
        by_size = None if budget is None else budget // frame_bytes
        declared = None if info.declared_s is None else math.ceil(info.declared_s * target_rate)
        if by_size is not None and declared is not None and declared > by_size:
            raise RecordingTooLarge(
                too_large_reason(declared * frame_bytes, size or 0, budget or 0, max_expansion)
            )

        def refuse() -> RecordingRefused:
            if by_length is not None and (by_size is None or by_length <= by_size):
                return RecordingTooLong(too_long_reason(None, max_duration_s or 0))
            return RecordingTooLarge(too_large_reason(None, size or 0, budget or 0, max_expansion))

        limits = [limit for limit in (by_length, by_size) if limit is not None]
        limit = min(limits) if limits else None
        expected = 0 if declared is None else declared + target_rate // 10  # resampler slack
        buffer = _Samples(channels, expected if limit is None else min(expected, limit), limit, refuse)
        layout = "stereo" if channels == 2 else "mono"
        resampler = av.AudioResampler(format="s16", layout=layout, rate=target_rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                buffer.add(out.to_ndarray().reshape(-1, channels).T)
        for out in resampler.resample(None):
            buffer.add(out.to_ndarray().reshape(-1, channels).T)
    if buffer.count == 0:
        raise AudioDecodeError("the audio stream holds no samples")
    if buffer.count < target_rate // 10:
        raise AudioDecodeError(f"the recording is too short ({buffer.count / target_rate:.2f} s)")
    return DecodedAudio(
        samples=buffer.result(),
        sample_rate=target_rate,
        source_rate=info.source_rate or target_rate,
        codec=info.codec,
    )


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} bytes"


def too_long_reason(seconds: float | None, limit: float) -> str:
    """`seconds` is None when the length is unknown (found out while decoding): only past the limit."""
    lasts = f"more than {_duration(limit)}" if seconds is None else _duration(seconds)
    return f"the recording is too long: it lasts {lasts}; the limit is {_duration(limit)}"


def too_large_reason(
    decoded_bytes: int | None, file_bytes: int, limit_bytes: int, expansion: float | None = MAX_EXPANSION
) -> str:
    """`decoded_bytes` is None when found out while decoding: only that it passed the limit."""
    expands = f"more than {_size(limit_bytes)}" if decoded_bytes is None else _size(decoded_bytes)
    return (
        f"the recording expands too much when decoded: {expands} of audio from a {_size(file_bytes)} "
        f"file; the limit is {_size(limit_bytes)} ({expansion:g} times the file's size, and never "
        f"less than {_size(EXPANSION_FLOOR_BYTES)})"
    )


def unsupported_codec_reason(container: av.container.InputContainer) -> str:
    return f"unsupported audio codec: no decoder for the audio in this {container.format.name} file"
