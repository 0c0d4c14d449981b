"""The summary JSON Schema and its validator: what passes, what fails, and what a failure says."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from callcare.summarization.schema import (
    SummaryInvalid,
    load_prompt_template,
    load_schema,
    prompts_dir,
    validate_summary,
)

GOOD = {
    "call_date": "2026-03-14",
    "issue_sentence": "The customer was billed twice for one order.",
    "key_details": ["Two charges of $18.40 on March 2."],
    "action_items": ["Refund the duplicate charge (done during the call)."],
    "next_steps": ["The refund appears within five business days."],
    "sentiment": "Positive",
    "customer_sentiment": "Neutral",
    "agent_sentiment": "Positive",
    "agent_id": "AGT-1024",
    "customer_id": "QX55120",
    "category": "billing",
    "resolved": True,
    "escalated": False,
}


def reason_for(summary: dict) -> str:
    with pytest.raises(SummaryInvalid) as info:
        validate_summary(summary)
    return str(info.value)


def test_a_complete_summary_validates() -> None:
    validate_summary(GOOD)


def test_ids_may_be_null_and_lists_empty() -> None:
    summary = {**GOOD, "agent_id": None, "customer_id": None, "action_items": [], "next_steps": []}
    validate_summary(summary)


def test_missing_field_is_named() -> None:
    summary = {k: v for k, v in GOOD.items() if k != "agent_id"}
    assert reason_for(summary) == "$: missing required field(s) agent_id"


def test_extra_field_is_named() -> None:
    assert "unexpected field(s) confidence" in reason_for({**GOOD, "confidence": 0.9})


def test_enum_violation_names_the_allowed_values_but_not_the_value() -> None:
    reason = reason_for({**GOOD, "sentiment": "Furious about card 4111 1111"})
    assert reason.startswith("$.sentiment: must be one of Positive, Neutral, Negative")
    assert "4111" not in reason and "Furious" not in reason


@pytest.mark.parametrize("date", ["14/03/2026", "2026-3-14", "2026-13-40", ""])
def test_call_date_must_be_a_real_iso_date(date: str) -> None:
    assert reason_for({**GOOD, "call_date": date}).startswith("$.call_date:")


def test_list_items_must_be_strings_and_the_path_points_at_the_item() -> None:
    reason = reason_for({**GOOD, "key_details": ["fine", 42]})
    assert reason == "$.key_details[1]: must be of type string, got int"


def test_category_is_a_closed_list_that_includes_other() -> None:
    schema = load_schema()
    assert "other" in schema["properties"]["category"]["enum"]
    assert reason_for({**GOOD, "category": "weather"}).startswith("$.category: must be one of")


def test_booleans_are_not_strings() -> None:
    assert reason_for({**GOOD, "resolved": "yes"}) == "$.resolved: must be of type boolean, got str"


def test_several_errors_are_reported_shallowest_first_and_capped() -> None:
    bad = {**GOOD, "sentiment": "meh", "resolved": "no", "escalated": 1, "agent_id": 5, "key_details": [1]}
    reason = reason_for(bad)
    assert reason.count("$.") == 3 and reason.endswith("(+2 more)")
    assert "key_details" not in reason  # the nested one sorts after the top-level ones


def test_not_an_object_at_all() -> None:
    assert reason_for(["a list"]) == "$: must be of type object, got list"  # type: ignore[arg-type]


def test_load_schema_returns_a_copy() -> None:
    first = load_schema()
    first["properties"].clear()
    assert load_schema()["properties"]


def test_schema_and_prompt_can_come_from_another_folder(tmp_path: Path) -> None:
    src = prompts_dir()
    shutil.copy(src / "summary_v1.schema.json", tmp_path / "summary_v9.schema.json")
    (tmp_path / "summary_v9.prompt.txt").write_text(
        "<!-- system -->\nS {{schema}}\n<!-- user -->\nU {{transcript}}\n"
    )
    schema = json.loads((tmp_path / "summary_v9.schema.json").read_text())
    assert load_schema("v9", tmp_path) == schema
    validate_summary(copy.deepcopy(GOOD), "v9", tmp_path)
    assert load_prompt_template("v9", tmp_path) == ("S {{schema}}", "U {{transcript}}")


def test_unknown_version_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="v404"):
        load_schema("v404")
    with pytest.raises(FileNotFoundError, match="prompt template"):
        load_prompt_template("v1", tmp_path)


def test_v1_prompt_has_its_placeholders() -> None:
    system, user = load_prompt_template("v1")
    assert "{{schema}}" in system
    assert "{{transcript}}" in user and "{{call_date}}" in user
    assert "JSON" in system and "null" in system
