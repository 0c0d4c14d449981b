"""Pure logic of the aws profile: endpoints, content types, multipart splitting, Drive errors, alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from callcare.core.lake_s3 import MIN_PART_BYTES, S3Objects, content_type_for, split_endpoint
from callcare.sources.gdrive import error_reason, parse_time
from callcare.steps.alerts import build_alert


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:5000", ("http", "127.0.0.1:5000")),
        ("https://s3.eu-west-1.amazonaws.com", ("https", "s3.eu-west-1.amazonaws.com")),
        ("minio.internal:9000", ("https", "minio.internal:9000")),
    ],
)
def test_endpoints_are_split_for_pyarrow(endpoint, expected):
    assert split_endpoint(endpoint) == expected


def test_content_types_browsers_can_play():
    assert content_type_for("raw-audio/2026-01-01/c-1.wav") == "audio/wav"
    assert content_type_for("raw-audio/2026-01-01/c-1.m4a") == "audio/mp4"
    assert content_type_for("raw-audio/2026-01-01/c-1.opus") == "audio/ogg"
    assert (
        content_type_for("tables/calls/call_date=2026-01-01/c-1.parquet") == "application/vnd.apache.parquet"
    )
    assert content_type_for("odd/no-suffix") == "application/octet-stream"


class RecordingS3:
    """Records the multipart calls; `fail_on` makes one operation raise."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_on = fail_on

    def __getattr__(self, name: str):
        def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((name, kwargs))
            if name == self.fail_on:
                raise ConnectionError(name)
            return {"UploadId": "u1", "ETag": f'"{len(self.calls)}"'}

        return call


def test_parts_are_cut_at_the_part_size_and_carry_no_encryption_of_their_own():
    client = RecordingS3()
    objects = S3Objects(client, kms_key_id="alias/lake", part_bytes=MIN_PART_BYTES)
    with objects.writer("b", "k.wav") as out:
        for _ in range(11):
            out.write(b"x" * (MIN_PART_BYTES // 2))
        assert out.tell() == 11 * (MIN_PART_BYTES // 2)
    names = [name for name, _ in client.calls]
    assert names == ["create_multipart_upload"] + ["upload_part"] * 6 + ["complete_multipart_upload"]
    create = client.calls[0][1]
    assert create["ServerSideEncryption"] == "aws:kms" and create["SSEKMSKeyId"] == "alias/lake"
    assert create["ContentType"] == "audio/wav"
    sizes = [len(kw["Body"]) for name, kw in client.calls if name == "upload_part"]
    assert sizes == [MIN_PART_BYTES] * 5 + [MIN_PART_BYTES // 2]
    parts = client.calls[-1][1]["MultipartUpload"]["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3, 4, 5, 6]


def test_a_small_object_is_one_put_and_a_failed_completion_aborts():
    client = RecordingS3()
    with S3Objects(client).writer("b", "k.json") as out:
        out.write(b"{}")
    assert [name for name, _ in client.calls] == ["put_object"]
    assert "ServerSideEncryption" not in client.calls[0][1]  # no key configured: the bucket default

    failing = RecordingS3(fail_on="complete_multipart_upload")
    objects = S3Objects(failing, part_bytes=MIN_PART_BYTES)
    writer = objects.writer("b", "k.wav")
    writer.write(b"x" * (MIN_PART_BYTES + 1))
    with pytest.raises(ConnectionError):
        writer.close()
    assert [name for name, _ in failing.calls][-1] == "abort_multipart_upload"
    with pytest.raises(ValueError):
        writer.write(b"more")
    with pytest.raises(ValueError):
        S3Objects(RecordingS3(), part_bytes=1024)


class HttpErrorLike(Exception):
    def __init__(self, status: int, content: bytes) -> None:
        self.resp = type("Resp", (), {"status": status})()
        self.content = content


def test_drive_error_reasons_come_from_the_google_error_body():
    body = {
        "error": {
            "code": 403,
            "message": "The user does not have sufficient permissions for this file.",
            "errors": [{"domain": "global", "reason": "insufficientFilePermissions"}],
        }
    }
    assert error_reason(HttpErrorLike(403, json.dumps(body).encode())) == "insufficientFilePermissions"
    assert error_reason(HttpErrorLike(502, b"<html>Bad Gateway</html>")) == ""
    assert parse_time("2023-09-29T19:39:04.519Z") == datetime(2023, 9, 29, 19, 39, 4, 519000, tzinfo=UTC)
    assert parse_time(None) is None


def test_a_failed_call_alert_carries_its_reason_and_no_empty_attributes():
    event = {
        "event_id": 7,
        "call_id": "c-9",
        "status": "FAILED",
        "previous_status": "TRANSCRIBING",
        "error_message": "transcribe failed: TranscriptionJobFailed: bad media",
        "payload_json": "{}",
        "created_at": datetime(2026, 9, 10, 12, 0, tzinfo=UTC),
    }
    alert = build_alert(event, {"call_date": "2026-09-10", "source": "gdrive", "summary_uri": None})
    body = json.loads(alert.message)
    assert body["error_message"] == "transcribe failed: TranscriptionJobFailed: bad media"
    assert body["occurred_at"] == "2026-09-10T12:00:00+00:00"
    assert alert.attributes == {
        "status": "FAILED",
        "event": "status_changed",
        "severity": "warning",
        "call_id": "c-9",
        "call_date": "2026-09-10",
        "alert_reasons": ["processing_failed"],
    }
    assert alert.subject == "[warning] call c-9 FAILED"
