"""Fixtures of the aws-profile and fault suites: the fake Drive, a service account for it, moto's server.

A pytest plugin (tests/conftest.py names it in `pytest_plugins`), so both suites get the same fixtures
without one importing the other's conftest. It is loaded in every environment the suites run in
(the web app's and the CDK app's too), so the fake Drive, which needs google-api-python-client, is
imported inside the fixtures that use it.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from callcare.config import Settings

    from tests.support.fake_drive import FakeDrive

REGION = "eu-west-1"


@pytest.fixture
def fake_drive() -> Iterator[FakeDrive]:
    from tests.support.fake_drive import FakeDrive

    fake = FakeDrive().start()
    yield fake
    fake.stop()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """googleapiclient's backoff sleeps, recorded instead of slept."""
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    return sleeps


@pytest.fixture
def drive_connection(fake_drive: FakeDrive, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The `callcare_gdrive` connection, as Airflow reads it from the environment (or Secrets Manager)."""
    from tests.support.fake_drive import service_account_key

    keyfile = service_account_key(fake_drive)
    conn = {"conn_type": "google_cloud_platform", "extra": {"keyfile_dict": json.dumps(keyfile)}}
    monkeypatch.setenv("AIRFLOW_CONN_CALLCARE_GDRIVE", json.dumps(conn))
    return keyfile


@pytest.fixture
def dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for signing only: no profile, no metadata service, nothing beyond 127.0.0.1."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto in server mode (a thread), so pyarrow's C++ S3 client can reach it over HTTP too."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends are global to the process: a new server would otherwise start with what an
    # earlier module's server left (a second deployment then finds the first one's resources)
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).close()
    yield url
    server.stop()


def moto_lake_settings(moto_server: str, home: Path, **overrides: object) -> Settings:
    """aws-profile settings whose lake is a fresh bucket in moto's server (`overrides` on top)."""
    import uuid

    import boto3
    from callcare.config import Settings

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name=REGION).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return Settings(
        home=home,
        profile="aws",
        lake_uri=f"s3://{bucket}/prod",
        s3_endpoint_url=moto_server,
        aws_region=REGION,
        **overrides,  # type: ignore[arg-type]
    )
