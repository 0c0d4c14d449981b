"""The pools both profiles get, checked in Airflow itself (issue 14, break 1).

One definition, callcare.names.POOLS: the local stack imports it with `airflow pools import`, and the
deploy step `pools` sends it through MWAA's InvokeRestApi. Here the local stack's initialization runs
for real, and the deploy step's requests reach Airflow 3's own REST API (the application the
api-server serves), through a client with MWAA's InvokeRestApi interface and error shape.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow", reason="runs in the Airflow environment (.venv)")

from botocore.exceptions import ClientError
from callcare.names import POOLS

from tests.rehearsal.steps import load_deploy_steps

steps = load_deploy_steps()


def _pools() -> dict[str, dict]:
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            p.pool: {"slots": p.slots, "description": p.description, "include_deferred": p.include_deferred}
            for p in session.query(Pool)
        }


def test_the_local_stack_creates_names_pools_with_include_deferred(airflow_db):
    """tests/conftest's airflow_db runs callcare.dev.local_stack.initialize, as run_local.sh does."""
    pools = _pools()
    for name, spec in POOLS.items():
        assert pools[name] == spec


class AirflowBehindMwaa:
    """MWAA's InvokeRestApi over Airflow's REST API application, in process: the request goes to
    /api/v2<Path> as an admin, a 4xx comes back as MWAA's RestApiClientException (botocore's shape:
    RestApiStatusCode and RestApiResponse beside Error)."""

    def __init__(self, client) -> None:
        self.client = client
        self.requests: list[tuple[str, str]] = []

    def get_environment(self, Name: str) -> dict:
        return {"Environment": {"Name": Name, "Status": "AVAILABLE"}}

    def invoke_rest_api(self, Name: str, Path: str, Method: str, Body: dict | None = None) -> dict:
        self.requests.append((Method, Path))
        response = self.client.request(Method, f"/api/v2{Path}", json=Body)
        if response.status_code >= 400:
            raise ClientError(
                {
                    "Error": {"Code": "RestApiClientException", "Message": response.text},
                    "RestApiStatusCode": response.status_code,
                    "RestApiResponse": response.json(),
                },
                "InvokeRestApi",
            )
        return {"RestApiStatusCode": response.status_code, "RestApiResponse": response.json()}


def test_the_pools_step_creates_then_updates_the_pools_through_airflows_rest_api(airflow_db, monkeypatch):
    from airflow.api_fastapi.app import create_app
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from fastapi.testclient import TestClient

    # MWAA calls the REST API as the environment's Admin role; here every caller is an admin
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    with create_session() as session:  # a metadata database that never had them
        session.query(Pool).filter(Pool.pool.in_(list(POOLS))).delete(synchronize_session=False)
    mwaa = AirflowBehindMwaa(TestClient(create_app(apps="core")))

    steps.apply_pools(mwaa, "callcare-rehearsal")
    assert {name: _pools()[name] for name in POOLS} == POOLS
    assert [m for m, _ in mwaa.requests] == ["PATCH", "POST"] * len(POOLS)

    # a rerun with other slot counts updates them in place
    bodies = [{**b, "slots": b["slots"] + 1} for b in steps.pool_bodies()]
    mwaa.requests.clear()
    steps.apply_pools(mwaa, "callcare-rehearsal", bodies=bodies)
    assert [m for m, _ in mwaa.requests] == ["PATCH"] * len(POOLS)
    assert {name: _pools()[name]["slots"] for name in POOLS} == {n: s["slots"] + 1 for n, s in POOLS.items()}

    steps.apply_pools(mwaa, "callcare-rehearsal")  # back to what ships, for the tests after this one
    assert {name: _pools()[name] for name in POOLS} == POOLS
