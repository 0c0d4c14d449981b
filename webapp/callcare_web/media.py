"""Recordings out of the lake: range-capable streaming from a local lake, presigned URLs on S3.

The browser's player seeks with Range requests; a local file answers them, and an S3 recording is
fetched by the browser itself through a short-lived URL (core's one presigning rule), so the app
never proxies audio from S3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from callcare.config import Settings
from callcare.core.lake import presigned_audio_url
from callcare.names import AUDIO_CONTENT_TYPES
from flask import Response, redirect, send_file, stream_with_context

from callcare_web.documents import lake_for
from callcare_web.errors import NotInLake

CHUNK = 256 << 10


def delivers_audio(response: Response) -> bool:
    """Whether this answer to a request for the recording hands any of it over: a whole copy (200),
    any byte range (206) or a 302 to S3 (a URL good for the whole object). Each such request is a
    `listen`, deduplicated per user and call over `audit.LISTEN_WINDOW_S` so a player's seeks add no
    rows (security review L1). Counting only answers that include byte 0 let `Range: bytes=1-` take
    all but one byte of a recording unaudited; a 416 or a 304 hands nothing over.
    """
    return response.status_code in (200, 206, 302)


def audio_mimetype(call: dict[str, Any]) -> str:
    ext = PurePosixPath(call["audio_uri"]).suffix.lstrip(".").lower() or (call.get("audio_format") or "")
    return AUDIO_CONTENT_TYPES.get(ext, "application/octet-stream")


def audio_response(settings: Settings, call: dict[str, Any], download: bool = False) -> Response:
    """The call's recording; the caller has checked that its user may hear it.

    NotInLake when a local lake's file is gone, so the player gets a 404 that says so rather than a 500
    from the file system. On S3 the browser fetches the object itself, and S3 answers its own 404
    (NoSuchKey) for a missing one: no HEAD request on every listen."""
    uri = call["audio_uri"]
    name = f"{call['call_id']}{PurePosixPath(uri).suffix}"
    lake = lake_for(settings)
    if uri.startswith("s3://"):
        url = presigned_audio_url(lake, uri, settings.presign_expiry_s, name if download else None)
        response = redirect(url, code=302)
        response.headers["Cache-Control"] = "no-store"
        return response
    key = lake.key_from_uri(uri)
    if not lake.exists(key):
        raise NotInLake(f"the recording of {call['call_id']} is not in the lake")
    mimetype = audio_mimetype(call)
    local = lake.local_path(key)
    if local is not None:
        # Werkzeug answers Range requests (206) from a file: the player can seek
        response = send_file(
            local, mimetype=mimetype, conditional=True, as_attachment=download, download_name=name
        )
    else:
        stream = lake.open_input(key)

        def chunks() -> Iterator[bytes]:
            with stream:
                while block := stream.read(CHUNK):
                    yield block

        response = Response(stream_with_context(chunks()), mimetype=mimetype)
        if download:
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"  # a recording is call data (review L4)
    return response
