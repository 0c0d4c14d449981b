"""The transcript model every engine produces (offline ASR, Amazon Transcribe, reference scripts).

Downstream code (metrics, summaries, Parquet, the web app) reads only this model, so a new engine
needs nothing but a converter into it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

AGENT = "agent"
CUSTOMER = "customer"
UNKNOWN = "unknown"
ROLES = (AGENT, CUSTOMER, UNKNOWN)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float | None = None


@dataclass
class Turn:
    """One speaker's stretch of speech. `speaker` is the engine's label (spk_0, ch_0, ...)."""

    speaker: str
    start: float
    end: float
    text: str
    role: str = UNKNOWN
    confidence: float | None = None
    words: list[Word] = field(default_factory=list)
    redacted: bool = False

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Transcript:
    call_id: str
    engine: str
    duration_s: float
    channels: int
    turns: list[Turn]
    language: str = "en-US"
    role_confidence: float | None = None
    redacted: bool = False

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.turns if t.text)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        turns = [
            Turn(**{**t, "words": [Word(**w) for w in t.get("words", [])]}) for t in data.get("turns", [])
        ]
        fields = {k: v for k, v in data.items() if k != "turns"}
        return cls(turns=turns, **fields)
