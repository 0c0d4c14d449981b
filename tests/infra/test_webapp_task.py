"""The web service's task definition against the web app's code: every CALLCARE_* name the task gets is
one `callcare_web.config` reads, the ones a deployment needs are there, and the ALB checks the app's
health path. And no environment but dev synthesizes without a certificate (plain HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the CDK environment: .venv-infra (infra/bootstrap.sh)")

from tests.infra.cdk_synth import PROD_CONTEXT, synthesize

# what the web service cannot run without on ECS: its registry, one signing key for every task, the
# client's address behind the ALB, whose forwarded headers gunicorn trusts, the SNS topics it accepts,
# and where the first admin's password comes from
NEEDED = {
    "CALLCARE_PROFILE",
    "CALLCARE_DB_HOST",
    "CALLCARE_DB_PORT",
    "CALLCARE_DB_USER",
    "CALLCARE_DB_PASSWORD",
    "CALLCARE_DB_NAME",
    "CALLCARE_WEB_SECRET_KEY",
    "CALLCARE_WEB_PROXY_HOPS",
    "CALLCARE_WEB_FORWARDED_ALLOW_IPS",
    "CALLCARE_WEB_SNS_TOPIC_ARNS",
    "CALLCARE_WEB_ADMIN_PASSWORD",
}


def _container(prod) -> dict[str, Any]:
    (task,) = [r for role, _, r in prod.resources("AWS::ECS::TaskDefinition") if role == "webapp"]
    (container,) = task["Properties"]["ContainerDefinitions"]
    return container


def _flat(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_the_task_sets_only_what_the_web_app_reads_and_all_it_needs(prod) -> None:
    from callcare_infra.stacks.webapp import web_config

    reads = web_config().environment_names()
    container = _container(prod)
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
    given = {name for name in [*environment, *secrets] if name.startswith("CALLCARE_")}
    assert given - reads == set(), "the task sets variables the web app never reads"
    assert NEEDED - given == set(), "the task lacks variables the web app needs"
    # credentials and the signing key come from Secrets Manager, never from the task definition
    for name in ("CALLCARE_DB_USER", "CALLCARE_DB_PASSWORD", "CALLCARE_WEB_SECRET_KEY"):
        assert name in secrets
    assert "CALLCARE_WEB_ADMIN_PASSWORD" in secrets
    assert environment["CALLCARE_PROFILE"] == "aws"
    assert environment["CALLCARE_WEB_PROXY_HOPS"] == "1"
    assert environment["CALLCARE_DB_SSLMODE"] == "require"


def test_values_point_at_the_right_resources(prod) -> None:
    container = _container(prod)
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
    # the SNS allow-list is the alerting stack's call-alert topic (a cross-stack reference)
    topic = _flat(environment["CALLCARE_WEB_SNS_TOPIC_ARNS"])
    assert "Alerting" in topic and "CallAlerts" in topic
    # gunicorn trusts forwarded headers from the VPC only (not "*")
    allow = _flat(environment["CALLCARE_WEB_FORWARDED_ALLOW_IPS"])
    assert "CidrBlock" in allow and "*" not in allow
    # the signing key and the admin password are secrets CDK generates in this stack
    generated = {
        lid: r
        for role, lid, r in prod.resources("AWS::SecretsManager::Secret")
        if role == "webapp" and "GenerateSecretString" in r["Properties"]
    }
    for name, prefix in (
        ("CALLCARE_WEB_SECRET_KEY", "WebSecretKey"),
        ("CALLCARE_WEB_ADMIN_PASSWORD", "WebAdminPassword"),
    ):
        (logical_id,) = [lid for lid in generated if lid.startswith(prefix)]
        assert secrets[name] == {"Ref": logical_id}
    # the registry host and port are the database's
    assert "Database" in _flat(environment["CALLCARE_DB_HOST"])


def test_the_task_reaches_a_postgres_registry_with_those_names() -> None:
    """The names the task gets give the app a PostgreSQL URL (not the SQLite fallback of each task)."""
    from callcare_infra.stacks.webapp import web_config

    web = web_config()
    env = {
        web.DB_HOST: "db.internal",
        web.DB_PORT: "5433",
        web.DB_USER: "callcare",
        web.DB_PASSWORD: "p@ss/w:rd",
        web.DB_NAME: "callcare",
        web.DB_SSLMODE: "require",
    }
    assert web.core_settings(env).registry_url == (
        "postgresql+psycopg2://callcare:p%40ss%2Fw%3Ard@db.internal:5433/callcare?sslmode=require"
    )


def test_the_load_balancer_checks_the_apps_health_path(prod) -> None:
    from callcare_infra.stacks.webapp import web_config

    ((_, _, target),) = prod.resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    assert target["Properties"]["HealthCheckPath"] == web_config().HEALTH_PATH == "/health"
    assert target["Properties"]["Matcher"] == {"HttpCode": "200"}


@pytest.mark.parametrize("env_name", ["prod", "staging"])
def test_no_environment_but_dev_synthesizes_without_a_certificate(env_name: str, tmp_path: Path) -> None:
    context = {**PROD_CONTEXT, "callcare:env": env_name, "callcare:certificateArn": ""}
    with pytest.raises(ValueError, match=r"callcare:certificateArn is required .* plain HTTP"):
        synthesize(context, tmp_path)
