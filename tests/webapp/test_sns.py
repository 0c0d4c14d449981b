"""SNS signature verification on real signed messages (../shared/fixtures/sns), and the endpoint."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from callcare_web.sns import InvalidMessage, SnsVerifier, check_sns_url, string_to_sign

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
    check_sns_url("https://sns.cn-north-1.amazonaws.com.cn/x.pem", "url")


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
