"""Roles from wiring (stereo) and from what each speaker says (mono, lowercase ASR-like text)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from callcare.core.transcript import Transcript, Turn, Word
from callcare.transcription.roles import assign_roles, cue_scores, normalize, score_speakers

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def asr_text(text: str) -> str:
    """What an engine without punctuation or casing gives: lowercase words."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def transcript(turns: list[tuple[str, str]], channels: int = 1, gap: float = 0.5) -> Transcript:
    built, t = [], 0.0
    for speaker, text in turns:
        words = []
        for token in text.split():
            words.append(Word(token, t, t + 0.3, 0.9))
            t += 0.32
        built.append(Turn(speaker=speaker, start=words[0].start, end=words[-1].end, text=text, words=words))
        t += gap
    return Transcript(call_id="c", engine="test", duration_s=t, channels=channels, turns=built)


GENERIC_CALL = [
    ("A", "thank you for calling northwind support this is sam how can i help you today"),
    ("B", "hi yes i have a problem with my bill i was charged twice this month"),
    ("A", "i am sorry to hear that can i have your account number please"),
    ("B", "sure it is four four one two"),
    ("A", "thank you let me check that for you one moment"),
    ("A", "i have issued a refund you should see it in three to five days"),
    ("B", "great thank you so much"),
    ("A", "is there anything else i can help you with today"),
    ("B", "no that is all"),
]


def roles_of(result: Transcript) -> dict[str, str]:
    return {t.speaker: t.role for t in result.turns}


def test_stereo_roles_follow_the_agent_channel_with_full_confidence():
    turns = [("ch_0", "hello"), ("ch_1", "hi there"), ("ch_0", "okay")]
    for agent_channel, expected in (
        (0, {"ch_0": "agent", "ch_1": "customer"}),
        (1, {"ch_0": "customer", "ch_1": "agent"}),
    ):
        result = assign_roles(transcript(turns, channels=2), agent_channel)
        assert roles_of(result) == expected
        assert result.role_confidence == 1.0


def test_stereo_without_agent_channel_uses_the_words():
    turns = [(s.replace("A", "ch_1").replace("B", "ch_0"), text) for s, text in GENERIC_CALL]
    result = assign_roles(transcript(turns, channels=2), None)
    assert roles_of(result) == {"ch_1": "agent", "ch_0": "customer"}


@pytest.mark.parametrize("labels", [("spk_0", "spk_1"), ("spk_1", "spk_0")])
def test_mono_roles_from_cues_whatever_the_label_names(labels):
    mapping = {"A": labels[0], "B": labels[1]}
    result = assign_roles(transcript([(mapping[s], text) for s, text in GENERIC_CALL]), agent_channel=0)
    assert roles_of(result) == {labels[0]: "agent", labels[1]: "customer"}
    assert 0.9 < result.role_confidence <= 1.0
    # the input is left alone
    assert all(t.role == "unknown" for t in transcript(GENERIC_CALL).turns)


def test_cues_beat_who_spoke_first():
    """A customer heard before the agent's greeting (a callback, an IVR hand-off) is still the customer."""
    turns = [
        ("spk_0", "hello i am calling about my internet it is not working again"),
        ("spk_1", "thanks for calling you are speaking with lee how may i help"),
        ("spk_0", "i would like to get a technician out"),
        ("spk_1", "let me check the appointments for you"),
    ]
    assert roles_of(assign_roles(transcript(turns), None)) == {"spk_0": "customer", "spk_1": "agent"}


def test_punctuated_and_asr_text_score_the_same():
    text = "Thank you for calling! I'd like to... How can I help? Let me check, one moment."
    assert cue_scores(text) == cue_scores(asr_text(text))
    assert normalize("I'd like to — I've been WAITING") == "i would like to i have been waiting"


def test_no_evidence_gives_unknown_with_zero_confidence():
    turns = [("spk_0", "the weather is nice"), ("spk_1", "yes it is quite warm")]
    result = assign_roles(transcript(turns), None, first_speaker_prior=0.0)
    assert set(roles_of(result).values()) == {"unknown"}
    assert result.role_confidence == 0.0


def test_single_speaker_label_cannot_be_given_a_role():
    result = assign_roles(transcript([("spk_0", text) for _, text in GENERIC_CALL]), None)
    assert roles_of(result) == {"spk_0": "unknown"}
    assert result.role_confidence == 0.0


def test_confidence_grows_with_evidence():
    weak = [("spk_0", "let me check"), ("spk_1", "okay")]
    strong = [
        ("spk_0", "thank you for calling how can i help let me check"),
        ("spk_1", "i am calling about my bill"),
    ]
    weak_result = assign_roles(transcript(weak), None)
    strong_result = assign_roles(transcript(strong), None)
    assert roles_of(weak_result) == roles_of(strong_result) == {"spk_0": "agent", "spk_1": "customer"}
    assert weak_result.role_confidence < strong_result.role_confidence


def test_three_speakers_supervisor_is_an_agent_too():
    turns = [
        ("spk_0", "thank you for calling how can i help you"),
        ("spk_1", "i have a problem with my order i want to cancel it"),
        ("spk_0", "let me transfer you please hold"),
        ("spk_2", "thanks for holding you are speaking with the supervisor how can i help"),
        ("spk_1", "i would like to cancel my order"),
    ]
    roles = score_speakers(transcript(turns))
    assert {s: r.role for s, r in roles.items()} == {"spk_0": "agent", "spk_1": "customer", "spk_2": "agent"}


def test_empty_transcript():
    result = assign_roles(Transcript(call_id="c", engine="t", duration_s=0.0, channels=1, turns=[]), None)
    assert result.turns == [] and result.role_confidence is None


# -- the 20 development calls: reference text, lowercased and unpunctuated like ASR output --------


def dev_calls() -> list[dict]:
    return json.loads((CORPUS / "dialogues.json").read_text(encoding="utf-8"))


def corpus_transcript(call: dict, swap: bool, drop_first: int = 0) -> tuple[Transcript, dict[str, str]]:
    """Perfect diarization with neutral labels; `swap` gives the customer spk_0 half of the time."""
    label = {"agent": "spk_1" if swap else "spk_0", "customer": "spk_0" if swap else "spk_1"}
    turns = [(label[t["speaker"]], asr_text(t["text"])) for t in call["turns"][drop_first:]]
    return transcript([t for t in turns if t[1]]), {v: k for k, v in label.items()}


def role_accuracy(drop_first: int = 0, prior: float | None = None) -> float:
    """Share of calls whose every speaker label gets the right role."""
    kwargs = {} if prior is None else {"first_speaker_prior": prior}
    calls = dev_calls()
    right = 0
    for k, call in enumerate(calls):
        built, truth = corpus_transcript(call, swap=k % 2 == 1, drop_first=drop_first)
        right += roles_of(assign_roles(built, None, **kwargs)) == truth
    return right / len(calls)


def test_role_accuracy_on_the_dev_calls(record_property):
    accuracy = role_accuracy()
    no_prior = role_accuracy(prior=0.0)
    # without the greeting exchange the rest of the call must still tell the roles apart
    no_greeting = role_accuracy(drop_first=2, prior=0.0)
    record_property("role_accuracy", accuracy)
    print(
        f"role accuracy on 20 dev calls: {accuracy:.0%} (no first-speaker prior {no_prior:.0%}, "
        f"greeting dropped {no_greeting:.0%})"
    )
    assert len(dev_calls()) == 20
    assert accuracy >= 0.95
    assert no_prior >= 0.95
    assert no_greeting >= 0.9


@pytest.mark.audio
@pytest.mark.skipif(not (shutil.which("flite") and shutil.which("sox")), reason="needs flite and sox")
def test_roles_with_rendered_turn_timings(tmp_path):
    """Timings from render.py's ref.json (overlapping interruptions included) do not confuse roles."""
    call_id = "call-0029"
    subprocess.run(
        [
            sys.executable,
            str(CORPUS / "render.py"),
            str(CORPUS / "dialogues.json"),
            str(tmp_path),
            "--ids",
            call_id,
            "--formats",
            "wav",
            "--jobs",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    ref = json.loads((tmp_path / f"{call_id}.ref.json").read_text())
    label = {"agent": "spk_1", "customer": "spk_0"}
    turns = [
        Turn(speaker=label[t["speaker"]], start=t["start"], end=t["end"], text=asr_text(t["text"]))
        for t in ref["turns"]
    ]
    built = Transcript(call_id=call_id, engine="ref", duration_s=ref["duration_s"], channels=1, turns=turns)
    assert roles_of(assign_roles(built, None)) == {"spk_1": "agent", "spk_0": "customer"}
