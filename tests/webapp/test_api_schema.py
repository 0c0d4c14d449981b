"""schemathesis against the REST API's own OpenAPI document, as each role (issue 19).

Every operation is called with requests generated from the document (positive data, bounded number of
examples), and every answer is checked: no server error, a status code the document lists, a body
that matches the document's schema for it, the content type it says. Then the stateful run follows
the document's links from the call list to the call's endpoints, so real call ids are used, not only
invented ones (which all answer 404).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.support.webapp import PASSWORDS, World, build_world

ROLES = ("admin", "sam", "cw1")  # admin, supervisor, caseworker
EXAMPLES = 60
OPENAPI = "/api/v1/_openapi"
# A well-formed request may still be refused by the state of what it names: a call that is not there
# (404), a user who cannot be assigned (409), a byte range the recording does not have (416). No 5xx:
# a server error is a failure.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "416", "429"]
            }
        }
    }
)


@pytest.fixture(scope="module")
def world_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Any]:
    # its own world: the run assigns calls and signs in hundreds of times
    return build_world(tmp_path_factory.mktemp("schema"), CALLCARE_WEB_LOGIN_RATE_LIMIT="100000 per minute")


def bearer(app: Any, username: str) -> dict[str, str]:
    response = app.test_client().post(
        "/api/v1/security/login",
        json={"username": username, "password": PASSWORDS[username], "provider": "db"},
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def load(app: Any, username: str) -> Any:
    """The document as this role reads it, with this role's token on every generated request (as
    schemathesis auth, so its own checks can also send requests without it)."""
    headers = bearer(app, username)
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app, headers=headers, config=CONFIG)

    @schema.auth()
    class Bearer:
        def get(self, case: Any, ctx: Any) -> str:
            return headers["Authorization"]

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": data}

    return schema


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_its_document_says(app: Any, role: str) -> None:
    schema = load(app, role)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate()

        try:
            run()
        except Exception as exc:
            raise AssertionError(f"{role}: {operation.method.upper()} {operation.path}: {exc}") from exc


@pytest.mark.parametrize("role", ROLES)
def test_following_the_links_reaches_real_calls(app: Any, world: World, role: str) -> None:
    """The call list links each call to its endpoints (OpenAPI links): the run walks them with the ids
    the list returned, and at least some of those calls answer with their documents."""
    schema = load(app, role)
    reached: list[str] = []

    class Calls(schema.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response: Any, case: Any) -> None:
            call_id = (case.path_parameters or {}).get("call_id")
            if response.status_code in (200, 206) and call_id:
                reached.append(call_id)

    Calls.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    known = {c.call_id for c in world.calls}
    assert reached and set(reached) <= known
