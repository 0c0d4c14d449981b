"""S3 object writes with SSE-KMS, streamed as multipart uploads, and presigned GET URLs.

pyarrow's S3FileSystem reads the lake well, but it cannot ask for SSE-KMS: it silently drops
`x-amz-server-side-encryption` metadata (checked against moto), and its output stream has no
abort, so a failed stream would complete a truncated object. Writes therefore go through boto3:
small objects in one PutObject, streams as a multipart upload that is completed only when the
writer closes cleanly and aborted otherwise, every request carrying the KMS key when one is set.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from callcare.names import AUDIO_CONTENT_TYPES

if TYPE_CHECKING:
    from callcare.config import Settings

log = logging.getLogger(__name__)

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's floor for every part but the last
DEFAULT_PART_BYTES = 8 * 1024 * 1024
MAX_PRESIGN_S = 12 * 3600
# Browsers play what the Content-Type says; Python's table misses some of the formats we accept.
CONTENT_TYPES = {
    **{f".{ext}": mime for ext, mime in AUDIO_CONTENT_TYPES.items()},
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
}


def content_type_for(key: str) -> str:
    suffix = "." + key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def split_endpoint(endpoint_url: str) -> tuple[str, str]:
    """("http", "127.0.0.1:9000") from an endpoint URL, the form pyarrow's endpoint_override wants.

    pyarrow hangs on an endpoint_override that still carries its scheme, so it is split off here.
    """
    parsed = urlparse(endpoint_url if "://" in endpoint_url else f"https://{endpoint_url}")
    if not parsed.netloc:
        raise ValueError(f"not an endpoint URL: {endpoint_url!r}")
    return parsed.scheme, parsed.netloc


def make_s3_client(settings: Settings) -> Any:
    """boto3 S3 client for the lake: SigV4 (SSE-KMS objects need it), standard retries."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {"addressing_style": "path"} if settings.s3_endpoint_url else {}
    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 5},
        s3=options,
    )
    return boto3.client(
        "s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url, config=config
    )


class S3Objects:
    """Writes into S3 with the lake's encryption; the Lake decides the keys."""

    def __init__(self, client: Any, kms_key_id: str | None = None, part_bytes: int = DEFAULT_PART_BYTES):
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"parts must be at least {MIN_PART_BYTES} bytes")
        self.client = client
        self.kms_key_id = kms_key_id
        self.part_bytes = part_bytes

    def encryption(self) -> dict[str, Any]:
        if not self.kms_key_id:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id, "BucketKeyEnabled": True}

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType=content_type_for(key), **self.encryption()
        )

    def writer(self, bucket: str, key: str) -> MultipartWriter:
        return MultipartWriter(self, bucket, key)

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def etags(self, bucket: str, prefix: str) -> dict[str, str]:
        """Key -> ETag of every object under `prefix` (for deletes conditional on the ETag)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", ())}

    def delete_if_match(self, bucket: str, key: str, etag: str) -> bool:
        """Delete the object only while its ETag is `etag`; False when it changed or is gone."""
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "NoSuchKey", "404") or status in (404, 412):
                return False
            raise
        return True

    def presign_get(self, bucket: str, key: str, expires_s: int, download_name: str | None = None) -> str:
        if not 0 < expires_s <= MAX_PRESIGN_S:
            raise ValueError(f"a presigned URL lives between 1 s and {MAX_PRESIGN_S} s, not {expires_s}")
        params = {"Bucket": bucket, "Key": key, "ResponseContentType": content_type_for(key)}
        if download_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)


class MultipartWriter:
    """A write-only binary stream into one S3 object, at most one part held in memory.

    Nothing becomes visible until `close()`: an object smaller than one part is sent by PutObject,
    a larger one as a multipart upload completed at close. `abort()` (or leaving a `with` block by
    an exception) throws the upload away. Incomplete uploads of a killed process are left to the
    bucket's AbortIncompleteMultipartUpload lifecycle rule.
    """

    def __init__(self, objects: S3Objects, bucket: str, key: str) -> None:
        self.objects = objects
        self.bucket = bucket
        self.key = key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._written = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed S3 writer")
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) >= self.objects.part_bytes:
            part = bytes(self._buffer[: self.objects.part_bytes])
            del self._buffer[: self.objects.part_bytes]
            self._send_part(part)
        return len(data)

    def flush(self) -> None:
        """Parts go out when full: S3 has no smaller unit to flush to."""

    def _send_part(self, data: bytes) -> None:
        client = self.objects.client
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                ContentType=content_type_for(self.key),
                **self.objects.encryption(),
            )["UploadId"]
        number = len(self._parts) + 1
        answer = client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._upload_id is None:
                self.objects.put(self.bucket, self.key, bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part(bytes(self._buffer))
                self.objects.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.abort()
            raise
        self._buffer = bytearray()
        self.closed = True

    def abort(self) -> None:
        self.closed = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            try:
                self.objects.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
                )
            except Exception:  # the lifecycle rule cleans up what this could not
                log.warning("could not abort the upload of s3://%s/%s", self.bucket, self.key, exc_info=True)
            self._upload_id = None

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
