"""Sentence handling for the offline analyzer: splitting, third-person rewriting and a PII screen.

Reference scripts and Amazon Transcribe give punctuated sentences; pocketsphinx gives one lowercase
run of words per turn. `segments` cuts both into clause-sized pieces, so every extractor sees
units of about a sentence either way.
"""

from __future__ import annotations

import re

from callcare.summarization.offline.spoken_ids import read_id, tokenize
from callcare.summarization.offline.spoken_numbers import normalize_numbers

MAX_SEGMENT_WORDS = 32
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=\S)|\s*(?:—|\.\.\.)\s*")
# where a new clause usually starts in unpunctuated speech
_CLAUSE_STARTS = {
    "i've", "i'll", "i'm", "you'll", "we'll", "we've", "please", "okay", "so", "but", "also",
    "unfortunately", "actually", "yes", "no", "alright", "great", "perfect", "thanks", "thank", "once",
    "if", "until", "then",
}  # fmt: skip
_LEADING_FILLER = re.compile(
    r"^(?:(?:and|so|but|okay|ok|alright|all right|well|yes|yeah|no|great|perfect|sure|right|also|now|oh"
    r"|um|uh|hi|hello|hey)\b[\s,]*)+",
    re.I,
)


def is_punctuated(text: str) -> bool:
    return bool(re.search(r"[.?!]", text))


def _split_unpunctuated(text: str) -> list[str]:
    words = text.split()
    out: list[list[str]] = [[]]
    for w in words:
        current = out[-1]
        starts_clause = w.lower() in _CLAUSE_STARTS and len(current) >= 3
        if starts_clause or len(current) >= MAX_SEGMENT_WORDS:
            out.append([])
        out[-1].append(w)
    return [" ".join(ws) for ws in out if ws]


def segments(text: str) -> list[str]:
    """Sentences of punctuated text; clause-sized runs of unpunctuated text."""
    text = text.strip()
    if not text:
        return []
    if not is_punctuated(text):
        return _split_unpunctuated(text)
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    out: list[str] = []
    for p in parts:
        out.extend(_split_unpunctuated(p) if len(p.split()) > 2 * MAX_SEGMENT_WORDS else [p])
    return out


_PRESENT_3RD = {
    "have": "has", "do": "does", "don't": "doesn't", "need": "needs", "want": "wants", "think": "thinks",
    "know": "knows", "see": "sees", "get": "gets", "go": "goes", "like": "likes", "live": "lives",
    "work": "works", "pay": "pays", "use": "uses", "try": "tries", "feel": "feels", "hope": "hopes",
    "understand": "understands", "take": "takes", "make": "makes", "owe": "owes", "believe": "believes",
}  # fmt: skip
_SUBJECT_FORMS = [  # (spoken form, third-person singular form, plural form used after the first mention)
    (r"i'm", "{who} is", "they are"),
    (r"i am", "{who} is", "they are"),
    (r"i was", "{who} was", "they were"),
    (r"i've", "{who} has", "they have"),
    (r"i have", "{who} has", "they have"),
    (r"i'd", "{who} would", "they would"),
    (r"i'll", "{who} will", "they will"),
    (r"i will", "{who} will", "they will"),
    (r"i", "{who}", "they"),
]
_YOU_VERB = re.compile(r"\byou (" + "|".join(map(re.escape, _PRESENT_3RD)) + r")\b", re.I)
_SUBJECT = re.compile(r"\b(" + "|".join(f for f, _, _ in _SUBJECT_FORMS) + r")\b(\s+(\S+))?", re.I)


def third_person(text: str, speaker: str) -> str:
    """Rewrite a first-person line as reported speech about `speaker` ("customer" or "agent").

    "I've refunded your charge" said by the agent becomes "the agent has refunded the customer's
    charge"; the customer's "I think my card..." becomes "the customer thinks their card...".
    """
    who = f"the {speaker}"
    mentioned = False

    def subject(m: re.Match[str]) -> str:
        nonlocal mentioned
        form = m.group(1).lower()
        verb = m.group(3) or ""
        for spoken, singular, plural in _SUBJECT_FORMS:
            if form == spoken:
                if mentioned:
                    head = plural
                else:
                    head = singular.format(who=who)
                    if spoken == "i" and verb.lower() in _PRESENT_3RD:
                        verb = _PRESENT_3RD[verb.lower()]
                mentioned = True
                return head + (m.group(2)[: -len(m.group(3))] + verb if m.group(3) else "")
        return m.group(0)

    out = _SUBJECT.sub(subject, text)
    out = re.sub(r"\bmy\b", "their", out, flags=re.I)
    out = re.sub(r"\bme\b", "them", out, flags=re.I)
    out = re.sub(r"\bmyself\b", "themselves", out, flags=re.I)
    # "you" is the customer when the agent speaks, and the company when the customer does
    other = "the customer" if speaker == "agent" else "the company"
    out = re.sub(r"\byou'll\b", f"{other} will", out, flags=re.I)
    out = re.sub(r"\byou've\b", f"{other} has", out, flags=re.I)
    out = re.sub(r"\byou'd\b", f"{other} would", out, flags=re.I)
    out = re.sub(r"\byou're\b|\byou are\b", f"{other} is", out, flags=re.I)
    out = re.sub(r"\byour\b", f"{other}'s", out, flags=re.I)
    out = _YOU_VERB.sub(lambda m: f"{other} {_PRESENT_3RD.get(m.group(1).lower(), m.group(1))}", out)
    out = re.sub(r"\byou\b", other, out, flags=re.I)
    if speaker == "agent":
        out = re.sub(r"\bwe'll\b", "the company will", out, flags=re.I)
        out = re.sub(r"\bwe've\b", "the company has", out, flags=re.I)
        out = re.sub(r"\bwe're\b", "the company is", out, flags=re.I)
    return out


def tidy(text: str, max_words: int = 40) -> str:
    """Figures for spoken numbers, no leading fillers, capitalised, one final full stop."""
    text = normalize_numbers(text.strip())
    text = _LEADING_FILLER.sub("", text).strip(" ,;:-")
    words = text.split()
    if len(words) > max_words:
        text = " ".join(words[:max_words]) + " ..."
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    text = re.sub(r"\s+([,.?!])", r"\1", text)
    return text if text[-1] in ".?!" else text + "."


_EMAIL = re.compile(r"@|\b(at|@)\s+[a-z0-9 ]{1,30}?\s+dot\s+(com|net|org|edu|gov|co|io|us|uk)\b", re.I)
_PII_WORDS = re.compile(
    r"\b(social security|social is|ssn|date of birth|birthday|born on|card number|security code|cvv|"
    r"pin number|routing number|mother'?s maiden|mailing address|street address|home address|my address)\b",
    re.I,
)
_ADDRESS = re.compile(
    r"\b\d+\s+([a-z]+\s+){1,3}(street|st|avenue|ave|road|rd|court|ct|lane|ln|drive|dr|boulevard|blvd|way|"
    r"place|terrace|circle|parkway)\b",
    re.I,
)


def has_pii(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether a line may carry personal data: email, card/SSN/phone-length number, address, DOB.

    `allowed` holds values (the extracted customer ID) that may appear although long.
    """
    if _EMAIL.search(text) or _PII_WORDS.search(text) or _ADDRESS.search(normalize_numbers(text)):
        return True
    tokens = tokenize(text)
    k = 0
    digits_in_row = 0
    while k < len(tokens):
        reading = read_id(tokens, k)
        if reading is None:
            k += 1
            digits_in_row = 0
            continue
        if reading.value not in allowed:
            digits_in_row += reading.digits
            if reading.digits >= 7 or digits_in_row >= 9:
                return True
        k = reading.end
    return False
