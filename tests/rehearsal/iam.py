"""IAM enforcement in the rehearsal's moto server: least privilege tested where moto can test it.

moto switches IAM enforcement on for every service at once (`POST /moto-api/reset-auth` with "0"):
each request's SigV4 signature is checked against an IAM user's access key or an STS assumed role's
credentials, and the action is evaluated against that principal's policies. But moto evaluates the
policies' `Resource` only where it knows the request's resource:

- S3: `arn:aws:s3:::bucket` and `arn:aws:s3:::bucket/key` (moto/core/authorization.py
  `_authenticate_and_authorize_s3_action`);
- SQS, STS and IAM, whose responses define `_determine_resource` (the queue's ARN, the role to assume).

Every other service (SNS, Secrets Manager, KMS, Athena, Glue, CloudWatch, Transcribe...) is checked
against the resource "*", which no statement scoped to an ARN matches: enforcing those would deny
every least-privilege grant and test moto, not our policies. So `enforced()` patches moto's
authorizer, in this process only (the ThreadedMotoServer of tests/support/aws_fixtures.py: the fake,
never the product), to leave the other services unenforced, and to close the gaps of moto 5.2 on
S3 and SQS that would otherwise answer differently from AWS:

- presigned URLs (query-string SigV4, no Authorization header) make moto's authorizer fail with a
  500 (it reads the Authorization header unconditionally). Here their signature is recomputed from
  the query (`PresignedS3Request`), their expiry checked, and the action authorized for the
  credential's principal, as S3 does; an unsigned request, or one with SigV2 query authentication
  (nothing of ours sends either), is refused;
- DeleteObjects (POST ?delete) is authorized by moto once, as s3:DeleteObject on the bucket's ARN,
  which no grant scoped to a prefix matches; S3 authorizes it key by key. Here each key is
  authorized on its own ARN; if any key is refused the whole request is refused (S3 would delete
  the allowed keys and report the others: stricter, never more permissive);
- GetQueueUrl (SQS) is checked by moto against "*" (it looks for a QueueUrl parameter, and
  GetQueueUrl has a QueueName); here against the named queue's ARN, as SQS does;
- nothing else: moto's S3 action names (HEAD object = s3:GetObject, multipart parts and completion =
  s3:PutObject, DELETE ?uploadId = s3:AbortMultipartUpload) are AWS's.

What this does not make moto evaluate, and why (docs/DEPLOY.md repeats it): policy conditions
(moto's evaluator supports StringEquals on request values it collects for AssumeRole only; every
other condition counts as met, so a condition never narrows a grant here); resource policies (KMS
key policies, SNS topic policies; bucket policies are not deployed: moto's CloudFormation skips
AWS::S3::BucketPolicy, and moto would evaluate their TLS-only Deny with its condition counted as
met, refusing every request); the KMS permissions behind SSE-KMS (moto's S3 never asks KMS);
trust policies naming a service principal (moto compares AWS principals only and fails on a
`Service` one), so `role_credentials` assumes a role as the service does, through moto's STS backend.

What moto's signature check covers: the request line, the signed headers and the payload hash
the client declares in x-amz-content-sha256 (botocore's canonical request takes that header as it
is). It does not hash the body to compare, so a body altered after signing would pass. pyarrow's
S3 client (AWS SDK for C++, pyarrow 25) writes every object as a multipart upload and sends its
parts with STREAMING-UNSIGNED-PAYLOAD-TRAILER (aws-chunked, no chunk signatures, a CRC64NVME
trailer): moto verifies the request's signature and strips the chunk framing, but checks neither
the trailer's checksum nor, for STREAMING-AWS4-HMAC-SHA256-PAYLOAD requests, the chunk signatures.
Signed requests are therefore tested for who signed them and what they may do, not for payload
integrity.

Once enforcement is on, the keys the harness signed with before ("rehearsal", "testing") are no
IAM user's: `create_operator` makes, before enforcement, the operator user with an admin policy
whose key the harness then signs its own calls with.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import boto3
import requests

OPERATOR = "rehearsal-operator"
# the services whose requests moto knows the resource of (module docstring): enforced
RESOURCE_EVALUATED = frozenset({"s3", "sqs", "sts", "iam"})
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ROLE_SESSION_S = 12 * 3600  # longer than any rehearsal


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def environ(self) -> dict[str, str]:
        """The AWS_* variables a process (boto3, pyarrow's AWS SDK) takes its credentials from."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def session(self, region: str) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
        )


def create_operator(iam_client: Any) -> Credentials:
    """The operator's IAM user, admin, and its access key. Call before `enforced()`: after, only an
    IAM user's key may create one."""
    iam_client.create_user(UserName=OPERATOR)
    iam_client.put_user_policy(
        UserName=OPERATOR, PolicyName="administrator", PolicyDocument=json.dumps(ADMIN_POLICY)
    )
    key = iam_client.create_access_key(UserName=OPERATOR)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def use_operator(deployment: Any, operator: Credentials) -> None:
    """The harness's calls (Deployment.client) and the deploy steps (deploy.sh) sign as the operator."""
    deployment.session = operator.session(deployment.session.region_name)
    deployment.env.update(operator.environ())
    deployment.env.pop("AWS_SESSION_TOKEN", None)


def role_credentials(role_arn: str, session_name: str, region: str) -> Credentials:
    """A role's credentials as the service its trust policy names (MWAA, ECS tasks) receives them.

    On AWS, MWAA and Fargate call sts:AssumeRole as their service principal. moto cannot evaluate a
    trust policy whose principal is a `Service` (module docstring), so the role is assumed through
    moto's STS backend in this process, which records the session exactly as AssumeRole does; moto's
    authorizer then knows its key, secret and token and evaluates the role's own policies.
    """
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    account = role_arn.split(":")[4]
    assumed = sts_backends[account][get_partition(region)].assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy=None,  # type: ignore[arg-type]
        duration=ROLE_SESSION_S,
        external_id=None,  # type: ignore[arg-type]
    )
    return Credentials(assumed.access_key_id, assumed.secret_access_key, assumed.session_token)


def execution_role_arn(deployment: Any) -> str:
    """The MWAA environment's ExecutionRoleArn, from the deployed Airflow stack."""
    airflow = deployment.stack("Airflow")
    _, mwaa = airflow.properties("AWS::MWAA::Environment")
    return airflow.resolve(mwaa["ExecutionRoleArn"])


def task_role_arn(deployment: Any) -> str:
    """The web task definition's TaskRoleArn, from the deployed WebApp stack."""
    web = deployment.stack("WebApp")
    _, task = web.properties("AWS::ECS::TaskDefinition")
    return web.resolve(task["TaskRoleArn"])


@contextlib.contextmanager
def enforced(endpoint: str) -> Iterator[None]:
    """moto's IAM enforcement on, for the services of RESOURCE_EVALUATED, until the block ends."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorizer(original)  # type: ignore[method-assign]
    previous = "inf"
    try:
        answer = requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=30)
        answer.raise_for_status()
        previous = str(answer.json()["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])
        yield
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=previous.encode(), timeout=30)
        ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]


def _authorizer(original: Any) -> Any:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest, S3IAMRequest
    from moto.s3.exceptions import S3AccessDeniedError

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            return original(self, iam_request_cls, resource)
        if iam_request_cls is IAMRequest:
            service = _signed_service(self.headers)
            if service not in RESOURCE_EVALUATED:
                return None  # checked against "*" only: not enforced (module docstring)
            if service == "sqs" and resource == "*" and self._get_action() == "GetQueueUrl":
                resource = _queue_arn(self)
            return original(self, iam_request_cls, resource)
        if iam_request_cls is S3IAMRequest:
            if "Authorization" not in self.headers:
                if "X-Amz-Credential" not in self.querystring:
                    # anonymous, or SigV2 query authentication: nothing of ours sends either, and
                    # the lake's buckets grant nothing to anonymous callers
                    raise S3AccessDeniedError()
                request = _presigned_request_class().from_response(self)
                request.check_signature()
                request.check_action_permitted(resource)
                return None
            if self.data.get("Action") == "DeleteObject" and "/" not in resource.split(":::", 1)[1]:
                for key in _delete_keys(self.body):
                    original(self, iam_request_cls, f"{resource}/{key}")
                return None
        return original(self, iam_request_cls, resource)

    return authorize


def _signed_service(headers: Any) -> str:
    """The service of a SigV4 Authorization header's credential scope (key/date/region/service/...)."""
    scope = headers.get("Authorization", "").partition("Credential=")[2].partition(",")[0]
    parts = scope.split("/")
    return parts[3] if len(parts) > 3 else ""


def _queue_arn(response: Any) -> str:
    """GetQueueUrl's resource: the named queue (moto reads QueueUrl only, and answers "*")."""
    from moto.sqs.exceptions import QueueDoesNotExist

    try:
        return response.sqs_backend.get_queue(response._get_param("QueueName")).queue_arn
    except QueueDoesNotExist:
        return "*"


def _delete_keys(body: bytes) -> list[str]:
    import xmltodict

    objects = xmltodict.parse(body)["Delete"].get("Object", [])
    return [o["Key"] for o in (objects if isinstance(objects, list) else [objects])]


@functools.cache
def _presigned_request_class() -> type:
    from moto.iam.access_control import S3IAMRequest

    class PresignedS3Request(S3IAMRequest):  # type: ignore[misc, valid-type]
        """A presigned (query-string SigV4) S3 request, authorized as S3 authorizes it.

        moto's request classes read the credential from the Authorization header; here the
        header is made from the query's X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Signature
        (and X-Amz-Security-Token) so moto finds the principal, and the signature is recomputed
        the way SigV4 query authentication defines it (UNSIGNED-PAYLOAD, every query parameter but
        the signature in the canonical query string).
        """

        @classmethod
        def from_response(cls, response: Any) -> PresignedS3Request:
            raw_query = response.request.query_string.decode()  # as sent, percent-encoded
            params = parse_qsl(raw_query, keep_blank_values=True)
            query = dict(params)
            headers = {k: v for k, v in response.headers.items()}
            headers["Authorization"] = (
                f"{query.get('X-Amz-Algorithm', '')} Credential={query.get('X-Amz-Credential', '')}, "
                f"SignedHeaders={query.get('X-Amz-SignedHeaders', '')}, "
                f"Signature={query.get('X-Amz-Signature', '')}"
            )
            if "X-Amz-Security-Token" in query:
                headers["X-Amz-Security-Token"] = query["X-Amz-Security-Token"]
            headers["X-Amz-Date"] = query.get("X-Amz-Date", "")
            request = cls(
                account_id=response.current_account,
                method=response.method,
                path=response.raw_path,
                data=response.data,
                body=b"",
                headers=headers,
                action=response._get_action(),
            )
            request._params = params
            request._raw_path = response.raw_path
            request._original_headers = response.headers
            return request

        def check_signature(self) -> None:
            query = dict(self._params)
            if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
                self._raise_signature_does_not_match()
            amz_date = query["X-Amz-Date"]
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            expires = dt.timedelta(seconds=int(query.get("X-Amz-Expires", "0")))
            if dt.datetime.now(dt.UTC) > signed_at + expires:
                self._raise_access_denied()  # S3: 403 AccessDenied, "Request has expired"
            signed_headers = query["X-Amz-SignedHeaders"].split(";")
            canonical_query = "&".join(
                f"{_uri_encode(k)}={_uri_encode(v)}"
                for k, v in sorted((k, v) for k, v in self._params if k != "X-Amz-Signature")
            )
            canonical_headers = "".join(
                f"{name}:{' '.join(str(self._original_headers.get(name, '')).split())}\n"
                for name in signed_headers
            )
            canonical_request = "\n".join(
                [
                    self._method,
                    self._raw_path,
                    canonical_query,
                    canonical_headers,
                    ";".join(signed_headers),
                    "UNSIGNED-PAYLOAD",
                ]
            )
            _, date, region, service, terminal = query["X-Amz-Credential"].split("/")
            scope = f"{date}/{region}/{service}/{terminal}"
            to_sign = "\n".join(
                ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
            )
            secret = self._access_key.create_credentials().secret_key
            key = f"AWS4{secret}".encode()
            for part in (date, region, service, terminal):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(signature, query["X-Amz-Signature"]):
                self._raise_signature_does_not_match()

    return PresignedS3Request


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")
