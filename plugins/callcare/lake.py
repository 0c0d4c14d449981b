"""The lake: a local folder (file://) or an S3 bucket (s3://), through one pyarrow filesystem API.

Writes go to a temporary name first and are then moved into place on local disks, so a reader
never sees half a file; S3 puts are atomic by themselves.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

COPY_CHUNK = 8 << 20


class Lake:
    def __init__(self, uri: str, filesystem: pafs.FileSystem | None = None) -> None:
        self.uri = uri.rstrip("/")
        if filesystem is None:
            filesystem, root = pafs.FileSystem.from_uri(self.uri)
        else:
            root = self.uri.split("://", 1)[-1]
        self.fs = filesystem
        self.root = root.rstrip("/")
        self._local = isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def uri_for(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def key_from_uri(self, uri: str) -> str:
        prefix = f"{self.uri}/"
        if not uri.startswith(prefix):
            raise ValueError(f"{uri} is not in the lake {self.uri}")
        return uri[len(prefix) :]

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.path(key)).type != pafs.FileType.NotFound

    def _target(self, key: str) -> tuple[str, str]:
        final = self.path(key)
        parent = final.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if self._local:
            return final, f"{parent}/.tmp-{uuid.uuid4().hex}"
        return final, final

    def _commit(self, final: str, temporary: str) -> None:
        if temporary != final:
            self.fs.move(temporary, final)

    def put_bytes(self, key: str, data: bytes) -> str:
        final, temporary = self._target(key)
        with self.fs.open_output_stream(temporary) as out:
            out.write(data)
        self._commit(final, temporary)
        return self.uri_for(key)

    def put_file(self, key: str, local_path: Path) -> str:
        """Streams: a large recording is never held in memory."""
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
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)
