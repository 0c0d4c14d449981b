"""A fake Google Drive v3 server on 127.0.0.1, routed and validated by the real discovery document.

Every request is matched against the methods of google-api-python-client's static drive.v3.json
(path template and HTTP method), and its query parameters are checked against that method's
parameters and the API-wide ones: an unknown parameter, a bad boolean or enum value or a missing
required one is answered 400, as Drive does. Responses honour `fields` (partial responses), so a
client that forgets to ask for md5Checksum gets no md5Checksum. Implemented: files.get (metadata
and alt=media with Range), files.list (a q grammar subset, corpora, paging, orderBy), files.update
(addParents/removeParents), changes.getStartPageToken, changes.list; anything else answers 501.

Authentication is the service-account flow for real: POST /token takes the JWT google-auth signs
with the account's private key, checks the signature against the registered public key, and
issues a bearer token with the scopes asked for; API calls without a valid token get 401, writes
with a read-only scope get 403 insufficientPermissions. Shared drives: their items need
supportsAllDrives (else 404) and includeItemsFromAllDrives to be listed. Faults (429, 5xx, 403)
can be queued per method, and per file.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import googleapiclient
import jwt

DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "drive.v3.json"
FOLDER = "application/vnd.google-apps.folder"
READ_SCOPES = {
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
}
WRITE_SCOPES = {"https://www.googleapis.com/auth/drive"}
WRITE_METHODS = {"drive.files.update", "drive.files.create", "drive.files.delete", "drive.files.copy"}
DEFAULT_FILE_FIELDS = ("kind", "id", "name", "mimeType")
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


class DriveHttpError(Exception):
    def __init__(self, status: int, reason: str, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.location = status, reason, message, location

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"domain": "global", "reason": self.reason, "message": self.message}
        if self.location:
            error.update(location=self.location, locationType="parameter")
        return {"error": {"code": self.status, "message": self.message, "errors": [error]}}


# -- discovery-driven routing -------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method_id: str
    http_method: str
    pattern: re.Pattern[str]
    parameters: dict[str, dict[str, Any]]


def load_routes(document: dict[str, Any]) -> list[Route]:
    service_path = document["servicePath"]
    routes: list[Route] = []

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                parts = re.split(r"\{\+?(\w+)\}", method["path"])
                regex = "".join(
                    re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
                )
                routes.append(
                    Route(
                        method["id"],
                        method["httpMethod"],
                        re.compile(f"^/{re.escape(service_path)}{regex}$"),
                        {**document.get("parameters", {}), **method.get("parameters", {})},
                    )
                )
            walk(resource.get("resources", {}))

    walk(document["resources"])
    # literal paths first: files/generateIds must not be taken for files/{fileId}
    routes.sort(key=lambda r: r.pattern.pattern.count("(?P<"))
    return routes


def validate_parameters(route: Route, query: dict[str, str], path_params: dict[str, str]) -> dict[str, Any]:
    """Typed parameters, or DriveHttpError 400 the way Drive answers a bad request."""
    values: dict[str, Any] = {}
    for name, raw in query.items():
        spec = route.parameters.get(name)
        if spec is None or spec.get("location") == "path":
            raise DriveHttpError(
                400,
                "badRequest",
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter.',
            )
        values[name] = _typed(name, raw, spec)
    for name, raw in path_params.items():
        values[name] = urllib.parse.unquote(raw)
    for name, spec in route.parameters.items():
        if spec.get("required") and name not in values:
            raise DriveHttpError(400, "required", f"Required parameter: {name}", name)
        if name not in values and "default" in spec and spec.get("location") == "query":
            values[name] = _typed(name, spec["default"], spec)
    return values


def _typed(name: str, raw: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise DriveHttpError(400, "invalidParameter", f"Invalid value '{raw}' for boolean {name}", name)
        return raw.lower() == "true"
    if kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            raise DriveHttpError(400, "invalidParameter", f"Invalid value '{raw}' for {name}", name) from None
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and value < int(low)) or (high is not None and value > int(high)):
            raise DriveHttpError(400, "invalidParameter", f"Value {value} out of range for {name}", name)
        return value
    if "enum" in spec and raw not in spec["enum"]:
        raise DriveHttpError(400, "invalidParameter", f"Invalid value '{raw}' for {name}", name)
    return raw


# -- partial responses (fields=) ----------------------------------------------------------------


def parse_fields(text: str) -> dict[str, Any]:
    """'a,b(c,d/e),f/g' -> {"a": {}, "b": {"c": {}, "d": {"e": {}}}, "f": {"g": {}}} ({} = all)."""
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while pos < len(text):
            match = re.compile(r"\s*([\w*]+)").match(text, pos)
            if not match:
                raise DriveHttpError(400, "invalidParameter", f"Invalid field selection {text}", "fields")
            pos = match.end()
            node = out.setdefault(match.group(1), {})
            while pos < len(text) and text[pos] == "/":
                match = re.compile(r"([\w*]+)").match(text, pos + 1)
                if not match:
                    raise DriveHttpError(400, "invalidParameter", f"Invalid field selection {text}", "fields")
                pos = match.end()
                node = node.setdefault(match.group(1), {})
            if pos < len(text) and text[pos] == "(":
                pos += 1
                node.update(parse_list())
                if pos >= len(text) or text[pos] != ")":
                    raise DriveHttpError(400, "invalidParameter", f"Invalid field selection {text}", "fields")
                pos += 1
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        return out

    selection = parse_list()
    if pos != len(text):
        raise DriveHttpError(400, "invalidParameter", f"Invalid field selection {text}", "fields")
    return selection


def apply_fields(value: Any, selection: dict[str, Any]) -> Any:
    if not selection or "*" in selection:
        return value
    if isinstance(value, list):
        return [apply_fields(v, selection) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: apply_fields(value[k], sub) for k, sub in selection.items() if k in value}


# -- the q language (the subset we and gspread use) ---------------------------------------------

# Drive takes double-quoted strings too (gspread's recorded traffic uses them)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>!=|<=|>=|=|<|>|\(|\))|(?P<word>[\w.]+))"""
)


def _tokens(q: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(q.rstrip()):
        match = _TOKEN.match(q, pos)
        if not match:
            raise DriveHttpError(400, "invalid", f"Invalid Value: {q}", "q")
        pos = match.end()
        kind = match.lastgroup or "word"
        text = match.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        out.append((kind, text))
    return out


class Query:
    FIELDS = frozenset({"name", "mimeType", "trashed", "modifiedTime", "createdTime", "starred"})

    def __init__(self, q: str) -> None:
        self.tokens = _tokens(q)
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise DriveHttpError(400, "invalid", f"Invalid Value: {q}", "q")

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise DriveHttpError(400, "invalid", "Invalid Value", "q")
        self.pos += 1
        return token

    def _or(self) -> Any:
        node = self._and()
        while self._peek() == ("word", "or"):
            self.pos += 1
            node = ("or", node, self._and())
        return node

    def _and(self) -> Any:
        node = self._not()
        while self._peek() == ("word", "and"):
            self.pos += 1
            node = ("and", node, self._not())
        return node

    def _not(self) -> Any:
        if self._peek() == ("word", "not"):
            self.pos += 1
            return ("not", self._not())
        if self._peek() == ("op", "("):
            self.pos += 1
            node = self._or()
            if self._take() != ("op", ")"):
                raise DriveHttpError(400, "invalid", "Invalid Value", "q")
            return node
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._take()
        if left[0] == "str":
            if self._take() != ("word", "in"):
                raise DriveHttpError(400, "invalid", "Invalid Value", "q")
            target = self._take()
            if target != ("word", "parents"):
                raise DriveHttpError(400, "invalid", f"Invalid Value: {target[1]}", "q")
            return ("in_parents", left[1])
        if left[0] != "word" or left[1] not in self.FIELDS:
            raise DriveHttpError(400, "invalid", f"Invalid Value: {left[1]}", "q")
        op = self._take()
        if op == ("word", "contains"):
            return ("contains", left[1], self._take()[1])
        if op[0] != "op":
            raise DriveHttpError(400, "invalid", "Invalid Value", "q")
        value = self._take()
        literal: Any = value[1]
        if value[0] == "word":
            if value[1] not in ("true", "false"):
                raise DriveHttpError(400, "invalid", f"Invalid Value: {value[1]}", "q")
            literal = value[1] == "true"
        return ("cmp", left[1], op[1], literal)

    def matches(self, resource: dict[str, Any]) -> bool:
        return self._eval(self.tree, resource)

    def _eval(self, node: Any, r: dict[str, Any]) -> bool:
        kind = node[0]
        if kind == "or":
            return self._eval(node[1], r) or self._eval(node[2], r)
        if kind == "and":
            return self._eval(node[1], r) and self._eval(node[2], r)
        if kind == "not":
            return not self._eval(node[1], r)
        if kind == "in_parents":
            return node[1] in r.get("parents", [])
        if kind == "contains":
            return str(node[2]).lower() in str(r.get(node[1], "")).lower()
        _, name, op, literal = node
        have = r.get(name, False if isinstance(literal, bool) else "")
        return {
            "=": have == literal,
            "!=": have != literal,
            "<": have < literal,
            "<=": have <= literal,
            ">": have > literal,
            ">=": have >= literal,
        }[op]


# -- state ----------------------------------------------------------------------------------------


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _new_id() -> str:
    return secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")[:33]


@dataclass
class FakeFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    content: bytes | None = None
    drive_id: str | None = None
    trashed: bool = False
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    hidden: bool = False  # not shared with the account: 404
    no_download: str | None = None  # 403 reason on alt=media

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "trashed": self.trashed,
            "createdTime": _rfc3339(self.created),
            "modifiedTime": _rfc3339(self.modified),
            "starred": False,
        }
        if self.content is not None:
            out["md5Checksum"] = hashlib.md5(self.content, usedforsecurity=False).hexdigest()
            out["size"] = str(len(self.content))
        if self.drive_id:
            out["driveId"] = self.drive_id
            out["teamDriveId"] = self.drive_id
        return out


@dataclass
class Fault:
    method_id: str
    status: int
    reason: str
    times: int
    file_id: str | None = None  # only requests about this file (files.get, media downloads included)


class FakeDrive:
    def __init__(self, discovery: Path = DISCOVERY) -> None:
        self.document = json.loads(discovery.read_text())
        self.routes = load_routes(self.document)
        self.files: dict[str, FakeFile] = {}
        self.drives: dict[str, str] = {}
        self.change_log: list[str] = []  # file ids, one entry per change; token n = from entry n-1
        self.accounts: dict[str, bytes] = {}
        self.tokens: dict[str, set[str]] = {}
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    # lifecycle
    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def start(self) -> FakeDrive:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # test-side API
    def register_account(self, email: str, public_pem: bytes) -> None:
        self.accounts[email] = public_pem

    def add_shared_drive(self, name: str) -> str:
        drive_id = "0A" + _new_id()[:17]
        with self.lock:
            self.drives[drive_id] = name
        return drive_id

    def add_folder(self, name: str, parent: str | None = None, drive_id: str | None = None) -> str:
        return self._add(FakeFile(_new_id(), name, FOLDER, [parent or drive_id or "root"], None, drive_id))

    def add_file(
        self,
        name: str,
        content: bytes,
        mime_type: str,
        parent: str,
        *,
        drive_id: str | None = None,
        created: datetime | None = None,
    ) -> str:
        now = datetime.now(UTC)
        file = FakeFile(_new_id(), name, mime_type, [parent], content, drive_id, created=created or now)
        return self._add(file)

    def _add(self, file: FakeFile) -> str:
        with self.lock:
            self.files[file.id] = file
            self.change_log.append(file.id)
        return file.id

    def change(self, file_id: str, **updates: Any) -> None:
        """Rename (name=), move (parents=), trash (trashed=), new revision (content=), hide, ..."""
        with self.lock:
            file = self.files[file_id]
            for key, value in updates.items():
                setattr(file, key, value)
            file.modified = datetime.now(UTC) if "content" in updates or "name" in updates else file.modified
            self.change_log.append(file_id)

    def delete(self, file_id: str) -> None:
        with self.lock:
            del self.files[file_id]
            self.change_log.append(file_id)

    def fail_next(
        self, method_id: str, status: int, reason: str, times: int = 1, file_id: str | None = None
    ) -> None:
        self.faults.append(Fault(method_id, status, reason, times, file_id))

    def calls(self, method_id: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method_id]

    # request handling
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, verb: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    status, headers, payload = fake.handle(verb, self.path, dict(self.headers), body)
                except DriveHttpError as exc:
                    status, headers, payload = exc.status, {}, json.dumps(exc.body()).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json; charset=UTF-8", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def handle(
        self, verb: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(raw_path)
        if parsed.path == "/token" and verb == "POST":
            return 200, {}, json.dumps(self._token(body)).encode()
        for route in self.routes:
            match = route.pattern.match(parsed.path)
            if match and route.http_method == verb:
                break
        else:
            raise DriveHttpError(404, "notFound", f"No Drive method for {verb} {parsed.path}")
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        params = validate_parameters(route, query, match.groupdict())
        lower = {k.lower(): v for k, v in headers.items()}
        self.requests.append({"method": route.method_id, "params": params, "range": lower.get("range")})
        scopes = self._authorize(lower.get("authorization", ""))
        wanted = WRITE_SCOPES if route.method_id in WRITE_METHODS else READ_SCOPES
        if not scopes & wanted:
            raise DriveHttpError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )
        self._maybe_fail(route.method_id, params.get("fileId"))
        with self.lock:
            handler = {
                "drive.files.get": self._files_get,
                "drive.files.list": self._files_list,
                "drive.files.update": self._files_update,
                "drive.changes.getStartPageToken": self._start_token,
                "drive.changes.list": self._changes_list,
            }.get(route.method_id)
            if handler is None:
                raise DriveHttpError(501, "notImplemented", f"{route.method_id} is not faked")
            result = handler(params, lower, body)
        if isinstance(result, tuple):
            return result
        selection = parse_fields(params["fields"]) if params.get("fields") else {}
        return 200, {}, json.dumps(apply_fields(result, selection)).encode()

    def _token(self, body: bytes) -> dict[str, Any]:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise DriveHttpError(400, "unsupported_grant_type", "grant_type must be jwt-bearer")
        assertion = form.get("assertion", "")
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        if issuer not in self.accounts:
            raise DriveHttpError(401, "invalid_client", "unknown service account")
        try:
            # google-auth addresses the grant to Google's canonical token endpoint, whatever token_uri is
            claims = jwt.decode(
                assertion, self.accounts[issuer], algorithms=["RS256"], audience=GOOGLE_TOKEN_AUDIENCE
            )
        except jwt.PyJWTError as exc:
            raise DriveHttpError(400, "invalid_grant", f"Invalid JWT Signature: {exc}") from exc
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = set(str(claims.get("scope", "")).split())
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _authorize(self, header: str) -> set[str]:
        token = header.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise DriveHttpError(401, "authError", "Request had invalid authentication credentials.")
        return self.tokens[token]

    def _maybe_fail(self, method_id: str, file_id: str | None) -> None:
        with self.lock:
            for fault in self.faults:
                if fault.method_id in (method_id, "*") and fault.file_id in (None, file_id):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    raise DriveHttpError(
                        fault.status, fault.reason, f"injected {fault.status} {fault.reason}"
                    )

    def _visible(self, file: FakeFile, params: dict[str, Any]) -> bool:
        if file.hidden:
            return False
        return not (file.drive_id and not params.get("supportsAllDrives"))

    def _get(self, file_id: str, params: dict[str, Any]) -> FakeFile:
        file = self.files.get(file_id)
        if file is None or not self._visible(file, params):
            raise DriveHttpError(404, "notFound", f"File not found: {file_id}.", "fileId")
        return file

    def _files_get(self, params: dict[str, Any], headers: dict[str, str], _body: bytes) -> Any:
        file = self._get(params["fileId"], params)
        if params.get("alt") != "media":
            return file.resource() if params.get("fields") else _defaults(file.resource())
        if file.no_download:
            raise DriveHttpError(
                403, file.no_download, "The user does not have permission to download this file."
            )
        if file.content is None:
            raise DriveHttpError(
                403, "fileNotDownloadable", "Only files with binary content can be downloaded.", "alt"
            )
        return _media(file.content, headers.get("range"))

    def _files_update(self, params: dict[str, Any], _headers: dict[str, str], _body: bytes) -> Any:
        file = self._get(params["fileId"], params)
        for parent in filter(None, str(params.get("removeParents", "")).split(",")):
            if parent in file.parents:
                file.parents.remove(parent)
        for parent in filter(None, str(params.get("addParents", "")).split(",")):
            if parent not in self.files and parent not in self.drives:
                raise DriveHttpError(404, "notFound", f"File not found: {parent}.", "addParents")
            file.parents.append(parent)
        self.change_log.append(file.id)
        return file.resource() if params.get("fields") else _defaults(file.resource())

    def _in_corpus(self, file: FakeFile, params: dict[str, Any]) -> bool:
        if not self._visible(file, params):
            return False
        drive_id = params.get("driveId")
        if drive_id:
            return file.drive_id == drive_id
        return not file.drive_id or bool(params.get("includeItemsFromAllDrives"))

    def _check_drive_params(self, params: dict[str, Any]) -> None:
        if params.get("includeItemsFromAllDrives") and not params.get("supportsAllDrives"):
            raise DriveHttpError(
                403,
                "teamDrivesParameterNotSupported",
                "includeItemsFromAllDrives can only be set when supportsAllDrives is also set to true.",
                "includeItemsFromAllDrives",
            )
        drive_id = params.get("driveId")
        if drive_id and drive_id not in self.drives:
            raise DriveHttpError(404, "notFound", f"Shared drive not found: {drive_id}", "driveId")

    def _files_list(self, params: dict[str, Any], _headers: dict[str, str], _body: bytes) -> Any:
        self._check_drive_params(params)
        if params.get("corpora") == "drive" and not params.get("driveId"):
            raise DriveHttpError(
                400, "invalid", "The driveId parameter must be specified with corpora=drive."
            )
        query = Query(params["q"]) if params.get("q") else None
        found = [
            f.resource()
            for f in self.files.values()
            if self._in_corpus(f, params) and (query is None or query.matches(f.resource()))
        ]
        for key in reversed((params.get("orderBy") or "").split(",")):
            key = key.strip()
            if key:
                name, _, direction = key.partition(" ")
                found.sort(key=lambda r, n=name: r.get(n, ""), reverse=direction == "desc")
        size = int(params.get("pageSize") or 100)
        start = int(params.get("pageToken") or 0)
        page = found[start : start + size]
        out: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False, "files": page}
        if start + size < len(found):
            out["nextPageToken"] = str(start + size)
        if not params.get("fields"):
            out["files"] = [_defaults(r) for r in page]
        return out

    def _start_token(self, params: dict[str, Any], _headers: dict[str, str], _body: bytes) -> Any:
        if params.get("driveId") and not params.get("supportsAllDrives"):
            raise DriveHttpError(403, "teamDrivesParameterNotSupported", "driveId needs supportsAllDrives")
        self._check_drive_params(params)
        return {"kind": "drive#startPageToken", "startPageToken": str(len(self.change_log) + 1)}

    def _changes_list(self, params: dict[str, Any], _headers: dict[str, str], _body: bytes) -> Any:
        self._check_drive_params(params)
        try:
            start = int(params["pageToken"])
        except ValueError:
            raise DriveHttpError(400, "invalid", "Invalid Value", "pageToken") from None
        if not 1 <= start <= len(self.change_log) + 1:
            raise DriveHttpError(400, "invalid", "Invalid Value", "pageToken")
        size = int(params.get("pageSize") or 100)
        # one change per file within the range, in the order of its last change, with its state now
        last: dict[str, int] = {}
        for index in range(start - 1, len(self.change_log)):
            last[self.change_log[index]] = index
        ordered = sorted(last.items(), key=lambda item: item[1])
        changes = []
        for file_id, _index in ordered:
            file = self.files.get(file_id)
            if file is not None and not self._in_corpus(file, params):
                continue
            if file is None and params.get("driveId"):
                continue
            removed = file is None or file.hidden
            change: dict[str, Any] = {
                "kind": "drive#change",
                "changeType": "file",
                "time": _rfc3339(datetime.now(UTC)),
                "removed": removed,
                "fileId": file_id,
            }
            if not removed:
                change["file"] = file.resource() if params.get("fields") else _defaults(file.resource())
            changes.append(change)
        page = changes[:size]
        out: dict[str, Any] = {"kind": "drive#changeList", "changes": page}
        if len(changes) > size:
            # the next page starts after the last change returned on this one
            out["nextPageToken"] = str(last[page[-1]["fileId"]] + 2)
        else:
            out["newStartPageToken"] = str(len(self.change_log) + 1)
        return out


def _defaults(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: resource[k] for k in DEFAULT_FILE_FIELDS if k in resource}


def _media(content: bytes, range_header: str | None) -> tuple[int, dict[str, str], bytes]:
    total = len(content)
    if not range_header:
        return 200, {"Content-Type": "application/octet-stream"}, content
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
    if not match:
        raise DriveHttpError(400, "badRequest", f"bad Range {range_header}")
    first = int(match[1])
    last = min(int(match[2]) if match[2] else total - 1, total - 1)
    if first >= total:
        return 416, {"Content-Range": f"bytes */{total}"}, b""
    return (
        206,
        {"Content-Type": "application/octet-stream", "Content-Range": f"bytes {first}-{last}/{total}"},
        content[first : last + 1],
    )


def service_account_key(
    fake: FakeDrive, email: str = "callcare-ingest@callcare-test.iam.gserviceaccount.com"
):
    """A fresh RSA key pair: the private half as a keyfile dict, the public half registered."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake.register_account(email, public_pem)
    return {
        "type": "service_account",
        "project_id": "callcare-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": email,
        "client_id": "1" + "0" * 20,
        "token_uri": fake.token_uri,
    }
