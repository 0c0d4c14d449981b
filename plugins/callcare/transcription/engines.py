"""Choosing the speech-to-text engine the settings name."""

from __future__ import annotations

from typing import Protocol

from callcare.config import Settings
from callcare.core.transcript import Transcript
from callcare.transcription.audio import DecodedAudio

OFFLINE_ENGINES = ("pocketsphinx", "instant", "faster-whisper:<model name or path>")


class TranscriptionFailed(Exception):
    """Permanent: the engine cannot transcribe this recording."""


class OfflineEngine(Protocol):
    name: str

    def transcribe(self, call_id: str, audio: DecodedAudio) -> Transcript: ...


_engines: dict[str, OfflineEngine] = {}


def get_engine(settings: Settings) -> OfflineEngine:
    """One engine per process: loading a model costs more than decoding a short call.

    Engines are imported only when chosen, so an optional one (faster-whisper) costs nothing where
    it is not installed, and fails with its package's name where it is chosen but missing.
    """
    name = settings.stt_engine
    if name not in _engines:
        if name == "pocketsphinx":
            from callcare.transcription.pocketsphinx_engine import PocketsphinxEngine

            _engines[name] = PocketsphinxEngine()
        elif name == "instant":
            from callcare.transcription.instant_engine import InstantEngine

            _engines[name] = InstantEngine()
        elif name.startswith("faster-whisper:"):
            from callcare.transcription.whisper_engine import FasterWhisperEngine

            _engines[name] = FasterWhisperEngine(name)
        else:
            raise ValueError(f"CALLCARE_STT_ENGINE must be one of {OFFLINE_ENGINES}, got {name!r}")
    return _engines[name]
