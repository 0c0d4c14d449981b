"""The offline engine on real rendered audio: pocketsphinx + segmentation + diarization, then roles and
metrics the way the pipeline computes them, checked against the renderer's reference timings.

call-0023 is the hard case for mono diarization: two male voices (flite rms and awb) and short
"hello?" turns. The stereo file has the same speech, one speaker per channel.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from callcare.config import Settings
from callcare.core.transcript import AGENT, CUSTOMER, Transcript
from callcare.transcription.audio import decode_audio
from callcare.transcription.engines import get_engine
from callcare.transcription.metrics import CallMetrics, compute_metrics, merge
from callcare.transcription.roles import assign_roles

from bench.stt_benchmark import hypothesis_words, reference_words, role_time, word_errors

CALL_ID = "call-0023"
FILES = {"mono": f"{CALL_ID}.wav", "stereo": f"{CALL_ID}.stereo.wav"}
pytestmark = [
    pytest.mark.audio,
    pytest.mark.skipif(not (shutil.which("flite") and shutil.which("sox")), reason="needs flite and sox"),
]


@pytest.fixture(scope="session")
def reference(corpus_audio: Path) -> dict[str, Any]:
    return json.loads((corpus_audio / f"{CALL_ID}.ref.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def transcripts(corpus_audio: Path) -> dict[str, tuple[Transcript, CallMetrics]]:
    """Each layout transcribed once per session: decoding is the slow part."""
    settings = Settings(stt_engine="pocketsphinx", agent_channel=0)  # render.py puts the agent left
    engine = get_engine(settings)
    done = {}
    for layout, name in FILES.items():
        audio = decode_audio(corpus_audio / name)
        transcript = assign_roles(engine.transcribe(CALL_ID, audio), settings.agent_channel)
        done[layout] = (transcript, compute_metrics(transcript))
    return done


@pytest.mark.parametrize("layout", sorted(FILES))
def test_roles_cover_the_reference_speech(
    layout: str, transcripts: dict[str, tuple[Transcript, CallMetrics]], reference: dict[str, Any]
) -> None:
    transcript, _ = transcripts[layout]
    assert transcript.channels == (2 if layout == "stereo" else 1)
    matched, total = role_time(reference["turns"], transcript)
    print(f"{layout}: roles right for {matched:.1f} of {total:.1f} s of reference speech")
    assert total > 40
    assert matched / total >= 0.8


@pytest.mark.parametrize("layout", sorted(FILES))
def test_metrics_are_plausible_against_the_reference(
    layout: str, transcripts: dict[str, tuple[Transcript, CallMetrics]], reference: dict[str, Any]
) -> None:
    _, metrics = transcripts[layout]
    turns = reference["turns"]
    reference_speech = sum(e - s for s, e in merge((t["start"], t["end"]) for t in turns))
    talk = metrics.talk_time_s[AGENT] + metrics.talk_time_s[CUSTOMER]
    assert abs(talk - reference_speech) <= 0.2 * reference_speech, (talk, reference_speech)
    for role in (AGENT, CUSTOMER):
        expected = sum(t["speaker"] == role for t in turns)
        assert abs(metrics.turn_count[role] - expected) <= 3, (role, metrics.turn_count, expected)
    assert metrics.turn_count["unknown"] == 0
    assert metrics.duration_s == pytest.approx(reference["duration_s"], abs=0.1)
    assert metrics.talk_ratio is not None and 0.3 < metrics.talk_ratio < 0.9


@pytest.mark.parametrize("layout", sorted(FILES))
def test_words_are_mostly_right(
    layout: str, transcripts: dict[str, tuple[Transcript, CallMetrics]], reference: dict[str, Any]
) -> None:
    """A loose bound (the benchmark tracks the real figure): catches a broken decoder or config."""
    transcript, _ = transcripts[layout]
    errors = word_errors(reference_words(reference["turns"]), hypothesis_words(transcript))
    assert errors.ref_words > 100
    assert errors.wer is not None and errors.wer < 0.3
