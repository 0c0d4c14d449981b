"""The product's own sample recordings, spoken by flite so no audio ships in the repository.

Three short calls in three formats (16 kHz WAV, 2-channel 8 kHz mu-law WAV, FLAC) show that
mono and split-channel recordings and several codecs go through the same pipeline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import wave
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import av
import numpy as np

SAMPLES_FILE = Path(__file__).resolve().parents[3] / "include" / "samples" / "sample_calls.json"
RATE = 16000
GAP_S = 0.45


class SampleToolMissing(RuntimeError):
    pass


def speak(text: str, voice: str, workdir: Path, index: int) -> np.ndarray:
    out = workdir / f"turn{index}.wav"
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True, capture_output=True)
    with wave.open(str(out)) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    if rate != RATE:  # flite's clustergen voices speak at 16 kHz; resample anything else linearly
        positions = np.linspace(0, len(data) - 1, int(len(data) * RATE / rate))
        data = np.interp(positions, np.arange(len(data)), data).astype(np.int16)
    return data


def render_call(call: dict, workdir: Path) -> np.ndarray:
    """Channels (agent, customer), int16, laid end to end with short pauses."""
    gap = np.zeros(int(GAP_S * RATE), dtype=np.int16)
    agent, customer = [gap], [gap]
    for i, (role, text) in enumerate(call["turns"]):
        speech = speak(text, call["voices"][role], workdir, i)
        silence = np.zeros_like(speech)
        agent.append(speech if role == "agent" else silence)
        customer.append(speech if role == "customer" else silence)
        agent.append(gap)
        customer.append(gap)
    return np.stack([np.concatenate(agent), np.concatenate(customer)])


def encode(channels: np.ndarray, path: Path, fmt: str) -> None:
    if fmt == "stereo-wav-8k":
        layout, codec, rate, data = "stereo", "pcm_mulaw", 8000, channels
    elif fmt == "flac":
        layout, codec, rate, data = "mono", "flac", RATE, channels.sum(axis=0, keepdims=True)
    else:
        layout, codec, rate, data = "mono", "pcm_s16le", RATE, channels.sum(axis=0, keepdims=True)
    data = np.clip(data, -32768, 32767).astype(np.int16)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(data.T.reshape(1, -1).copy(), format="s16", layout=layout)
        frame.sample_rate = RATE
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        for resampled in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def extension(fmt: str) -> str:
    return "flac" if fmt == "flac" else "wav"


def sample_file_name(call: dict, today: date) -> str:
    """`<date>_<name>.<ext>`, dated `days_ago` before today: the name's date becomes the call's date
    (callcare.sources.inbox), and a demo's calls must fall inside the dashboard's recent days."""
    recorded = today - timedelta(days=int(call.get("days_ago", 0)))
    return f"{recorded.isoformat()}_{call['name']}.{extension(call['format'])}"


def make_samples(target: Path, samples_file: Path = SAMPLES_FILE, today: date | None = None) -> list[Path]:
    """Writes each sample into `target` atomically (a half-written file must never be ingested)."""
    if shutil.which("flite") is None:
        raise SampleToolMissing("flite is not installed (Debian/Ubuntu: apt-get install flite)")
    calls = json.loads(samples_file.read_text())
    today = today or datetime.now(UTC).date()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="callcare-samples-") as tmp:
        workdir = Path(tmp)
        for call in calls:
            name = sample_file_name(call, today)
            staged = workdir / name
            encode(render_call(call, workdir), staged, call["format"])
            shutil.move(str(staged), target / f".{name}.part")
            (target / f".{name}.part").rename(target / name)
            written.append(target / name)
    return written


def write_load_test_recording(path: Path, seed: int, seconds: float = 12.0, rate: int = 8000) -> Path:
    """A distinct recording with speech-like bursts and pauses, but no words.

    Load tests (the burst benchmark, the crash-recovery test) need hundreds of recordings with
    different content hashes, made in milliseconds. Alternating channels of tone bursts give the
    pause segmentation real turns to find; the seed makes each file's bytes unique.
    """
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    samples = np.zeros((2, total), dtype=np.float64)
    position, speaker = int(0.3 * rate), 0
    while position < total:
        length = int(rng.uniform(0.8, 2.5) * rate)
        end = min(total, position + length)
        t = np.arange(end - position) / rate
        pitch = rng.uniform(110, 260)
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 6) * t) ** 2
        samples[speaker, position:end] = 6000 * envelope * np.sin(2 * np.pi * pitch * t)
        samples[speaker, position:end] += rng.normal(0, 300, end - position)
        position = end + int(rng.uniform(0.3, 0.9) * rate)
        speaker = 1 - speaker
    interleaved = np.clip(samples.T, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(interleaved.tobytes())
    return path
