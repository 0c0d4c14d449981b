"""Call metrics on hand-built transcripts whose silences and overlaps are known by construction."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from callcare.core.transcript import Transcript, Turn, Word
from callcare.transcription.metrics import BRIDGE_S, CallMetrics, compute_metrics, merge

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def turn(
    speaker: str, role: str, start: float, end: float, words: list[tuple[float, float]] | None = None
) -> Turn:
    ws = [Word(f"w{i}", s, e, 0.9) for i, (s, e) in enumerate(words or [])]
    text = " ".join(w.text for w in ws) if ws else "some words here"
    return Turn(speaker=speaker, start=start, end=end, text=text, role=role, words=ws)


def call(turns: list[Turn], duration: float, channels: int = 1) -> Transcript:
    return Transcript(call_id="c", engine="test", duration_s=duration, channels=channels, turns=turns)


def test_mono_talk_time_and_silences():
    # agent 0-2, silence 1, customer 3-5, silence 3, agent 8-10, trailing silence 2
    m = compute_metrics(
        call(
            [
                turn("spk_0", "agent", 0, 2),
                turn("spk_1", "customer", 3, 5),
                turn("spk_0", "agent", 8, 10),
            ],
            duration=12,
        )
    )
    assert m.duration_s == 12
    assert m.talk_time_s == {"agent": 4.0, "customer": 2.0, "unknown": 0.0}
    assert m.non_talk_s == pytest.approx(6.0)
    assert m.longest_silence_s == pytest.approx(3.0)
    assert m.overlap_s == 0.0
    assert m.interruptions == 0
    assert m.turn_count == {"agent": 2, "customer": 1, "unknown": 0}
    # 3 words per turn without word timings: agent 6 words in 4 s = 90 wpm, customer 3 in 2 s
    assert m.words_per_minute == {"agent": 90.0, "customer": 90.0, "unknown": None}
    assert m.talk_ratio == pytest.approx(4 / 6, abs=1e-4)


def test_leading_silence_counts():
    m = compute_metrics(call([turn("spk_0", "agent", 7, 8), turn("spk_1", "customer", 8.5, 9)], duration=9))
    assert m.longest_silence_s == pytest.approx(7.0)
    assert m.non_talk_s == pytest.approx(7.5)


def test_stereo_overlap_and_interruption():
    # customer cuts in at 3 s while the agent talks until 4 s; agent resumes after the customer
    m = compute_metrics(
        call(
            [
                turn("ch_0", "agent", 0, 4),
                turn("ch_1", "customer", 3, 6),
                turn("ch_0", "agent", 6.5, 8),
            ],
            duration=8,
            channels=2,
        )
    )
    assert m.overlap_s == pytest.approx(1.0)
    assert m.interruptions == 1
    assert m.interruptions_by_role == {"agent": 0, "customer": 1, "unknown": 0}
    assert m.talk_time_s["agent"] == pytest.approx(5.5)
    assert m.talk_time_s["customer"] == pytest.approx(3.0)
    # nobody speaks only 6-6.5
    assert m.non_talk_s == pytest.approx(0.5)
    assert m.longest_silence_s == pytest.approx(0.5)


def test_backchannel_inside_a_turn_is_an_interruption_and_overlap():
    m = compute_metrics(
        call([turn("ch_0", "agent", 0, 10), turn("ch_1", "customer", 4, 4.6)], duration=10, channels=2)
    )
    assert m.interruptions == 1
    assert m.overlap_s == pytest.approx(0.6)
    assert m.non_talk_s == pytest.approx(0.0)


def test_same_speaker_turns_that_touch_are_not_overlap():
    m = compute_metrics(call([turn("spk_0", "agent", 0, 3), turn("spk_0", "agent", 2.5, 5)], duration=5))
    assert m.overlap_s == 0.0
    assert m.interruptions == 0
    assert m.talk_time_s["agent"] == pytest.approx(5.0)


def test_word_timings_find_silence_inside_a_turn():
    # one 10 s turn: words 0-1, 1.2-2 (a short pause, still talking), then nothing until 6-7
    t = turn("spk_0", "agent", 0, 7, words=[(0, 1), (1.2, 2), (6, 7)])
    m = compute_metrics(call([t], duration=10))
    assert m.talk_time_s["agent"] == pytest.approx(3.0)
    assert m.longest_silence_s == pytest.approx(4.0)
    assert m.non_talk_s == pytest.approx(7.0)
    assert m.word_count["agent"] == 3
    assert m.words_per_minute["agent"] == pytest.approx(60.0)


def test_bridge_closes_only_short_pauses():
    assert merge([(0, 1), (1 + BRIDGE_S / 2, 2)], BRIDGE_S) == [(0, 2)]
    assert merge([(0, 1), (1 + BRIDGE_S * 2, 2)], BRIDGE_S) == [(0, 1), (1 + BRIDGE_S * 2, 2)]
    assert merge([(3, 4), (0, 5)]) == [(0, 5)]


def test_unknown_roles_are_counted_as_unknown():
    m = compute_metrics(call([turn("spk_0", "unknown", 0, 2), turn("spk_1", "unknown", 2.5, 3)], duration=3))
    assert m.talk_time_s == {"agent": 0.0, "customer": 0.0, "unknown": 2.5}
    assert m.turn_count["unknown"] == 2
    assert m.talk_ratio is None


def test_duration_never_shorter_than_the_last_turn():
    assert compute_metrics(call([turn("spk_0", "agent", 0, 5)], duration=0)).duration_s == 5


def test_empty_transcript():
    m = compute_metrics(call([], duration=0))
    assert m == CallMetrics(
        duration_s=0.0,
        talk_time_s={"agent": 0.0, "customer": 0.0, "unknown": 0.0},
        interruptions_by_role={"agent": 0, "customer": 0, "unknown": 0},
        words_per_minute={"agent": None, "customer": None, "unknown": None},
        turn_count={"agent": 0, "customer": 0, "unknown": 0},
        word_count={"agent": 0, "customer": 0, "unknown": 0},
    )
    silent = compute_metrics(call([], duration=30))
    assert silent.non_talk_s == silent.longest_silence_s == 30


def test_to_dict_is_json_ready():
    m = compute_metrics(call([turn("ch_0", "agent", 0, 4), turn("ch_1", "customer", 3, 6)], duration=6))
    data = json.loads(json.dumps(m.to_dict()))
    assert set(data) >= {
        "duration_s",
        "talk_time_s",
        "non_talk_s",
        "longest_silence_s",
        "overlap_s",
        "interruptions",
        "words_per_minute",
        "turn_count",
        "talk_ratio",
    }
    assert data["overlap_s"] == 1.0


@pytest.mark.audio
@pytest.mark.skipif(not (shutil.which("flite") and shutil.which("sox")), reason="needs flite and sox")
def test_rendered_calls_match_their_reference_timings(tmp_path):
    """render.py's ref.json says where it put interruptions and the 6 s silence: the metrics find them."""
    ids = ["call-0029", "call-0021"]  # tagged interruptions, long_silence
    subprocess.run(
        [
            sys.executable,
            str(CORPUS / "render.py"),
            str(CORPUS / "dialogues.json"),
            str(tmp_path),
            "--ids",
            ",".join(ids),
            "--formats",
            "wav",
        ],
        check=True,
        capture_output=True,
    )
    for call_id in ids:
        ref = json.loads((tmp_path / f"{call_id}.ref.json").read_text())
        turns = [
            Turn(
                speaker=f"ch_{0 if t['speaker'] == 'agent' else 1}",
                start=t["start"],
                end=t["end"],
                text=" ".join(re.sub(r"[^\w\s']", " ", t["text"].lower()).split()),
                role=t["speaker"],
            )
            for t in ref["turns"]
        ]
        m = compute_metrics(call(turns, duration=ref["duration_s"], channels=2))
        assert m.interruptions == sum(t["overlaps_previous"] for t in ref["turns"])
        speech = merge((t["start"], t["end"]) for t in ref["turns"])
        assert m.non_talk_s == pytest.approx(ref["duration_s"] - sum(e - s for s, e in speech), abs=0.01)
        silences = [e["end"] - e["start"] for e in ref["events"] if e["type"] == "long_silence"]
        if silences:
            assert m.longest_silence_s >= max(silences) - 0.01
        assert m.turn_count["agent"] == sum(t["speaker"] == "agent" for t in ref["turns"])
