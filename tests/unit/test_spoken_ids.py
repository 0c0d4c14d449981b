"""Spoken IDs in the forms speech-to-text writes them, with phrasings of our own (not the corpus's).

Companies, agents and ID formats here are invented. Each positive case is an ID introduced the way
customer care introduces one; each negative case is a number that is not introduced as an ID (a
price, date, time, quantity, phone or card number), which must never become one.
"""

from __future__ import annotations

import pytest
from callcare.summarization.offline.spoken_ids import find_agent_id, find_customer_id, tokenize


def _turns(*texts: str) -> list[tuple[str, str]]:
    """Alternating turns, the agent first."""
    return [("agent" if i % 2 == 0 else "customer", text) for i, text in enumerate(texts)]


def _figures(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.kind == "digit"]


@pytest.mark.parametrize(
    ("spoken", "figures"),
    [
        ("forty-four seventeen", ["44", "17"]),
        ("forty four, four", ["44", "4"]),
        ("four hundred and twelve", ["412"]),
        ("zero zero seven", ["007"]),
        ("triple zero five", ["0", "5"]),  # the repeated digit stays its own number
        ("4 four 1", ["4", "4", "1"]),
    ],
)
def test_number_words_become_figures(spoken: str, figures: list[str]) -> None:
    assert _figures(spoken) == figures


def test_ordinals_amounts_and_times_are_not_digits() -> None:
    kinds = {t.text: t.kind for t in tokenize("on the second at 2:30, $14.99 and 15% on 12/04")}
    assert kinds["2nd"] == "ordinal"
    assert kinds["2:30"] == kinds["$14.99"] == kinds["15%"] == kinds["12/04"] == "amount"


@pytest.mark.parametrize(
    ("intro", "agent_id"),
    [
        ("Thanks for calling Pinecrest Water, my name is Dev, employee number 5 8 2 0.", "5820"),
        ("You're through to Halden Insurance, I'm Priya, agent ID K-L-M 3 0 9 9.", "KLM-3099"),
        ("this is marco operator number double seven two nine how can i help", "7729"),
        ("Jess here, representative ID R as in Romeo, P as in Papa, six six one oh.", "RP-6610"),
        ("Good morning, badge number forty-four seventeen, how can I help?", "4417"),
        ("My employee ID is B-X 9 nine 0 2.", "BX-9902"),
        ("Northgate Rail, agent IDA B 2219, how can I help?", "AB-2219"),  # "ID A" glued
        ("Hi, this is agent 80412 speaking.", "80412"),
        ("my rep ID is triple five two", "5552"),
        ("Staff ID kilo tango 4 oh 6 1.", "KT-4061"),
        ("Agent ID: ZX-7713.", "ZX-7713"),
        ("Hello, you've reached Orbis Mobile, agent I.D. Q. R. 5 5 0 1.", "QR-5501"),
        ("operator number is twelve thirty four", "1234"),
        ("agent ID A dash G dash T four four one two", "AGT-4412"),
    ],
)
def test_agent_id_forms(intro: str, agent_id: str) -> None:
    assert find_agent_id([intro]) == agent_id


@pytest.mark.parametrize(
    "line",
    [
        "Hi, this is Sam from billing, how can I help?",
        "I spoke to an agent two weeks ago and she said it was fixed.",
        "Your agent will call you back at 3:30 tomorrow.",
        "The agent told me it costs $49.99 a month.",
        "An agent said forty-five dollars, not ninety.",
        "My agent ID is, um, hold on, let me find it.",
        "Agent ID A B. Sorry, you're breaking up.",  # letters only: a reading cut off
        "I've talked to agent after agent for three hundred and twelve days.",
    ],
)
def test_no_agent_id_where_none_is_said(line: str) -> None:
    assert find_agent_id([line]) is None


@pytest.mark.parametrize(
    ("turns", "customer_id"),
    [
        (_turns("Can I have your account number, please?", "Sure, it's 7 7 3 0 1 9 2 4."), "77301924"),
        (
            _turns(
                "What's the member ID on your card?",
                "It's W as in whiskey, Q as in Quebec, four oh oh eight one two.",
            ),
            "WQ400812",
        ),
        (
            _turns(
                "How can I help?",
                "Hi, my order number is forty-one twenty-two ninety-eight and it never came.",
            ),
            "412298",
        ),
        (
            _turns(
                "Could you read me your reference number?", "Yeah, bravo kilo seven seven double nine one."
            ),
            "BK77991",
        ),
        (_turns("Do you have the case number?", "Yes. C-A-S, 5 5 1 0 3 8."), "CAS551038"),
        (_turns("Account number, please.", "Um, 3-3-0-4-8-8-1-2."), "33048812"),
        (_turns("Thanks. And your policy number?", "Sure. JX-204417."), "JX204417"),
        (
            _turns("Hello, how can I help?", "My customer ID is MX-20-4417, I have a billing question."),
            "MX204417",
        ),
        (_turns("Hi there.", "I'm calling about account #44718820."), "44718820"),
        (_turns("How can I help?", "I'm calling about order 5521 0098, it never arrived."), "55210098"),
        (_turns("How can I help?", "My membership number is triple zero four five six two."), "0004562"),
        # both voices in one turn: the answer right after the question
        ([("agent", "What's the loyalty number? PX 4 4 0 2 1 8. Thank you, Ms. Ruiz.")], "PX440218"),
        # one voice split by a pause into two turns
        (
            [
                ("agent", "What's your client number?"),
                ("customer", "It's D. R."),
                ("customer", "9 0 3 3 7 1."),
            ],
            "DR903371",
        ),
        # a number announced as the order ID beats the first answer to a question that asked for three things
        (
            [
                ("agent", "May I have your username, email address and order ID, please?"),
                ("customer", "Username: pkline442"),
                ("customer", "pkline442@example.net"),
                ("customer", "Order ID: 5820374419"),
            ],
            "5820374419",
        ),
    ],
)
def test_customer_id_forms(turns: list[tuple[str, str]], customer_id: str) -> None:
    assert find_customer_id(turns) == customer_id


@pytest.mark.parametrize(
    "turns",
    [
        _turns("How can I help?", "I was charged forty-nine ninety-nine twice on March third."),
        _turns("Your order will arrive in three to five business days; the total was $1,249.50.", "Great."),
        _turns(
            "What's your account number?",
            "I don't have it with me, but my phone number is 555 201 8844.",
        ),
        _turns("What's the account number?", "I'm not sure. I ordered two dozen on the 14th at 2:30 pm."),
        _turns(
            "Your reference number will be emailed to you within 24 hours.",
            "Okay, you can call me back on 0 7 7 0 0 9 0 0 1 2 3.",
        ),
        _turns(
            "How can I help?",
            "I've been a member since twenty nineteen and I pay one hundred twenty dollars a month.",
        ),
        _turns("How can I help?", "My order of 250000 units arrived on 12/04/2026."),
        _turns("Can I have your account number?", "Oh, one second, let me find it."),
        _turns(
            "What's your account number?",
            "The bill says one hundred forty two thousand three hundred dollars, that can't be right.",
        ),
        _turns("Can I have the card number?", "4 1 1 1, 1 1 1 1, 1 1 1 1, 1 1 1 1."),
        _turns("What's the order number?", "I think it was around ten forty five in the morning."),
        _turns(
            "How can I help?", "I placed the order 2 weeks ago, order 12 boxes; the account is 15 years old."
        ),
        _turns("Can I have your account number?", "I only have my email, jo.m77@example.org, sorry."),
    ],
)
def test_no_customer_id_where_none_is_said(turns: list[tuple[str, str]]) -> None:
    assert find_customer_id(turns) is None


# Review of the text2num rewrite: each case below was read as an ID before the fix.


def test_a_scale_word_after_a_figure_is_no_id() -> None:  # S1
    assert find_customer_id(_turns("How can I help?", "It's about the claim 2 million 500 thousand.")) is None
    assert find_customer_id(_turns("How can I help?", "My policy two million dollars is late.")) is None
    assert _figures("2 million") == ["2"]  # "million" alone is not 1000000
    assert [t.kind for t in tokenize("fifty thousand")] == ["amount"]


@pytest.mark.parametrize(
    "line",
    [
        "I spoke to an agent in 2021",
        "The agent at 1 800 555 1212 said no.",
        "The rep said 2 0 2 4 was the year",
        "I'm an agent so 1234 is fine",
        "I was an employee 2015 to 2019",
        "The operator 1 800 number was busy",
        "Your rep on 5 5 5 0 1 9 9 was rude.",
        "I called the agent from 1999 to 2003 about it.",
        "The associate near 4417 Elm Street helped.",
    ],
)
def test_bare_agent_word_takes_no_word_year_or_phone_as_id(line: str) -> None:  # S2
    assert find_agent_id([line]) is None
    assert find_agent_id([line], own=True) is None


def test_bare_agent_id_needs_a_self_introduction_outside_the_agents_turns() -> None:  # S2
    assert find_agent_id(["Yes, agent 80412 told me that."]) is None
    assert find_agent_id(["Yes, agent 80412 told me that."], own=True) == "80412"
    assert find_agent_id(["Hello, I'm agent KW 5521."]) == "KW-5521"
    assert find_agent_id(["my name is Lee, operator 7 7 0 2 speaking"]) == "7702"


@pytest.mark.parametrize(
    "line",
    [
        "I took out a loan 250000 last year",
        "I have rewards 150000 points",
        "The invoice 2024 03 15 was wrong",
        "it's about the order one hundred thousand euro",
        "I got a booking 450000 yen cheaper",
        "the invoice 12 24 2025 never came",
        "my order fifty thousand pound was refused",
    ],
)
def test_noun_before_number_takes_no_amount_or_date(line: str) -> None:  # S3
    assert find_customer_id(_turns("How can I help?", line)) is None


@pytest.mark.parametrize(
    ("line", "customer_id"),
    [
        ("The booking 2024 12 24 for two", None),
        ("My policy number is 7 7 3 2 1 9, for 2 cars", "773219"),
        ("account number is 441722, 2019 was when", "441722"),
        ("My policy number is 8 8 2 1 9 4 for 2 years now", "882194"),
        ("My member number is 5 5 0 3 1 8, 2 kids on it", "550318"),
        ("The account number is 660291 to 3 people", "660291"),
    ],
)
def test_for_and_to_join_no_quantity_onto_an_id(line: str, customer_id: str | None) -> None:  # S4
    assert find_customer_id(_turns("How can I help?", line)) == customer_id


def test_for_and_to_are_still_digits_inside_a_reading() -> None:  # S4
    assert find_agent_id(["this is rosa agent id a g t for four one two"]) == "AGT-4412"
    assert find_customer_id(_turns("Account number?", "It's 7 7 to 3 0 1 9.")) == "7723019"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "a" + " " * 50_000 + "x",  # _AS_IN over a long run of spaces
        "a-" * 25_000,  # the email branch restarting inside a [\w.+-] run
        "é" * 50_000,
        "x." * 25_000 + "@",
        "B" + " " * 50_000 + ", as in bravo",
    ],
)
def test_long_runs_are_read_in_linear_time(text: str) -> None:  # S5: a guard, not a timing
    assert find_customer_id(_turns("What's your account number?", text)) is None
    assert find_agent_id([text]) is None


@pytest.mark.parametrize(
    "turns",
    [
        _turns(
            "Do you want me to text the confirmation number to you?", "Yes, please send it to 555 123 4567."
        ),
        _turns("Shall I email you the reference number?", "Sure, it's 44 17 22 90 at example dot com."),
        _turns("Can I have your member ID?", "Born 1985 07 21."),
        _turns("What's your account number?", "My husband handles it, call him on 312 555 0199."),
        _turns("What's the policy number?", "I bought it in 2019, it was 1 2 3 4 5 6 dollars."),
    ],
)
def test_an_answer_is_what_the_reply_opens_with(turns: list[tuple[str, str]]) -> None:  # S6
    assert find_customer_id(turns) is None


@pytest.mark.parametrize(
    ("turns", "customer_id"),
    [
        (_turns("What's your account number?", "441722 oh I mean 441723"), "441723"),
        (_turns("What's your account number?", "It's 5 5 0 1 9 8, sorry, I mean 5 5 0 1 9 9."), "550199"),
        (
            _turns("Member ID please.", "Four four one seven two two oh."),
            "4417220",
        ),  # "oh" at the end is zero
        (_turns("Policy number?", "Let me see. It's AB 7 7 0 1 2."), "AB77012"),
        # no full stop from speech-to-text: the number closes the sentence
        (
            _turns("What's the account number?", "Hold on. It's printed on the letter 4 4 0 9 1 7 2"),
            "4409172",
        ),
    ],
)
def test_answers_take_self_corrections_and_zero_only_where_it_is_zero(
    turns: list[tuple[str, str]], customer_id: str
) -> None:  # S6
    assert find_customer_id(turns) == customer_id


@pytest.mark.parametrize(
    "turns",
    [
        _turns("What's the account number?", "Hold on. I opened it on 2021 06 30"),
        _turns("What's the account number?", "Hmm. You can reach me at 415 555 0142"),
    ],
)
def test_a_date_or_phone_closing_the_reply_is_no_answer(turns: list[tuple[str, str]]) -> None:  # S6
    assert find_customer_id(turns) is None


def test_spelling_by_example_needs_a_name_or_nato_word() -> None:
    assert find_customer_id(_turns("Hi.", "My account number is I like it 123456")) is None
    assert find_customer_id(_turns("Hi.", "My account number is a for apple pie 334455")) is None
    assert find_customer_id(_turns("Hi.", "My account number is K as in Kevin 334455")) == "K334455"
    assert find_customer_id(_turns("Hi.", "my account number is k as in kilo 334455")) == "K334455"
