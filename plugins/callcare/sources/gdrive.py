"""Google Drive folder source (aws profile): new recordings are streamed into the lake and registered.

Discovery is incremental through the **changes API with a stored page token**, not a modifiedTime
watermark. A watermark misses exactly the cases a shared folder produces: a file moved into the
folder keeps its old modifiedTime, and uploads from Drive for desktop keep the recorder's own
timestamp, so both would land below the mark and never be seen; equal timestamps and clock skew
make the boundary lossy as well. The changes feed reports every add, move, rename, trash and new
revision after the token, costs one request per poll when nothing happened, and is read per shared
drive when the folder lives in one. The first poll (and any poll after the token is lost) takes
a start token, then lists the folder, so nothing added in between is missed. Setting
`gdrive_discovery = "list"` lists the whole folder every poll instead, for accounts whose changes
feed does not cover the folder.

What counts as a recording: a file whose parents include the folder, not trashed, with an audio
MIME type we can decode and an md5Checksum (Google Docs types have none). The call id is derived
from the Drive file id and the md5Checksum (DESIGN.md), so a rename or a move within Drive is the
same call (a no-op), and a new revision is a new call. Trashing or moving a file away after it
landed leaves the call alone: the lake has its own copy.

Downloads stream in ranged chunks (MediaIoBaseDownload) straight into the lake writer (an S3
multipart upload), hashing on the way; the md5 must match Drive's before the call is registered.
429 and 5xx answers are retried with randomized exponential backoff by the client library; a file
that still fails stays in the cursor's pending list and is retried at the next poll, up to
`gdrive_max_attempts` polls. A 403 or 404 on the folder stops the poll with a message that says
what to fix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from callcare.core.registry import CallNotFound, NewCall
from callcare.ids import call_id_from_source
from callcare.lake_paths import raw_audio_key
from callcare.names import SUPPORTED_AUDIO_EXTENSIONS as SUPPORTED_EXTENSIONS
from callcare.sources.cursor import CursorStore
from callcare.sources.inbox import _DATE_IN_NAME

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.core.lake import Lake
    from callcare.core.registry import Registry

log = logging.getLogger(__name__)

SOURCE = "gdrive"
FOLDER_MIME = "application/vnd.google-apps.folder"
SCOPE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
SCOPE_WRITE = "https://www.googleapis.com/auth/drive"
FILE_FIELDS = "id,name,mimeType,md5Checksum,size,parents,trashed,createdTime,modifiedTime,driveId"
DEFAULT_RETRIES = 5
# Drive names formats inconsistently (by uploader and browser); the file name's suffix wins when known.
MIME_EXTENSIONS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "application/ogg": "ogg",
    "audio/opus": "opus",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/aac": "aac",
    "audio/webm": "webm",
}
# Ogg files often arrive as application/ogg; video/* is not taken even when it carries sound.
AUDIO_QUERY = "(mimeType contains 'audio/' or mimeType = 'application/ogg')"
_DRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class DriveError(Exception):
    """A Drive problem that retrying soon will not fix; the message says what to do."""


class DriveAccessError(DriveError):
    """403: the service account may not see or read this (share it, or check the domain policy)."""


class DriveNotFoundError(DriveError):
    """404: no such file or folder, or it is not shared with the service account."""


class DriveUnavailable(Exception):
    """Drive kept failing (429/5xx, network) after the client's own retries: try again later."""


class DriveContentChanged(Exception):
    """What was downloaded is not the revision Drive described (it changed meanwhile)."""


@dataclass(frozen=True)
class DriveFile:
    id: str
    name: str
    mime_type: str
    md5: str | None
    size: int | None
    parents: tuple[str, ...]
    trashed: bool
    created_time: datetime | None
    modified_time: datetime | None
    drive_id: str | None = None

    @classmethod
    def from_api(cls, resource: dict[str, Any]) -> DriveFile:
        """A files resource as Drive v3 returns it (partial responses too: missing fields are None)."""
        size = resource.get("size")
        return cls(
            id=resource["id"],
            name=resource.get("name", ""),
            mime_type=resource.get("mimeType", ""),
            md5=resource.get("md5Checksum"),
            size=int(size) if size is not None else None,
            parents=tuple(resource.get("parents") or ()),
            trashed=bool(resource.get("trashed", False)),
            created_time=parse_time(resource.get("createdTime")),
            modified_time=parse_time(resource.get("modifiedTime")),
            drive_id=resource.get("driveId"),
        )

    @property
    def extension(self) -> str | None:
        suffix = self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
        if suffix in SUPPORTED_EXTENSIONS:
            return suffix
        return MIME_EXTENSIONS.get(self.mime_type.split(";")[0].strip().lower())

    @property
    def is_audio(self) -> bool:
        mime = self.mime_type.lower()
        return mime.startswith("audio/") or mime == "application/ogg"

    def call_date(self) -> str:
        """A date in the name (recorders write one) wins; else the day Drive got the file (UTC)."""
        match = _DATE_IN_NAME.search(self.name)
        if match:
            try:
                return datetime(int(match[1]), int(match[2]), int(match[3])).date().isoformat()
            except ValueError:
                pass
        when = self.created_time or self.modified_time or datetime.now(UTC)
        return when.astimezone(UTC).date().isoformat()


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 as Drive writes it ("2023-08-17T10:53:51.177Z")."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def skip_reason(file: DriveFile, folder_id: str, max_bytes: int | None = None) -> str | None:
    """Why this file is not a recording to land now, or None when it is one."""
    if file.trashed:
        return "in the trash"
    if folder_id not in file.parents:
        return "not in the folder"
    if not file.is_audio:
        return f"not audio ({file.mime_type or 'no MIME type'})"
    if file.extension is None:
        return f"not a supported audio format ({file.mime_type})"
    if not file.md5:
        return "no md5Checksum (not a binary file)"
    if max_bytes is not None and file.size is not None and file.size > max_bytes:
        return f"too large ({file.size} bytes; the limit is {max_bytes})"
    return None


def error_reason(exc: Exception) -> str:
    """Drive's own reason code of an HttpError ("notFound", "insufficientFilePermissions", ...)."""
    content = getattr(exc, "content", b"") or b""
    try:
        error = json.loads(content.decode() if isinstance(content, bytes) else content)["error"]
        errors = error.get("errors") or [{}]
        return errors[0].get("reason") or error.get("status") or ""
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def _status(exc: Exception) -> int:
    resp = getattr(exc, "resp", None)
    return int(getattr(resp, "status", 0) or 0)


@dataclass
class _DigestingSink:
    """Hashes what passes through on its way to the lake: the md5 proves the revision arrived whole."""

    out: BinaryIO
    sha256: Any = field(default_factory=hashlib.sha256)
    md5: Any = field(default_factory=lambda: hashlib.md5(usedforsecurity=False))
    size: int = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    md5: str
    size: int


def _hook_class() -> type:
    """The provider's Google hook with Drive scopes (imported late: the local profile never needs it)."""
    from airflow.providers.google.common.hooks.base_google import GoogleBaseHook

    class DriveHook(GoogleBaseHook):
        """Service-account credentials from a google_cloud_platform connection (keyfile_dict).

        The provider's default scope (cloud-platform) does not reach Drive: without a `scope` in the
        connection, reading asks for drive.readonly and moving processed files for drive.
        """

        def __init__(self, gcp_conn_id: str, *, write: bool = False) -> None:
            self.write_access = write
            super().__init__(gcp_conn_id=gcp_conn_id)

        @property
        def scopes(self) -> list[str]:
            configured = self._get_field("scope", None)
            if configured:
                return [s.strip() for s in str(configured).split(",") if s.strip()]
            return [SCOPE_WRITE if self.write_access else SCOPE_READONLY]

    return DriveHook


def drive_service(settings: Settings) -> tuple[Any, str, int]:
    """(Drive v3 service, service account email, retries) from the settings' connection.

    The service comes from the static discovery document shipped with google-api-python-client,
    so building it makes no request; `gdrive_api_endpoint` replaces the API root (tests).
    """
    from googleapiclient import discovery

    hook = _hook_class()(settings.gdrive_conn_id, write=bool(settings.gdrive_processed_folder_id))
    options = None
    if settings.gdrive_api_endpoint:
        options = hook.get_client_options(
            api_endpoint_override=settings.gdrive_api_endpoint.rstrip("/") + "/drive/v3/"
        )
    import google_auth_httplib2
    from googleapiclient.http import build_http

    # build_http() sets the client's socket timeout; the authorized wrapper refreshes the token
    http = google_auth_httplib2.AuthorizedHttp(hook.get_credentials(), http=build_http())
    service = discovery.build(
        "drive",
        "v3",
        http=http,
        cache_discovery=False,
        static_discovery=True,
        client_options=options,
    )
    email = getattr(hook.get_credentials(), "service_account_email", None) or "the service account"
    return service, email, int(hook.num_retries or DEFAULT_RETRIES)


class DriveClient:
    """The Drive calls the source needs, with retries and errors turned into our exceptions."""

    def __init__(self, service: Any, *, account: str = "the service account", retries: int = DEFAULT_RETRIES):
        self.service = service
        self.account = account
        self.retries = retries

    def _execute(self, request: Any, what: str) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        try:
            return request.execute(num_retries=self.retries)
        except HttpError as exc:
            raise self._translate(exc, what) from exc
        except OSError as exc:  # connection refused/reset, timeouts: after the library's retries
            raise DriveUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc

    def _translate(self, exc: Exception, what: str) -> Exception:
        status, reason = _status(exc), error_reason(exc)
        if status == 404:
            return DriveNotFoundError(
                f"{what}: not found ({reason or 404}); it does not exist or is not shared with {self.account}"
            )
        if status == 403 and reason not in ("rateLimitExceeded", "userRateLimitExceeded"):
            return DriveAccessError(
                f"{what}: access denied ({reason or 403}); {self.account} needs at least Viewer access "
                "(Content manager on a shared drive, Editor in My Drive, to move processed files)"
            )
        if status == 429 or status >= 500 or status == 403:
            return DriveUnavailable(f"{what}: Drive still answers {status} {reason} after retries")
        return DriveError(f"{what}: Drive answered {status} {reason}")

    def folder(self, folder_id: str) -> dict[str, Any]:
        """The watched folder's metadata; a 403/404 here explains how to share it."""
        if not _DRIVE_ID.match(folder_id):
            raise DriveError(f"{folder_id!r} is not a Drive folder id")
        request = self.service.files().get(
            fileId=folder_id, fields="id,name,mimeType,driveId,trashed", supportsAllDrives=True
        )
        try:
            folder = self._execute(request, f"Drive folder {folder_id}")
        except DriveNotFoundError as exc:
            raise DriveNotFoundError(
                f"Drive folder {folder_id} was not found: check gdrive_folder_id, and share the folder "
                f"with {self.account}"
            ) from exc
        if folder.get("mimeType") != FOLDER_MIME:
            raise DriveError(f"Drive item {folder_id} is a {folder.get('mimeType')}, not a folder")
        if folder.get("trashed"):
            raise DriveError(f"Drive folder {folder_id} is in the trash")
        return folder

    def file(self, file_id: str) -> DriveFile | None:
        """Current metadata of one file; None when it is gone (deleted, or no longer shared)."""
        request = self.service.files().get(fileId=file_id, fields=FILE_FIELDS, supportsAllDrives=True)
        try:
            return DriveFile.from_api(self._execute(request, f"Drive file {file_id}"))
        except DriveNotFoundError:
            return None

    def start_page_token(self, drive_id: str | None) -> str:
        kwargs: dict[str, Any] = {"supportsAllDrives": True}
        if drive_id:
            kwargs["driveId"] = drive_id
        request = self.service.changes().getStartPageToken(**kwargs)
        return self._execute(request, "Drive changes start token")["startPageToken"]

    def list_folder(self, folder_id: str, drive_id: str | None, page_size: int) -> Iterator[DriveFile]:
        """Every audio file directly in the folder, page by page."""
        if not _DRIVE_ID.match(folder_id):
            raise DriveError(f"{folder_id!r} is not a Drive folder id")
        kwargs: dict[str, Any] = {
            "q": f"'{folder_id}' in parents and trashed = false and {AUDIO_QUERY}",
            "fields": f"nextPageToken,incompleteSearch,files({FILE_FIELDS})",
            "pageSize": page_size,
            "supportsAllDrives": True,
            "includeItemsFromAllDrives": True,
            "orderBy": "createdTime",
        }
        if drive_id:
            kwargs.update(corpora="drive", driveId=drive_id)
        token: str | None = None
        while True:
            page = self._execute(
                self.service.files().list(**kwargs, **({"pageToken": token} if token else {})),
                f"listing Drive folder {folder_id}",
            )
            if page.get("incompleteSearch"):
                log.warning("Drive reports an incomplete search of folder %s", folder_id)
            for resource in page.get("files", []):
                yield DriveFile.from_api(resource)
            token = page.get("nextPageToken")
            if not token:
                return

    def changes(
        self, page_token: str, drive_id: str | None, page_size: int
    ) -> tuple[list[tuple[str, DriveFile | None]], str]:
        """(file id, file or None when removed) for each change since the token, and the next token."""
        kwargs: dict[str, Any] = {
            "fields": f"nextPageToken,newStartPageToken,changes(changeType,removed,fileId,file({FILE_FIELDS}))",
            "pageSize": page_size,
            "includeRemoved": True,
            "supportsAllDrives": True,
            "includeItemsFromAllDrives": True,
            "spaces": "drive",
        }
        if drive_id:
            kwargs["driveId"] = drive_id
        found: list[tuple[str, DriveFile | None]] = []
        token = page_token
        while True:
            page = self._execute(
                self.service.changes().list(pageToken=token, **kwargs), "reading Drive changes"
            )
            for change in page.get("changes", []):
                if change.get("changeType", "file") != "file":
                    continue
                removed = change.get("removed") or not change.get("file")
                found.append((change["fileId"], None if removed else DriveFile.from_api(change["file"])))
            if page.get("newStartPageToken"):
                return found, page["newStartPageToken"]
            token = page["nextPageToken"]

    def download(self, file_id: str, out: BinaryIO, chunk_bytes: int) -> Downloaded:
        """Stream the content in ranged chunks into `out`; returns what was written, hashed."""
        from googleapiclient.errors import HttpError
        from googleapiclient.http import MediaIoBaseDownload

        sink = _DigestingSink(out)
        request = self.service.files().get_media(fileId=file_id, supportsAllDrives=True)
        downloader = MediaIoBaseDownload(sink, request, chunksize=chunk_bytes)
        done = False
        try:
            while not done:
                _, done = downloader.next_chunk(num_retries=self.retries)
        except HttpError as exc:
            raise self._translate(exc, f"downloading Drive file {file_id}") from exc
        except OSError as exc:
            raise DriveUnavailable(f"downloading Drive file {file_id}: {type(exc).__name__}") from exc
        return Downloaded(sink.sha256.hexdigest(), sink.md5.hexdigest(), sink.size)

    def move(self, file_id: str, add_parent: str, remove_parent: str) -> None:
        request = self.service.files().update(
            fileId=file_id,
            addParents=add_parent,
            removeParents=remove_parent,
            supportsAllDrives=True,
            fields="id,parents",
        )
        self._execute(request, f"moving Drive file {file_id} to the processed folder")


@dataclass(frozen=True)
class DriveOutcome:
    file_id: str
    file_name: str
    outcome: str  # "new", "duplicate", "deferred" (retried next poll), "skipped" or "given_up"
    call_id: str | None = None
    reason: str | None = None


@dataclass
class DriveSource:
    """One poll of one folder: discover, land what is new, remember where to start next time."""

    client: DriveClient
    folder_id: str
    lake: Lake
    registry: Registry
    cursors: CursorStore
    discovery: str = "changes"
    processed_folder_id: str | None = None
    page_size: int = 100
    chunk_bytes: int = 8 * 1024 * 1024
    max_files: int = 25
    max_attempts: int = 5
    max_bytes: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, lake: Lake, registry: Registry) -> DriveSource:
        if not settings.gdrive_folder_id:
            raise DriveError("gdrive_folder_id is not set: the aws profile's source is a Drive folder")
        if settings.gdrive_discovery not in ("changes", "list"):
            raise ValueError(f"gdrive_discovery must be changes or list, not {settings.gdrive_discovery!r}")
        service, account, retries = drive_service(settings)
        return cls(
            client=DriveClient(service, account=account, retries=retries),
            folder_id=settings.gdrive_folder_id,
            lake=lake,
            registry=registry,
            cursors=CursorStore(registry.engine),
            discovery=settings.gdrive_discovery,
            processed_folder_id=settings.gdrive_processed_folder_id,
            page_size=settings.gdrive_page_size,
            chunk_bytes=settings.gdrive_download_chunk_bytes,
            max_files=settings.gdrive_max_files_per_poll,
            max_attempts=settings.gdrive_max_attempts,
            max_bytes=settings.max_upload_bytes,
        )

    @property
    def cursor_name(self) -> str:
        return f"{SOURCE}:{self.folder_id}"

    def poll(self) -> list[DriveOutcome]:
        folder = self.client.folder(self.folder_id)
        drive_id = folder.get("driveId")
        state = self.cursors.load(self.cursor_name)
        pending: dict[str, dict[str, Any]] = state.get("pending", {})
        seen, gone, token = self._discover(state.get("page_token"), drive_id)
        outcomes: list[DriveOutcome] = []
        still_pending: dict[str, dict[str, Any]] = {}
        for file_id in pending:  # not in this batch: they may have moved, changed or gone since
            if file_id not in seen and file_id not in gone:
                try:
                    current = self.client.file(file_id)
                except (DriveError, DriveUnavailable) as exc:  # this file's trouble, not the poll's
                    held = pending[file_id]
                    outcomes.append(
                        self._retry_later(
                            file_id,
                            held.get("name", ""),
                            None,
                            int(held.get("attempts", 0)),
                            exc,
                            still_pending,
                        )
                    )
                    continue
                if current is None:
                    gone.add(file_id)
                else:
                    seen[file_id] = current

        outcomes += [
            DriveOutcome(fid, "", "skipped", reason="removed from Drive, or no longer shared")
            for fid in gone
            if fid in pending
        ]
        candidates = []
        for file in seen.values():
            reason = skip_reason(file, self.folder_id, self.max_bytes)
            if reason is None:
                candidates.append(file)
            elif file.id in pending or self.folder_id in file.parents:
                # the feed covers everything the account sees: only the folder's own files are reported
                outcomes.append(DriveOutcome(file.id, file.name, "skipped", reason=reason))
        # retries first, then oldest first: a backlog drains in arrival order
        candidates.sort(
            key=lambda f: (f.id not in pending, f.created_time or datetime.min.replace(tzinfo=UTC))
        )

        landed = 0
        for file in candidates:
            assert file.md5 is not None  # skip_reason guarantees it
            call_id = call_id_from_source(SOURCE, file.id, file.md5)
            if self._known(call_id):
                outcomes.append(DriveOutcome(file.id, file.name, "duplicate", call_id))
                continue
            attempts = int(pending.get(file.id, {}).get("attempts", 0))
            if landed >= self.max_files:
                still_pending[file.id] = {"attempts": attempts, "error": "waiting for the next poll"}
                outcomes.append(DriveOutcome(file.id, file.name, "deferred", call_id, "per-poll limit"))
                continue
            try:
                self._land(file, call_id)
            except DriveNotFoundError as exc:
                outcomes.append(DriveOutcome(file.id, file.name, "skipped", call_id, str(exc)))
                continue
            except (DriveError, DriveUnavailable, DriveContentChanged) as exc:
                outcomes.append(self._retry_later(file.id, file.name, call_id, attempts, exc, still_pending))
                continue
            landed += 1
            outcomes.append(DriveOutcome(file.id, file.name, "new", call_id))
        self.cursors.save(self.cursor_name, {"page_token": token, "pending": still_pending})
        for outcome in outcomes:  # the reason too: a skipped file is in no registry row to explain it
            log.info(
                "Drive file %s: %s %s",
                outcome.file_id,
                outcome.outcome,
                " ".join(filter(None, (outcome.call_id, outcome.reason))),
            )
        return outcomes

    def _retry_later(
        self,
        file_id: str,
        name: str,
        call_id: str | None,
        attempts: int,
        exc: Exception,
        still_pending: dict[str, dict[str, Any]],
    ) -> DriveOutcome:
        """One more failed poll for this file: pending again, or given up after max_attempts."""
        attempts += 1
        if attempts >= self.max_attempts:
            # the id, not the name: names often hold a phone number or a customer's name (review L8)
            log.error("Drive file %s given up after %d polls: %s", file_id, attempts, exc)
            return DriveOutcome(file_id, name, "given_up", call_id, str(exc))
        log.warning("Drive file %s not landed (attempt %d): %s", file_id, attempts, exc)
        still_pending[file_id] = {"attempts": attempts, "error": str(exc)[:300], "name": name}
        return DriveOutcome(file_id, name, "deferred", call_id, str(exc))

    def _discover(
        self, page_token: str | None, drive_id: str | None
    ) -> tuple[dict[str, DriveFile], set[str], str | None]:
        """Files to look at (latest state per id), ids that disappeared, and the token to store."""
        seen: dict[str, DriveFile] = {}
        gone: set[str] = set()
        if self.discovery == "changes" and page_token:
            try:
                changes, token = self.client.changes(page_token, drive_id, self.page_size)
            except DriveAccessError:
                raise
            except DriveError as exc:  # an expired or foreign token: start over from a listing
                log.warning("Drive changes token refused (%s): listing the folder again", exc)
            else:
                for file_id, file in changes:
                    if file is None:
                        gone.add(file_id)
                        seen.pop(file_id, None)
                    else:
                        seen[file_id] = file
                        gone.discard(file_id)
                return seen, gone, token
        # the token first: a file added while the folder is being listed shows up in both, not in neither
        token = self.client.start_page_token(drive_id) if self.discovery == "changes" else None
        for file in self.client.list_folder(self.folder_id, drive_id, self.page_size):
            seen[file.id] = file
        return seen, gone, token

    def _known(self, call_id: str) -> bool:
        try:
            self.registry.get(call_id)
        except CallNotFound:
            return False
        return True

    def _land(self, file: DriveFile, call_id: str) -> None:
        ext = file.extension
        assert ext is not None
        call_date = file.call_date()
        key = raw_audio_key(call_date, call_id, ext)
        with self.lake.open_writer(key) as out:
            got = self.client.download(file.id, out, self.chunk_bytes)
            if got.md5 != file.md5 or (file.size is not None and got.size != file.size):
                # raised inside the writer's block, so the partial object is thrown away
                raise DriveContentChanged(
                    f"Drive file {file.id} changed during the download (md5 {got.md5} != {file.md5})"
                )
        self.registry.register(
            NewCall(
                call_id=call_id,
                source=SOURCE,
                source_ref=f"{file.id}/{file.name}"[:1024],
                content_sha256=got.sha256,
                call_date=call_date,
                audio_uri=self.lake.uri_for(key),
                audio_format=ext,
                size_bytes=got.size,
            )
        )
        if self.processed_folder_id:
            try:
                self.client.move(file.id, self.processed_folder_id, self.folder_id)
            except (DriveError, DriveUnavailable) as exc:  # the call is landed; the file just stays
                log.warning("Drive file %s landed but not moved to the processed folder: %s", file.id, exc)


def ingest_drive(settings: Settings, lake: Lake, registry: Registry) -> list[DriveOutcome]:
    source = DriveSource.from_settings(settings, lake, registry)
    source.cursors.create_schema()
    return source.poll()
