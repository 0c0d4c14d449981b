"""Deterministic call ids: the same recording delivered twice is the same call."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
# what call_id_from_content and call_id_from_source make: "c-" and 20 hex digits
CALL_ID = re.compile(r"c-[0-9a-f]{20}")


def is_call_id(value: object) -> bool:
    """Whether `value` is a call id as this module makes them (a whole-string match: no newline)."""
    return isinstance(value, str) and CALL_ID.fullmatch(value) is not None


def sha256_of_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of_file(path: Path) -> str:
    with path.open("rb") as stream:
        return sha256_of_stream(stream)


def call_id_from_content(sha256_hex: str) -> str:
    """80 bits of the content hash: collisions are out of reach for any call volume."""
    return f"c-{sha256_hex[:20]}"


def call_id_from_source(source: str, source_id: str, checksum: str) -> str:
    """For sources with their own identity (a Drive file id plus its checksum)."""
    digest = hashlib.sha256(f"{source}:{source_id}:{checksum}".encode()).hexdigest()
    return f"c-{digest[:20]}"
