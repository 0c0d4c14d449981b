"""Amazon Transcribe batch output (the job's TranscriptFileUri JSON) to our Transcript.

Transcribe writes one JSON shape with optional parts that depend on the job settings: channel
identification (`channel_labels`), speaker diarization (`speaker_labels`, where older outputs name
the speaker only inside the segments), alternatives (`segments[].alternatives`), PII redaction
(`[PII]` tokens, `isRedacted`), vocabulary filtering (`***` or dropped words) and language
identification. One parser reads them all so the pipeline never branches on job settings, and a
layout Transcribe adds later fails here, in one place, with the fixture that shows it.
"""

from __future__ import annotations

import bisect
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcare.core.transcript import Transcript, Turn, Word

ENGINE = "amazon-transcribe"
REDACTION_TOKEN = "[PII]"
SENTENCE_END = frozenset({".", "?", "!"})
# Without speaker information a pause this long is the best sign that someone else took over.
PAUSE_SPLIT_S = 1.5
# With speaker information a turn is split only at a pause long enough to be a hold or a wait.
LONG_PAUSE_S = 5.0


@dataclass
class _Token:
    """A spoken word with its punctuation attached, before it is grouped into turns."""

    text: str
    start: float
    end: float
    confidence: float | None
    speaker: str
    redacted: bool
    sentence_end: bool = False

    def word(self) -> Word:
        return Word(text=self.text, start=self.start, end=self.end, confidence=self.confidence)


def parse_transcribe_json(raw: str | bytes, *, call_id: str, **options: Any) -> Transcript:
    """Parse the output file's bytes, as read from the lake."""
    return parse_transcribe_output(json.loads(raw), call_id=call_id, **options)


def parse_transcribe_output(
    data: Mapping[str, Any],
    *,
    call_id: str,
    duration_s: float | None = None,
    default_language: str = "en-US",
    pause_split_s: float = PAUSE_SPLIT_S,
    long_pause_s: float = LONG_PAUSE_S,
) -> Transcript:
    """Turn a Transcribe batch output document into a Transcript.

    `duration_s` is the audio's length when the caller knows it: the output itself only knows
    where the last word ends, which misses trailing silence.
    """
    results: Mapping[str, Any] = data.get("results") or {}
    channel_labels = results.get("channel_labels") or {}
    items = _top_level_items(results)

    if channel_labels.get("channels"):
        channels = int(channel_labels.get("number_of_channels") or len(channel_labels["channels"]))
        by_channel = _channel_tokens(channel_labels["channels"], items)
        turns = _channel_turns(by_channel, long_pause_s)
    else:
        channels = 1
        speaker_map = _speaker_map(results.get("speaker_labels"))
        if speaker_map or any(item.get("speaker_label") for item in items):
            tokens = _tokens(items, lambda item: item.get("speaker_label") or speaker_map.get(_key(item)))
            turns = _labelled_turns(tokens, long_pause_s)
        else:
            tokens = _tokens(items, lambda item: None)
            turns = _plain_turns(tokens, pause_split_s)

    transcript_text = _transcript_text(results)
    if not turns and transcript_text:
        # Some documents (multi-language fragments) carry text but no items: keep the text.
        turns = [_text_only_turn(transcript_text, _language_duration(results))]

    last_end = max((t.end for t in turns), default=0.0)
    duration = duration_s if duration_s is not None else max(last_end, _language_duration(results))
    return Transcript(
        call_id=call_id,
        engine=ENGINE,
        duration_s=round(max(duration, last_end), 3),
        channels=channels,
        turns=turns,
        language=_language(results, default_language),
        redacted=bool(data.get("isRedacted")) or any(t.redacted for t in turns),
    )


def _top_level_items(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Items in time order; documents with only alternatives segments use the top alternative."""
    items = results.get("items")
    if items:
        return list(items)
    segments = results.get("segments") or []
    return [item for seg in segments for item in ((seg.get("alternatives") or [{}])[0].get("items") or [])]


def _key(item: Mapping[str, Any]) -> tuple[float, float] | None:
    if item.get("start_time") is None or item.get("end_time") is None:
        return None
    return (round(float(item["start_time"]), 3), round(float(item["end_time"]), 3))


def _speaker_map(speaker_labels: Mapping[str, Any] | None) -> dict[tuple[float, float] | None, str]:
    """(start, end) of each word to its speaker, for outputs that name speakers only in segments."""
    mapping: dict[tuple[float, float] | None, str] = {}
    for segment in (speaker_labels or {}).get("segments") or []:
        for item in segment.get("items") or []:
            label = item.get("speaker_label") or segment.get("speaker_label")
            if label and _key(item) is not None:
                mapping[_key(item)] = label
    return mapping


def _top(item: Mapping[str, Any]) -> tuple[str | None, float | None, bool]:
    """Content, confidence and redaction of the top alternative (flat in segment items)."""
    alternatives = item.get("alternatives")
    top = alternatives[0] if alternatives else item
    content = top.get("content")
    confidence = top.get("confidence")
    redacted = content == REDACTION_TOKEN or bool(top.get("redactions"))
    return content, (float(confidence) if confidence not in (None, "") else None), redacted


def _tokens(items: Iterable[Mapping[str, Any]], speaker_of: Any) -> list[_Token]:
    """Words with punctuation glued to the word before it (a leading mark has no word and is dropped)."""
    tokens: list[_Token] = []
    for item in items:
        content, confidence, redacted = _top(item)
        if not content:
            continue
        if item.get("type") == "punctuation":
            if tokens:
                tokens[-1].text += content
                tokens[-1].sentence_end = tokens[-1].sentence_end or content in SENTENCE_END
            continue
        previous_end = tokens[-1].end if tokens else 0.0
        start = float(item["start_time"]) if item.get("start_time") is not None else previous_end
        end = float(item["end_time"]) if item.get("end_time") is not None else start
        speaker = speaker_of(item) or (tokens[-1].speaker if tokens else "spk_0")
        if redacted:
            confidence = None  # the redaction's confidence is about the PII, not the words
        tokens.append(_Token(content, start, end, confidence, speaker, redacted))
    return tokens


def _channel_tokens(
    channels: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> dict[str, list[_Token]]:
    """Per-channel words. Each channel's own list keeps punctuation with the right speaker."""
    by_channel: dict[str, list[_Token]] = {}
    for index, channel in enumerate(channels):
        label = channel.get("channel_label") or f"ch_{index}"
        own = channel.get("items") or [item for item in items if item.get("channel_label") == label]
        by_channel[label] = _tokens(own, lambda item, label=label: label)
    return by_channel


def _make_turn(tokens: Sequence[_Token]) -> Turn:
    confidences = [t.confidence for t in tokens if t.confidence is not None]
    return Turn(
        speaker=tokens[0].speaker,
        start=tokens[0].start,
        end=max(t.end for t in tokens),
        text=" ".join(t.text for t in tokens),
        confidence=round(statistics.fmean(confidences), 4) if confidences else None,
        words=[t.word() for t in tokens],
        redacted=any(t.redacted for t in tokens),
    )


def _group(tokens: Sequence[_Token], boundary: Any) -> list[Turn]:
    """Cut the token stream wherever boundary(previous, current) says a new turn starts."""
    turns: list[Turn] = []
    current: list[_Token] = []
    for token in tokens:
        if current and boundary(current[-1], token):
            turns.append(_make_turn(current))
            current = []
        current.append(token)
    if current:
        turns.append(_make_turn(current))
    return turns


def _plain_turns(tokens: Sequence[_Token], pause_split_s: float) -> list[Turn]:
    """No speaker information: a turn per sentence, or per stretch between long pauses."""
    return _group(tokens, lambda prev, cur: prev.sentence_end or cur.start - prev.end >= pause_split_s)


def _labelled_turns(tokens: Sequence[_Token], long_pause_s: float) -> list[Turn]:
    """Diarized mono: a turn is a run of one speaker's words, cut again at hold-length pauses."""
    ordered = sorted(tokens, key=lambda t: t.start)
    return _group(
        ordered, lambda prev, cur: cur.speaker != prev.speaker or cur.start - prev.end >= long_pause_s
    )


def _channel_turns(by_channel: Mapping[str, Sequence[_Token]], long_pause_s: float) -> list[Turn]:
    """Per channel, a turn ends when another channel speaks in its pause (or at a hold-length pause).

    A word of another channel counts as speaking in the pause when its midpoint falls inside it:
    talk-over inside a sentence then leaves both turns whole and overlapping, as they happened.
    """
    turns: list[Turn] = []
    for label, tokens in by_channel.items():
        others = sorted(
            (t.start + t.end) / 2 for other, ts in by_channel.items() if other != label for t in ts
        )

        def boundary(prev: _Token, cur: _Token, others: list[float] = others) -> bool:
            if cur.start - prev.end >= long_pause_s:
                return True
            i = bisect.bisect_left(others, prev.end)
            return i < len(others) and others[i] <= cur.start

        turns.extend(_group(sorted(tokens, key=lambda t: t.start), boundary))
    turns.sort(key=lambda t: (t.start, t.end, t.speaker))
    return turns


def _transcript_text(results: Mapping[str, Any]) -> str:
    transcripts = results.get("transcripts") or []
    return " ".join((t.get("transcript") or "").strip() for t in transcripts).strip()


def _text_only_turn(text: str, duration: float) -> Turn:
    return Turn(
        speaker="spk_0",
        start=0.0,
        end=duration,
        text=text,
        redacted=REDACTION_TOKEN in text,
    )


def _language_duration(results: Mapping[str, Any]) -> float:
    return float(sum(float(c.get("duration_in_seconds") or 0) for c in results.get("language_codes") or []))


def _language(results: Mapping[str, Any], default: str) -> str:
    """The job's language: as identified, else the language spoken longest, else the requested one."""
    if results.get("language_code"):
        return str(results["language_code"])
    identified = [c for c in results.get("language_identification") or [] if c.get("code")]
    if identified:
        return str(max(identified, key=lambda c: float(c.get("score") or 0))["code"])
    spoken = [c for c in results.get("language_codes") or [] if c.get("language_code")]
    if spoken:
        return str(max(spoken, key=lambda c: float(c.get("duration_in_seconds") or 0))["language_code"])
    return default
