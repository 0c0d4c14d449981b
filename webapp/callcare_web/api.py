"""The REST API (JWT from FAB's security API): calls, transcripts, summaries, audio, assignment.

    POST /api/v1/security/login {"username": ..., "password": ..., "provider": "db", "refresh": true}
    GET  /api/v1/calls/?status=COMPLETED&sentiment=Negative&page=1&page_size=25
    GET  /api/v1/calls/?status=COMPLETED&page=2&after=<next_cursor of page 1>     (keyset paging)
    POST /api/v1/calls/search {"q": "refund", "status": "COMPLETED", "page": 1}   (terms in the body)
    GET  /api/v1/calls/<call_id>            .../transcript   .../summary   .../audio
    PUT  /api/v1/calls/<call_id>/assignment {"user_id": 3 | null}      (supervisors)

Every endpoint answers 401 without a valid, unexpired bearer token and 403 for a call outside the
user's scope. The OpenAPI document is at /api/v1/_openapi, Swagger UI at /swagger/v1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect

from callcare_web import audit, commands, documents, media, queries
from callcare_web.errors import Forbidden, Invalid, NotAssignable, NotFound, NotInLake
from callcare_web.filters import MAX_SEARCH_CHARS, Filters, clean_terms
from callcare_web.search_index import CATCH_UP_WAIT_S, catch_up
from callcare_web.security import CALLS, CALLS_API

PUBLIC_FIELDS = (
    "call_id",
    "call_date",
    "status",
    "error_message",
    "created_at",
    "updated_at",
    "completed_at",
    "duration_s",
    "channels",
    "audio_format",
    "stt_engine",
    "summary_backend",
    "model_id",
    "prompt_version",
    "sentiment",
    "category",
    "agent_id",
    "customer_id",
    "resolved",
    "escalated",
    "assignee_id",
    "assignee",
)
# what a list item has beside PUBLIC_FIELDS: the summary's issue sentence (null until indexed)
LIST_FIELDS = (*PUBLIC_FIELDS, "issue_sentence")


# list arguments whose document gives them a type, format, pattern or enum (free text may be empty)
TYPED_ARGUMENTS = (
    "status",
    "date_from",
    "date_to",
    "sentiment",
    "assignee",
    "sort",
    "dir",
    "page",
    "page_size",
    "after",
    "before",
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    return value


def serialize(row: dict[str, Any], fields: tuple[str, ...] = PUBLIC_FIELDS) -> dict[str, Any]:
    return {k: _plain(row[k]) for k in fields if k in row}


def _engine() -> sa.Engine:
    return current_app.extensions["sqlalchemy"].engine


def _viewer() -> queries.Viewer:
    return queries.Viewer(g.user.id, current_app.appbuilder.sm.has_access("can_list_all", CALLS))


class CallsApi(BaseApi):
    resource_name = "calls"
    class_permission_name = CALLS_API
    openapi_spec_tag = "Calls"
    allow_browser_login = False
    method_permission_name = {  # noqa: RUF012 (FAB reads it as a class attribute)
        "get_list": "list",
        "search": "list",
        "get": "show",
        "transcript": "show",
        "summary": "show",
        "audio": "audio",
        "put_assignment": "assign",
    }

    def _load(self, call_id: str) -> tuple[dict[str, Any] | None, Any]:
        with _engine().connect() as conn:
            try:
                return queries.get_call(conn, _viewer(), call_id), None
            except NotFound:
                return None, self.response_404()
            except Forbidden:
                audit.record("denied", call_id, via="api")
                return None, self.response_403()

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def get_list(self) -> Any:
        """List the calls the user may see
        ---
        get:
          operationId: list_calls
          description: >-
            Calls, newest first unless `sort` says otherwise. Caseworkers get the calls assigned
            to them; supervisors and admins get every call. Searching is `POST /calls/search`, with
            the terms in the body: a `q` here is refused (400), since query strings are written to
            access logs.
          parameters:
          - {in: query, name: status, schema: {type: string, enum: [UPLOADED, TRANSCRIBING, SUMMARIZING, COMPLETED, FAILED]}}
          - {in: query, name: date_from, schema: {type: string, format: date}}
          - {in: query, name: date_to, schema: {type: string, format: date}}
          - {in: query, name: sentiment, schema: {type: string, enum: [Positive, Neutral, Negative]}}
          - {in: query, name: category, schema: {type: string}}
          - {in: query, name: agent, schema: {type: string}}
          - {in: query, name: assignee, schema: {type: string, pattern: '^(me|none|[0-9]{1,9})$'}, description: "me, none or a user id"}
          - {in: query, name: sort, schema: {type: string, enum: [created, updated, date, status, sentiment, category, agent, duration, assignee, relevance]}}
          - {in: query, name: dir, schema: {type: string, enum: [asc, desc]}}
          - {in: query, name: page, schema: {type: integer, minimum: 1, maximum: 10000}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          - {in: query, name: after, schema: {type: string, pattern: '^[A-Za-z0-9_-]{1,512}$'}, description: "next_cursor of the page before: the next page by keyset (give page as the number it is); one this list did not make, or from another order, is ignored and the page goes by its number"}
          - {in: query, name: before, schema: {type: string, pattern: '^[A-Za-z0-9_-]{1,512}$'}, description: "prev_cursor of the page after: the previous page by keyset"}
          responses:
            200:
              description: A page of calls
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      count: {type: integer}
                      count_is_lower_bound: {type: boolean, description: "always false (kept for older clients)"}
                      count_is_estimate: {type: boolean, description: "true past 2,000 calls for a supervisor: estimated from a uniform sample of the calls"}
                      page: {type: integer}
                      page_size: {type: integer}
                      next_cursor: {type: string, nullable: true, description: "after= for the next page; null on a short page"}
                      prev_cursor: {type: string, nullable: true, description: "before= for the previous page; null on page 1"}
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            call_id: {type: string}
                            issue_sentence: {type: string, nullable: true, description: "the summary's issue sentence; null until the call is indexed"}
              links:
                GetFirstCall:
                  operationId: get_call
                  parameters: {call_id: '$response.body#/result/0/call_id'}
                  description: The first call of the page
                GetFirstTranscript:
                  operationId: get_transcript
                  parameters: {call_id: '$response.body#/result/0/call_id'}
                GetFirstSummary:
                  operationId: get_summary
                  parameters: {call_id: '$response.body#/result/0/call_id'}
                GetFirstAudio:
                  operationId: get_audio
                  parameters: {call_id: '$response.body#/result/0/call_id'}
                AssignFirstCall:
                  operationId: put_assignment
                  parameters: {call_id: '$response.body#/result/0/call_id'}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
        """
        settings = current_app.config["CALLCARE_WEB"]
        # The pages' filter form sends empty fields for "any", and the parser reads them so; an API
        # client sending `date_to=` has sent no date, which its document does not allow.
        empty = [name for name in TYPED_ARGUMENTS if request.args.get(name, None) == ""]
        if empty:
            return self.response_400(message=f"empty value for {', '.join(empty)}")
        if "q" in request.args:
            return self.response_400(
                message="search with POST /api/v1/calls/search and the terms in the body: "
                "a query string is written to access logs"
            )
        filters = Filters.parse(request.args, page_size=settings.page_size)
        if filters.errors:
            return self.response_400(message="; ".join(filters.errors))
        return self._page(filters)

    def _page(self, filters: Filters) -> Any:
        # as the list page: a search waits for the index, a list takes the issue sentences it has
        catch_up(
            _engine(), current_app.config["CALLCARE_WEB"].core, wait_s=CATCH_UP_WAIT_S if filters.q else 0
        )
        with _engine().connect() as conn:
            page = queries.list_calls(conn, _viewer(), filters)
        audit.record("list", via="api", count=len(page.rows))
        result = []
        for row in page.rows:
            item = serialize(row, LIST_FIELDS)
            if filters.q:
                item["snippet"] = str(row.get("snippet") or "")
            result.append(item)
        return self.response(
            200,
            count=page.total,
            count_is_lower_bound=False,
            count_is_estimate=page.total_is_estimate,
            page=page.page,
            page_size=page.page_size,
            next_cursor=page.next_cursor.encode() if page.next_cursor else None,
            prev_cursor=page.prev_cursor.encode() if page.prev_cursor else None,
            result=result,
        )

    @expose("/search", methods=["POST"])
    @protect()
    @safe
    def search(self) -> Any:
        """Search the calls the user may see, best matches first
        ---
        post:
          operationId: search_calls
          description: >-
            Full-text search of the issue sentence, the other summary fields, the transcript and the
            call, agent and customer ids, in the database's own index (FTS5 on SQLite, tsvector on
            PostgreSQL), combined with the list's filters. The terms travel in the body, never in
            the URL. Each whitespace-separated term is searched as the words it holds, in order;
            all terms must match; nothing in them is query syntax. `sort` defaults to relevance.
            `count` is exact up to a few thousand index matches, past that an estimate
            (`count_is_estimate`).
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  required: [q]
                  properties:
                    q: {type: string, maxLength: 200, description: "words searched"}
                    status: {type: string, enum: [UPLOADED, TRANSCRIBING, SUMMARIZING, COMPLETED, FAILED]}
                    date_from: {type: string, format: date}
                    date_to: {type: string, format: date}
                    sentiment: {type: string, enum: [Positive, Neutral, Negative]}
                    category: {type: string}
                    agent: {type: string}
                    assignee: {type: string, pattern: '^(me|none|[0-9]{1,9})$', description: "me, none or a user id"}
                    sort: {type: string, enum: [relevance, created, updated, date, status, sentiment, category, agent, duration, assignee]}
                    dir: {type: string, enum: [asc, desc]}
                    page: {type: integer, minimum: 1, maximum: 10000}
                    page_size: {type: integer, minimum: 1, maximum: 100}
                    after: {type: string, pattern: '^[A-Za-z0-9_-]{1,512}$', description: "next_cursor of the page before (an order other than relevance)"}
                    before: {type: string, pattern: '^[A-Za-z0-9_-]{1,512}$', description: "prev_cursor of the page after"}
          responses:
            200:
              description: A page of matching calls, each with a highlighted snippet
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      count: {type: integer}
                      count_is_estimate: {type: boolean, description: "count scaled from a sample of the matches"}
                      count_is_lower_bound: {type: boolean, description: "always false (kept for older clients)"}
                      page: {type: integer}
                      page_size: {type: integer}
                      next_cursor: {type: string, nullable: true, description: "after= for the next page; null by relevance (pages by number) or on a short page"}
                      prev_cursor: {type: string, nullable: true, description: "before= for the previous page"}
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            call_id: {type: string}
                            issue_sentence: {type: string, nullable: true}
                            snippet: {type: string, description: "HTML: the text escaped, matched words in <mark>"}
              links:
                GetFirstFound:
                  operationId: get_call
                  parameters: {call_id: '$response.body#/result/0/call_id'}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
        """
        settings = current_app.config["CALLCARE_WEB"]
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("q"), str):
            return self.response_400(message='body must be a JSON object with "q", a string')
        if len(body["q"]) > MAX_SEARCH_CHARS:  # as the document says; never cut silently
            return self.response_400(message=f"q is longer than {MAX_SEARCH_CHARS} characters")
        args: dict[str, str] = {}
        for name in (*TYPED_ARGUMENTS, "category", "agent"):
            value = body.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                return self.response_400(message=f"{name} must be a string or a whole number")
            if name in ("after", "before") and not isinstance(value, str):
                return self.response_400(
                    message=f"{name} must be a string (a page's next_cursor or prev_cursor)"
                )
            if value == "" and name in TYPED_ARGUMENTS:
                return self.response_400(message=f"empty value for {name}")
            args[name] = str(value)
        filters = Filters.parse(args, page_size=settings.page_size)
        if filters.errors:
            return self.response_400(message="; ".join(filters.errors))
        filters.use_search(clean_terms(body["q"]))
        return self._page(filters)

    @expose("/<call_id>", methods=["GET"])
    @protect()
    @safe
    def get(self, call_id: str) -> Any:
        """One call
        ---
        get:
          operationId: get_call
          parameters:
          - {in: path, name: call_id, required: true, schema: {type: string}}
          responses:
            200:
              description: The call's registry fields, its metrics and its assignee
              content:
                application/json:
                  schema: {type: object}
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        call, error = self._load(call_id)
        if error is not None:
            return error
        audit.record("view", call_id, via="api")
        return self.response(
            200, **serialize(call), metrics=call["metrics"], roles_swapped=call["roles_swapped"]
        )

    @expose("/<call_id>/transcript", methods=["GET"])
    @protect()
    @safe
    def transcript(self, call_id: str) -> Any:
        """The call's transcript: turns (speaker, role, start, end, text) and metrics
        ---
        get:
          operationId: get_transcript
          description: >-
            The transcript document as the pipeline stored it; when a person swapped the agent and
            customer labels, `roles_swapped` is true and the turns carry the corrected roles.
          parameters:
          - {in: path, name: call_id, required: true, schema: {type: string}}
          responses:
            200:
              description: The transcript document
              content:
                application/json:
                  schema: {type: object}
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        call, error = self._load(call_id)
        if error is not None:
            return error
        try:
            doc = documents.read_document(current_app.config["CALLCARE_WEB"].core, call.get("transcript_uri"))
        except NotInLake as exc:
            return self.response(404, message=str(exc))
        if doc is None:
            return self.response(404, message="the call has no transcript yet")
        shown = documents.display_transcript(doc, call["roles_swapped"])
        audit.record("view_transcript", call_id, via="api")
        return self.response(200, call_id=call_id, roles_swapped=call["roles_swapped"], **shown)

    @expose("/<call_id>/summary", methods=["GET"])
    @protect()
    @safe
    def summary(self, call_id: str) -> Any:
        """The call's summary with its backend, model, prompt version, tokens and cost
        ---
        get:
          operationId: get_summary
          parameters:
          - {in: path, name: call_id, required: true, schema: {type: string}}
          responses:
            200:
              description: The summary document
              content:
                application/json:
                  schema: {type: object}
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        call, error = self._load(call_id)
        if error is not None:
            return error
        try:
            doc = documents.read_document(current_app.config["CALLCARE_WEB"].core, call.get("summary_uri"))
        except NotInLake as exc:
            return self.response(404, message=str(exc))
        if doc is None:
            return self.response(404, message="the call has no summary yet")
        audit.record("view_summary", call_id, via="api")
        return self.response(200, call_id=call_id, **doc)

    @expose("/<call_id>/audio", methods=["GET"])
    @protect()
    def audio(self, call_id: str) -> Any:
        """The recording
        ---
        get:
          operationId: get_audio
          description: >-
            A local lake streams the file and answers Range requests (206); an S3 lake redirects
            (302) to a presigned URL that expires after a few minutes.
          parameters:
          - {in: path, name: call_id, required: true, schema: {type: string}}
          - {in: header, name: Range, schema: {type: string}, required: false}
          responses:
            200:
              description: The audio file
              content:
                audio/*: {}
            206:
              description: The requested byte range
            302:
              description: Redirect to a presigned S3 URL
            416:
              description: The Range header asks for bytes the file does not have, or in a form not served
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        call, error = self._load(call_id)
        if error is not None:
            return error
        try:
            response = media.audio_response(current_app.config["CALLCARE_WEB"].core, call)
        except NotInLake as exc:
            return self.response(404, message=str(exc))
        if media.delivers_audio(response):  # once per user and call per window, not once per seek
            audit.record_unless_recent("listen", call_id, audit.LISTEN_WINDOW_S, via="api")
        return response

    @expose("/<call_id>/assignment", methods=["PUT"])
    @protect()
    @safe
    def put_assignment(self, call_id: str) -> Any:
        """Assign the call to a user, or unassign it (supervisors)
        ---
        put:
          operationId: put_assignment
          parameters:
          - {in: path, name: call_id, required: true, schema: {type: string}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [user_id]
                  properties:
                    user_id: {type: integer, nullable: true, minimum: 1, maximum: 2147483647}
          responses:
            200:
              description: The assignment now
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      call_id: {type: string}
                      user_id: {type: integer, nullable: true}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            409:
              description: No active user has that id
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message: {type: string}
        """
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "user_id" not in body:
            return self.response_400(message='body must be {"user_id": <int or null>}')
        try:
            assigned = commands.assign(_engine(), _viewer(), call_id, body["user_id"], via="api")
        except NotFound:
            return self.response_404()
        except Forbidden:
            return self.response_403()
        except NotAssignable as exc:
            return self.response(409, message=str(exc))
        except Invalid as exc:
            return self.response_400(message=str(exc))
        return self.response(200, call_id=call_id, user_id=assigned.user_id)


def register(appbuilder: Any) -> None:
    appbuilder.add_api(CallsApi)
