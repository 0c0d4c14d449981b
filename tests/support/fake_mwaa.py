"""A fake of the MWAA control plane: GetEnvironment and InvokeRestApi, forwarded to a real Airflow.

moto has no MWAA. The deploy steps reach an environment's Airflow only through MWAA's InvokeRestApi
(the pools step), so the rehearsal needs something that speaks that wire protocol (rest-json:
`GET /environments/{Name}`, `POST /restapi/{Name}` with Path, Method, QueryParameters and Body) in
front of the rehearsal's own api-server. Like MWAA, it calls Airflow's REST API (/api/v2) as the
environment's Admin and answers Airflow's status and body in RestApiStatusCode / RestApiResponse; an
Airflow 4xx becomes RestApiClientException (HTTP 400), a 5xx RestApiServerException (HTTP 400), as
the botocore model of MWAA declares them.

botocore prefixes MWAA hosts ("api.", "env."); a client pointed here needs
AWS_DISABLE_HOST_PREFIX_INJECTION=true, which the rehearsal sets with the other endpoint overrides.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeMwaa:
    def __init__(self, name: str, airflow_url: str, username: str, password: str) -> None:
        self.name = name
        self.airflow_url = airflow_url.rstrip("/")
        self.username = username
        self.password = password
        self.calls: list[dict[str, Any]] = []
        self.status = "AVAILABLE"
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _token(self) -> str:
        request = urllib.request.Request(
            f"{self.airflow_url}/auth/token",
            data=json.dumps({"username": self.username, "password": self.password}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]

    def invoke(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """Airflow's (status, body) for one InvokeRestApi payload."""
        query = urllib.parse.urlencode(payload.get("QueryParameters") or {}, doseq=True)
        url = f"{self.airflow_url}/api/v2{payload['Path']}" + (f"?{query}" if query else "")
        body = payload.get("Body")
        request = urllib.request.Request(
            url,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token()}", "Content-Type": "application/json"},
            method=payload["Method"],
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def start(self) -> FakeMwaa:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: dict, error_type: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _name(self, prefix: str) -> str | None:
                path = urllib.parse.urlparse(self.path).path
                if not path.startswith(prefix):
                    return None
                return urllib.parse.unquote(path[len(prefix) :])

            def do_GET(self) -> None:
                name = self._name("/environments/")
                if name != fake.name:
                    self._answer(
                        404, {"message": f"environment {name} not found"}, "ResourceNotFoundException"
                    )
                    return
                fake.calls.append({"operation": "GetEnvironment", "name": name})
                self._answer(200, {"Environment": {"Name": name, "Status": fake.status}})

            def do_POST(self) -> None:
                name = self._name("/restapi/")
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                if name != fake.name:
                    self._answer(
                        404, {"message": f"environment {name} not found"}, "ResourceNotFoundException"
                    )
                    return
                fake.calls.append({"operation": "InvokeRestApi", "name": name, **payload})
                status, body = fake.invoke(payload)
                if status < 400:
                    self._answer(200, {"RestApiStatusCode": status, "RestApiResponse": body})
                else:
                    error = "RestApiClientException" if status < 500 else "RestApiServerException"
                    self._answer(400, {"RestApiStatusCode": status, "RestApiResponse": body}, error)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
