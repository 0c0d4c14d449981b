"""The local inbox: recordings dropped into a folder are landed in the lake and registered.

A file is taken only once it has stopped changing (a copy in progress is left for the next poll).
After landing, the original moves to `processed/` (or `rejected/` with a reason file beside it), so
nothing is deleted and the inbox shows only what is still to come.

Whoever can write to the inbox is not trusted with anything else the worker can read (security
review H1): a symbolic link named `x.wav` pointing at the web app's signing key would otherwise land
that key in the lake, where the web app serves it. So a file is read only through a descriptor opened
with `O_NOFOLLOW` (and `O_NONBLOCK`, so a FIFO cannot hang the poll), and the checks that it is a
regular file with a single link are made on that descriptor (`fstat`), never on the name: a name
swapped for a link between a check and the open cannot slip through. Hashing and copying read the
same descriptor. Moving files aside and writing reason files go through descriptors of the inbox's
own folders, opened without following links either, so a planted `rejected` link cannot send a
dropped file (or a reason file) anywhere else.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from callcare.core.lake import COPY_CHUNK, Lake
from callcare.core.registry import NewCall, Registry
from callcare.ids import call_id_from_content, sha256_of_stream
from callcare.lake_paths import raw_audio_key
from callcare.names import SUPPORTED_AUDIO_EXTENSIONS as SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)

PROCESSED = "processed"
REJECTED = "rejected"
SETTLE_S = 2.0
_DATE_IN_NAME = re.compile(r"(20\d{2})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])")
# O_NONBLOCK: opening a FIFO for reading must not wait for a writer; O_NOCTTY: a terminal device
# must not become the worker's controlling terminal. Both only matter for files refused right after.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


@dataclass(frozen=True)
class IngestOutcome:
    call_id: str | None
    file_name: str
    outcome: str  # "new", "duplicate" or "rejected"
    reason: str | None = None


class UntrustedFile(Exception):
    """The inbox entry is not something ingestion reads; the message is the whole reason."""


def call_date_for(path: Path, mtime: float | None = None) -> str:
    """A date in the file name (recorders write one) wins; else the file's modification day (UTC).

    `mtime` comes from the opened file's `fstat` during ingestion; without it the name's own
    `lstat` is used, which never follows a link.
    """
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3])).date().isoformat()
        except ValueError:
            pass
    if mtime is None:
        mtime = path.lstat().st_mtime
    return datetime.fromtimestamp(mtime, UTC).date().isoformat()


def pending_files(inbox: Path, settle_s: float = SETTLE_S) -> list[Path]:
    """Settled entries of the inbox that are not folders: links and special files included.

    They are listed (not silently skipped) so that ingestion rejects them with a reason a person
    can read; `lstat` only, so listing never touches what a link points at or opens a device.
    """
    if not inbox.is_dir():
        return []
    now = time.time()
    files = []
    with os.scandir(inbox) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < settle_s:
                continue
            files.append(inbox / entry.name)
    return sorted(files)


def kind_of(mode: int) -> str:
    return next((name for is_kind, name in _KINDS if is_kind(mode)), "not a regular file")


def open_untrusted(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """The inbox file opened for reading, and its `fstat`; raises UntrustedFile with the reason.

    The `lstat` first refuses links and special files without opening them (opening a device can
    have effects of its own, a tape rewinds); the `fstat` of the opened descriptor is the check
    that counts, since the name may have been replaced in between. A file with more than one hard
    link is refused: its other name may be outside the inbox (a link to the signing key made by
    someone who can write here but cannot read it).
    """
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode):
        raise UntrustedFile(f"not a regular file: {kind_of(mode)}; only plain files are ingested")
    try:
        fd = os.open(path, _OPEN_FILE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link after the lstat
            raise UntrustedFile("not a regular file: a symbolic link; only plain files are ingested") from exc
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise UntrustedFile(
                f"not a regular file: {kind_of(opened.st_mode)}; only plain files are ingested"
            )
        if opened.st_nlink != 1:
            raise UntrustedFile(
                f"the file has {opened.st_nlink} hard links; only files with a single link are "
                "ingested (another link may be outside the inbox)"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), opened
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def _folder(inbox: Path, *parts: str) -> Iterator[int]:
    """A descriptor of inbox/part/..., each level made if missing and opened without following links.

    A link planted in the place of `rejected` or `processed/<day>` makes this raise OSError (the
    file stays where it is and the poll goes on), instead of moving files out of the inbox.
    """
    fds = [os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o750, dir_fd=fds[-1])
            fds.append(os.open(part, _OPEN_DIR, dir_fd=fds[-1]))
        yield fds[-1]
    finally:
        for fd in fds:
            os.close(fd)


def _free_name(name: str, folder_fd: int) -> str:
    """`name`, or `name` with a millisecond stamp when the folder already has an entry of that name."""
    try:
        os.lstat(name, dir_fd=folder_fd)
    except FileNotFoundError:
        return name
    stem, dot, suffix = name.rpartition(".")
    stamp = int(time.time() * 1000)
    return f"{stem}-{stamp}.{suffix}" if dot and stem else f"{name}-{stamp}"


def _move(path: Path, inbox: Path, *parts: str) -> str:
    """Rename the inbox entry (the entry itself, a link stays a link) into inbox/parts; its new name."""
    with _folder(inbox, *parts) as folder_fd, _folder(inbox) as inbox_fd:
        target = _free_name(path.name, folder_fd)
        os.rename(path.name, target, src_dir_fd=inbox_fd, dst_dir_fd=folder_fd)
    return target


def size_cap_reason(size: int, max_bytes: int) -> str:
    """In bytes as well as MiB: rounded MiB alone can read "8 MiB; the limit is 8 MiB"."""
    return (
        f"the file is over the size cap: {size:,} bytes ({size / 2**20:.1f} MiB); "
        f"the limit is {max_bytes:,} bytes ({max_bytes / 2**20:.1f} MiB)"
    )


def _write_reason(inbox: Path, moved: str, reason: str) -> None:
    """The reason file beside the rejected one, created new (O_EXCL, O_NOFOLLOW): never written
    through a link someone planted under its name."""
    name = moved + ".reason.txt"
    with _folder(inbox, REJECTED) as folder_fd:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=folder_fd)  # a planted entry of that name: the entry goes, not its target
        fd = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640, dir_fd=folder_fd
        )
        with os.fdopen(fd, "w") as out:
            out.write(reason + "\n")


def _reject(path: Path, inbox: Path, reason: str) -> IngestOutcome:
    moved = _move(path, inbox, REJECTED)
    _write_reason(inbox, moved, reason)
    return IngestOutcome(None, path.name, "rejected", reason)


def ingest_file(
    path: Path, inbox: Path, lake: Lake, registry: Registry, max_bytes: int | None = None
) -> IngestOutcome:
    ext = path.suffix.lower().lstrip(".")
    if ext not in SUPPORTED_EXTENSIONS:
        return _reject(path, inbox, f"not a supported audio format: .{ext or '(none)'}")
    try:
        source, opened = open_untrusted(path)
    except UntrustedFile as exc:
        return _reject(path, inbox, str(exc))
    with source:
        return _ingest_open(path, source, opened, ext, inbox, lake, registry, max_bytes)


def _ingest_open(
    path: Path,
    source: BinaryIO,
    opened: os.stat_result,
    ext: str,
    inbox: Path,
    lake: Lake,
    registry: Registry,
    max_bytes: int | None,
) -> IngestOutcome:
    """Everything from here reads the opened file, never the name again (no check-then-use race)."""
    size = opened.st_size
    if size == 0:
        return _reject(path, inbox, "the file is empty")
    if max_bytes is not None and size > max_bytes:
        return _reject(path, inbox, size_cap_reason(size, max_bytes))
    sha = sha256_of_stream(source)
    call_id = call_id_from_content(sha)
    call_date = call_date_for(path, opened.st_mtime)
    try:
        existing = registry.get(call_id)
    except KeyError:
        existing = None
    if existing is not None:
        _move(path, inbox, PROCESSED, existing["call_date"])
        return IngestOutcome(call_id, path.name, "duplicate")
    key = raw_audio_key(call_date, call_id, ext)
    source.seek(0)
    copied = hashlib.sha256()
    with lake.open_writer(key) as out:
        while block := source.read(COPY_CHUNK):
            copied.update(block)
            out.write(block)
        if copied.hexdigest() != sha:  # written to in place since it settled: the next poll retries
            raise OSError(errno.EAGAIN, "the file changed while it was being landed")
    created = registry.register(
        NewCall(
            call_id=call_id,
            source="inbox",
            source_ref=path.name,
            content_sha256=sha,
            call_date=call_date,
            audio_uri=lake.uri_for(key),
            audio_format=ext,
            size_bytes=size,
        )
    )
    _move(path, inbox, PROCESSED, call_date)
    return IngestOutcome(call_id, path.name, "new" if created else "duplicate")


def name_ref(name: str) -> str:
    """How logs refer to an inbox file: names often hold a phone number or a customer's name (L8).

    The file itself, and for a rejected one its reason file, are in processed/ or rejected/ under
    their own names, where an operator finds them; the log carries a fingerprint of the name.
    """
    return "#" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def ingest_inbox(
    inbox: Path,
    lake: Lake,
    registry: Registry,
    settle_s: float = SETTLE_S,
    max_bytes: int | None = None,
) -> list[IngestOutcome]:
    outcomes = []
    for path in pending_files(inbox, settle_s):
        try:
            outcome = ingest_file(path, inbox, lake, registry, max_bytes)
        except OSError as exc:  # one unreadable file must not stop the others
            log.warning("could not ingest inbox file %s: %s", name_ref(path.name), exc.strerror or exc)
            continue
        if outcome.outcome == "rejected":
            log.warning("inbox file %s rejected (see %s/): %s", name_ref(path.name), REJECTED, outcome.reason)
        else:
            log.info("inbox file %s: %s %s", name_ref(path.name), outcome.outcome, outcome.call_id)
        outcomes.append(outcome)
    return outcomes
