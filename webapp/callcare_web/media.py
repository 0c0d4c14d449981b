"""Recordings and documents out of the lake: range-capable streaming locally, presigned URLs on S3."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from flask import Response, redirect, send_file, stream_with_context

from callcare_web.calls import lake_for

AUDIO_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "oga": "audio/ogg",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
}
CHUNK = 256 << 10


def audio_mimetype(call: dict[str, Any]) -> str:
    ext = PurePosixPath(call["audio_uri"]).suffix.lstrip(".").lower() or (call.get("audio_format") or "")
    return AUDIO_TYPES.get(ext, "application/octet-stream")


def presigned_url(uri: str, region: str, expires_s: int, download_name: str | None = None) -> str:
    import boto3  # only the aws profile needs it
    from botocore.config import Config

    parsed = urlparse(uri)
    params: dict[str, Any] = {"Bucket": parsed.netloc, "Key": parsed.path.lstrip("/")}
    if download_name:
        params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
    # SigV4 (objects under SSE-KMS refuse anything else), on the region's own endpoint
    config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
    client = boto3.client(
        "s3", region_name=region, endpoint_url=f"https://s3.{region}.amazonaws.com", config=config
    )
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)


def audio_response(
    lake_uri: str, call: dict[str, Any], region: str, expires_s: int, download: bool = False
) -> Response:
    uri = call["audio_uri"]
    name = f"{call['call_id']}{PurePosixPath(uri).suffix}"
    if uri.startswith("s3://"):
        response = redirect(presigned_url(uri, region, expires_s, name if download else None), code=302)
        response.headers["Cache-Control"] = "no-store"
        return response
    lake = lake_for(lake_uri)
    key = lake.key_from_uri(uri)
    mimetype = audio_mimetype(call)
    if lake._local:
        # Werkzeug answers Range requests (206) from a file: the player can seek
        response = send_file(
            lake.path(key), mimetype=mimetype, conditional=True, as_attachment=download, download_name=name
        )
    else:
        stream = lake.fs.open_input_stream(lake.path(key))

        def chunks():
            with stream:
                while block := stream.read(CHUNK):
                    yield block

        response = Response(stream_with_context(chunks()), mimetype=mimetype)
        if download:
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
