"""Spoken IDs: the agent's ID and the customer's account/member/policy/order/case number.

People read IDs letter by letter and digit by digit, and speech-to-text writes what it heard in
many forms: figures ("AGT 4412", "AGT-4412", "4-4-1-2"), words ("a g t four four one two"),
mixed ("A G T 4 four 1 2"), groups ("forty-four twelve"), "double four", "triple zero", "oh" for
zero, spelled letters ("A. G. T.", "B as in bravo", "bravo kilo"). An ID is found by what is
asked or announced just before it ("agent ID", "employee number", "what's your account number?"),
never by its shape alone, so a price, date, time, quantity, card or phone number said elsewhere in
the call is not taken for one, and where no ID is introduced the answer is None.

Number words are the `text2num` library's job (`find_numbers`, run over our own tokens: "forty-four
seventeen" -> 44 17, "zero seven" -> 07, "second" flagged as an ordinal). What stays here is what
no number library does, because it is about IDs rather than numbers: that an ID is a *sequence*
of letters and digit groups read one after another (text2num rightly keeps "44 17" two numbers);
"double"/"triple" repeating the next digit or letter; "oh" and the letter O said for zero between
digits; "for"/"to" heard for "four"/"two" inside a reading; spelled letters and the NATO
alphabet; speech-to-text's glued forms ("Agent IDA G T..." is "ID A G T"); and which reading is
an ID (the introducing phrase, a question and its answer, whose record it names).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from text_to_num import find_numbers

from callcare.summarization.offline.spoken_numbers import Text2numView, not_a_scale_number

# "double seven" / "triple zero" repeat the next digit or letter
REPEATERS = {"double": 2, "triple": 3}
# "for four one two" after "a g t": words speech-to-text confuses with digits, only inside a reading
_HOMOPHONES = {"for": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
_NATO = {
    "alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E",
    "foxtrot": "F", "golf": "G", "hotel": "H", "india": "I", "juliet": "J", "juliett": "J",
    "kilo": "K", "lima": "L", "mike": "M", "november": "N", "oscar": "O", "papa": "P",
    "quebec": "Q", "romeo": "R", "sierra": "S", "tango": "T", "uniform": "U", "victor": "V",
    "whiskey": "W", "whisky": "W", "xray": "X", "yankee": "Y", "zulu": "Z",
}  # fmt: skip
# all-capital words that are words, not spelled letters, when speech-to-text writes them
_CAPS_WORDS = {"ID", "OK", "AM", "PM", "TV", "US", "USA", "ATM", "PIN", "SSN", "DOB", "ZIP", "FAQ"}
_BREAK = "."  # sentence end, ellipsis or dash: an ID reading never continues across one

_AGENT_WORDS = {
    "agent", "employee", "operator", "representative", "rep", "associate", "badge", "staff",
    "advisor", "adviser", "specialist", "consultant",
}  # fmt: skip
_ID_WORDS = {"id", "number", "code", "badge", "no"}
# "this is agent 4417": these may be followed by the ID itself, with no "ID" or "number" between
_AGENT_BARE = {"agent", "operator", "representative", "rep", "associate", "badge", "employee"}
# whose record a number names: the customer's own (identity) or one created during the call
_IDENTITY_NOUNS = {
    "account", "acct", "member", "membership", "policy", "customer", "client", "patient",
    "subscriber", "booking", "reservation", "order", "file", "case", "reference", "ref", "record",
    "contract", "loan", "invoice", "student", "locator", "policyholder", "loyalty", "rewards",
}  # fmt: skip
_CREATED_NOUNS = {"ticket", "claim", "confirmation", "tracking", "incident", "request", "complaint"}
_NUMBER_NOUNS = {"number", "id", "code", "reference", "no", "locator", "numbers"}
# a reading after these names something else: a phone, a card, a date, a PIN...
_OTHER_NUMBER_NOUNS = {
    "phone", "cell", "mobile", "telephone", "card", "social", "security", "ssn", "zip", "postal",
    "routing", "pin", "birth", "extension", "ext", "fax", "cvv", "expiry", "expiration",
}  # fmt: skip
# a reading followed by these is an amount or a quantity: "one hundred forty two thousand dollars"
_UNIT_WORDS = {
    "dollars", "dollar", "cents", "bucks", "pounds", "euros", "percent", "units", "items", "pieces",
    "boxes", "minutes", "hours", "days", "weeks", "months", "years", "times", "am", "pm", "kilos",
    "kilograms", "grams", "miles", "gigs", "gigabytes", "people", "calls", "payments", "euro", "pound",
    "cent", "buck", "points", "point", "yen", "rupees", "cars", "nights", "tickets",
}  # fmt: skip
# "the order 5521": a specific record (determiner, possessive, "about"), not "a loan 250000"
_DETERMINERS = {
    "the", "my", "your", "our", "his", "her", "their", "this", "that", "its", "about", "regarding", "re",
}  # fmt: skip
# "want me to", "shall I", "I can": the speaker offers to give the number, not asks for it
_OFFERS = {("me", "to"), ("shall", "i"), ("should", "i"), ("let", "me"), ("i", "can"), ("i", "will")}
# "I'm agent 4417", "this is operator 2210": the speaker introducing themselves
_SELF_INTRO = {("this", "is"), ("i", "am"), ("name", "is"), ("you've", "reached"), ("speaking", "with")}
# a reading after these is a number to reach someone at, not an ID: "send it to 555 123 4567"
_CONTACT_VERBS = {"call", "text", "send", "reach", "ring", "fax", "email", "dial", "phone"}
_LINKING = {"number", "code", "no", "is", "it's", "ends", "ending", "in", "with", "of", "at", "on", "my"}
_FILLERS = {
    "is", "it's", "its", "was", "my", "the", "your", "our", "number", "uh", "um", "it", "that's",
    "that", "okay", "ok", "sure", "yes", "yeah", "of", "on", "here", "says", "reads", "be", "should",
    "and", "so", "well", "right", "er", "ah", "hmm",
}  # fmt: skip
# words before the noun that make the sentence a request for the number, not a statement about it
_ASKING = {
    "what", "what's", "whats", "which", "can", "could", "may", "would", "give", "read", "provide",
    "confirm", "verify", "tell", "do", "does",
}  # fmt: skip
# what may come before the answer to "what's your account number?" at the start of the reply
_ANSWER_LEAD = _FILLERS | _IDENTITY_NOUNS | _NUMBER_NOUNS | {
    "i", "think", "believe", "let", "me", "see", "check", "hmm", "got", "ok", "alright", "please",
}  # fmt: skip
_REQUESTS = {("can", "i"), ("could", "i"), ("may", "i"), ("can", "you"), ("could", "you"), ("would", "you")}
_ASKING_WORDS = {"what", "what's", "whats", "which", "give", "read", "provide", "confirm", "verify", "tell"}
_CORRECTION_LEAD = {"oh", "sorry", "no", "wait", "um", "uh", "actually", "."}
# a number said with these is an amount ("two million", "fifty thousand"), not digits of an ID;
# "hundred" is not among them: "four hundred and twelve" is how people read a group of an ID
_LARGE_SCALES = {"thousand", "million", "billion"}
MIN_CUSTOMER_ID = 6
MAX_ID = 20


@dataclass(frozen=True)
class Token:
    text: str  # lower case (letters, words), the figures (digits), _BREAK or "?" for punctuation
    kind: str  # "letter" | "caps" | "digit" | "alnum" | "word" | "ordinal" | "amount" | "other" | "break"
    comma_before: bool = False


_TOKEN = re.compile(
    r"(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<amount>[$£€]\s?\d[\d,]*(?:\s?\.\d+)?|\d+(?:[.,:/]\d+)+|\d+\s?%|\d+(?:st|nd|rd|th)\b)"
    r"|(?P<word>[A-Za-z0-9]+(?:'[A-Za-z]+)?)"
    r"|(?P<hash>#)"
    r"|(?P<comma>[,:])"  # "Agent ID: ZX-7713": a colon introduces, it does not end a sentence
    r"|(?P<brk>\.\.\.|[.?!;…—])"
)
# "A. G. T.", "a. g. t.", "H .S." and "U.I." spell letters, they do not end sentences
_SPELLED_DOT = re.compile(r"(?<![A-Za-z])([A-Za-z])\s*\.(?=\s+[a-z0-9]|\s*[A-Za-z](?![A-Za-z])|\s*\d|-)")
# "B as in bravo", "S for Sam", "M like Mary": the letter, said twice
_AS_IN = re.compile(r"(?<![A-Za-z'])([A-Za-z])(?:\s*,\s*|\s+)(?:as\s+in|for|like)\s+([A-Za-z]+)\b", re.I)
# speech-to-text glues a spelled letter to "ID" after the noun: "Agent IDA G T 7", "member IDAG4736"
_GLUED_ID = re.compile(
    r"\b((?i:agent|employee|operator|representative|rep|associate|staff|member|customer|client|"
    r"account|patient|subscriber|student)),?\s+ID(?=[A-Z][A-Za-z0-9]*\b)"
)


# "T for two" is T, 4, 2 inside a reading, not the letter T spelled by example
_NOT_EXAMPLES = {
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "to",
    "too",
    "ate",
}


def _unspell(m: re.Match[str]) -> str:
    letter, word = m.group(1), m.group(2)
    # the example is a name ("S for Sam") or a NATO word ("b as in bravo"), not "I like it"
    example = word[0].isupper() or word.lower() in _NATO
    if example and word[0].lower() == letter.lower() and word.lower() not in _NOT_EXAMPLES:
        return letter
    return m.group(0)


class _NumberToken(Text2numView):
    """The view of a token that text2num's find_numbers reads (its Token protocol)."""

    def __init__(self, token: Token, separated: bool, previous: Token | None = None) -> None:
        # a spelled letter is no number word (text2num reads a lone "o" as zero; ours decides),
        # nor a scale word after a figure or a rough size ("2 million", "a couple hundred")
        rough = not_a_scale_number(previous.text if previous else None, token.text)
        wordish = token.kind in ("word", "caps") or token.text == "a"
        self._text = token.text if wordish and not rough else ","
        self._separated = separated


def _raw_tokens(text: str) -> list[Token]:
    text = _GLUED_ID.sub(r"\1 ID ", text)
    text = _AS_IN.sub(_unspell, text)
    text = _SPELLED_DOT.sub(r"\1 ", text)
    text = text.replace("x-ray", "xray").replace("X-ray", "xray")
    out: list[Token] = []
    comma = False
    for m in _TOKEN.finditer(text):
        t = m.group(0)
        if m.lastgroup == "comma":
            comma = True
            continue
        if m.lastgroup == "email":
            tok = Token(t.lower(), "other", comma)
        elif m.lastgroup == "amount":
            tok = Token(t, "ordinal" if t[-1].isalpha() else "amount", comma)
        elif m.lastgroup == "brk":
            tok = Token("?" if t == "?" else _BREAK, "break", comma)
        elif m.lastgroup == "hash":
            tok = Token("number", "word", comma)
        elif t.isdigit():
            tok = Token(t, "digit", comma)
        elif len(t) == 1:
            tok = Token(t.lower(), "letter", comma)
        elif any(c.isdigit() for c in t) and t.isalnum():
            tok = Token(t.lower(), "alnum", comma)
        elif t.isupper() and t.isalpha() and len(t) <= 4 and t not in _CAPS_WORDS:
            tok = Token(t.lower(), "caps", comma)
        else:
            tok = Token(t.lower(), "word", comma)
        out.append(tok)
        comma = False
    return out


def tokenize(text: str) -> list[Token]:
    """Tokens of `text`, number words turned into figures by text2num.

    Commas vanish but keep numbers apart ("forty, four" is 40 and 4, "forty-four" is 44); hyphens
    vanish ("A-G-T" is three letters); sentence punctuation is a break. The digit after "double"
    or "triple" stays its own number, so that "triple zero five" repeats only the zero.
    """
    raw = _raw_tokens(text)
    views = [
        _NumberToken(
            tok, tok.comma_before or (k >= 2 and raw[k - 2].text in REPEATERS), raw[k - 1] if k else None
        )
        for k, tok in enumerate(raw)
    ]
    out: list[Token] = []
    k = 0
    for occ in find_numbers(views, "en", 0):
        out.extend(raw[k : occ.start])
        comma = raw[occ.start].comma_before
        if occ.is_ordinal:
            out.append(Token(occ.text, "ordinal", comma))
        elif occ.text.isdigit() and not _LARGE_SCALES & {t.text for t in raw[occ.start : occ.end]}:
            out.append(Token(occ.text, "digit", comma))
        else:
            # "two point five", "two million", "a hundred thousand": an amount, never ID digits
            out.append(Token(occ.text, "amount", comma))
        k = occ.end
    out.extend(raw[k:])
    return out


@dataclass(frozen=True)
class Reading:
    value: str  # upper case letters and digits, no separators
    start: int
    end: int  # token index after the reading
    letters: int
    digits: int


def _oh_is_zero(tokens: Sequence[Token], j: int, parts: list[str]) -> bool:
    """ "five oh five", "oh seven", "two five oh": zero; "Oh, 4417", "4417, oh" and "441722 oh I
    mean 441723": an interjection. Zero only before a digit or at the end of a sentence."""
    if tokens[j].comma_before:
        return False
    nxt = tokens[j + 1] if j + 1 < len(tokens) else None
    continues = nxt is not None and (nxt.kind in ("digit", "alnum") or nxt.text in {"oh", "o", *REPEATERS})
    if continues and not nxt.comma_before:
        return True  # "four oh oh eight", "oh double seven"
    at_end = nxt is None or nxt.kind == "break"
    return at_end and bool(parts) and parts[-1][-1].isdigit()


def _homophone_is_digit(tokens: Sequence[Token], j: int) -> bool:
    """ "a g t for four one two": "for" is 4 inside a reading. Not right after a comma ("7 7 3 2 1 9,
    for 2 cars"), and not before a single number that ends the reading ("2024 12 24 for two",
    "8 8 2 1 9 4 for 2 years", "2015 to 2019"): that is a quantity or a range, not a digit."""
    if tokens[j].comma_before or j + 1 >= len(tokens) or tokens[j + 1].kind not in ("digit", "alnum"):
        return False
    after = tokens[j + 2] if j + 2 < len(tokens) else None
    return after is not None and (after.kind in ("digit", "alnum", "letter") or after.text in _NATO)


# words that may continue a reading after a number
_READING_WORDS = {"oh", "o", "dash", "hyphen", *REPEATERS, *_HOMOPHONES, *_NATO}


def _new_number_after_comma(tokens: Sequence[Token], j: int, parts: list[str]) -> bool:
    """ "account number is 441722, 2019 was when": after a comma, once the reading is already an
    ID's length, a year or a number the sentence goes on from ("5 5 0 3 1 8, 2 kids on it") starts
    something else; so does a number followed by a unit ("7 7, 2 cars"). "3372, 089, 144" and
    "W, Q, four oh oh eight" stay one reading."""
    tok = tokens[j]
    if not tok.comma_before or tok.kind not in ("digit", "alnum") or not parts:
        return False
    nxt = tokens[j + 1] if j + 1 < len(tokens) else None
    if nxt is not None and nxt.text in _UNIT_WORDS:
        return True
    if len("".join(parts)) < MIN_CUSTOMER_ID:
        return False
    year = len(tok.text) == 4 and tok.text.isdigit() and 1900 <= int(tok.text) <= 2100
    goes_on = nxt is not None and nxt.kind == "word" and nxt.text not in _READING_WORDS
    return year or goes_on


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

    def is_part(k: int) -> bool:
        return k < n and (tokens[k].kind in ("digit", "alnum", "letter") or tokens[k].text in _NATO)

    while j < n:
        tok = tokens[j]
        nxt_digit = is_digitish(j + 1)
        wordish = tok.kind in ("word", "caps")
        if _new_number_after_comma(tokens, j, parts):
            break
        if wordish and tok.text in REPEATERS and j + 1 < n and is_part(j + 1):
            repeat = REPEATERS[tok.text]
        elif tok.kind == "digit":
            parts.append(tok.text * (repeat if len(tok.text) == 1 else 1))
            repeat = 1
        elif tok.kind == "alnum":
            parts.append(tok.text.upper())
        elif tok.kind == "letter" and tok.text == "o" and parts and parts[-1][-1].isdigit() and nxt_digit:
            parts.append("0" * repeat)  # "five o five": the letter O said for zero
            repeat = 1
        elif tok.kind == "letter":
            parts.append(tok.text.upper() * repeat)
            repeat = 1
        elif wordish and tok.text == "oh" and _oh_is_zero(tokens, j, parts):
            parts.append("0" * repeat)
            repeat = 1
        elif wordish and tok.text in ("dash", "hyphen") and parts and is_part(j + 1):
            pass  # "A dash G dash T"
        elif wordish and tok.text in _HOMOPHONES and parts and _homophone_is_digit(tokens, j):
            parts.append(_HOMOPHONES[tok.text])
        elif wordish and tok.text in _NATO and (parts or is_part(j + 1)):
            parts.append(_NATO[tok.text] * repeat)  # "bravo kilo seven", never a lone "delta"
            repeat = 1
        elif (
            not parts
            and (tok.kind == "caps" or (allow_short_word and tok.kind == "word"))
            and 2 <= len(tok.text) <= 4
            and nxt_digit
        ):
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


def _agent_reading(
    tokens: Sequence[Token], k: int, limit: int, allow_short_word: bool = True
) -> Reading | None:
    k = _after_fillers(tokens, k, limit=limit)
    reading = read_id(tokens, k, allow_short_word=allow_short_word)
    if reading and reading.digits >= 3 and len(reading.value) <= MAX_ID and not _is_quantity(tokens, reading):
        return reading
    return None


def _groups(tokens: Sequence[Token], reading: Reading) -> list[str]:
    """The digit groups of a reading as written or said ("1 800 555 1212" -> 1, 800, 555, 1212)."""
    return [t.text for t in tokens[reading.start : reading.end] if t.kind == "digit"]


_TOLL_FREE = {"800", "888", "877", "866", "855", "844", "833"}


def _phone_shaped(tokens: Sequence[Token], reading: Reading) -> bool:
    """ "555 123 4567", "1 800 555 1212", "1 800": a phone number's groups."""
    groups = _groups(tokens, reading)
    lengths = [len(g) for g in groups]
    if lengths[-3:] == [3, 3, 4] and len(groups) in (3, 4):
        return True
    return len(groups) >= 2 and groups[0] == "1" and groups[1] in _TOLL_FREE


def _date_shaped(tokens: Sequence[Token], reading: Reading) -> bool:
    """ "2024 03 15", "1985 07 21", "12 24 2024": a year, a month and a day."""
    groups = _groups(tokens, reading)
    if len(groups) != 3 or reading.letters:
        return False
    n = [int(g) for g in groups]
    if len(groups[0]) == 4 and 1900 <= n[0] <= 2100:
        return 1 <= n[1] <= 12 and 1 <= n[2] <= 31
    return len(groups[2]) == 4 and 1900 <= n[2] <= 2100 and min(n[0], n[1]) >= 1 and max(n[0], n[1]) <= 31


def _year_alone(reading: Reading) -> bool:
    return reading.value.isdigit() and len(reading.value) == 4 and 1900 <= int(reading.value) <= 2100


def _introduces_self(tokens: Sequence[Token], k: int) -> bool:
    """Whether the sentence before tokens[k] is the speaker introducing themselves ("this is",
    "I'm", "my name is Dev, agent")."""
    start, _ = _sentence_bounds(tokens, k)
    texts = [t.text for t in tokens[start:k]]
    pairs = set(itertools.pairwise(texts))
    return "i'm" in texts or bool(pairs & _SELF_INTRO)


def find_agent_id(turn_texts: Sequence[str], own: bool = False) -> str | None:
    """The first ID announced after "agent ID" (or employee/operator/badge number) in any turn.

    `own` says the turns are the agent's own; otherwise an ID right after "agent" with no "ID" or
    "number" between counts only where the speaker introduces themselves ("this is agent 4417").
    """
    for text in turn_texts:
        tokens = tokenize(text)
        for k in _find_phrase(tokens, _AGENT_WORDS, _ID_WORDS):
            reading = _agent_reading(tokens, k, limit=2)
            if reading:
                return format_agent_id(reading.value)
        # "this is agent 4417": the ID right after the word, with no "ID" or "number" between; a
        # prefix only in capitals or spelled letters ("agent in 2021" is no IN-2021), never a year
        # alone ("an employee 2015 to 2019") or a phone number ("the agent at 1 800 555 1212")
        for k, tok in enumerate(tokens[:-1]):
            if tok.text in _AGENT_BARE and (own or _introduces_self(tokens, k)):
                reading = _agent_reading(tokens, k + 1, limit=0, allow_short_word=False)
                if (
                    reading
                    and reading.digits >= 4
                    and not _year_alone(reading)
                    and not _phone_shaped(tokens, reading)
                ):
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
    inferred: bool = False  # the answer to a question rather than a number announced as what it is

    @property
    def rank(self) -> tuple[int, int, int, int]:
        return (0 if self.by_customer else 1, 0 if self.identity else 1, self.turn, int(self.inferred))


def _sentence_bounds(tokens: Sequence[Token], k: int) -> tuple[int, int]:
    """(first index, index of the closing break or len) of the sentence holding tokens[k]."""
    start = k
    while start > 0 and tokens[start - 1].kind != "break":
        start -= 1
    end = k
    while end < len(tokens) and tokens[end].kind != "break":
        end += 1
    return start, end


def _is_request(tokens: Sequence[Token], noun: int, after: int) -> bool:
    """Whether the sentence around the noun asks for the number ("Can I have your account number?",
    "Account number, please.") rather than says something about it ("your reference number will be
    emailed to you")."""
    start, end = _sentence_bounds(tokens, noun)
    # "Do you want me to text the confirmation number to you?" offers, not asks; the last of an
    # offer and a request before the noun decides ("I can check that. Can I have your member ID?")
    before = [t.text for t in tokens[start:noun]]
    offer = request = -1
    for j, word in enumerate(before):
        pair = (word, before[j + 1] if j + 1 < len(before) else "")
        if word == "i'll" or pair in _OFFERS:
            offer = j
        if word in _ASKING_WORDS or pair in _REQUESTS:
            request = j
    if offer > request:
        return False
    if end < len(tokens) and tokens[end].text == "?":
        return True
    if any(t.text in _ASKING for t in tokens[start:noun]):
        return True
    rest = [t for t in tokens[after:end] if t.text not in ("please", "again", "for", "me", "then", "now")]
    return not rest  # the noun ends the sentence: "And the order number."


def _other_number_before(tokens: Sequence[Token], k: int) -> bool:
    """Whether the reading at tokens[k] is introduced as a phone/card/PIN... number ("my cell
    number is", "card ending in"): such a noun, then only linking words up to the reading."""
    start, _ = _sentence_bounds(tokens, k)
    j = k - 1
    while j >= max(start, k - 5) and tokens[j].text in _LINKING:
        j -= 1
    return j >= start and tokens[j].text in _OTHER_NUMBER_NOUNS


def _is_quantity(tokens: Sequence[Token], reading: Reading) -> bool:
    return reading.end < len(tokens) and tokens[reading.end].text in _UNIT_WORDS


def _corrected(tokens: Sequence[Token], reading: Reading) -> Reading:
    """ "441722 oh I mean 441723": a self-correction right after a reading takes the new one."""
    j = reading.end
    while j < len(tokens) and tokens[j].text in _CORRECTION_LEAD:
        j += 1
    if j + 1 < len(tokens) and tokens[j].text == "i" and tokens[j + 1].text == "mean":
        again = read_id(tokens, _after_fillers(tokens, j + 2))
        if again and plausible_customer_id(again.value):
            return _corrected(tokens, again)
    return reading


def _after_contact_verb(tokens: Sequence[Token], k: int) -> bool:
    """ "send it to 555 123 4567", "call me at": a number to reach someone at."""
    start, _ = _sentence_bounds(tokens, k)
    return any(t.text in _CONTACT_VERBS for t in tokens[max(start, k - 5) : k])


def _answer(tokens: Sequence[Token]) -> Reading | None:
    """The ID a sentence of the reply opens or closes with ("Sure, it's 7 7 3 0 1 9 2 4.", "Let me
    see. It's on my card 9 9 2 0 4 4 1 5"), or None: a number said in the middle of the reply, a
    phone number or a date is not the answer to "what's your account number?"."""
    for first in [0] + [j + 1 for j, t in enumerate(tokens) if t.kind == "break"]:
        reading = _sentence_opening(tokens, first) or _sentence_closing(tokens, first)
        if reading is None:
            continue
        if (
            not plausible_customer_id(reading.value)
            or _other_number_before(tokens, reading.start)
            or _after_contact_verb(tokens, reading.start)
            or _is_quantity(tokens, reading)
            or _phone_shaped(tokens, reading)
            or _date_shaped(tokens, reading)
        ):
            return None
        return reading
    return None


def _sentence_closing(tokens: Sequence[Token], first: int) -> Reading | None:
    """The reading that ends the sentence starting at tokens[first], if one does."""
    _, end = _sentence_bounds(tokens, first) if first < len(tokens) else (first, first)
    k = first
    while k < end:
        reading = read_id(tokens, k)
        if reading is None:
            k += 1
            continue
        if reading.end >= end:
            return reading
        k = reading.end
    return None


def _sentence_opening(tokens: Sequence[Token], k: int) -> Reading | None:
    """The reading a sentence opens with, after fillers ("Sure, it's", "Policy is", "Um,")."""
    skipped = 0
    while k < len(tokens) and skipped < 8:
        tok = tokens[k]
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        oh_alone = tok.text == "oh" and (nxt is None or nxt.comma_before or nxt.kind == "break")
        if tok.kind == "break" or (tok.text not in _ANSWER_LEAD and not oh_alone):
            break
        k, skipped = k + 1, skipped + 1
    reading = read_id(tokens, k)
    return _corrected(tokens, reading) if reading else None


def _ends_spelling(text: str) -> bool:
    """Whether a turn stops in the middle of a reading: letters spelled, no digit yet ("It's H. S.")."""
    tokens = [t for t in tokenize(text) if t.kind != "break"]
    return bool(tokens) and tokens[-1].kind == "letter"


def _utterances(turns: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive turns of one role joined, a reading cut by a pause ("It's H. S." then
    "3 3 8 8 1 0") read across the join; any other join is a sentence break."""
    out: list[tuple[str, str]] = []
    for role, text in turns:
        if out and out[-1][0] == role and role != "unknown":
            glue = " " if _ends_spelling(out[-1][1]) else " ; "
            out[-1] = (role, f"{out[-1][1]}{glue}{text}")
        else:
            out.append((role, text))
    return out


def find_customer_id(turns: Sequence[tuple[str, str]]) -> str | None:
    """The customer's ID from (role, text) turns, or None.

    Numbers the customer gives beat numbers the agent reads out, and the customer's own record
    (account, policy, case...) beats one created during the call (ticket, claim), so "your claim
    number is..." does not replace the policy number the customer gave earlier.
    """
    turns = _utterances(turns)
    tokenized = [tokenize(text) for _, text in turns]
    candidates: list[Candidate] = []
    for t, (role, _) in enumerate(turns):
        tokens = tokenized[t]
        for k in _find_phrase(tokens, _IDENTITY_NOUNS | _CREATED_NOUNS, _NUMBER_NOUNS):
            noun = k - 2 if tokens[k - 1].text != "d" else k - 3
            identity = tokens[noun].text in _IDENTITY_NOUNS
            start = _after_fillers(tokens, k)
            reading = read_id(tokens, start)
            reading = _corrected(tokens, reading) if reading else None
            if reading and _is_quantity(tokens, reading):
                continue
            if reading and plausible_customer_id(reading.value):
                candidates.append(Candidate(reading.value, t, role == "customer", identity))
                continue
            if reading or not _is_request(tokens, noun, k):
                continue  # a reading was cut off, or the number is talked about, not asked for
            # asked, not told: the answer follows the question, in this turn (speech-to-text put
            # both voices in one turn) or in the other party's next turns
            _, end = _sentence_bounds(tokens, k)
            answer = read_id(tokens, _after_fillers(tokens, end + 1))
            if answer and plausible_customer_id(answer.value) and not _is_quantity(tokens, answer):
                candidates.append(Candidate(answer.value, t, False, identity, inferred=True))
                continue
            for u in range(t + 1, min(t + 3, len(turns))):
                if turns[u][0] == role and role != "unknown":
                    continue
                answer = _answer(tokenized[u])
                if answer:
                    candidates.append(
                        Candidate(answer.value, u, turns[u][0] == "customer", identity, inferred=True)
                    )
                    break
        # "about order 5521 0098": the noun right before the number, no "number" between
        # after a determiner or possessive ("the order", "my policy", "about order"), never "a loan
        # 250000" or "rewards 150000 points"; a round cardinal or a date is no record's number
        for k, tok in enumerate(tokens[:-1]):
            if (
                k > 0
                and tokens[k - 1].text in _DETERMINERS
                and tok.text in _IDENTITY_NOUNS | _CREATED_NOUNS
                and tokens[k + 1].kind in ("digit", "alnum", "caps")
            ):
                reading = read_id(tokens, k + 1)
                if (
                    reading
                    and reading.digits >= 4
                    and plausible_customer_id(reading.value)
                    and not _is_quantity(tokens, reading)
                    and not _date_shaped(tokens, reading)
                    and not (reading.value.isdigit() and reading.value.endswith("000"))
                ):
                    candidates.append(
                        Candidate(reading.value, t, role == "customer", tok.text in _IDENTITY_NOUNS)
                    )
    if not candidates:
        return None
    return min(candidates, key=lambda c: c.rank).value
