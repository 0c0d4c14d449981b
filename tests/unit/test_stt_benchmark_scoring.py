"""The speech-to-text benchmark's scoring: text normalization, word alignment, role time."""

from __future__ import annotations

from pathlib import Path

import pytest
from callcare.core.transcript import Transcript, Turn, Word

from bench.stt_benchmark import (
    cardinal,
    hypothesis_words,
    normalize_words,
    ordinal,
    read_sphinx_transcription,
    role_time,
    word_errors,
)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (42, "forty two"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1200, "one thousand two hundred"),
        (2_000_016, "two million sixteen"),
    ],
)
def test_cardinals(number: int, words: str) -> None:
    assert cardinal(number) == words


def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 5, 12, 20, 21, 31, 100)] == [
        "first", "second", "third", "fifth", "twelfth", "twentieth", "twenty first", "thirty first",
        "one hundredth",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thank you, Mr. Bell!", "thank you mister bell"),
        ("I'm sorry — you're breaking up.", "i am sorry you are breaking up"),
        ("It's John's card; can't you see?", "it is johns card can not you see"),
        ("That's $42.15 on the 3rd.", "that is forty two dollars and fifteen cents on the third"),
        ("$5 or 20% by 10:30", "five dollars or twenty percent by ten thirty"),
        (
            "account 7701482296, zip 02139",
            "account seven seven zero one four eight two two nine six zip zero two one three nine",
        ),
        ("in 2026 and 1,200 items", "in twenty twenty six and one thousand two hundred items"),
        ("A-G-T four four", "a g t four four"),
        ("<s> ok [NOISE] alright </s>", "okay all right"),
        ("2.5 stars", "two point five stars"),
    ],
)
def test_normalization(text: str, expected: str) -> None:
    assert " ".join(normalize_words(text)) == expected


def test_word_errors_are_a_minimal_alignment() -> None:
    ref = ["the", "cat", "sat", "on", "the", "mat"]
    assert word_errors(ref, ref).errors == 0
    one_sub = word_errors(ref, ["the", "cat", "sit", "on", "the", "mat"])
    assert (one_sub.substitutions, one_sub.deletions, one_sub.insertions) == (1, 0, 0)
    dels = word_errors(ref, ["cat", "on", "mat"])
    assert (dels.substitutions, dels.deletions, dels.insertions) == (0, 3, 0)
    ins = word_errors(ref, ["oh", "the", "cat", "sat", "on", "the", "mat", "today"])
    assert (ins.substitutions, ins.deletions, ins.insertions) == (0, 0, 2)
    shifted = word_errors(["a", "b", "c", "d"], ["b", "c", "d", "e"])
    assert shifted.errors == 2  # drop "a", add "e": not four substitutions
    assert word_errors([], []).wer is None
    assert word_errors([], ["x"]).wer == float("inf")
    assert word_errors(ref, []).wer == 1.0
    assert (word_errors(ref, []) + one_sub).ref_words == 12


def test_word_errors_agree_with_a_brute_force_distance() -> None:
    import random
    from functools import cache

    rng = random.Random(7)
    for _ in range(60):
        a = tuple(rng.choice("xyz") for _ in range(rng.randint(0, 7)))
        b = tuple(rng.choice("xyz") for _ in range(rng.randint(0, 7)))

        @cache
        def distance(i: int, j: int, a: tuple[str, ...] = a, b: tuple[str, ...] = b) -> int:
            if i == len(a) or j == len(b):
                return len(a) - i + len(b) - j
            return min(
                distance(i + 1, j) + 1, distance(i, j + 1) + 1, distance(i + 1, j + 1) + (a[i] != b[j])
            )

        found = word_errors(a, b)
        assert found.errors == distance(0, 0)
        matches = len(a) - found.substitutions - found.deletions
        assert matches >= 0 and matches + found.substitutions + found.insertions == len(b)


def test_role_time_counts_overlap_with_the_right_role() -> None:
    ref = [
        {"speaker": "agent", "start": 0.0, "end": 4.0, "text": "a"},
        {"speaker": "customer", "start": 5.0, "end": 9.0, "text": "b"},
        {"speaker": "agent", "start": 8.0, "end": 10.0, "text": "c"},  # overlaps the customer
    ]
    turns = [
        Turn("spk_0", 0.1, 4.2, "a", role="agent"),
        Turn("spk_1", 5.0, 7.0, "b", role="customer"),
        Turn("spk_0", 7.0, 10.0, "b c", role="agent"),  # the customer's last 2 s labelled agent
    ]
    transcript = Transcript("c", "test", 10.0, 1, turns)
    matched, total = role_time(ref, transcript)
    assert total == pytest.approx(4.0 + 4.0 + 2.0)
    assert matched == pytest.approx(3.9 + 2.0 + 2.0)
    assert role_time(ref, Transcript("c", "test", 10.0, 1, []))[0] == 0.0


def test_hypothesis_words_interleave_channels_by_time() -> None:
    turns = [
        Turn("ch_0", 0.0, 3.0, "hello there", words=[Word("hello", 0.0, 0.5), Word("there", 2.5, 3.0)]),
        Turn("ch_1", 1.0, 2.0, "hi", words=[Word("hi", 1.0, 1.5)]),
        Turn("ch_1", 4.0, 5.0, "OK 2"),  # no word timings: the turn's text at its start
    ]
    assert hypothesis_words(Transcript("c", "t", 5.0, 2, turns)) == ["hello", "hi", "there", "okay", "two"]


def test_sphinx_transcription_format(tmp_path: Path) -> None:
    path = tmp_path / "transcription"
    path.write_text("<s> he was not an ill disposed young man </s> (clip-0880)\n\nnot a line\n")
    assert read_sphinx_transcription(path) == {"clip-0880": "<s> he was not an ill disposed young man </s>"}
    assert normalize_words(read_sphinx_transcription(path)["clip-0880"])[:3] == ["he", "was", "not"]
