"""Spoken IDs: the agent's ID and the customer's account/member/policy/case/booking number.

People read IDs letter by letter and digit by digit ("A-G-T four four one two", "U I two six four
four one eight"), and speech-to-text writes them as separate lowercase words ("a g t four four
one two") or, with Amazon Transcribe, as figures ("AGT 4412"). An ID is found by what is asked or
announced just before it ("agent ID", "what's your policy number?"), never by its shape alone, so
a card number, SSN or phone number read out elsewhere in the call is not taken for one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callcare.summarization.offline.spoken_numbers import DIGIT_WORDS, REPEATERS

# "for four one two" after "a g t": words speech-to-text confuses with digits, only inside a reading
_HOMOPHONES = {"for": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
_BREAK = "."  # sentence end, ellipsis or dash: an ID reading never continues across one

_AGENT_WORDS = {"agent", "employee", "operator", "representative", "rep", "associate", "badge", "staff"}
_ID_WORDS = {"id", "number", "code", "badge"}
# whose record a number names: the customer's own (identity) or one created during the call
_IDENTITY_NOUNS = {
    "account", "member", "membership", "policy", "customer", "client", "patient", "subscriber",
    "booking", "reservation", "order", "file", "case", "reference", "record", "contract", "loan",
    "invoice", "student", "locator", "policyholder",
}  # fmt: skip
_CREATED_NOUNS = {"ticket", "claim", "confirmation", "tracking", "incident", "request", "complaint"}
_NUMBER_NOUNS = {"number", "id", "code", "reference", "no", "locator", "numbers"}
_FILLERS = {
    "is", "it's", "its", "was", "my", "the", "your", "our", "number", "uh", "um", "it", "that's",
    "that", "okay", "ok", "sure", "yes", "yeah", "of", "on", "here", "says", "reads", "be", "should",
}  # fmt: skip
MIN_CUSTOMER_ID = 6
MAX_ID = 20


@dataclass(frozen=True)
class Token:
    text: str  # lower case; _BREAK for sentence punctuation
    kind: str  # "letter" | "digit" | "alnum" | "word" | "break"


_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?|\.\.\.|[.?!;:…—]")


def tokenize(text: str) -> list[Token]:
    """Words, with sentence punctuation as breaks; commas and hyphens vanish ("A-G-T" is three letters)."""
    # "A. G. T." and ASR's "a. g. t." spell letters, they do not end sentences
    text = re.sub(r"\b([A-Za-z])\.(?=\s+[a-z0-9]|\s*[A-Za-z]\b|-)", r"\1 ", text)
    out: list[Token] = []
    for m in _TOKEN.finditer(text):
        t = m.group(0)
        low = t.lower()
        if not t[0].isalnum():
            out.append(Token(_BREAK, "break"))
        elif len(t) == 1 and t.isalpha():
            out.append(Token(low, "letter"))
        elif low in DIGIT_WORDS or t.isdigit():
            out.append(Token(low, "digit"))
        elif any(c.isdigit() for c in t) and t.isalnum():
            out.append(Token(low, "alnum"))
        else:
            out.append(Token(low, "word"))
    return out


@dataclass(frozen=True)
class Reading:
    value: str  # upper case letters and digits, no separators
    start: int
    end: int  # token index after the reading
    letters: int
    digits: int


def _digit(tok: Token) -> str:
    return tok.text if tok.text.isdigit() else str(DIGIT_WORDS[tok.text])


def read_id(tokens: Sequence[Token], i: int, allow_short_word: bool = False) -> Reading | None:
    """The letter/digit reading that starts at tokens[i], or None.

    `allow_short_word` accepts a 2-4 letter word as letters when digits follow ("agt four four one
    two"), which is how an engine writes a spelled prefix it knows as a word.
    """
    parts: list[str] = []
    j, repeat = i, 1
    n = len(tokens)

    def is_digitish(k: int) -> bool:
        return k < n and tokens[k].kind in ("digit", "alnum")

    while j < n:
        tok = tokens[j]
        nxt_digit = is_digitish(j + 1)
        if (
            tok.kind == "word"
            and tok.text in REPEATERS
            and j + 1 < n
            and tokens[j + 1].kind in ("digit", "letter")
        ):
            repeat = REPEATERS[tok.text]
        elif tok.kind == "digit":
            parts.append(_digit(tok) * (repeat if len(tok.text) == 1 or not tok.text.isdigit() else 1))
            repeat = 1
        elif tok.kind == "alnum":
            parts.append(tok.text.upper())
        elif tok.kind == "letter" and tok.text == "o" and parts and parts[-1][-1].isdigit() and nxt_digit:
            parts.append("0" * repeat)  # "five o five": the letter O said for zero
            repeat = 1
        elif tok.kind == "letter":
            parts.append(tok.text.upper() * repeat)
            repeat = 1
        elif tok.kind == "word" and tok.text == "oh" and parts and (parts[-1][-1].isdigit() or nxt_digit):
            parts.append("0")
        elif tok.kind == "word" and tok.text in _HOMOPHONES and parts and nxt_digit:
            parts.append(_HOMOPHONES[tok.text])
        elif allow_short_word and not parts and tok.kind == "word" and 2 <= len(tok.text) <= 4 and nxt_digit:
            parts.append(tok.text.upper())
        else:
            break
        j += 1
    # a trailing "a" or "I" followed by more words is an article or a pronoun, not part of the ID
    while parts and parts[-1] in ("A", "I") and j < n and tokens[j].kind == "word":
        parts.pop()
        j -= 1
    value = "".join(parts)
    if not value:
        return None
    digits = sum(c.isdigit() for c in value)
    return Reading(value, i, j, len(value) - digits, digits)


def _find_phrase(tokens: Sequence[Token], first: set[str], second: set[str]) -> list[int]:
    """Indices just after every "<first> <second>" pair, accepting "i d" for "id"."""
    hits = []
    for k, tok in enumerate(tokens[:-1]):
        if tok.text not in first:
            continue
        nxt = tokens[k + 1].text
        if nxt in second:
            hits.append(k + 2)
        elif "id" in second and nxt == "i" and k + 2 < len(tokens) and tokens[k + 2].text == "d":
            hits.append(k + 3)
    return hits


def _after_fillers(tokens: Sequence[Token], k: int, limit: int = 4) -> int:
    skipped = 0
    while k < len(tokens) and tokens[k].text in _FILLERS and skipped < limit:
        k += 1
        skipped += 1
    return k


def format_agent_id(value: str) -> str:
    """AGT4412 -> AGT-4412: letters, a hyphen, digits; other shapes are kept as read."""
    m = re.fullmatch(r"([A-Z]+)([0-9]+)", value)
    return f"{m.group(1)}-{m.group(2)}" if m else value


def find_agent_id(turn_texts: Sequence[str]) -> str | None:
    """The first ID announced after "agent ID" (or employee/operator/badge number) in any turn."""
    for text in turn_texts:
        tokens = tokenize(text)
        for k in _find_phrase(tokens, _AGENT_WORDS, _ID_WORDS):
            k = _after_fillers(tokens, k, limit=2)
            reading = read_id(tokens, k, allow_short_word=True)
            if reading and reading.digits >= 3 and len(reading.value) <= MAX_ID:
                return format_agent_id(reading.value)
    return None


def _luhn_ok(number: str) -> bool:
    total = 0
    for pos, ch in enumerate(reversed(number)):
        d = int(ch)
        if pos % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def plausible_customer_id(value: str) -> bool:
    """Long enough to identify a record, has digits, and is not a payment card number."""
    if not (MIN_CUSTOMER_ID <= len(value) <= MAX_ID) or sum(c.isdigit() for c in value) < 2:
        return False
    return not (value.isdigit() and 13 <= len(value) <= 19 and _luhn_ok(value))


@dataclass(frozen=True)
class Candidate:
    value: str
    turn: int
    by_customer: bool
    identity: bool  # the customer's own record rather than one created during the call

    @property
    def rank(self) -> tuple[int, int, int]:
        return (0 if self.by_customer else 1, 0 if self.identity else 1, self.turn)


def _first_plausible(tokens: Sequence[Token], start: int = 0) -> Reading | None:
    k = start
    while k < len(tokens):
        reading = read_id(tokens, k)
        if reading:
            if plausible_customer_id(reading.value):
                return reading
            k = reading.end
        else:
            k += 1
    return None


def find_customer_id(turns: Sequence[tuple[str, str]]) -> str | None:
    """The customer's ID from (role, text) turns, or None.

    Numbers the customer gives beat numbers the agent reads out, and the customer's own record
    (account, policy, case...) beats one created during the call (ticket, claim), so "your claim
    number is..." does not replace the policy number the customer gave earlier.
    """
    tokenized = [tokenize(text) for _, text in turns]
    candidates: list[Candidate] = []
    for t, (role, _) in enumerate(turns):
        tokens = tokenized[t]
        for k in _find_phrase(tokens, _IDENTITY_NOUNS | _CREATED_NOUNS, _NUMBER_NOUNS):
            noun = tokens[k - 2].text if tokens[k - 1].text != "d" else tokens[k - 3].text
            identity = noun in _IDENTITY_NOUNS
            start = _after_fillers(tokens, k)
            reading = read_id(tokens, start)
            if reading and plausible_customer_id(reading.value):
                candidates.append(Candidate(reading.value, t, role == "customer", identity))
                continue
            if reading or (start < len(tokens) and tokens[start].kind != "break" and role == "customer"):
                continue  # a reading was cut off, or the sentence goes on: no answer is expected
            # asked, not told: the answer is in the other party's next turns
            for u in range(t + 1, min(t + 3, len(turns))):
                if turns[u][0] == role and role != "unknown":
                    continue
                answer = _first_plausible(tokenized[u])
                if answer:
                    candidates.append(Candidate(answer.value, u, turns[u][0] == "customer", identity))
                    break
    if not candidates:
        return None
    return min(candidates, key=lambda c: c.rank).value
