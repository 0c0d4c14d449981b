"""Conversation metrics from turn and word timings: who talked how much, silences, talk-over.

Supervisors read these next to the summary (long silences are holds or dead air, interruptions
and overlap show friction), and the warehouse aggregates them per agent and category. They only
need timings and roles, so every engine's transcript gives them, mono or stereo.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from callcare.core.transcript import ROLES, UNKNOWN, Transcript, Turn

# Pauses between one speaker's words shorter than this are part of talking, not silence.
BRIDGE_S = 0.5

Interval = tuple[float, float]


@dataclass(frozen=True)
class CallMetrics:
    duration_s: float
    talk_time_s: dict[str, float] = field(default_factory=dict)
    non_talk_s: float = 0.0
    longest_silence_s: float = 0.0
    overlap_s: float = 0.0
    interruptions: int = 0
    interruptions_by_role: dict[str, int] = field(default_factory=dict)
    words_per_minute: dict[str, float | None] = field(default_factory=dict)
    turn_count: dict[str, int] = field(default_factory=dict)
    word_count: dict[str, int] = field(default_factory=dict)

    @property
    def talk_ratio(self) -> float | None:
        """Agent share of the talk time, the figure coaching looks at first."""
        agent, customer = self.talk_time_s.get("agent", 0.0), self.talk_time_s.get("customer", 0.0)
        return round(agent / (agent + customer), 4) if agent + customer > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "talk_ratio": self.talk_ratio}


def merge(intervals: Iterable[Interval], bridge: float = 0.0) -> list[Interval]:
    """Union of intervals; gaps shorter than `bridge` are closed."""
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if end < start:
            continue
        if merged and start - merged[-1][1] < bridge + 1e-9:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _length(intervals: Iterable[Interval]) -> float:
    return sum((e - s for s, e in intervals), 0.0)


def speech_intervals(turn: Turn, bridge: float = BRIDGE_S) -> list[Interval]:
    """When the turn's speaker is audible: its words with short pauses closed, else the whole turn."""
    if turn.words:
        return merge(((w.start, w.end) for w in turn.words), bridge)
    return [(turn.start, turn.end)] if turn.end > turn.start else []


def _word_count(turn: Turn) -> int:
    return len(turn.words) if turn.words else len(turn.text.split())


def _overlap_time(by_speaker: dict[str, list[Interval]]) -> float:
    """Time during which at least two different speakers are audible."""
    events: list[tuple[float, int]] = []
    for intervals in by_speaker.values():
        for start, end in intervals:
            events += [(start, 1), (end, -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant: no overlap
    active, last, total = 0, 0.0, 0.0
    for time, delta in events:
        if active >= 2:
            total += time - last
        active += delta
        last = time
    return total


def _interrupter(turn: Turn, earlier: list[Turn]) -> bool:
    """The turn starts while another speaker's turn is still going."""
    return any(o.speaker != turn.speaker and o.start < turn.start < o.end for o in earlier)


def compute_metrics(transcript: Transcript, *, bridge_s: float = BRIDGE_S) -> CallMetrics:
    turns = sorted((t for t in transcript.turns if t.end >= t.start), key=lambda t: (t.start, t.end))
    duration = max(transcript.duration_s, max((t.end for t in turns), default=0.0))

    by_speaker: dict[str, list[Interval]] = {}
    by_role: dict[str, list[Interval]] = {role: [] for role in ROLES}
    turn_count = dict.fromkeys(ROLES, 0)
    word_count = dict.fromkeys(ROLES, 0)
    interruptions_by_role = dict.fromkeys(ROLES, 0)
    for i, turn in enumerate(turns):
        role = turn.role if turn.role in by_role else UNKNOWN
        spoken = speech_intervals(turn, bridge_s)
        by_speaker.setdefault(turn.speaker, []).extend(spoken)
        by_role[role].extend(spoken)
        turn_count[role] += 1
        word_count[role] += _word_count(turn)
        if _interrupter(turn, turns[:i]):
            interruptions_by_role[role] += 1

    talk = {role: merge(intervals) for role, intervals in by_role.items()}
    everyone = merge(iv for intervals in by_speaker.values() for iv in intervals)
    edges = [0.0, *(x for iv in everyone for x in iv), duration]
    silences = [edges[k + 1] - edges[k] for k in range(0, len(edges) - 1, 2)]

    talk_time = {role: round(_length(iv), 3) for role, iv in talk.items()}
    wpm = {
        role: (round(word_count[role] / (talk_time[role] / 60.0), 1) if talk_time[role] > 0 else None)
        for role in ROLES
    }
    return CallMetrics(
        duration_s=round(duration, 3),
        talk_time_s=talk_time,
        non_talk_s=round(max(0.0, duration - _length(everyone)), 3),
        longest_silence_s=round(max([s for s in silences if s > 0], default=0.0), 3),
        overlap_s=round(_overlap_time({s: merge(iv) for s, iv in by_speaker.items()}), 3),
        interruptions=sum(interruptions_by_role.values()),
        interruptions_by_role=interruptions_by_role,
        words_per_minute=wpm,
        turn_count=turn_count,
        word_count=word_count,
    )
