"""The SNS HTTPS endpoint: verifies each message's signature, confirms subscriptions, wakes the live feed.

Verification follows AWS's rules: the signing certificate must come over HTTPS from an SNS host, be
currently valid, and its key must verify the signature (RSA PKCS#1 v1.5 with SHA1 for
SignatureVersion 1, SHA256 for 2) over the canonical string of the message's fields. Only the topics
of CALLCARE_WEB_SNS_TOPIC_ARNS are accepted, even when signed: anyone can own an SNS topic, subscribe
this endpoint to it and have AWS sign its messages. Without an allow-list the endpoint is off (404)
and the verifier refuses every topic.

The endpoint needs no login, so what a stranger can make it do is bounded (security review M4):
* the topic is checked first, then the certificate's URL: only the SNS host of the message's topic's
  region (`sns.eu-west-1.amazonaws.com` for a topic `arn:aws:sns:eu-west-1:...`), never any other
  region's or name's, and the same for SubscribeURL; nothing is fetched before both checks pass;
* certificates are cached by URL, and so are failed fetches (NEGATIVE_TTL_S), so a bad URL sent
  again is not fetched again;
* the app limits the endpoint per client address (CALLCARE_WEB_SNS_RATE_LIMIT);
* a refused request writes no audit row (rows for refusals would let anyone fill the append-only
  audit table; refusals are logged instead), and a notification's call_id is recorded only when it
  is a call id.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlparse

from callcare.ids import is_call_id
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Blueprint, current_app, jsonify, request

log = logging.getLogger(__name__)

# arn:<partition>:sns:<region>:<account>:<topic>
TOPIC_ARN = re.compile(
    r"arn:(aws(?:-[a-z]+)*):sns:([a-z]{2}(?:-[a-z]+)+-[0-9]+):[0-9]{12}:[A-Za-z0-9_.-]{1,256}"
)
# SNS's endpoint domain of each partition that differs from amazonaws.com
PARTITION_DOMAINS = {"aws-cn": "amazonaws.com.cn"}
NEGATIVE_TTL_S = 300.0  # how long a certificate URL that could not be fetched is not fetched again
NEGATIVE_MAX = 1024  # failed URLs remembered at most (the oldest go first)
POSITIVE_MAX = 32  # certificates kept at most
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
TYPES = {
    "Notification": NOTIFICATION_FIELDS,
    "SubscriptionConfirmation": CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": CONFIRMATION_FIELDS,
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
STRING_FIELDS = frozenset(
    (*CONFIRMATION_FIELDS, *NOTIFICATION_FIELDS, "Signature", "SignatureVersion", "SigningCertURL")
)
# Lambda-style records spell the URL keys SigningCertUrl, UnsubscribeUrl, SubscribeUrl
_KEY_ALIASES = {
    "SigningCertUrl": "SigningCertURL",
    "UnsubscribeUrl": "UnsubscribeURL",
    "SubscribeUrl": "SubscribeURL",
}


class InvalidMessage(Exception):
    pass


def normalize(message: dict[str, Any]) -> dict[str, Any]:
    """Canonical keys; every field that is signed or read is a string (or a null Subject in
    Lambda-style records; MessageAttributes, which is neither, is an object).

    Checked here, before any field is used: {"Type": []} reached a dict lookup and its TypeError was a
    500 with a traceback in the log (security review L5)."""
    out = {_KEY_ALIASES.get(k, k): v for k, v in message.items()}
    for key in STRING_FIELDS:
        if out.get(key) is not None and not isinstance(out[key], str):
            raise InvalidMessage(f"{key} is not a string")
    return out


def sns_host(topic_arn: str) -> str | None:
    """The SNS endpoint host of a topic's region (sns.eu-west-1.amazonaws.com), or None for a string
    that is not an SNS topic ARN."""
    match = TOPIC_ARN.fullmatch(topic_arn or "")
    if match is None:
        return None
    partition, region = match.groups()
    return f"sns.{region}.{PARTITION_DOMAINS.get(partition, 'amazonaws.com')}"


def sns_hosts(topic_arns: Collection[str]) -> frozenset[str]:
    """The SNS hosts of the regions of these topics."""
    return frozenset(host for host in map(sns_host, topic_arns) if host is not None)


def check_sns_url(url: str, what: str, hosts: Collection[str]) -> None:
    """`url` is https on one of `hosts` (the SNS hosts of the allowed topics' regions), port 443."""
    parsed = urlparse(url or "")
    if parsed.scheme != "https" or (parsed.hostname or "") not in hosts or parsed.port not in (None, 443):
        raise InvalidMessage(f"{what} is not an https URL on the SNS host of the topic's region")
    if parsed.username or parsed.password:
        raise InvalidMessage(f"{what} carries credentials")


def string_to_sign(message: dict[str, Any]) -> bytes:
    fields = TYPES[message["Type"]]
    parts = []
    for name in fields:
        if name in message and message[name] is not None:
            parts.append(f"{name}\n{message[name]}\n")
        elif name != "Subject":
            raise InvalidMessage(f"missing {name}")
    return "".join(parts).encode()


def _fetch_pem(url: str) -> bytes:
    import requests

    response = requests.get(url, timeout=5, allow_redirects=False)
    response.raise_for_status()
    return response.content


class SnsVerifier:
    def __init__(
        self,
        fetch_certificate: Callable[[str], bytes] = _fetch_pem,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        check_expiry: bool = True,
        topic_arns: tuple[str, ...] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch_certificate = fetch_certificate
        self.clock = clock
        self.check_expiry = check_expiry
        self.topic_arns = topic_arns
        self.monotonic = monotonic
        self._certs: dict[str, x509.Certificate] = {}
        self._failed: OrderedDict[str, tuple[float, str]] = OrderedDict()  # url -> (until, reason)
        self._lock = threading.Lock()

    def hosts(self, topic_arn: str) -> frozenset[str]:
        """Where this topic's certificate and confirmation URLs may point: the SNS host of its region,
        when it is an allowed topic (none otherwise)."""
        if topic_arn not in self.topic_arns:
            return frozenset()
        return sns_hosts((topic_arn,))

    def certificate(self, url: str) -> x509.Certificate:
        """The certificate at `url`, fetched once; a URL that failed is not fetched again for
        NEGATIVE_TTL_S (a stranger sending one bad URL over and over makes one outbound request)."""
        now = self.monotonic()
        with self._lock:
            cert = self._certs.get(url)
            failed = self._failed.get(url)
            if failed is not None and failed[0] <= now:
                del self._failed[url]
                failed = None
        if cert is not None:
            return cert
        if failed is not None:
            raise InvalidMessage(f"signing certificate unavailable ({failed[1]}, cached)")
        try:
            cert = x509.load_pem_x509_certificate(self.fetch_certificate(url))
        except Exception as exc:
            reason = type(exc).__name__
            with self._lock:
                self._failed[url] = (now + NEGATIVE_TTL_S, reason)
                self._failed.move_to_end(url)
                while len(self._failed) > NEGATIVE_MAX:
                    self._failed.popitem(last=False)
            raise InvalidMessage(f"signing certificate unavailable ({reason})") from exc
        with self._lock:
            if len(self._certs) >= POSITIVE_MAX:
                self._certs.clear()
            self._certs[url] = cert
        return cert

    def verify(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The message with canonical keys, or InvalidMessage."""
        message = normalize(raw)
        kind = message.get("Type")
        if kind not in TYPES:
            raise InvalidMessage(f"unknown message type {kind!r}")
        version = str(message.get("SignatureVersion", ""))
        if version not in HASHES:
            raise InvalidMessage(f"unsupported SignatureVersion {version!r}")
        topic = message.get("TopicArn")
        if topic not in self.topic_arns:  # an empty allow-list allows nothing
            raise InvalidMessage("topic not allowed")
        cert_url = message.get("SigningCertURL", "")
        check_sns_url(cert_url, "SigningCertURL", self.hosts(topic))
        if not urlparse(cert_url).path.endswith(".pem"):
            raise InvalidMessage("SigningCertURL is not a .pem file")
        try:
            signature = base64.b64decode(message.get("Signature") or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidMessage("signature is not base64") from exc
        data = string_to_sign(message)
        cert = self.certificate(cert_url)
        if self.check_expiry:
            now = self.clock()
            if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
                raise InvalidMessage("signing certificate is not valid now")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidMessage("signing certificate has no RSA key")
        try:
            key.verify(signature, data, padding.PKCS1v15(), HASHES[version]())
        except InvalidSignature as exc:
            raise InvalidMessage("signature does not verify") from exc
        return message


def _confirm(url: str) -> None:
    import requests

    requests.get(url, timeout=10, allow_redirects=False).raise_for_status()


def blueprint() -> Blueprint:
    bp = Blueprint("sns", __name__, url_prefix="/sns")

    @bp.route("/events", methods=["POST"])
    def events():  # type: ignore[no-untyped-def]
        from callcare_web import audit

        web = current_app.config["CALLCARE_WEB"]
        if not web.sns_enabled or not web.sns_topic_arns:
            return jsonify(message="SNS intake is off"), 404
        verifier: SnsVerifier = current_app.extensions.get("callcare_sns_verifier") or SnsVerifier(
            topic_arns=web.sns_topic_arns
        )
        current_app.extensions["callcare_sns_verifier"] = verifier
        try:
            raw = json.loads(request.get_data(cache=False, as_text=True) or "null")
            if not isinstance(raw, dict):
                raise InvalidMessage("body is not a JSON object")
            header_type = request.headers.get("x-amz-sns-message-type")
            if header_type and header_type != raw.get("Type"):
                raise InvalidMessage("message type header and body disagree")
            message = verifier.verify(raw)
        except (InvalidMessage, ValueError, RecursionError) as exc:  # deep JSON: RecursionError
            log.warning("SNS message refused: %s", str(exc)[:200])
            return jsonify(message="invalid SNS message"), 400
        kind = message["Type"]
        topic = message.get("TopicArn")
        if kind == "SubscriptionConfirmation":
            subscribe_url = message.get("SubscribeURL", "")
            try:
                check_sns_url(subscribe_url, "SubscribeURL", verifier.hosts(topic))
                confirm: Callable[[str], None] = current_app.extensions.get("callcare_sns_confirm", _confirm)
                confirm(subscribe_url)
            except Exception as exc:
                log.warning("SNS subscription not confirmed: %s", type(exc).__name__)
                return jsonify(message="subscription could not be confirmed"), 502
            audit.record("sns_subscribed", user=None, topic=topic)
            return jsonify(message="subscription confirmed"), 200
        if kind == "UnsubscribeConfirmation":
            audit.record("sns_unsubscribed", user=None, topic=topic)
            return jsonify(message="ok"), 200
        call_id = None
        try:
            body = json.loads(message.get("Message") or "")
            call_id = body.get("call_id") if isinstance(body, dict) else None
        except (ValueError, RecursionError):
            pass
        if call_id is not None and not is_call_id(call_id):
            # signed by an allowed topic, yet not a call id: recorded without it, never as given
            log.warning("SNS notification %s: call_id is not a call id", str(message.get("MessageId"))[:80])
            call_id = None
        audit.record(
            "sns_notification",
            call_id,
            user=None,
            topic=topic,
            message_id=message.get("MessageId"),
        )
        hub = current_app.extensions.get("callcare_live")
        if hub is not None:
            hub.poke()  # the outbox has (or soon has) the event: poll now
        return jsonify(message="ok"), 200

    return bp
