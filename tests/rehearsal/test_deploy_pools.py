"""The pools step (issue 14, break 1) against MWAA's own API model, through botocore's Stubber.

The Airflow pools exist on MWAA only if something that ships creates them: `deploy.sh <env> pools`
sends callcare.names.POOLS through MWAA's InvokeRestApi. The Stubber checks each request against
the botocore model of MWAA (a wrong parameter fails before any answer) and plays MWAA's answers,
including the modeled RestApiClientException that carries Airflow's 404.
"""

from __future__ import annotations

import pytest

pytest.importorskip("aws_cdk", reason="runs in the deploy environment: .venv-infra (scripts/test.sh)")

import botocore.session
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from callcare.names import POOLS, TRANSCRIBE_POOL

from tests.rehearsal.steps import load_deploy_steps

steps = load_deploy_steps()
ENVIRONMENT = "callcare-rehearsal"


@pytest.fixture
def mwaa():
    client = botocore.session.get_session().create_client(
        "mwaa", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def environment(stubber: Stubber, status: str) -> None:
    stubber.add_response(
        "get_environment", {"Environment": {"Name": ENVIRONMENT, "Status": status}}, {"Name": ENVIRONMENT}
    )


def airflow_error(stubber: Stubber, status: int, expected: dict) -> None:
    """MWAA's answer when Airflow answers 4xx: RestApiClientException with Airflow's status and body."""
    stubber.add_client_error(
        "invoke_rest_api",
        service_error_code="RestApiClientException",
        http_status_code=400,
        modeled_fields={"RestApiStatusCode": status, "RestApiResponse": {"detail": "..."}},
        expected_params=expected,
    )


def pool_response(body: dict) -> dict:
    """Airflow 3's PoolResponse for a pool with that body (slot counts of an idle pool)."""
    return {
        **body,
        "occupied_slots": 0,
        "running_slots": 0,
        "queued_slots": 0,
        "scheduled_slots": 0,
        "open_slots": body["slots"],
        "deferred_slots": 0,
        "team_name": None,
    }


def test_the_bodies_are_names_pools_with_include_deferred():
    bodies = steps.pool_bodies()
    assert {b["name"] for b in bodies} == set(POOLS)
    for body in bodies:
        assert body["include_deferred"] is True
        assert body["slots"] == POOLS[body["name"]]["slots"]
        assert set(body) == {"name", "slots", "description", "include_deferred"}  # Airflow's PoolBody


def test_missing_pools_are_created_and_existing_ones_updated_once_mwaa_is_available(mwaa):
    """Waits while the environment is being created; PATCH updates a pool that exists, a 404 from
    Airflow turns into POST /pools; every body carries include_deferred."""
    stubber = mwaa.stubber
    environment(stubber, "CREATING")
    environment(stubber, "AVAILABLE")
    bodies = steps.pool_bodies()
    for i, body in enumerate(bodies):
        patch = {"Name": ENVIRONMENT, "Path": f"/pools/{body['name']}", "Method": "PATCH", "Body": body}
        if i % 2 == 0:  # this one is new
            airflow_error(stubber, 404, patch)
            stubber.add_response(
                "invoke_rest_api",
                {"RestApiStatusCode": 201, "RestApiResponse": pool_response(body)},
                {"Name": ENVIRONMENT, "Path": "/pools", "Method": "POST", "Body": body},
            )
        else:
            stubber.add_response(
                "invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": pool_response(body)}, patch
            )
    slept = []
    applied = steps.apply_pools(mwaa, ENVIRONMENT, sleep=slept.append)
    assert slept == [30]
    assert [p["name"] for p in applied] == [b["name"] for b in bodies]


def test_an_airflow_that_drops_include_deferred_fails_the_step(mwaa):
    """If Airflow ignored include_deferred (an older API, a renamed field), the pool would not bound
    running Transcribe jobs: the step checks Airflow's answer, not only its status."""
    stubber = mwaa.stubber
    environment(stubber, "AVAILABLE")
    (body,) = [b for b in steps.pool_bodies() if b["name"] == TRANSCRIBE_POOL]
    stubber.add_response(
        "invoke_rest_api",
        {"RestApiStatusCode": 200, "RestApiResponse": pool_response({**body, "include_deferred": False})},
        {"Name": ENVIRONMENT, "Path": f"/pools/{TRANSCRIBE_POOL}", "Method": "PATCH", "Body": body},
    )
    with pytest.raises(steps.DeployError, match="include_deferred"):
        steps.apply_pools(mwaa, ENVIRONMENT, bodies=[body])


def test_a_refused_call_is_not_taken_for_a_missing_pool(mwaa):
    """Only Airflow's 404 means "create it": a 403 (the caller lacks the Admin role) stops the step."""
    stubber = mwaa.stubber
    environment(stubber, "AVAILABLE")
    body = steps.pool_bodies()[0]
    airflow_error(
        stubber, 403, {"Name": ENVIRONMENT, "Path": f"/pools/{body['name']}", "Method": "PATCH", "Body": body}
    )
    with pytest.raises(ClientError) as raised:
        steps.apply_pools(mwaa, ENVIRONMENT, bodies=[body])
    assert raised.value.response["RestApiStatusCode"] == 403


def test_a_failed_environment_stops_the_step(mwaa):
    environment(mwaa.stubber, "CREATE_FAILED")
    with pytest.raises(steps.DeployError, match="CREATE_FAILED"):
        steps.apply_pools(mwaa, ENVIRONMENT)
