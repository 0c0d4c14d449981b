"""The offline analyzer: a rule-based summary with the same JSON contract as the LLM backends.

It needs no network and no model download, so the local profile, CI and the end-to-end tests run
the whole pipeline without cloud credentials. It is extractive: every line it writes is a
sentence of the call, rewritten in the third person with figures for spoken numbers. It works on
punctuated reference text and on lowercase, unpunctuated speech-to-text output alike.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from callcare.summarization.base import SummaryFailed, SummaryResult
from callcare.summarization.offline import lexicon
from callcare.summarization.offline.spoken_ids import find_agent_id, find_customer_id
from callcare.summarization.offline.text import has_pii, segments, third_person, tidy
from callcare.summarization.schema import SummaryInvalid, validate_summary

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from callcare.core.transcript import Transcript

ANALYZER_VERSION = "1"
MAX_ITEMS = {"key_details": 5, "action_items": 6, "next_steps": 4}
# sentiment thresholds on the politeness-stripped, end-weighted VADER score
NEGATIVE_BELOW = -0.1
POSITIVE_ABOVE = 0.3
END_WEIGHT = 2.0  # weight of the last customer turn is e^END_WEIGHT times the first one's

_AGENT_CUES = re.compile(
    r"\b(thank(s| you) for calling|how (can|may) i (help|assist)|agent i ?d|this is \w+ (from|with|at)|"
    r"can i (have|get) your|what'?s your (account|member|policy|order|case)|anything else i can)\b"
)
_PROBLEM = re.compile(
    r"\b(i need|i'?d like|i would like|i want|i wanted|i'?m calling|i am calling|calling (about|to|because)|"
    r"i can'?t|i cannot|i'?m having|i have (a|an|two|some) (problem|issue|question)|problem|issue|trouble|"
    r"wrong|error|charged|locked|didn'?t|never|haven'?t|isn'?t|won'?t|doesn'?t|not working|help with|"
    r"question|got a (bill|letter|charge)|disappeared|complain)\b"
)
_GREETING_ONLY = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening)|yes|yeah|hi there)?\W*(\w+\W*)?"
    r"((this is|my name is|it'?s|i'?m) [a-z]+( [a-z]+)?)?\W*$"
)
_RECOMMEND = re.compile(r"\b(recommend|suggest|advise)\b")
_DATE = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december) \d{1,2}\b"
    r"|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|\b(today|tonight|tomorrow|yesterday|this (morning|afternoon|evening|week|month)"
    r"|last (night|week|month))\b",
    re.I,
)
_SMALL_NUMBER = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|twice)\b", re.I)
_CAUSE = re.compile(r"\b(because|since|due to|after|so that)\b", re.I)


@dataclass(frozen=True)
class Segment:
    turn: int
    role: str  # "agent" | "customer"
    text: str
    low: str
    position: float  # 0 at the first turn, 1 at the last


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def assign_roles(transcript: Transcript) -> list[str]:
    """Agent/customer per turn; unknown roles fall back to who sounds like the agent, else who spoke first."""
    roles = [t.role for t in transcript.turns]
    if all(r in ("agent", "customer") for r in roles):
        return roles
    labelled = {t.speaker: t.role for t in transcript.turns if t.role in ("agent", "customer")}
    cue_hits: dict[str, int] = {}
    order: list[str] = []
    for t in transcript.turns:
        if t.speaker not in cue_hits:
            cue_hits[t.speaker] = 0
            order.append(t.speaker)
        cue_hits[t.speaker] += len(_AGENT_CUES.findall(t.text.lower()))
    agent = next((s for s, r in labelled.items() if r == "agent"), None)
    if agent is None and order:
        agent = max(order, key=lambda s: (cue_hits[s], -order.index(s)))
    return [
        t.role if t.role in ("agent", "customer") else ("agent" if t.speaker == agent else "customer")
        for t in transcript.turns
    ]


def _segments(transcript: Transcript, roles: list[str]) -> list[Segment]:
    n = max(len(transcript.turns) - 1, 1)
    out = []
    for i, (turn, role) in enumerate(zip(transcript.turns, roles, strict=True)):
        for s in segments(turn.text or ""):
            out.append(Segment(i, role, s, s.lower(), i / n))
    return out


# -- sentiment -----------------------------------------------------------------------------------


def turn_sentiment(text: str) -> float:
    """VADER compound of a turn without ritual politeness, pushed down by frustration, up by delight."""
    low = text.lower()
    score = _vader().polarity_scores(lexicon.POLITENESS.sub(" ", low))["compound"]
    score -= 0.5 * sum(1 for p in lexicon.FRUSTRATION if p.search(low))
    if lexicon.DELIGHT.search(low):
        score += 0.3
    return max(-1.0, min(1.0, score))


def _label(score: float) -> str:
    if score <= NEGATIVE_BELOW:
        return "Negative"
    return "Positive" if score >= POSITIVE_ABOVE else "Neutral"


def sentiments(customer_texts: list[str], agent_texts: list[str]) -> tuple[str, str, str]:
    """(overall at the end of the call, customer over the call, agent over the call).

    The overall label is the customer's mood as the call ends, so later turns weigh more.
    """
    scores = [turn_sentiment(t) for t in customer_texts if t.strip()]
    if not scores:
        return "Neutral", "Neutral", _label(_mean([turn_sentiment(t) for t in agent_texts]))
    n = max(len(scores) - 1, 1)
    weights = [math.exp(END_WEIGHT * i / n) for i in range(len(scores))]
    end = sum(w * s for w, s in zip(weights, scores, strict=True)) / sum(weights)
    agent = _mean([turn_sentiment(t) for t in agent_texts])
    return _label(end), _label(_mean(scores)), _label(agent)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# -- category, escalation, resolution --------------------------------------------------------------


@lru_cache(maxsize=1)
def _category_patterns() -> dict[str, list[tuple[re.Pattern[str], float]]]:
    return {
        cat: [(re.compile(p), w) for p, w in words.items()]
        for cat, words in lexicon.CATEGORY_KEYWORDS.items()
    }


def categorize(segs: list[Segment], issue_turns: set[int]) -> str:
    """Keyword score per category; the customer's opening problem statement counts most."""
    scores = dict.fromkeys(_category_patterns(), 0.0)
    for seg in segs:
        weight = 3.0 if seg.turn in issue_turns else (1.0 if seg.role == "customer" else 0.5)
        for cat, patterns in _category_patterns().items():
            scores[cat] += weight * sum(w for p, w in patterns if p.search(seg.low))
    best = max(scores, key=lambda c: scores[c])
    return best if scores[best] >= 3.0 else "other"


def is_escalated(segs: list[Segment]) -> bool:
    return any(p.search(s.low) for s in segs if s.role == "agent" for p in lexicon.ESCALATED)


def is_resolved(segs: list[Segment], escalated: bool, end_sentiment: str) -> bool:
    """Handled during the call: signs of completion outweigh signs of something still to come.

    How the customer sounds at the end counts as one more sign either way: satisfied customers
    rarely leave with their problem open, and angry ones rarely leave with it solved.
    """
    if escalated:
        return False
    pending = sum(w * len(p.findall(s.low)) for s in segs for p, w in lexicon.PENDING)
    done = sum(w * len(p.findall(s.low)) for s in segs for p, w in lexicon.DONE)
    done += 1.0 if end_sentiment == "Positive" else 0.0
    pending += 1.0 if end_sentiment == "Negative" else 0.0
    return done > 0 and done >= pending


# -- lines of the summary ----------------------------------------------------------------------------


def _topic_score(low: str) -> float:
    """How strongly a clause names a customer-care topic (its best category's keyword weight)."""
    return max(sum(w for p, w in patterns if p.search(low)) for patterns in _category_patterns().values())


def issue_segments(segs: list[Segment], allowed_ids: set[str]) -> list[int]:
    """Indices of the customer's first problem statement: the best clause of their first turns,
    with the clause after it when both are short and the second one still names the problem."""
    customer_turns = sorted({s.turn for s in segs if s.role == "customer"})[:3]
    best: tuple[float, int] | None = None
    for i, seg in enumerate(segs):
        if seg.role != "customer" or seg.turn not in customer_turns:
            continue
        words = len(seg.low.split())
        if words < 4 or _GREETING_ONLY.match(seg.low) or (seg.low.rstrip().endswith("?") and words < 6):
            continue
        if has_pii(seg.text, allowed_ids):
            continue
        rank = customer_turns.index(seg.turn)
        score = 2.0 * len(_PROBLEM.findall(seg.low)) + _topic_score(seg.low) - 2.0 * rank - 0.01 * i
        if best is None or score > best[0]:
            best = (score, i)
    if best is None:
        fallback = [
            i
            for i, s in enumerate(segs)
            if s.role == "customer" and len(s.low.split()) >= 3 and not has_pii(s.text, allowed_ids)
        ]
        return fallback[:1]
    chosen = [best[1]]
    nxt = best[1] + 1
    if (
        len(segs[best[1]].low.split()) < 12
        and nxt < len(segs)
        and segs[nxt].turn == segs[best[1]].turn
        and len(segs[nxt].low.split()) < 20
        and (_PROBLEM.search(segs[nxt].low) or _topic_score(segs[nxt].low) > 0)
        and not has_pii(segs[nxt].text, allowed_ids)
    ):
        chosen.append(nxt)
    return chosen


def _similar(a: str, b: str) -> bool:
    ta, tb = set(re.findall(r"[a-z0-9$.]+", a.lower())), set(re.findall(r"[a-z0-9$.]+", b.lower()))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


def _add(lines: list[str], line: str, limit: int) -> None:
    if line and len(lines) < limit and not any(_similar(line, x) for x in lines):
        lines.append(line)


def _continue(clause: str) -> str:
    """A sentence joined onto the previous one starts lower case (but "I" and acronyms stay)."""
    first = clause.split(" ", 1)[0]
    return clause if first == "I" or first[1:2].isupper() else clause[:1].lower() + clause[1:]


def _as_line(seg: Segment) -> str:
    return tidy(third_person(seg.text, seg.role))


def classify_lines(segs: list[Segment], allowed_ids: set[str]) -> tuple[list[str], list[str], set[int]]:
    """(action_items, next_steps, indices used): commitments of the company vs. what comes next."""
    actions: list[str] = []
    steps: list[str] = []
    used: set[int] = set()
    for i, seg in enumerate(segs):
        if seg.low.rstrip().endswith("?") or has_pii(seg.text, allowed_ids):
            continue
        if seg.role == "agent":
            if any(p.search(seg.low) for p in lexicon.ACTION) and not _RECOMMEND.search(seg.low):
                _add(actions, _as_line(seg), MAX_ITEMS["action_items"])
                used.add(i)
            elif any(p.search(seg.low) for p in lexicon.NEXT_STEP) or _RECOMMEND.search(seg.low):
                _add(steps, _as_line(seg), MAX_ITEMS["next_steps"])
                used.add(i)
        elif lexicon.CUSTOMER_COMMITMENT.search(seg.low):
            _add(steps, _as_line(seg), MAX_ITEMS["next_steps"])
            used.add(i)
    return actions, steps, used


def key_details(segs: list[Segment], skip: set[int], allowed_ids: set[str]) -> list[str]:
    """Clauses carrying amounts, dates, figures or causes, in call order."""
    scored: list[tuple[float, int]] = []
    for i, seg in enumerate(segs):
        if i in skip or len(seg.low.split()) < 5 or seg.low.rstrip().endswith("?"):
            continue
        if seg.role == "agent" and _AGENT_CUES.search(seg.low):  # the greeting, not a fact of the case
            continue
        if has_pii(seg.text, allowed_ids):
            continue
        line = tidy(seg.text)
        score = 2.0 * line.count("$") + 1.5 * len(_DATE.findall(line)) + 0.5 * bool(_CAUSE.search(line))
        score += 1.0 * len(re.findall(r"\b\d+(?:\.\d+)?\b", re.sub(r"\$[\d,.]+", "", line)))
        score += 0.5 * len(_SMALL_NUMBER.findall(line))
        if score >= 1.5:
            scored.append((score, i))
    best = sorted(sorted(scored, reverse=True)[: MAX_ITEMS["key_details"] + 2], key=lambda x: x[1])
    lines: list[str] = []
    for _, i in best:
        _add(lines, _as_line(segs[i]), MAX_ITEMS["key_details"])
    return lines


def analyze(transcript: Transcript, call_date: str) -> dict[str, Any]:
    """The summary dict of one call (not yet validated)."""
    roles = assign_roles(transcript)
    segs = _segments(transcript, roles)
    if not segs:
        raise SummaryFailed("transcript has no speech to summarize")
    texts = [(r, t.text or "") for r, t in zip(roles, transcript.turns, strict=True)]
    # the agent's own turns first; any turn only where the speaker introduces themselves as the agent
    agent_turns = [t for r, t in texts if r == "agent"]
    agent_id = find_agent_id(agent_turns, own=True) or find_agent_id([t for _, t in texts])
    customer_id = find_customer_id(texts)
    allowed = {customer_id} if customer_id else set()

    issue = issue_segments(segs, allowed)
    issue_turns = {segs[i].turn for i in issue}
    actions, steps, used = classify_lines(segs, allowed)
    used.update(issue)
    if issue:
        clauses = [segs[i].text.rstrip(" .;,") for i in issue]
        spoken = ", ".join([clauses[0], *map(_continue, clauses[1:])])
        issue_line = tidy(third_person(spoken, "customer"), max_words=45)
    else:
        issue_line = "The customer's reason for calling was not stated."
    escalated = is_escalated(segs)
    overall, customer_tone, agent_tone = sentiments(
        [t for r, t in texts if r == "customer"], [t for r, t in texts if r == "agent"]
    )
    return {
        "call_date": call_date,
        "issue_sentence": issue_line,
        "key_details": key_details(segs, used, allowed),
        "action_items": actions,
        "next_steps": steps,
        "sentiment": overall,
        "customer_sentiment": customer_tone,
        "agent_sentiment": agent_tone,
        "agent_id": agent_id,
        "customer_id": customer_id,
        "category": categorize(segs, issue_turns),
        "resolved": is_resolved(segs, escalated, overall),
        "escalated": escalated,
    }


class OfflineAnalyzer:
    """SummaryBackend without a model: rules, a sentiment lexicon and the spoken-number parser.

    It uses no prompt; its prompt_version names the summary contract (schema) it writes.
    """

    name = "offline"

    def __init__(self, prompt_version: str = "v1") -> None:
        self.prompt_version = prompt_version
        self.model_id = f"callcare-offline-analyzer-{ANALYZER_VERSION}"

    def summarize(self, transcript: Transcript, call_date: str) -> SummaryResult:
        summary = analyze(transcript, call_date)
        try:
            validate_summary(summary, self.prompt_version)
        except SummaryInvalid as exc:  # a bug in the rules, not in the call: retrying will not help
            raise SummaryFailed(f"offline analyzer produced an invalid summary: {exc}") from exc
        return SummaryResult(
            summary=summary,
            backend=self.name,
            model_id=self.model_id,
            prompt_version=self.prompt_version,
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
        )
