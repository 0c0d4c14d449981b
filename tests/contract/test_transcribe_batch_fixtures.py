"""Every real Amazon Transcribe batch output in ../shared/fixtures parses into the right turns.

Expected values are computed from each file's own items (an independent, deliberately plain
reading of the raw JSON), so the assertions say what the file contains, not what the parser did.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from callcare.transcription.transcribe_parser import (
    LONG_PAUSE_S,
    PAUSE_SPLIT_S,
    REDACTION_TOKEN,
    parse_transcribe_json,
    parse_transcribe_output,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "transcribe-batch"
ALL = sorted(p.name for p in FIXTURES.glob("*.json"))

PLAIN = [
    "awsdocs-language-identification.repaired.json",
    "awsdocs-pii-redacted.repaired.json",
    "tscribe-01-plain.json",
    "tscribe-04-alternative-results.json",
    "tscribe-05-automatic-content-redaction-with-undredacted-redacted.json",
    "tscribe-06-automatic-content-redaction-with-undredacted-unredacted.json",
    "tscribe-07-vocabulary-filter-mask.json",
    "tscribe-08-vocabulary-filter-remove.json",
    "will-newscast-no-speakers.json",
]
CHANNELS = [
    "awsdocs-channel-identification.json",
    "tscribe-02-channel-identification.json",
    "tscribe-09-channel-identification-alternative-results.json",
]
DIARIZED = [
    "awsdocs-speaker-diarization.json",
    "tscribe-03-speaker-identification.json",
    "will-newscast-incorrect-speaker-order.json",
]


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def parse(name: str):
    return parse_transcribe_json((FIXTURES / name).read_bytes(), call_id=name)


def content(item: dict[str, Any]) -> str:
    return item["alternatives"][0]["content"]


def spoken(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i["type"] == "pronunciation"]


def words_of(transcript) -> list:
    return [w for t in transcript.turns for w in t.words]


def strip_punct(text: str) -> str:
    return text.rstrip(".,?!")


def test_every_fixture_is_classified_here():
    assert set(ALL) == {
        *PLAIN,
        *CHANNELS,
        *DIARIZED,
        "awsdocs-multi-language-codes.fragment.repaired.json",
        "will-silent-audio-empty.json",
    }


@pytest.mark.parametrize("name", ALL)
def test_invariants(name):
    transcript = parse(name)
    assert transcript.call_id == name
    assert transcript.engine == "amazon-transcribe"
    assert [t.start for t in transcript.turns] == sorted(t.start for t in transcript.turns)
    for turn in transcript.turns:
        assert turn.role == "unknown"
        assert turn.end >= turn.start
        if turn.words:
            assert turn.start == turn.words[0].start
            assert turn.end == max(w.end for w in turn.words)
            assert turn.text == " ".join(w.text for w in turn.words)
    assert transcript.duration_s >= max((t.end for t in transcript.turns), default=0.0)
    # round-trips through the lake's JSON
    assert type(transcript).from_dict(json.loads(json.dumps(transcript.to_dict()))) == transcript


@pytest.mark.parametrize("name", PLAIN + DIARIZED)
def test_words_keep_timings_confidence_and_punctuation(name):
    items = load(name)["results"]["items"]
    words = words_of(parse(name))
    expected = spoken(items)
    # every punctuation mark is glued to the word before it
    texts: list[str] = []
    for item in items:
        if item["type"] == "pronunciation":
            texts.append(content(item))
        elif texts:
            texts[-1] += content(item)
    assert [w.text for w in words] == texts
    for word, item in zip(words, expected, strict=True):
        assert word.text.startswith(content(item))
        assert word.start == float(item["start_time"])
        assert word.end == float(item["end_time"])
        conf = item["alternatives"][0].get("confidence")
        assert word.confidence == (
            float(conf) if conf is not None and content(item) != REDACTION_TOKEN else None
        )


def expected_plain_turns(items: list[dict[str, Any]]) -> list[str]:
    """Sentences, or stretches between pauses of PAUSE_SPLIT_S, straight from the items."""
    turns: list[list[str]] = []
    prev_end: float | None = None
    ended = False
    for item in items:
        if item["type"] == "punctuation":
            turns[-1][-1] += content(item)
            ended = ended or content(item) in ".?!"
            continue
        start = float(item["start_time"])
        if not turns or ended or start - prev_end >= PAUSE_SPLIT_S:
            turns.append([])
        turns[-1].append(content(item))
        prev_end, ended = float(item["end_time"]), False
    return [" ".join(t) for t in turns]


@pytest.mark.parametrize("name", PLAIN)
def test_plain_output_splits_at_sentences_and_pauses(name):
    transcript = parse(name)
    assert transcript.channels == 1
    assert {t.speaker for t in transcript.turns} == {"spk_0"}
    assert [t.text for t in transcript.turns] == expected_plain_turns(load(name)["results"]["items"])


def test_plain_turn_texts_rebuild_the_service_transcript():
    data = load("tscribe-01-plain.json")
    assert parse("tscribe-01-plain.json").text == data["results"]["transcripts"][0]["transcript"]


def test_alternatives_take_the_top_alternative():
    """04 is 01 with ShowAlternatives: its top alternatives are the same words as the plain output."""
    data = load("tscribe-04-alternative-results.json")["results"]
    top = [i["content"] for s in data["segments"] for i in s["alternatives"][0]["items"]]
    assert [strip_punct(w.text) for w in words_of(parse("tscribe-04-alternative-results.json"))] == [
        c for c in top if c not in ".,?!"
    ]
    assert parse("tscribe-04-alternative-results.json").turns == parse("tscribe-01-plain.json").turns
    # without top-level items the segments' top alternative is read
    only_segments = {"results": {k: v for k, v in data.items() if k != "items"}}
    assert parse_transcribe_output(only_segments, call_id="x").turns == parse("tscribe-01-plain.json").turns


def test_channel_and_alternatives_combined_reads_like_channels_alone():
    assert (
        parse("tscribe-09-channel-identification-alternative-results.json").turns
        == parse("tscribe-02-channel-identification.json").turns
    )


def channel_items(name: str) -> dict[str, list[dict[str, Any]]]:
    channels = load(name)["results"]["channel_labels"]["channels"]
    return {c["channel_label"]: spoken(c["items"]) for c in channels}


@pytest.mark.parametrize("name", CHANNELS)
def test_channel_identification(name):
    data = load(name)["results"]
    transcript = parse(name)
    by_channel = channel_items(name)
    assert transcript.channels == data["channel_labels"]["number_of_channels"] == 2
    assert {t.speaker for t in transcript.turns} == set(by_channel)
    for label, items in by_channel.items():
        words = [w for t in transcript.turns if t.speaker == label for w in t.words]
        assert [strip_punct(w.text) for w in words] == [content(i) for i in items]
        assert [(w.start, w.end) for w in words] == [
            (float(i["start_time"]), float(i["end_time"])) for i in items
        ]

    def mids(label: str) -> list[float]:
        return [
            (float(i["start_time"]) + float(i["end_time"])) / 2
            for other, items in by_channel.items()
            if other != label
            for i in items
        ]

    for label in by_channel:
        others = mids(label)
        own = [t for t in transcript.turns if t.speaker == label]
        for turn in own:  # nobody else speaks inside a turn's pauses
            for a, b in itertools.pairwise(turn.words):
                assert not any(a.end <= m <= b.start for m in others)
        for a, b in itertools.pairwise(own):  # and somebody does between two turns of one channel
            assert b.start - a.end >= LONG_PAUSE_S or any(a.end <= m <= b.start for m in others)


def test_channel_doc_example_interleaves_the_two_parties():
    transcript = parse("awsdocs-channel-identification.json")
    assert [(t.speaker, t.text) for t in transcript.turns] == [
        ("ch_0", "I've been on hold for an hour."),
        ("ch_1", "Sorry about that."),
    ]
    assert (
        transcript.text
        == load("awsdocs-channel-identification.json")["results"]["transcripts"][0]["transcript"]
    )


def test_channel_turns_keep_overlaps():
    """Cross-talk: both channels' turns stay whole and overlap in time."""
    data = {
        "results": {
            "transcripts": [{"transcript": ""}],
            "channel_labels": {
                "number_of_channels": 2,
                "channels": [
                    {"channel_label": "ch_0", "items": [_word("so", 0.0, 0.5), _word("anyway", 0.5, 1.2)]},
                    {"channel_label": "ch_1", "items": [_word("wait", 0.9, 1.3), _word("no", 1.3, 1.6)]},
                ],
            },
            "items": [],
        }
    }
    turns = parse_transcribe_output(data, call_id="x").turns
    assert [(t.speaker, t.start, t.end) for t in turns] == [("ch_0", 0.0, 1.2), ("ch_1", 0.9, 1.6)]


def _word(text: str, start: float, end: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "pronunciation",
        "start_time": str(start),
        "end_time": str(end),
        "alternatives": [{"confidence": "0.9", "content": text}],
        **extra,
    }


def segment_speakers(name: str) -> dict[tuple[float, float], str]:
    return {
        (float(i["start_time"]), float(i["end_time"])): s["speaker_label"]
        for s in load(name)["results"]["speaker_labels"]["segments"]
        for i in s["items"]
    }


@pytest.mark.parametrize("name", DIARIZED)
def test_speaker_labels(name):
    data = load(name)["results"]
    transcript = parse(name)
    speakers = segment_speakers(name)
    assert transcript.channels == 1
    assert {t.speaker for t in transcript.turns} == set(speakers.values())
    assert len({t.speaker for t in transcript.turns}) == data["speaker_labels"]["speakers"]
    for turn in transcript.turns:
        assert {speakers[(w.start, w.end)] for w in turn.words} == {turn.speaker}
    # a new turn exactly where the speaker changes (or a hold-length pause)
    items = spoken(data["items"])
    boundaries = sum(
        speakers[(float(a["start_time"]), float(a["end_time"]))]
        != speakers[(float(b["start_time"]), float(b["end_time"]))]
        or float(b["start_time"]) - float(a["end_time"]) >= LONG_PAUSE_S
        for a, b in itertools.pairwise(items)
    )
    assert len(transcript.turns) == boundaries + 1


def test_older_layout_names_speakers_only_in_segments():
    data = load("tscribe-03-speaker-identification.json")["results"]
    assert not any("speaker_label" in i for i in data["items"])
    assert len({t.speaker for t in parse("tscribe-03-speaker-identification.json").turns}) == 3


def test_pii_redaction():
    data = load("awsdocs-pii-redacted.repaired.json")
    transcript = parse("awsdocs-pii-redacted.repaired.json")
    assert data["isRedacted"] is True and transcript.redacted
    redacted_words = [w for w in words_of(transcript) if w.text == REDACTION_TOKEN]
    assert len(redacted_words) == sum(content(i) == REDACTION_TOKEN for i in data["results"]["items"]) > 0
    for turn in transcript.turns:
        assert turn.redacted == any(w.text.startswith(REDACTION_TOKEN) for w in turn.words)
    assert any(t.redacted for t in transcript.turns)


def test_redaction_job_without_pii_is_flagged_but_no_turn_is():
    redacted = parse("tscribe-05-automatic-content-redaction-with-undredacted-redacted.json")
    unredacted = parse("tscribe-06-automatic-content-redaction-with-undredacted-unredacted.json")
    assert redacted.redacted and not unredacted.redacted
    assert not any(t.redacted for t in redacted.turns)
    assert [t.text for t in redacted.turns] == [t.text for t in unredacted.turns]


def test_vocabulary_filter_mask_and_remove():
    original = words_of(parse("tscribe-01-plain.json"))
    masked = words_of(parse("tscribe-07-vocabulary-filter-mask.json"))
    removed = words_of(parse("tscribe-08-vocabulary-filter-remove.json"))
    n_masked = sum(
        content(i) == "***" for i in load("tscribe-07-vocabulary-filter-mask.json")["results"]["items"]
    )
    assert n_masked > 0
    assert sum(strip_punct(w.text) == "***" for w in masked) == n_masked
    assert len(masked) == len(original)
    for m, o in zip(masked, original, strict=True):
        assert strip_punct(m.text) in (strip_punct(o.text), "***")
        assert (m.start, m.end) == (o.start, o.end)
    assert len(removed) == len(original) - n_masked
    kept = {(w.start, w.end) for w in masked if strip_punct(w.text) != "***"}
    assert {(w.start, w.end) for w in removed} == kept


def test_silent_audio_gives_an_empty_transcript():
    transcript = parse("will-silent-audio-empty.json")
    assert transcript.turns == []
    assert transcript.text == ""
    assert transcript.duration_s == 0.0
    assert not transcript.redacted


def test_language_identification():
    data = load("awsdocs-language-identification.repaired.json")["results"]
    best = max(data["language_identification"], key=lambda c: float(c["score"]))["code"]
    assert parse("awsdocs-language-identification.repaired.json").language == data["language_code"] == best
    without_code = {"results": {k: v for k, v in data.items() if k != "language_code"}}
    assert parse_transcribe_output(without_code, call_id="x").language == best


def test_multi_language_fragment_keeps_its_text():
    data = load("awsdocs-multi-language-codes.fragment.repaired.json")["results"]
    transcript = parse("awsdocs-multi-language-codes.fragment.repaired.json")
    longest = max(data["language_codes"], key=lambda c: c["duration_in_seconds"])["language_code"]
    total = sum(c["duration_in_seconds"] for c in data["language_codes"])
    assert transcript.language == longest
    assert transcript.text == data["transcripts"][0]["transcript"]
    assert len(transcript.turns) == 1 and transcript.turns[0].words == []
    assert transcript.duration_s == pytest.approx(total)


def test_known_audio_duration_wins_over_last_word():
    data = load("tscribe-01-plain.json")
    assert parse_transcribe_output(data, call_id="x", duration_s=150.0).duration_s == 150.0
    last = max(float(i["end_time"]) for i in spoken(data["results"]["items"]))
    assert parse_transcribe_output(data, call_id="x").duration_s == last
