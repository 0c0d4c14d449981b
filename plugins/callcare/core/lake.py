"""The lake: a local folder (file://) or an S3 bucket (s3://), through one pyarrow filesystem API.

Writes go to a temporary file first and are then moved into place on local disks, so a reader
never sees half a file; S3 puts are atomic by themselves. Temporary files live under `.staging/` at
the lake's root, a folder no reader lists: a writer killed between write and rename (kill -9, a lost
worker) leaves its temporary file there, never beside the data, and `sweep_staging` removes it later. A lake built by `Lake.from_settings` on
S3 writes through boto3 instead (callcare.core.lake_s3: SSE-KMS, multipart streams that abort on error)
and reads through pyarrow.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.core.lake_s3 import S3Objects

COPY_CHUNK = 8 << 20
# where local writes are staged before their rename (same filesystem, so the rename is atomic)
STAGING_PREFIX = ".staging"
# a staged file older than this belongs to a writer that died: no lake write takes an hour
STALE_STAGING_S = 3600


def check_key(key: str) -> str:
    """`key` when it is a relative path of plain segments: no `..` or `.`, no empty segment, no
    leading slash, backslash or NUL. A trailing slash is allowed (a prefix to list). Else ValueError.
    """
    if key == "":
        return key
    segments = key.removesuffix("/").split("/")
    if (
        key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise ValueError(f"not a lake key: {key!r}")
    return key


class Lake:
    def __init__(
        self, uri: str, filesystem: pafs.FileSystem | None = None, *, objects: S3Objects | None = None
    ) -> None:
        self.uri = uri.rstrip("/")
        if filesystem is None:
            filesystem, root = pafs.FileSystem.from_uri(self.uri)
        else:
            root = self.uri.split("://", 1)[-1]
        self.fs = filesystem
        self.root = root.rstrip("/")
        self._local = isinstance(self.fs, pafs.LocalFileSystem)
        if objects is not None and not self.uri.startswith("s3://"):
            raise ValueError("S3 object writes need an s3:// lake")
        self._objects = objects

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The settings' lake; on S3 with their region, endpoint and KMS key.

        The same S3 endpoint serves pyarrow (reads, listings, Parquet) and boto3 (writes, presigned
        URLs); credentials come from the usual AWS chain in both (on MWAA, the execution role).
        """
        uri = settings.lake_uri or ""
        if not uri.startswith("s3://"):
            return cls(uri)
        from callcare.core.lake_s3 import S3Objects, make_s3_client, split_endpoint

        options: dict[str, Any] = {"region": settings.aws_region}
        if settings.s3_endpoint_url:
            scheme, endpoint = split_endpoint(settings.s3_endpoint_url)
            options.update(scheme=scheme, endpoint_override=endpoint)
        objects = S3Objects(make_s3_client(settings), settings.lake_kms_key_id)
        return cls(uri, pafs.S3FileSystem(**options), objects=objects)

    def _bucket_key(self, key: str) -> tuple[str, str]:
        bucket, _, name = self.path(key).partition("/")
        return bucket, name

    def path(self, key: str) -> str:
        """The filesystem path of `key`, which must stay inside the lake (security review L10).

        Keys come from `callcare.lake_paths` or from registry URIs; a URI that a bug, a migration or
        someone with database access made into `…/lake/../../etc/passwd` must not reach a file outside
        the lake, whatever reads it (the web app serves `local_path` as a download). On a local lake
        the resolved path is checked too, so a link inside the lake cannot lead out of it either.
        """
        path = f"{self.root}/{check_key(key)}"
        if self._local:
            root = Path(self.root).resolve()
            if not Path(path).resolve().is_relative_to(root):
                raise ValueError(f"lake key {key!r} leads outside the lake")
        return path

    def uri_for(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def key_from_uri(self, uri: str) -> str:
        prefix = f"{self.uri}/"
        if not uri.startswith(prefix):
            raise ValueError(f"{uri} is not in the lake {self.uri}")
        return check_key(uri[len(prefix) :])

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.path(key)).type != pafs.FileType.NotFound

    def _target(self, key: str) -> tuple[str, str]:
        final = self.path(key)
        parent = final.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if self._local:
            staging = f"{self.root}/{STAGING_PREFIX}"
            self.fs.create_dir(staging, recursive=True)
            return final, f"{staging}/{uuid.uuid4().hex}"
        return final, final

    def sweep_staging(self, older_than_s: float = STALE_STAGING_S) -> int:
        """Delete staged files left by writers that died; returns how many. Local lakes only.

        A live writer's file is younger than `older_than_s`, so sweeping while others write is safe.
        """
        if not self._local:
            return 0
        import time

        selector = pafs.FileSelector(f"{self.root}/{STAGING_PREFIX}", allow_not_found=True)
        cutoff = time.time() - older_than_s
        removed = 0
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.mtime is not None and info.mtime.timestamp() < cutoff:
                with suppress(FileNotFoundError, OSError):
                    self.fs.delete_file(info.path)
                    removed += 1
        return removed

    def _commit(self, final: str, temporary: str) -> None:
        if temporary != final:
            self.fs.move(temporary, final)

    def put_bytes(self, key: str, data: bytes) -> str:
        if self._objects is not None:
            self._objects.put(*self._bucket_key(key), data)
            return self.uri_for(key)
        final, temporary = self._target(key)
        with self.fs.open_output_stream(temporary) as out:
            out.write(data)
        self._commit(final, temporary)
        return self.uri_for(key)

    def put_file(self, key: str, local_path: Path) -> str:
        """Streams: a large recording is never held in memory."""
        if self._objects is not None:
            with local_path.open("rb") as src, self.open_writer(key) as out:
                shutil.copyfileobj(src, out, COPY_CHUNK)
            return self.uri_for(key)
        final, temporary = self._target(key)
        with local_path.open("rb") as src, self.fs.open_output_stream(temporary) as out:
            shutil.copyfileobj(src, out, COPY_CHUNK)
        self._commit(final, temporary)
        return self.uri_for(key)

    def get_bytes(self, key: str) -> bytes:
        with self.fs.open_input_stream(self.path(key)) as src:
            return src.read()

    def put_json(self, key: str, document: Any) -> str:
        return self.put_bytes(key, json.dumps(document, indent=1, sort_keys=True).encode())

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def write_parquet(self, key: str, table: pa.Table) -> str:
        if self._objects is not None:  # one call's rows: small enough to encode in memory first
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            return self.put_bytes(key, sink.getvalue().to_pybytes())
        final, temporary = self._target(key)
        pq.write_table(table, temporary, filesystem=self.fs, compression="zstd")
        self._commit(final, temporary)
        return self.uri_for(key)

    def read_parquet(self, key: str) -> pa.Table:
        return pq.read_table(self.path(key), filesystem=self.fs)

    def list_keys(self, prefix: str) -> list[str]:
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        start = len(self.root) + 1
        keys = (i.path[start:] for i in infos if i.type == pafs.FileType.File)
        return sorted(k for k in keys if not k.startswith(f"{STAGING_PREFIX}/"))

    @contextmanager
    def open_writer(self, key: str) -> Iterator[BinaryIO]:
        """A stream into `key` that appears whole when the block ends, and not at all on an error."""
        if self._objects is not None:
            writer = self._objects.writer(*self._bucket_key(key))
            with writer:
                yield writer  # type: ignore[misc]
            return
        final, temporary = self._target(key)
        try:
            with self.fs.open_output_stream(temporary) as out:
                yield out  # type: ignore[misc]
        except BaseException:
            # the temporary file, or on S3 the truncated object pyarrow completes when it closes
            with suppress(OSError):  # never hide the error that stopped the write
                self.fs.delete_file(temporary)
            raise
        self._commit(final, temporary)

    def open_input(self, key: str) -> pa.NativeFile:
        """Random access (ranged reads on S3): headers can be probed without fetching the file."""
        return self.fs.open_input_file(self.path(key))

    def delete(self, key: str) -> None:
        if self._objects is not None:
            self._objects.delete(*self._bucket_key(key))
        elif self.exists(key):
            self.fs.delete_file(self.path(key))

    def versions(self, prefix: str) -> dict[str, str]:
        """Every file under `prefix` with a token that changes whenever the file is replaced.

        Compaction deletes a per-call file only if it is still the one it read (delete_if_unchanged):
        a writer may replace it meanwhile (a reprocess, a re-summary), and that newer file must stay.
        Local: inode, mtime and size (every write renames a new inode into place); S3: the ETag.
        """
        if self._objects is not None:
            bucket, name = self._bucket_key(prefix)
            start = len(name) - len(prefix)
            etags = self._objects.etags(bucket, name)
            return {key[start:]: etag for key, etag in sorted(etags.items())}
        if not self._local:
            raise ValueError(f"versions need a local lake or an S3 lake built from settings, not {self.uri}")
        return {key: _local_version(self.path(key)) for key in self.list_keys(prefix)}

    def delete_if_unchanged(self, key: str, version: str) -> bool:
        """Delete `key` only while it is the file `version` names; True when it was deleted.

        S3: a DeleteObject conditional on the ETag (If-Match), atomic on S3's side. Local: the file is
        renamed into staging (atomic), compared there, and linked back if a writer had replaced it,
        unless an even newer file took the name meanwhile (link never overwrites).
        """
        if self._objects is not None:
            return self._objects.delete_if_match(*self._bucket_key(key), version)
        if not self._local:
            raise ValueError(f"conditional deletes need a local lake or an S3 lake from settings: {self.uri}")
        final = self.path(key)
        staging = f"{self.root}/{STAGING_PREFIX}"
        os.makedirs(staging, exist_ok=True)
        moved = f"{staging}/{uuid.uuid4().hex}"
        try:
            os.rename(final, moved)
        except FileNotFoundError:
            return False
        if _local_version(moved) == version:
            os.unlink(moved)
            return True
        with suppress(FileExistsError):
            os.link(moved, final)
        os.unlink(moved)
        return False

    def presigned_url(self, key: str, expires_s: int, download_name: str | None = None) -> str:
        """A GET URL that needs no credentials, valid for `expires_s` (S3 lakes from settings only)."""
        if self._objects is None:
            raise ValueError(f"presigned URLs need an S3 lake built from settings, not {self.uri}")
        return self._objects.presign_get(*self._bucket_key(key), expires_s, download_name)

    def local_path(self, key: str) -> Path | None:
        """The file behind `key` when the lake is a local folder (for range-capable serving), else None."""
        return Path(self.path(key)) if self._local else None


def _local_version(path: str) -> str:
    info = os.stat(path)
    return f"{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"


def presigned_audio_url(lake: Lake, audio_uri: str, expires_s: int, download_name: str | None = None) -> str:
    """A short-lived GET URL of a call's recording, for the web app's audio player: the one rule.

    Only recordings are signed (raw-audio/ in the lake): transcripts and summaries hold PII the app
    serves through its own access checks. The caller has already checked that its user may hear
    this call. Raises ValueError for any other URI, and on a lake that is not in S3. The URL is made
    on the lake's own S3 endpoint (settings' s3_endpoint_url, else AWS's regional one).
    """
    key = lake.key_from_uri(audio_uri)
    if not key.startswith("raw-audio/") or ".." in key.split("/"):
        raise ValueError("only recordings (raw-audio/) get presigned URLs")
    return lake.presigned_url(key, expires_s, download_name)


def lake_dir(settings: Settings) -> Path | None:
    """The lake as a local folder (what DuckDB reads), or None when the lake is not file://."""
    parsed = urlparse(settings.lake_uri or "")
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))
