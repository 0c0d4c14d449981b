"""Deployment rehearsal, stage 5: the web service as the ECS task definition runs it, on the calls
the pipeline rehearsal processed (tests/rehearsal/test_pipeline_rehearsal.py calls this).

The image is built by following its Dockerfile from the `image` step's build context, and two tasks
start with the deployed task definition's environment and secrets (tests/rehearsal/web_service.py,
which lists the substitutions: the registry database, the AWS endpoint, the binding). The database
is prepared by the documented one-off commands (docs/OPERATIONS.md's migration step, docs/DEPLOY.md's
first-admin task), and the admin logs in with the password of the secret the task reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.rehearsal.deployment import ENV
from tests.rehearsal.web_service import ALB_HEADERS, login, web_service, web_task_definition

REPO = Path(__file__).resolve().parents[2]
SNS_FIXTURES = REPO.parent / "shared" / "fixtures" / "sns"


def assert_the_web_service_runs_as_deployed(r, workdir: Path, endpoint: str, calls: dict[str, bytes]) -> None:
    """Two tasks of the web service serve `calls` (call id -> the recording's bytes in the lake)."""
    task = web_task_definition(r)
    web = r.stack("WebApp")
    # what ECS holds is what the template says
    (held,) = r.client("ecs").describe_task_definition(
        taskDefinition=web.physical[web.properties("AWS::ECS::TaskDefinition")[0]]
    )["taskDefinition"]["containerDefinitions"]
    assert {e["name"]: e["value"] for e in held["environment"]} == task.environment
    assert {s["name"]: s["valueFrom"] for s in held["secrets"]} == task.secrets

    # the registry the pipeline wrote (its secret already points at the local database)
    admin_password = r.client("secretsmanager").get_secret_value(
        SecretId=f"callcare/{ENV}/web/admin_password"
    )["SecretString"]
    with web_service(r, workdir, endpoint) as service:
        # the documented one-offs ran; no password reached their log (CloudWatch)
        (migrate, migrated), (init, initialized) = service.one_offs
        assert migrate == ["callcare-web", "db", "upgrade"] and init == ["callcare-web", "init"]
        assert "registry: at" in migrated.stdout and "web: at" in migrated.stdout
        assert "from the environment" in initialized.stdout  # the first admin, from the task's secret
        for _, done in service.one_offs:
            assert admin_password not in done.stdout + done.stderr
        assert service.registry_front.connections > 0  # over TLS: sslmode=require, as shipped

        one, two = service.instances
        for instance in (one, two):
            assert service.health(instance) == 200, instance.output()[-2000:]
        assert task.health_path == "/health" and task.healthy_codes == "200"

        # the admin logs in on one task; its session cookie works on the other (one signing key)
        cookies = login(one, "admin", admin_password)
        anonymous = requests.get(f"{two.url}/calls/", headers=ALB_HEADERS, allow_redirects=False, timeout=30)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        listing = requests.get(f"{two.url}/calls/", headers=ALB_HEADERS, cookies=cookies, timeout=30)
        assert listing.status_code == 200, listing.text[:500]
        for call_id in calls:
            assert call_id in listing.text

        # the detail page, and the recording through a presigned URL on the lake's endpoint
        call_id, audio = next(iter(calls.items()))
        detail = requests.get(f"{one.url}/calls/{call_id}", headers=ALB_HEADERS, cookies=cookies, timeout=30)
        assert detail.status_code == 200, detail.text[:500]
        assert f"/calls/{call_id}/audio" in detail.text
        redirect = requests.get(
            f"{two.url}/calls/{call_id}/audio",
            headers=ALB_HEADERS,
            cookies=cookies,
            allow_redirects=False,
            timeout=30,
        )
        assert redirect.status_code == 302, redirect.text[:500]
        location = redirect.headers["Location"]
        assert location.startswith(f"{endpoint}/") and "X-Amz-Signature=" in location
        played = requests.get(location, timeout=30)  # the browser's request: no credentials of its own
        assert played.status_code == 200 and played.content == audio

        # SNS: only the template's topic passes the allow-list
        _sns_endpoint_accepts_only_the_template_topic(r, task, one)

        # nothing went wrong in the tasks' logs (CloudWatch)
        for instance in (one, two):
            log = instance.output()
            assert "[ERROR]" not in log and "Traceback" not in log, log


def _sns_endpoint_accepts_only_the_template_topic(r, task, instance) -> None:
    """A message AWS really signed, for another topic, is refused by the allow-list; the same message
    for the template's call-alert topic passes it and is refused only by the signature check (its
    signature is for the other topic). Infra subscribes no HTTPS endpoint (docs/DEPLOY.md, "SNS"), and
    a message AWS signs for our topic cannot be made offline: tests/webapp/test_sns.py confirms
    subscriptions from real signed messages."""
    allowed = task.environment["CALLCARE_WEB_SNS_TOPIC_ARNS"]
    assert allowed == task.environment["CALLCARE_SNS_TOPIC_ARN"]
    assert allowed in [t["TopicArn"] for t in r.client("sns").list_topics()["Topics"]]
    # the topic the pipeline publishes its call alerts to
    airflow = r.stack("Airflow")
    options = airflow.resolve(airflow.properties("AWS::MWAA::Environment")[1]["AirflowConfigurationOptions"])
    assert options["callcare.sns_topic_arn"] == allowed
    signed = json.loads(
        (SNS_FIXTURES / "django-sns-view-subscription-confirmation.verified.json").read_text()
    )
    headers = {
        **ALB_HEADERS,
        "x-amz-sns-message-type": "SubscriptionConfirmation",
        "Content-Type": "text/plain",
    }

    def post(message: dict) -> tuple[int, str]:
        before = len(instance.output())
        answer = requests.post(
            f"{instance.url}/sns/events", data=json.dumps(message), headers=headers, timeout=30
        )
        return answer.status_code, instance.output()[before:]

    status, log = post(signed)
    assert status == 400 and "topic not allowed" in log, log
    ours = {
        **signed,
        "TopicArn": allowed,
        "SubscribeURL": signed["SubscribeURL"].replace(signed["TopicArn"], allowed),
    }
    status, log = post(ours)
    assert status == 400 and "SNS message refused" in log and "topic not allowed" not in log, log
