"""Spoken numbers and spoken IDs, in script form and in speech-to-text form."""

from __future__ import annotations

import pytest
from callcare.summarization.offline.spoken_ids import (
    find_agent_id,
    find_customer_id,
    plausible_customer_id,
    read_id,
    tokenize,
)
from callcare.summarization.offline.spoken_numbers import normalize_numbers, words_to_number
from callcare.summarization.offline.text import has_pii, tidy


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("forty two", 42),
        ("one thousand two hundred forty", 1240),
        ("four hundred and fifty", 450),
        ("a hundred", 100),
        ("twelve thousand", 12000),
        ("seven", 7),
        ("zero", 0),
        ("3", 3),
    ],
)
def test_whole_phrase_numbers(text: str, value: int) -> None:
    assert words_to_number(text) == value


def test_digit_by_digit_is_not_one_cardinal() -> None:
    assert words_to_number("one one seven") is None
    assert words_to_number("twenty four ninety nine") is None  # a colloquial price, two numbers


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("four four one two", "4412"),
        ("double seven oh one", "7701"),
        ("triple zero five", "0005"),
        ("5 5 5", "555"),
        ("four four hello", None),
    ],
)
def test_spoken_digits(spoken: str, digits: str | None) -> None:
    tokens = tokenize(spoken)
    reading = read_id(tokens, 0)
    whole = reading is not None and reading.end == len(tokens) and reading.letters == 0
    assert (reading.value if whole else None) == digits


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("It was forty two dollars and fifteen cents.", "It was $42.15."),
        ("a refund of one thousand two hundred forty dollars", "a refund of $1,240"),
        ("up to thirty dollars a day", "up to $30 a day"),
        ("that's ninety nine cents", "that's 99 cents"),
        ("due on October thirty first", "due on October 31"),
        ("born March third, nineteen seventy two", "born March 3, 1972"),
        ("on the twenty second", "on the 22nd"),
        ("version seven point one", "version 7.1"),
        ("fifteen percent off", "15 percent off"),
        ("five to seven business days", "five to seven business days"),
        ("within twenty four hours", "within 24 hours"),
        ("card ending three three eight nine", "card ending 3389"),
        ("May I have your name?", "May I have your name?"),
        ("in forty eight hours, or sixty", "in 48 hours, or 60"),
        ("a hundred dollars and fifty cents", "$100.50"),
        ("renewed on June fifth, twenty twenty six", "renewed on June 5, 2026"),
        ("since two thousand and five", "since 2005"),
        ("twelve thousand five hundred", "12,500"),
        ("the twenty-four ninety-nine plan", "the 24 99 plan"),
        ("call five five five, one two three", "call 555, 123"),
        ("one, two, three", "one, two, three"),
    ],
)
def test_normalize_numbers(spoken: str, written: str) -> None:
    assert normalize_numbers(spoken) == written


@pytest.mark.parametrize(
    "intro",
    [
        "Thanks for calling, this is Rosa, agent ID A-G-T four four one two. How can I help?",
        "thanks for calling this is rosa agent i d a g t four four one two how can i help",
        "this is rosa agent id a. g. t. four four one two",
        "This is Rosa, agent ID AGT 4412.",
        "this is rosa agent id agt four four one two how can i help",
        "this is rosa agent id a g t for four one two",  # "four" heard as "for" inside the reading
        "Rosa here, my agent number is A G T double four one two.",
    ],
)
def test_agent_id_in_script_and_asr_forms(intro: str) -> None:
    assert find_agent_id([intro]) == "AGT-4412"


def test_agent_id_absent_or_incomplete() -> None:
    assert find_agent_id(["Hello, this is Sam from support. How can I help you today?"]) is None
    assert find_agent_id(["My agent ID is, um, let me check."]) is None


def _turns(*pairs: str) -> list[tuple[str, str]]:
    return [("agent" if i % 2 == 0 else "customer", text) for i, text in enumerate(pairs)]


def test_customer_id_answer_to_a_question() -> None:
    turns = _turns(
        "Can I have your member ID, please?", "Sure, it's U I two six four four one eight. Dana Roe."
    )
    assert find_customer_id(turns) == "UI264418"


def test_customer_id_said_after_its_name_in_the_same_turn() -> None:
    turns = _turns(
        "How can I help?", "Hi. My policy number is Q Z five five zero one nine three and I have a question."
    )
    assert find_customer_id(turns) == "QZ550193"


def test_customer_id_asr_form_with_homophones_and_a_trailing_pronoun() -> None:
    turns = _turns(
        "whats your account number",
        "yeah it's k w five five for zero one two i think it starts with k w",
    )
    assert find_customer_id(turns) == "KW554012"


def test_customer_id_digits_in_groups() -> None:
    turns = _turns("What's the account number?", "Six one zero two, eight eight four, three one nine.")
    assert find_customer_id(turns) == "6102884319"


def test_letter_o_between_digits_is_zero_but_not_between_letters() -> None:
    turns = _turns("Booking reference?", "It's P O K two o five seven.")
    assert find_customer_id(turns) == "POK2057"


def test_the_customers_own_number_beats_one_created_during_the_call() -> None:
    turns = _turns(
        "What's your policy number?",
        "It's R T three three nine zero one four.",
        "Thanks. I've opened a claim. Your claim number is C Q seven seven one zero four.",
        "C Q seven seven one zero four, got it.",
    )
    assert find_customer_id(turns) == "RT339014"


def test_a_created_number_is_used_when_nothing_else_was_said() -> None:
    turns = _turns(
        "I've opened a case for you. Your case number is H K four four zero one nine.", "Thank you."
    )
    assert find_customer_id(turns) == "HK44019"


def test_card_numbers_and_ssns_are_never_customer_ids() -> None:
    turns = _turns(
        "Can you read me the card number?",
        "Four one one one, one one one one, one one one one, one one one one.",
        "And your Social Security number?",
        "Five two seven, four one, eight eight three zero.",
        "Thanks. What's the account number on the card, then?",
        "Four one one one one one one one one one one one one one one one.",  # Luhn-valid card digits
    )
    assert find_customer_id(turns) is None


def test_a_reading_cut_off_is_not_an_id() -> None:
    turns = _turns(
        "What's the order number?",
        "It's S Q four four... sorry, you're breaking up.",
        "Could you repeat that?",
    )
    assert find_customer_id(turns) is None


def test_no_question_no_id() -> None:
    turns = _turns("How can I help?", "I'd like to know your opening hours on Sunday.", "We open at nine.")
    assert find_customer_id(turns) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("UI264418", True),
        ("SN44", False),  # too short to name a record
        ("ABCDEF", False),  # no digits
        ("4111111111111111", False),  # a Luhn-valid card number
        ("4111111111111112", True),  # 16 digits that are not a card number
    ],
)
def test_plausible_customer_id(value: str, ok: bool) -> None:
    assert plausible_customer_id(value) is ok


# A scale word after a figure or a rough size is no number of its own (review S1)
@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        (
            "a 2 million dollar policy and 500 thousand in savings",
            "A 2 million dollar policy and 500 thousand in savings.",
        ),
        ("1.5 million refund", "1.5 million refund."),
        ("hundreds of calls", "Hundreds of calls."),
        ("a couple hundred", "A couple hundred."),
        (
            "we lost 3 billion last year and a few thousand more",
            "We lost 3 billion last year and a few thousand more.",
        ),
        (
            "thousands of customers, several hundred complaints",
            "Thousands of customers, several hundred complaints.",
        ),
        ("two million dollars", "$2,000,000."),  # said in words, it is still one amount
    ],
)
def test_scale_word_after_a_figure_is_not_a_number(spoken: str, written: str) -> None:
    assert tidy(spoken) == written


@pytest.mark.parametrize(
    "line",
    [
        "I've told you a million times",
        "two million dollars is late",
        "we have fifty thousand members in the area",
        "It costs four million two hundred thousand to rebuild.",
    ],
)
def test_amounts_said_with_a_scale_are_not_pii(line: str) -> None:
    assert not has_pii(line)


def test_phone_numbers_said_as_digits_are_still_pii() -> None:
    assert has_pii("call me on five five five one two three four five six seven")


def test_a_non_breaking_space_joins_number_words() -> None:
    assert normalize_numbers("forty\u00a0two dollars") == "$42"
    assert normalize_numbers("twenty\u00a0five") == "25"
