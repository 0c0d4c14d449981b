from pathlib import Path

import pytest
from callcare.core.registry import CallNotFound, NewCall, Registry
from callcare.status import CallStatus, InvalidTransition


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.create_schema()
    return reg


def new_call(call_id: str = "c-1") -> NewCall:
    return NewCall(call_id, "inbox", "a.wav", "ab" * 32, "2026-09-02", "file:///lake/a.wav", "wav", 10)


def statuses(registry: Registry, call_id: str) -> list[str]:
    return [e["status"] for e in registry.events(call_id)]


def test_register_is_idempotent(registry: Registry) -> None:
    assert registry.register(new_call()) is True
    assert registry.register(new_call()) is False
    assert len(registry.list_calls()) == 1
    assert statuses(registry, "c-1") == ["UPLOADED"]


def test_happy_path_writes_one_event_per_change(registry: Registry) -> None:
    registry.register(new_call())
    for status in (CallStatus.TRANSCRIBING, CallStatus.SUMMARIZING):
        assert registry.transition("c-1", status)
    assert registry.transition("c-1", CallStatus.COMPLETED, sentiment="Negative", escalated=True)
    call = registry.get("c-1")
    assert call["status"] == "COMPLETED" and call["completed_at"] is not None
    assert statuses(registry, "c-1") == ["UPLOADED", "TRANSCRIBING", "SUMMARIZING", "COMPLETED"]
    last = list(registry.events("c-1"))[-1]
    assert '"sentiment": "Negative"' in last["payload_json"]


def test_reentering_a_status_is_a_silent_noop(registry: Registry) -> None:
    registry.register(new_call())
    assert registry.transition("c-1", CallStatus.TRANSCRIBING)
    assert registry.transition("c-1", CallStatus.TRANSCRIBING) is False
    assert statuses(registry, "c-1") == ["UPLOADED", "TRANSCRIBING"]


def test_failure_keeps_the_reason(registry: Registry) -> None:
    registry.register(new_call())
    registry.transition("c-1", CallStatus.TRANSCRIBING)
    registry.transition("c-1", CallStatus.FAILED, error_message="cannot decode audio")
    assert registry.get("c-1")["error_message"] == "cannot decode audio"
    assert list(registry.events("c-1"))[-1]["error_message"] == "cannot decode audio"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], CallStatus.COMPLETED),
        ([], CallStatus.SUMMARIZING),
        ([CallStatus.TRANSCRIBING, CallStatus.FAILED], CallStatus.SUMMARIZING),
        ([CallStatus.TRANSCRIBING, CallStatus.FAILED], CallStatus.FAILED),
    ],
)
def test_illegal_transitions_are_refused(
    registry: Registry, path: list[CallStatus], target: CallStatus
) -> None:
    registry.register(new_call())
    for status in path:
        registry.transition("c-1", status)
    with pytest.raises(InvalidTransition):
        registry.transition("c-1", target)


def test_reprocessing_starts_a_new_attempt(registry: Registry) -> None:
    registry.register(new_call())
    registry.mark_dispatched(["c-1"])
    assert registry.undispatched() == []
    registry.transition("c-1", CallStatus.TRANSCRIBING)
    registry.transition("c-1", CallStatus.FAILED, error_message="x")
    registry.transition("c-1", CallStatus.UPLOADED)
    call = registry.get("c-1")
    assert call["attempt"] == 2 and call["error_message"] is None
    assert registry.undispatched() == ["c-1"]


def test_unknown_call_and_prefix_lookup(registry: Registry) -> None:
    registry.register(new_call("c-abc"))
    registry.register(new_call("c-abd"))
    assert registry.find("c-abc")["call_id"] == "c-abc"
    with pytest.raises(CallNotFound):
        registry.find("c-ab")
    with pytest.raises(CallNotFound):
        registry.transition("c-zzz", CallStatus.TRANSCRIBING)


def test_only_known_fields_can_be_set(registry: Registry) -> None:
    registry.register(new_call())
    with pytest.raises(ValueError):
        registry.update_fields("c-1", status="COMPLETED")
