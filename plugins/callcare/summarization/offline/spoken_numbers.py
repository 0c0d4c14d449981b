"""Spoken numbers: amounts, dates and numbers as people say them on a call, written as figures.

Speech-to-text engines write numbers as words ("forty two dollars and fifteen cents", "October
thirty first"), and so do call scripts. The summary wants "$42.15" and "October 31".

Reading number words is the `text2num` library's job (`find_numbers`: cardinals, ordinals,
decimals, "four hundred and fifty", "twenty four ninety nine" as two numbers). What stays here is
the summary's house style, which no number library knows: money as "$1,240.00", a month and a day
as "October 31" and a year after it ("nineteen seventy two", said as two numbers, is 1972),
numbers under ten left as words, and digit-by-digit readings ("three three eight nine") joined.
IDs are another matter (spoken_ids.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import find_numbers, text2num

MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_DIGIT_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
_SCALE_WORDS = {"hundred", "thousand", "million", "billion"}
# "hundreds of calls", "thousands": plurals of a scale word are a rough size, not a number
_SCALE_PLURALS = {w + "s" for w in _SCALE_WORDS}
# "a couple hundred", "a few thousand", "several million": a rough size, not a number
_ROUGH = {"couple", "few", "several", "many", "some", "dozen", "dozens"}

# words and figures; the separator decides whether two words can belong to one number
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
    return gap.strip(" \u00a0-" + ("," if allow_comma else "")) == ""


def not_a_scale_number(previous: str | None, word: str) -> bool:
    """Whether a scale word is no number of its own: "2 million", "1.5 million", "a couple hundred",
    "hundreds of". text2num would read "million" alone as 1000000 (the figure before it is not a
    word it sees), so "a 2 million dollar policy" would become "a 2 $1,000,000 policy"."""
    if word in _SCALE_PLURALS:
        return True
    if word not in _SCALE_WORDS or previous is None:
        return False
    return previous[0].isdigit() or previous in _ROUGH


class Text2numView:
    """A word as text2num's find_numbers reads it (its Token protocol): the text it sees, and whether
    a pause or punctuation separated it from the word before. Subclasses decide the text."""

    _text: str
    _separated: bool

    def text(self) -> str:
        return self._text

    def nt_separated(self, previous: object) -> bool:
        return self._separated

    def not_a_number_part(self) -> bool:
        return False


class _View(Text2numView):
    def __init__(self, word: Word, separated: bool, previous: Word | None = None) -> None:
        # figures already written stay as they are: text2num sees a separator; so does a scale
        # word after a figure or a rough size ("2 million", "a couple hundred")
        rough = not_a_scale_number(previous.text if previous else None, word.text)
        self._text = "," if word.text[0].isdigit() or rough else word.text
        self._separated = separated


@dataclass(frozen=True)
class Number:
    start: int  # index of the first word
    end: int  # index after the last word
    value: float
    text: str  # text2num's figures: "42", "07", "31st", "7.1"
    ordinal: bool
    digit_by_digit: bool  # only digit words ("three", "zero seven"): part of a reading, not a quantity


def find_spoken_numbers(text: str, words: list[Word] | None = None) -> list[Number]:
    """Every number said in words, by text2num, never across punctuation."""
    words = words_of(text) if words is None else words
    views = [
        _View(w, k > 0 and not _joined(text, words[k - 1], w), words[k - 1] if k > 0 else None)
        for k, w in enumerate(words)
    ]
    out = []
    for occ in find_numbers(views, "en", 0):
        start = occ.start
        # "a hundred", "a thousand": the article is the number's "one"
        if start > 0 and words[start - 1].text == "a" and words[start].text in _SCALE_WORDS:
            start -= 1
        by_digit = all(w.text in _DIGIT_WORDS for w in words[start : occ.end])
        out.append(Number(start, occ.end, occ.value, occ.text, occ.is_ordinal, by_digit))
    return out


def words_to_number(text: str) -> float | None:
    """The value of a whole phrase that is one number ("one thousand two hundred forty"), else None."""
    phrase = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", phrase):
        return float(phrase)
    phrase = re.sub(r"^a (?=hundred|thousand)", "one ", phrase.lower())
    try:
        return float(text2num(phrase, "en"))
    except ValueError:
        return None


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _money(dollars: int, cents: int | None) -> str:
    text = f"${dollars:,}"
    return f"{text}.{cents:02d}" if cents is not None else text


def _year(numbers: list[Number], n: int) -> tuple[int, int] | None:
    """(year, count of numbers used) for numbers[n:]: "nineteen seventy two" is said as 19 and 72."""
    first = numbers[n]
    if first.ordinal or first.value != int(first.value):
        return None
    if 1900 <= first.value <= 2100 and not first.digit_by_digit:
        return int(first.value), 1
    second = numbers[n + 1] if n + 1 < len(numbers) else None
    if (
        second is not None
        and second.start == first.end
        and (10 <= first.value <= 19 or first.value == 20)
        and 10 <= second.value <= 99
        and not second.ordinal
    ):
        return int(first.value) * 100 + int(second.value), 2
    return None


def normalize_numbers(text: str) -> str:
    """Rewrite spoken amounts, dates, decimals, percentages and numbers of 10 or more as figures.

    Numbers under ten stay words (the usual style rule), and digit-by-digit readings of three or
    more digits are joined ("four four one seven" -> "4417").
    """
    words = words_of(text)
    numbers = find_spoken_numbers(text, words)
    lw = [w.text for w in words]
    out: list[str] = []
    pos = 0

    def emit(first: int, last: int, replacement: str) -> None:
        nonlocal pos
        out.append(text[pos : words[first].start])
        out.append(replacement)
        pos = words[last].end

    def joined(a: int, b: int, allow_comma: bool = False) -> bool:
        return a >= 0 and b < len(words) and _joined(text, words[a], words[b], allow_comma)

    n = 0
    while n < len(numbers):
        num = numbers[n]
        # Month + day (+ year): "October thirty first", "June third, nineteen eighty one"
        month = num.start - 1
        if (
            month >= 0
            and lw[month] in MONTHS
            and joined(month, num.start)
            and 1 <= num.value <= 31
            and num.value == int(num.value)
            and (num.ordinal or lw[month] != "may")  # "may one" is more often the verb than a date
        ):
            rendered = f"{words[month].text.capitalize()} {int(num.value)}"
            last, used = num.end - 1, 1
            if n + 1 < len(numbers) and numbers[n + 1].start == num.end and joined(last, num.end, True):
                year = _year(numbers, n + 1)
                if year:
                    rendered += f", {year[0]}"
                    last = numbers[n + year[1]].end - 1
                    used += year[1]
            emit(month, last, rendered)
            n += used
            continue
        if num.ordinal:
            if num.value >= 10:  # "the twenty second" -> "the 22nd"; "first" stays a word
                emit(num.start, num.end - 1, f"{int(num.value)}{_ordinal_suffix(int(num.value))}")
            n += 1
            continue
        # Digit-by-digit readings: three or more digits said one by one
        last = n
        while (
            num.digit_by_digit
            and last + 1 < len(numbers)
            and numbers[last + 1].digit_by_digit
            and numbers[last + 1].start == numbers[last].end
            and joined(numbers[last].end - 1, numbers[last + 1].start)
        ):
            last += 1
        digits = "".join(x.text for x in numbers[n : last + 1])
        if num.digit_by_digit and len(digits) >= 3:
            emit(num.start, numbers[last].end - 1, digits)
            n = last + 1
            continue
        nxt = lw[num.end] if num.end < len(words) else ""
        joined_next = joined(num.end - 1, num.end)
        if nxt in ("dollars", "dollar", "bucks") and joined_next and num.value == int(num.value):
            cents, stop = None, num.end  # index of the "dollars" word
            after = numbers[n + 1] if n + 1 < len(numbers) else None
            k = num.end + 1 + (1 if num.end + 1 < len(words) and lw[num.end + 1] == "and" else 0)
            if (
                after is not None
                and after.start == k
                and after.end < len(words)
                and lw[after.end] in ("cents", "cent")
                and after.value < 100
            ):
                cents, stop = int(after.value), after.end
                n += 1
            emit(num.start, stop, _money(int(num.value), cents))
            n += 1
            continue
        if "." in num.text or nxt == "percent" or num.value >= 10:
            value = num.value
            figure = (
                num.text if "." in num.text else (f"{int(value):,}" if value >= 10_000 else str(int(value)))
            )
            emit(num.start, num.end - 1, figure)
        n += 1
    out.append(text[pos:])
    return "".join(out)
