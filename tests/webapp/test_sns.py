"""SNS signature verification on real signed messages (../shared/fixtures/sns), and the endpoint."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from callcare_web import sns
from callcare_web.sns import InvalidMessage, SnsVerifier, check_sns_url, normalize, sns_hosts, string_to_sign

from tests.support.webapp import World
from tests.support.webapp_seed import FIXTURES

SNS = FIXTURES / "sns"
VERIFIED = sorted(SNS.glob("*.verified.json"))
TAMPERED = SNS / "django-sns-view-unsubscribe-confirmation.TAMPERED-NEGATIVE.json"
# the bundled certificates expired in 2018 and 2022: verify as of when the messages were signed
SIGNED_AT = {
    "433026a4050d206028891664da859041": dt.datetime(2018, 1, 7, 5, tzinfo=dt.UTC),
    "7ff5318490ec183fbaddaa2a969abfda": dt.datetime(2022, 7, 28, 22, tzinfo=dt.UTC),
}


# the topics of the fixtures' messages: the allow-list of the verifiers below (an empty one allows none)
TOPICS = tuple(sorted({json.loads(p.read_text())["TopicArn"] for p in [*VERIFIED, TAMPERED]}))


def local_certificates(fetched: list[str] | None = None) -> Any:
    def fetch(url: str) -> bytes:
        if fetched is not None:
            fetched.append(url)
        return (SNS / url.rsplit("/", 1)[-1]).read_bytes()

    return fetch


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def verifier_for(message: dict[str, Any], **kwargs: Any) -> SnsVerifier:
    url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    when = next(t for key, t in SIGNED_AT.items() if key in url)
    kwargs.setdefault("topic_arns", TOPICS)
    return SnsVerifier(fetch_certificate=local_certificates(), clock=lambda: when, **kwargs)


def test_fixtures_are_there() -> None:
    assert len(VERIFIED) >= 6 and TAMPERED.exists()
    versions = {load(p)["SignatureVersion"] for p in VERIFIED}
    assert versions == {"1", "2"}


@pytest.mark.parametrize("path", VERIFIED, ids=lambda p: p.name)
def test_real_messages_verify_with_a_pinned_clock(path: Path) -> None:
    message = load(path)
    verified = verifier_for(message).verify(message)
    assert verified["SigningCertURL"].startswith("https://sns.")
    assert verified["Type"] in ("Notification", "SubscriptionConfirmation")


@pytest.mark.parametrize("path", VERIFIED, ids=lambda p: p.name)
def test_real_messages_verify_with_the_expiry_check_off(path: Path) -> None:
    SnsVerifier(fetch_certificate=local_certificates(), check_expiry=False, topic_arns=TOPICS).verify(
        load(path)
    )


def test_the_tampered_message_fails() -> None:
    message = load(TAMPERED)
    with pytest.raises(InvalidMessage, match="does not verify"):
        verifier_for(message).verify(message)
    with pytest.raises(InvalidMessage):
        SnsVerifier(fetch_certificate=local_certificates(), check_expiry=False, topic_arns=TOPICS).verify(
            message
        )


@pytest.mark.parametrize("field", ["Message", "Timestamp", "TopicArn", "MessageId"])
def test_any_changed_field_fails(field: str) -> None:
    message = load(SNS / "aws-sdk-ruby-notification-sigv2-sha256.verified.json")
    message[field] = message[field] + "x"
    with pytest.raises(InvalidMessage):
        verifier_for(message).verify(message)


def test_expired_certificate_fails_on_todays_clock() -> None:
    message = load(VERIFIED[0])
    with pytest.raises(InvalidMessage, match="not valid now"):
        SnsVerifier(fetch_certificate=local_certificates(), topic_arns=TOPICS).verify(message)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com.evil.example/SimpleNotificationService-x.pem",
        "https://evil.example/sns.us-east-2.amazonaws.com/SimpleNotificationService-x.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-x.pem",
        "https://user@sns.us-east-2.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-2.amazonaws.com:8443/SimpleNotificationService-x.pem",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-x.txt",
    ],
)
def test_certificate_url_host_check_happens_before_any_fetch(url: str) -> None:
    message = load(SNS / "aws-sdk-ruby-notification-sigv2-sha256.verified.json")
    message["SigningCertURL"] = url
    fetched: list[str] = []
    with pytest.raises(InvalidMessage):
        SnsVerifier(
            fetch_certificate=local_certificates(fetched), check_expiry=False, topic_arns=TOPICS
        ).verify(message)
    assert fetched == []


def test_china_regions_are_sns_hosts() -> None:
    hosts = sns_hosts(("arn:aws-cn:sns:cn-north-1:123456789012:callcare",))
    check_sns_url("https://sns.cn-north-1.amazonaws.com.cn/x.pem", "url", hosts)


def test_sns_hosts_are_those_of_the_topics_regions() -> None:
    arns = (
        "arn:aws:sns:eu-west-1:123456789012:callcare",
        "arn:aws:sns:us-gov-west-1:123456789012:callcare.fifo",
        "arn:aws-cn:sns:cn-north-1:123456789012:callcare",
        "arn:aws:sns:eu-west-1:123456789012:other",
        "not an arn",
        "arn:aws:sns:evil.example/x:123456789012:callcare",
    )
    assert sns_hosts(arns) == {
        "sns.eu-west-1.amazonaws.com",
        "sns.us-gov-west-1.amazonaws.com",
        "sns.cn-north-1.amazonaws.com.cn",
    }


@pytest.mark.parametrize(
    "host",
    [
        "sns.eu-west-1.amazonaws.com",  # a real region, but not the topic's (us-east-2)
        "sns.r0.amazonaws.com",  # the review's example: any [a-z0-9-]+ passed
        "sns.us-east-2-x.amazonaws.com",
        "sns.us-east-2.amazonaws.com.cn",
    ],
)
def test_certificate_url_must_be_on_the_sns_host_of_the_topics_region(host: str) -> None:
    """Security review M4: the region part was `[a-z0-9-]+`, so each invented host was a fetch."""
    message = load(SNS / "aws-sdk-ruby-notification-sigv2-sha256.verified.json")
    message["SigningCertURL"] = message["SigningCertURL"].replace("sns.us-east-2.amazonaws.com", host)
    fetched: list[str] = []
    verifier = SnsVerifier(
        fetch_certificate=local_certificates(fetched), check_expiry=False, topic_arns=TOPICS
    )
    with pytest.raises(InvalidMessage, match="SNS host of the topic's region"):
        verifier.verify(message)
    assert fetched == []


def test_the_topic_is_checked_before_any_fetch() -> None:
    message = load(SNS / "aws-sdk-ruby-notification-sigv2-sha256.verified.json")
    fetched: list[str] = []
    verifier = SnsVerifier(
        fetch_certificate=local_certificates(fetched),
        check_expiry=False,
        topic_arns=("arn:aws:sns:us-east-2:111111111111:callcare",),  # same region, another topic
    )
    with pytest.raises(InvalidMessage, match="topic not allowed"):
        verifier.verify(message)
    assert fetched == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def missing_certificate() -> dict[str, Any]:
    message = load(SNS / "aws-sdk-ruby-notification-sigv2-sha256.verified.json")
    message["SigningCertURL"] = message["SigningCertURL"].replace(".pem", "0.pem")  # no such file
    return message


def test_a_certificate_url_that_failed_is_not_fetched_again() -> None:
    """Security review M4: failed fetches were not cached, so each repeat of a bad URL was a fetch."""
    message = missing_certificate()
    fetched: list[str] = []
    verifier = SnsVerifier(
        fetch_certificate=local_certificates(fetched), check_expiry=False, topic_arns=TOPICS
    )
    for _ in range(3):
        with pytest.raises(InvalidMessage, match="unavailable"):
            verifier.verify(message)
    assert fetched == [message["SigningCertURL"]]


def test_a_failed_certificate_url_is_fetched_again_after_a_while() -> None:
    message = missing_certificate()
    fetched: list[str] = []
    clock = Clock()
    verifier = SnsVerifier(
        fetch_certificate=local_certificates(fetched), check_expiry=False, topic_arns=TOPICS, monotonic=clock
    )
    with pytest.raises(InvalidMessage, match="unavailable"):
        verifier.verify(message)
    clock.now += sns.NEGATIVE_TTL_S - 1
    with pytest.raises(InvalidMessage, match="cached"):
        verifier.verify(message)
    assert len(fetched) == 1
    clock.now += 2
    with pytest.raises(InvalidMessage, match="unavailable"):
        verifier.verify(message)
    assert len(fetched) == 2


def test_the_failed_fetch_cache_is_bounded() -> None:
    def fail(url: str) -> bytes:
        raise OSError(url)

    verifier = SnsVerifier(fetch_certificate=fail, topic_arns=TOPICS)
    for i in range(sns.NEGATIVE_MAX + 10):
        with pytest.raises(InvalidMessage):
            verifier.certificate(f"https://sns.us-east-2.amazonaws.com/x{i}.pem")
    assert len(verifier._failed) == sns.NEGATIVE_MAX
    assert "https://sns.us-east-2.amazonaws.com/x0.pem" not in verifier._failed


def test_certificates_are_fetched_once() -> None:
    message = load(SNS / "aws-sdk-ruby-notification-sigv2-sha256.verified.json")
    fetched: list[str] = []
    verifier = SnsVerifier(
        fetch_certificate=local_certificates(fetched), check_expiry=False, topic_arns=TOPICS
    )
    for _ in range(3):
        verifier.verify(message)
    assert fetched == [message["SigningCertURL"]]


def test_unknown_type_and_version_fail() -> None:
    message = load(VERIFIED[0])
    for change in ({"Type": "Other"}, {"SignatureVersion": "3"}, {"Signature": "!!not base64!!"}):
        with pytest.raises(InvalidMessage):
            SnsVerifier(fetch_certificate=local_certificates(), check_expiry=False, topic_arns=TOPICS).verify(
                {**message, **change}
            )


def test_topic_allow_list() -> None:
    message = load(SNS / "aws-sdk-ruby-notification-sigv1-sha1.verified.json")
    with pytest.raises(InvalidMessage, match="topic"):
        verifier_for(message, topic_arns=("arn:aws:sns:us-east-1:111111111111:callcare",)).verify(message)
    verifier_for(message, topic_arns=(message["TopicArn"],)).verify(message)


def test_an_empty_allow_list_refuses_every_topic() -> None:
    """Signed by AWS is not enough (anyone can own a topic): with no topic allowed, none passes."""
    message = load(SNS / "aws-sdk-ruby-notification-sigv1-sha1.verified.json")
    with pytest.raises(InvalidMessage, match="topic not allowed"):
        verifier_for(message, topic_arns=()).verify(message)
    with pytest.raises(InvalidMessage, match="topic not allowed"):
        SnsVerifier(fetch_certificate=local_certificates(), check_expiry=False).verify(message)


def test_string_to_sign_of_a_notification_without_subject() -> None:
    message = load(SNS / "django-sns-view-notification-no-subject.verified.json")
    text = string_to_sign(message).decode()
    assert (
        text.startswith("Message\n") and "Subject" not in text and text.endswith(f"Type\n{message['Type']}\n")
    )


# -- the endpoint ---------------------------------------------------------------------------------------
@pytest.fixture
def sns_app(app: Any) -> Any:
    """The app with the fixtures' topics allowed (CALLCARE_WEB_SNS_TOPIC_ARNS) and no network."""
    confirmed: list[str] = []
    web = app.config["CALLCARE_WEB"]
    app.config["CALLCARE_WEB"] = dataclasses.replace(web, sns_topic_arns=TOPICS)
    app.extensions["callcare_sns_verifier"] = SnsVerifier(
        fetch_certificate=local_certificates(), check_expiry=False, topic_arns=TOPICS
    )
    app.extensions["callcare_sns_confirm"] = confirmed.append
    app.confirmed = confirmed
    yield app
    app.config["CALLCARE_WEB"] = web
    app.extensions.pop("callcare_sns_verifier")
    app.extensions.pop("callcare_sns_confirm")


def post(app: Any, message: dict[str, Any]) -> Any:
    return app.test_client().post(
        "/sns/events",
        data=json.dumps(message),
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": message["Type"]},
    )


class SignedAsIs(SnsVerifier):
    """A verifier that takes every allowed topic's message as signed: the endpoint's own checks of
    fields AWS signs (SubscribeURL, Message), which no real signed fixture gets wrong."""

    def verify(self, raw: dict[str, Any]) -> dict[str, Any]:
        message = normalize(raw)
        if message.get("TopicArn") not in self.topic_arns:
            raise InvalidMessage("topic not allowed")
        return message


@pytest.fixture
def signed_as_is(sns_app: Any) -> Any:
    sns_app.extensions["callcare_sns_verifier"] = SignedAsIs(topic_arns=TOPICS)
    return sns_app


def test_endpoint_confirms_only_on_the_sns_host_of_the_topics_region(signed_as_is: Any) -> None:
    message = load(SNS / "django-sns-view-subscription-confirmation.verified.json")
    region = message["TopicArn"].split(":")[3]
    for host in ("sns.eu-west-1.amazonaws.com", "sns.r0.amazonaws.com"):
        other = {
            **message,
            "SubscribeURL": message["SubscribeURL"].replace(f"sns.{region}.amazonaws.com", host),
        }
        assert post(signed_as_is, other).status_code == 502
    assert signed_as_is.confirmed == []
    assert post(signed_as_is, message).status_code == 200
    assert signed_as_is.confirmed == [message["SubscribeURL"]]


@pytest.mark.parametrize(
    "call_id",
    ["c-0123456789abcdef0123", "c-0123456789ABCDEF0123", "c-0123456789abcdef0123\n", "<script>", "c-1", 7],
)
def test_a_notifications_call_id_is_recorded_only_when_it_is_a_call_id(
    signed_as_is: Any, call_id: Any
) -> None:
    """Security review M4: a topic's publisher chose the audit row's call_id freely."""
    from tests.support.webapp import audit_rows

    message = load(SNS / "django-sns-view-notification-with-subject-and-attributes.verified.json")
    message["Message"] = json.dumps({"call_id": call_id})
    message["MessageId"] = f"m-{call_id!r}"
    assert post(signed_as_is, message).status_code == 200
    row = audit_rows(signed_as_is, action="sns_notification")[-1]
    assert json.loads(row["detail"])["message_id"] == message["MessageId"]
    assert row["call_id"] == (call_id if call_id == "c-0123456789abcdef0123" else None)


def test_endpoint_is_rate_limited_per_client_address(sns_app: Any) -> None:
    """Security review M4: no login and no limit. Junk counts too; another address has its own
    budget; a forged X-Forwarded-For buys nothing without CALLCARE_WEB_PROXY_HOPS."""
    web = sns_app.config["CALLCARE_WEB"]
    sns_app.config["CALLCARE_WEB"] = dataclasses.replace(web, sns_rate_limit="3 per minute")
    try:
        client = sns_app.test_client()

        def post_from(address: str, **headers: str) -> int:
            environ = {"REMOTE_ADDR": address}
            return client.post("/sns/events", data="junk", headers=headers, environ_base=environ).status_code

        assert [post_from("198.51.100.1") for _ in range(4)] == [400, 400, 400, 429]
        assert post_from("198.51.100.1", **{"X-Forwarded-For": "203.0.113.9"}) == 429
        assert post_from("198.51.100.2") == 400
    finally:
        sns_app.config["CALLCARE_WEB"] = web


def test_the_rate_limit_counts_the_forwarded_client_behind_proxy_hops(tmp_path: Path) -> None:
    """Behind the load balancer (CALLCARE_WEB_PROXY_HOPS=1) each client has its own budget, not one
    bucket for everyone at the balancer's address."""
    from callcare_web.app import create_app
    from callcare_web.config import WebSettings

    from tests.support.webapp import web_env

    env = web_env(
        tmp_path,
        CALLCARE_WEB_PROXY_HOPS="1",
        CALLCARE_WEB_SNS_TOPIC_ARNS=",".join(TOPICS),
        CALLCARE_WEB_SNS_RATE_LIMIT="2 per minute",
    )
    app = create_app(WebSettings.from_mapping(env))
    balancer = app.test_client()

    def post_from(client_address: str) -> int:
        return balancer.post(
            "/sns/events",
            data="junk",
            headers={"X-Forwarded-For": client_address},
            environ_base={"REMOTE_ADDR": "10.0.0.5"},  # every request reaches the task from the balancer
        ).status_code

    assert [post_from("198.51.100.1") for _ in range(3)] == [400, 400, 429]
    assert [post_from("198.51.100.2") for _ in range(2)] == [400, 400]


def test_endpoint_confirms_a_subscription(sns_app: Any) -> None:
    message = load(SNS / "django-sns-view-subscription-confirmation.verified.json")
    response = post(sns_app, message)
    assert response.status_code == 200
    assert sns_app.confirmed == [message["SubscribeURL"]]


def test_endpoint_refuses_the_tampered_message(sns_app: Any) -> None:
    response = post(sns_app, load(TAMPERED))
    assert response.status_code == 400
    assert sns_app.confirmed == []


def test_endpoint_takes_a_notification_and_wakes_the_live_feed(sns_app: Any, world: World) -> None:
    from tests.support.webapp import audit_rows

    hub = sns_app.extensions["callcare_live"]
    hub.wake.clear()
    message = load(SNS / "django-sns-view-notification-with-subject-and-attributes.verified.json")
    response = post(sns_app, message)
    assert response.status_code == 200
    assert hub.wake.is_set()
    assert audit_rows(sns_app, action="sns_notification")[-1]["detail"]


def test_endpoint_refuses_junk_and_mismatched_headers(sns_app: Any) -> None:
    client = sns_app.test_client()
    assert client.post("/sns/events", data="not json").status_code == 400
    assert client.post("/sns/events", data="[1, 2]").status_code == 400
    message = load(VERIFIED[0])
    response = client.post(
        "/sns/events",
        data=json.dumps(message),
        headers={"x-amz-sns-message-type": "SubscriptionConfirmation"},
    )
    assert response.status_code == 400


def test_endpoint_needs_no_login_and_no_csrf(sns_app: Any) -> None:
    message = load(SNS / "aws-sdk-ruby-notification-lambda-style-keys.verified.json")
    assert post(sns_app, message).status_code == 200


def test_endpoint_is_off_without_a_topic_allow_list(app: Any) -> None:
    """The default settings (no CALLCARE_WEB_SNS_TOPIC_ARNS): a valid signed subscription confirmation
    of any topic is neither confirmed nor verified (no certificate fetched), and leaves no audit row."""
    from tests.webapp.test_pages import audit_rows

    assert app.config["CALLCARE_WEB"].sns_topic_arns == ()
    fetched: list[str] = []
    confirmed: list[str] = []
    app.extensions["callcare_sns_verifier"] = SnsVerifier(
        fetch_certificate=local_certificates(fetched), check_expiry=False, topic_arns=TOPICS
    )
    app.extensions["callcare_sns_confirm"] = confirmed.append
    try:
        before = len(audit_rows(app))
        response = post(app, load(SNS / "django-sns-view-subscription-confirmation.verified.json"))
        assert response.status_code == 404
        assert confirmed == [] and fetched == []
        assert len(audit_rows(app)) == before
    finally:
        app.extensions.pop("callcare_sns_verifier")
        app.extensions.pop("callcare_sns_confirm")


def test_refused_messages_write_no_audit_row(sns_app: Any) -> None:
    """The endpoint needs no login: a row per refusal would let anyone fill the append-only audit log."""
    from tests.webapp.test_pages import audit_rows

    before = audit_rows(sns_app)
    client = sns_app.test_client()
    assert client.post("/sns/events", data='{"Type": "x"}').status_code == 400
    assert client.post("/sns/events", data="not json").status_code == 400
    assert post(sns_app, load(TAMPERED)).status_code == 400
    other_topic = load(SNS / "aws-sdk-ruby-notification-sigv1-sha1.verified.json")
    sns_app.extensions["callcare_sns_verifier"].topic_arns = ("arn:aws:sns:eu-west-1:123456789012:other",)
    assert post(sns_app, other_topic).status_code == 400
    assert audit_rows(sns_app) == before


@pytest.mark.parametrize(
    "body",
    [
        '{"Type": []}',
        '{"Type": "Notification", "TopicArn": {"a": 1}}',
        '{"Type": "Notification", "SignatureVersion": 1}',
        "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser recurses
        '{"Type": "Notification", "Message": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
)
def test_endpoint_answers_400_to_wrongly_typed_or_deep_json(sns_app: Any, body: str) -> None:
    """Security review L5: a field of the wrong type or nesting past the parser's depth was a 500."""
    response = sns_app.test_client().post(
        "/sns/events", data=body, headers={"Content-Type": "text/plain; charset=UTF-8"}
    )
    assert response.status_code == 400
