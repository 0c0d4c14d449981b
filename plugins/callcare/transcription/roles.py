"""Who is the agent and who is the customer.

Two-channel recordings answer it by wiring (the settings say which channel is the agent's). On
mono recordings the engine only knows speaker labels, so each label is scored on what its speaker
says: agents greet with the company's name, offer help, ask for identifiers, put callers on hold
and wrap up; customers describe problems with their own things and ask for what they want. The
cue phrases are generic contact-centre phrasing, matched on lowercase words without punctuation
so that raw ASR output (pocketsphinx, Transcribe without punctuation) scores like clean text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from callcare.core.transcript import AGENT, CUSTOMER, UNKNOWN, Transcript

# How much evidence makes a confident call: a margin of CONFIDENCE_SCALE gives 0.63, twice that 0.86.
CONFIDENCE_SCALE = 3.0
# Inbound calls are answered by the agent; worth a small nudge, not more than a single cue.
FIRST_SPEAKER_PRIOR = 0.5
# A cue repeated many times (a customer saying "my account" ten times) should not drown the rest.
MAX_HITS_PER_CUE = 3

_CONTRACTIONS = {
    "i'm": "i am",
    "i'd": "i would",
    "i've": "i have",
    "i'll": "i will",
    "you're": "you are",
    "you've": "you have",
    "you'll": "you will",
    "you'd": "you would",
    "we're": "we are",
    "we've": "we have",
    "we'll": "we will",
    "it's": "it is",
    "that's": "that is",
    "there's": "there is",
    "let's": "let us",
    "can't": "cannot",
    "won't": "will not",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "wasn't": "was not",
    "haven't": "have not",
    "hasn't": "has not",
    "couldn't": "could not",
    "wouldn't": "would not",
}

_THINGS = (
    r"(account|bill|billing|card|order|package|delivery|payment|subscription|plan|service|internet|phone"
    r"|policy|claim|appointment|reservation|booking|flight|refund|password|balance|statement|invoice"
    r"|car|home|house|device|router|app|money|deposit|loan|prescription|coverage)"
)

# (pattern, weight). Patterns run on normalized text: lowercase, contractions expanded, no punctuation.
AGENT_CUES: tuple[tuple[str, float], ...] = (
    (r"\bthanks? (you )?for calling\b", 3.0),
    (r"\b(you are|you have) (speaking|talking) (with|to)\b", 3.0),
    (r"\byou have reached\b", 2.5),
    (r"\bhow (can|may|could) i (help|assist)\b", 3.0),
    (r"\bwhat can i (do|help)\b", 2.0),
    (r"\bhow can we help\b", 2.0),
    (r"\bagent (id|number)\b", 2.0),
    (r"\b(can|could|may) i (have|get|confirm|verify|ask for) (your|the)\b", 2.0),
    (
        r"\bwhat is (your|the) (account|member|policy|order|case|claim|confirmation|phone|zip)"
        r" (number|code|id)\b",
        2.0,
    ),
    (r"\b(verify|confirm) (your|the|a few)\b", 1.5),
    (r"\bfor (security|verification)( purposes)?\b", 2.0),
    (r"\blet me (check|look|see|pull|take a look|verify|confirm|transfer|get|find|review|go ahead)\b", 2.0),
    (r"\b(one|just a) (moment|second|minute)\b", 1.0),
    (r"\b(bear with me|please hold|place you on hold|put you on (a brief )?hold)\b", 2.0),
    (r"\b(thank you|thanks) for (holding|waiting|your patience|being patient)\b", 2.5),
    (
        r"\bi (can|will) (help|assist|take care|set that up|send|issue|process|schedule|book"
        r"|transfer|escalate)\b",
        1.5,
    ),
    (
        r"\bi (have|went ahead and|have gone ahead and) (updated|processed|issued|submitted|escalated"
        r"|credited|reset|sent|scheduled|booked|cancelled|canceled|added|applied|removed|refunded|noted|opened|filed)\b",
        2.0,
    ),
    (r"\bi (see|can see) (that )?(your|the|a|there)\b", 1.5),
    (r"\b(on|in) (your|the) (file|account|system|record|records)\b", 1.0),
    (r"\b(in|on) our (system|records|end)\b", 1.5),
    (r"\byou (will|should) (receive|get|see)\b", 1.5),
    (r"\b(reference|confirmation|ticket|case) number (is|for)\b", 1.5),
    (r"\b(is there )?anything else (i can|that i can|we can)\b", 3.0),
    (r"\bsorry for the (inconvenience|trouble|wait|delay)\b", 1.5),
    (r"\bi (apologize|understand your frustration|completely understand)\b", 1.5),
    (r"\bi am sorry to hear\b", 1.5),
    (r"\bhave a (great|good|nice|wonderful|lovely) (day|evening|afternoon|weekend|one)\b", 1.0),
    (r"\bthank you for (your|being a) (business|loyalty|customer|member)\b", 2.5),
    (r"\b(mr|mrs|ms|miss|sir|madam|maam)\b", 1.0),
)

CUSTOMER_CUES: tuple[tuple[str, float], ...] = (
    (r"\bi (have|had|got) (a|an|some) (problem|question|issue|complaint)\b", 2.5),
    (r"\bi am having (a |an |some )?(problem|problems|trouble|issue|issues)\b", 2.5),
    (r"\bi am calling (about|because|to|regarding|for)\b", 3.0),
    (r"\bi (called|was calling) (about|because|yesterday|last|earlier|before)\b", 2.0),
    (r"\bi (would like|want|wanted|need|needed) to\b", 1.5),
    (r"\bi (would like|want|need) (a|an|my|the|some)\b", 1.0),
    (rf"\bmy {_THINGS}\b", 1.0),
    (r"\b(it|the app|the website|the site|it just) (says|said|keeps|kept|will not|does not|did not)\b", 1.0),
    (r"\b(does not|did not|is not|stopped|not) work(ing|s)?\b", 1.0),
    (r"\bi (was|got|have been) (charged|billed|overcharged|double charged)\b", 2.0),
    (r"\bi (did not|never) (make|authorize|order|receive|get|sign up)\b", 2.0),
    (r"\bi (cannot|can not|could not|was not able to) (log|get|access|find|pay|see|use)\b", 1.5),
    (r"\bcan you (help|tell|check|send|cancel|refund|fix|look|explain|change|move)\b", 1.5),
    (
        r"\b(could|would) you (please )?(help|tell|check|send|cancel|refund|fix|look|explain|change|move)\b",
        1.0,
    ),
    (r"\bhow long (will|does|is|do)\b", 1.0),
    (r"\bwhy (was|did|is|am|do|does)\b", 0.5),
    (r"\bi (already|just) (tried|did|called|paid|sent|checked)\b", 1.5),
    (r"\bthank you (so|very) much\b", 0.5),
    (r"\byou have been (very |so |really )?(helpful|great)\b", 2.0),
    (r"\bthat (is|was) (ridiculous|unacceptable|frustrating)\b", 1.5),
    (r"\bi have been (waiting|trying|on hold)\b", 2.0),
)

_AGENT_RE = [(re.compile(p), w) for p, w in AGENT_CUES]
_CUSTOMER_RE = [(re.compile(p), w) for p, w in CUSTOMER_CUES]


@dataclass(frozen=True)
class SpeakerRole:
    speaker: str
    role: str
    confidence: float
    agent_score: float = 0.0
    customer_score: float = 0.0


def normalize(text: str) -> str:
    """Lowercase words without punctuation, contractions spelled out: the shape ASR gives."""
    text = text.lower().replace("\u2019", "'")
    words = re.findall(r"[a-z0-9']+", text)
    return " ".join(_CONTRACTIONS.get(w, w.replace("'", "")) for w in words)


def cue_scores(text: str) -> tuple[float, float]:
    """(agent, customer) evidence in one speaker's words."""
    norm = normalize(text)
    agent = sum(w * min(len(rx.findall(norm)), MAX_HITS_PER_CUE) for rx, w in _AGENT_RE)
    customer = sum(w * min(len(rx.findall(norm)), MAX_HITS_PER_CUE) for rx, w in _CUSTOMER_RE)
    return agent, customer


def _confidence(margin: float) -> float:
    return round(1.0 - math.exp(-abs(margin) / CONFIDENCE_SCALE), 4)


def score_speakers(
    transcript: Transcript, *, first_speaker_prior: float = FIRST_SPEAKER_PRIOR
) -> dict[str, SpeakerRole]:
    """A role and a confidence for every speaker label, from the words alone."""
    texts: dict[str, list[str]] = {}
    for turn in sorted(transcript.turns, key=lambda t: t.start):
        if turn.text:
            texts.setdefault(turn.speaker, []).append(turn.text)
    for turn in transcript.turns:
        texts.setdefault(turn.speaker, [])
    if not texts:
        return {}
    scores = {speaker: cue_scores(" ".join(parts)) for speaker, parts in texts.items()}
    first = next(iter(texts))  # insertion order is time order of first words
    net = {
        s: a - c + (first_speaker_prior if s == first and texts[s] else 0.0) for s, (a, c) in scores.items()
    }

    if len(net) == 1:
        # One label for the whole call: both parties are in it, so no role can be given to it.
        (speaker,) = net
        return {speaker: SpeakerRole(speaker, UNKNOWN, 0.0, *scores[speaker])}

    ranked = sorted(net, key=lambda s: net[s], reverse=True)
    agent = ranked[0]
    runner_up = net[ranked[1]]
    result = {agent: SpeakerRole(agent, AGENT, _confidence(net[agent] - runner_up), *scores[agent])}
    if net[agent] == runner_up:
        # No evidence either way: say so rather than guess.
        return {s: SpeakerRole(s, UNKNOWN, 0.0, *scores[s]) for s in net}
    for speaker in ranked[1:]:
        margin = net[agent] - net[speaker]
        if len(net) > 2 and net[speaker] >= CONFIDENCE_SCALE and net[speaker] > 0:
            # A second voice with strong agent cues (a supervisor after a transfer) is an agent too.
            result[speaker] = SpeakerRole(speaker, AGENT, _confidence(net[speaker]), *scores[speaker])
        elif len(net) > 2 and net[speaker] > 0:
            result[speaker] = SpeakerRole(speaker, UNKNOWN, 0.0, *scores[speaker])
        else:
            result[speaker] = SpeakerRole(speaker, CUSTOMER, _confidence(margin), *scores[speaker])
    return result


def _by_channel(transcript: Transcript, agent_channel: int) -> dict[str, SpeakerRole] | None:
    """Wiring decides for channel labels (ch_N); None when the labels are not channels."""
    speakers = {t.speaker for t in transcript.turns}
    if not speakers or not all(re.fullmatch(r"ch_\d+", s) for s in speakers):
        return None
    agent_label = f"ch_{agent_channel}"
    return {s: SpeakerRole(s, AGENT if s == agent_label else CUSTOMER, 1.0) for s in speakers}


def assign_roles(
    transcript: Transcript,
    agent_channel: int | None,
    *,
    first_speaker_prior: float = FIRST_SPEAKER_PRIOR,
) -> Transcript:
    """A copy of the transcript with every turn's role set and role_confidence filled.

    role_confidence is the weakest of the per-speaker confidences: one wrong label is enough to
    make the transcript's roles wrong.
    """
    roles: Mapping[str, SpeakerRole] | None = None
    if transcript.channels >= 2 and agent_channel is not None:
        roles = _by_channel(transcript, agent_channel)
    if roles is None:
        roles = score_speakers(transcript, first_speaker_prior=first_speaker_prior)
    turns = [
        replace(t, role=roles[t.speaker].role if t.speaker in roles else UNKNOWN) for t in transcript.turns
    ]
    confidence = min((r.confidence for r in roles.values()), default=None)
    return replace(transcript, turns=turns, role_confidence=confidence)
