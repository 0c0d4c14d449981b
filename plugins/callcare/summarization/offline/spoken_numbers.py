"""Spoken numbers: digit words, cardinals, ordinals, amounts and dates as people say them on a call.

Speech-to-text engines write numbers as words ("forty two dollars and fifteen cents", "double
seven", "October thirty first"), and so do call scripts. The summary wants "$42.15" and
"October 31". These helpers turn the spoken forms into figures, and nothing else: they do not
know about IDs or PII (see ids.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGIT_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}  # fmt: skip
ORDINAL_TEENS_TENS = {
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# "double seven" / "triple zero" repeat the next digit or letter
REPEATERS = {"double": 2, "triple": 3}

NUMBER_WORDS = frozenset(DIGIT_WORDS) | frozenset(TEENS) | frozenset(TENS) | {"hundred"} | frozenset(SCALES)

# words and the separators between them; the separator decides whether two words can belong to one number
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Word:
    text: str  # lower case
    start: int
    end: int


def words_of(text: str) -> list[Word]:
    return [Word(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _joined(text: str, left: Word, right: Word, allow_comma: bool = False) -> bool:
    """Whether two words are adjacent in speech: only spaces or a hyphen (or a comma) between them."""
    gap = text[left.end : right.start]
    return gap.strip(" -" + ("," if allow_comma else "")) == ""


def parse_cardinal(words: list[str], i: int) -> tuple[int, int] | None:
    """(value, index after) of the cardinal starting at words[i], or None.

    Stops where a new number clearly starts, so digit-by-digit speech ("one one seven") and
    colloquial prices ("twenty four ninety nine") come out as separate numbers.
    """
    total, current, last, j = 0, 0, None, i
    n = len(words)
    while j < n:
        w = words[j]
        if w == "zero" and last is None:
            return 0, j + 1
        if w in DIGIT_WORDS and w != "zero" and last in (None, "tens", "hundred", "scale"):
            current += DIGIT_WORDS[w]
            last = "unit"
        elif w in TEENS and last in (None, "hundred", "scale"):
            current += TEENS[w]
            last = "teen"
        elif w in TENS and last in (None, "hundred", "scale"):
            current += TENS[w]
            last = "tens"
        elif w == "hundred" and last in ("unit", "teen") and current % 100 < 20:
            current = (current - current % 100) + (current % 100) * 100
            last = "hundred"
        elif w in SCALES and last in ("unit", "teen", "tens", "hundred"):
            total += current * SCALES[w]
            current = 0
            last = "scale"
        elif (
            w == "and"
            and last in ("hundred", "scale")
            and j + 1 < n
            and (words[j + 1] in DIGIT_WORDS or words[j + 1] in TEENS or words[j + 1] in TENS)
        ):
            pass
        elif w == "a" and last is None and j + 1 < n and words[j + 1] in ("hundred", "thousand"):
            current, last = 1, "unit"
        else:
            break
        j += 1
    if last is None:
        return None
    return total + current, j


def parse_ordinal(words: list[str], i: int) -> tuple[int, int] | None:
    """(value, index after) for "fifth", "twentieth", "thirty first"; None otherwise."""
    w = words[i] if i < len(words) else ""
    if w in ORDINAL_UNITS:
        return ORDINAL_UNITS[w], i + 1
    if w in ORDINAL_TEENS_TENS:
        return ORDINAL_TEENS_TENS[w], i + 1
    if w in TENS and i + 1 < len(words) and words[i + 1] in ORDINAL_UNITS:
        return TENS[w] + ORDINAL_UNITS[words[i + 1]], i + 2
    return None


def parse_year(words: list[str], i: int) -> tuple[int, int] | None:
    """Years as said: "nineteen eighty one", "twenty twenty six", "two thousand and five"."""
    if i + 1 < len(words) and words[i] in TEENS | {"twenty": 20} and words[i + 1] in TENS | TEENS:
        century = TEENS.get(words[i]) or 20
        rest = parse_cardinal(words, i + 1)
        if rest and rest[0] < 100:
            return century * 100 + rest[0], rest[1]
    parsed = parse_cardinal(words, i)
    if parsed and 1900 <= parsed[0] <= 2100:
        return parsed
    return None


def spoken_digits(text: str) -> str | None:
    """Digits of a digit-by-digit reading ("four four one two", "double seven"), or None if other words."""
    out: list[str] = []
    repeat = 1
    for w in (x.text for x in words_of(text)):
        if w in REPEATERS:
            repeat = REPEATERS[w]
            continue
        if w in DIGIT_WORDS or w == "oh":
            out.append(str(DIGIT_WORDS.get(w, 0)) * repeat)
        elif w.isdigit():
            out.append(w * repeat if len(w) == 1 else w)
        else:
            return None
        repeat = 1
    return "".join(out) or None


def words_to_number(text: str) -> float | None:
    """The value of a whole phrase that is one number ("one thousand two hundred forty"), else None."""
    ws = [w.text for w in words_of(text)]
    if not ws:
        return None
    if len(ws) == 1 and re.fullmatch(r"\d+(\.\d+)?", ws[0]):
        return float(ws[0])
    parsed = parse_cardinal(ws, 0)
    if parsed and parsed[1] == len(ws):
        return float(parsed[0])
    return None


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _money(dollars: int, cents: int | None) -> str:
    text = f"${dollars:,}"
    return f"{text}.{cents:02d}" if cents is not None else text


def normalize_numbers(text: str) -> str:
    """Rewrite spoken amounts, dates, decimals, percentages and numbers of 10 or more as figures.

    Numbers under ten stay words (the usual style rule), and digit-by-digit readings of three or
    more digits are joined ("four four one seven" -> "4417").
    """
    toks = words_of(text)
    lw = [t.text for t in toks]
    out: list[str] = []
    pos = 0
    i = 0

    def emit(first: int, last: int, replacement: str) -> None:
        nonlocal pos
        out.append(text[pos : toks[first].start])
        out.append(replacement)
        pos = toks[last].end

    def chain(a: int, b: int) -> bool:
        """tokens a..b-1 form one spoken phrase (no sentence punctuation inside)."""
        return all(_joined(text, toks[k], toks[k + 1]) for k in range(a, b - 1))

    while i < len(toks):
        w = lw[i]
        # Month + day (+ year): "October thirty first", "June third, nineteen eighty one"
        if w in MONTHS and i + 1 < len(toks) and _joined(text, toks[i], toks[i + 1]):
            day = parse_ordinal(lw, i + 1)
            if day is None and w != "may":  # "may one" is more often the verb than the date
                day = parse_cardinal(lw, i + 1)
            if day and 1 <= day[0] <= 31 and chain(i + 1, day[1]):
                end = day[1]
                rendered = f"{toks[i].text.capitalize()} {day[0]}"
                if end < len(toks) and _joined(text, toks[end - 1], toks[end], allow_comma=True):
                    year = parse_year(lw, end)
                    if year and chain(end, year[1]):
                        rendered += f", {year[0]}"
                        end = year[1]
                emit(i, end - 1, rendered)
                i = end
                continue
        # Ordinals of 10 and up without a month: "the twenty second" -> "the 22nd"
        ordinal = parse_ordinal(lw, i)
        if ordinal and ordinal[0] >= 10 and chain(i, ordinal[1]):
            emit(i, ordinal[1] - 1, f"{ordinal[0]}{_ordinal_suffix(ordinal[0])}")
            i = ordinal[1]
            continue
        # Digit-by-digit readings: three or more single digits in a row
        run = i
        while (
            run < len(toks)
            and lw[run] in DIGIT_WORDS
            and (run == i or _joined(text, toks[run - 1], toks[run]))
        ):
            run += 1
        if run - i >= 3:
            emit(i, run - 1, "".join(str(DIGIT_WORDS[x]) for x in lw[i:run]))
            i = run
            continue
        parsed = parse_cardinal(lw, i)
        if parsed and chain(i, parsed[1]):
            value, end = parsed
            nxt = lw[end] if end < len(toks) else ""
            joined_next = end < len(toks) and _joined(text, toks[end - 1], toks[end])
            if nxt in ("dollars", "dollar", "bucks") and joined_next:
                cents = None
                stop = end  # index of the "dollars" word
                k = end + 1
                if k < len(toks) and lw[k] == "and":
                    k += 1
                cent = parse_cardinal(lw, k) if k < len(toks) else None
                if cent and cent[1] < len(toks) and lw[cent[1]] in ("cents", "cent") and cent[0] < 100:
                    cents, stop = cent[0], cent[1]
                emit(i, stop, _money(value, cents))
                i = stop + 1
                continue
            if nxt == "point" and joined_next and end + 1 < len(toks):
                frac = []
                k = end + 1
                while k < len(toks) and lw[k] in DIGIT_WORDS:
                    frac.append(str(DIGIT_WORDS[lw[k]]))
                    k += 1
                if frac:
                    emit(i, k - 1, f"{value}.{''.join(frac)}")
                    i = k
                    continue
            if nxt == "percent" or value >= 10:
                emit(i, end - 1, f"{value:,}" if value >= 10_000 else str(value))
                i = end
                continue
            i = end
            continue
        i += 1
    out.append(text[pos:])
    return "".join(out)
