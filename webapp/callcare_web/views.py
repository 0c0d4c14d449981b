"""The pages: call list, call detail (player + transcript), assignment, downloads, dashboard, audit log."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, IndexView, ModelView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_login import current_user

from callcare_web import audit, commands, dashboard, documents, media, queries
from callcare_web.errors import Forbidden, Invalid, NotFound, NotInLake
from callcare_web.filters import RELEVANCE, SENTIMENTS, STATUSES, Filters, clean_terms
from callcare_web.models import AuditEntry
from callcare_web.search_index import CATCH_UP_WAIT_S, catch_up
from callcare_web.security import CALLS, CALLS_MENU, DASHBOARD, DASHBOARD_MENU

BADGES = {
    "UPLOADED": "default",
    "TRANSCRIBING": "info",
    "SUMMARIZING": "primary",
    "COMPLETED": "success",
    "FAILED": "danger",
}
SENTIMENT_BADGES = {"Positive": "success", "Neutral": "default", "Negative": "danger"}
# searches kept in the session cookie, by handle: the newest few (a cookie holds about 4 KB)
SEARCHES_KEY = "callcare_searches"
SEARCHES_KEPT = 8


def engine() -> sa.Engine:
    return current_app.extensions["sqlalchemy"].engine


def web_settings() -> Any:
    return current_app.config["CALLCARE_WEB"]


def viewer() -> queries.Viewer:
    can_all = current_app.appbuilder.sm.has_access("can_list_all", CALLS)
    return queries.Viewer(user_id=g.user.id, can_all=can_all)


def _safe_next(default: str) -> str:
    target = request.form.get("next") or request.args.get("next") or ""
    parsed = urlparse(target)
    if target.startswith("/") and not target.startswith("//") and not parsed.netloc:
        return target
    return default


def save_search(q: str) -> str:
    """Keep `q` in the session under a new random handle, which the list's URLs carry instead.

    The session is the signed cookie the browser already sends: cookies are not in the load
    balancer's or gunicorn's access logs, query strings are (security review L8). A handle per
    search, not one current search, so two tabs keep their own searches and links stay valid for the
    session.
    """
    handle = secrets.token_urlsafe(6)
    # a list of [handle, user id, terms], oldest first: the cookie serializer sorts a dict's keys, so
    # a dict would evict the alphabetically first handle, not the oldest; the user id keeps one
    # user's terms from another who signs in later in the same browser (logout keeps the session)
    kept = [entry for entry in _kept_searches() if entry[0] != handle]
    kept.append([handle, current_user.get_id(), q])
    session[SEARCHES_KEY] = kept[-SEARCHES_KEPT:]
    return handle


def _kept_searches() -> list[list[Any]]:
    kept = session.get(SEARCHES_KEY)
    if not isinstance(kept, list):
        return []
    return [e for e in kept if isinstance(e, list) and len(e) == 3 and isinstance(e[2], str)]


def saved_search(handle: str) -> str | None:
    for kept_handle, user_id, q in _kept_searches():
        if kept_handle == handle and user_id == current_user.get_id():
            return q
    return None


def load_call(call_id: str) -> dict[str, Any]:
    with engine().connect() as conn:
        try:
            return queries.get_call(conn, viewer(), call_id)
        except NotFound:
            abort(404)
        except Forbidden:
            audit.record("denied", call_id)
            abort(403)


class HomeView(IndexView):
    route_base = ""

    @expose("/")
    def index(self) -> Any:
        if current_user.is_authenticated:
            return redirect(url_for("CallsView.list"))
        return redirect(self.appbuilder.get_url_for_login)


class CallsView(BaseView):
    route_base = "/calls"
    class_permission_name = CALLS
    default_view = "list"

    def __init__(self) -> None:
        super().__init__()
        # not pages of their own: widening the list from "my calls" to every call, and the live feed
        for extra in ("can_list_all", "can_live"):
            if extra not in self.base_permissions:
                self.base_permissions.append(extra)

    @expose("/", methods=["GET", "POST"])
    @has_access
    def list(self) -> Any:
        """GET lists; POST is the filter form, which carries the search terms in its body.

        A POST keeps the terms in the session and redirects (303) to the list with a handle in their
        place; a GET with `q` (a bookmark from before, a hand-typed URL) does the same, so the terms
        leave the address bar and every link after it.
        """
        settings = web_settings()
        if request.method == "POST":
            filters = Filters.parse(request.form, page_size=settings.page_size)
            q = clean_terms(request.form.get("q"))
            if not q and filters.sort == RELEVANCE:
                filters.sort = "created"
            return self._to_search(filters, q, sort_by_relevance=bool(q))
        filters = Filters.parse(request.args, page_size=settings.page_size)
        if filters.q:
            return self._to_search(filters, filters.q, sort_by_relevance=not filters.sort_given)
        handle = (request.args.get("search") or "").strip()
        if handle:
            q = saved_search(handle)
            if q is None:
                filters.errors.append("That search is no longer kept in this session: search again.")
            else:
                filters.use_search(q, handle)
        who = viewer()
        # a search waits for the index to catch up with the outbox; a list only shows the issue
        # sentences from it, and goes on at once when another request is catching up
        catch_up(engine(), settings.core, wait_s=CATCH_UP_WAIT_S if filters.q else 0)
        with engine().connect() as conn:
            page = queries.list_calls(conn, who, filters)
            facets = queries.facets(conn, who)
            people = queries.caseworkers(conn) if who.can_all else []
            cursor = queries.latest_cursor(conn)
        template = (
            "callcare/list_rows.html" if request.args.get("fragment") == "rows" else "callcare/list.html"
        )
        return self.render_template(
            template,
            page=page,
            filters=filters,
            facets=facets,
            people=people,
            can_all=who.can_all,
            statuses=STATUSES,
            sentiments=SENTIMENTS,
            badges=BADGES,
            sentiment_badges=SENTIMENT_BADGES,
            cursor=cursor,
        )

    def _to_search(self, filters: Filters, q: str, sort_by_relevance: bool) -> Any:
        filters.page = 1
        if q:
            filters.use_search(q, save_search(q))
            if sort_by_relevance:
                filters.sort, filters.direction = RELEVANCE, "desc"
        else:
            filters.q = filters.search = ""
        return redirect(url_for("CallsView.list", **filters.query_args()), code=303)

    @expose("/<call_id>")
    @has_access
    def show(self, call_id: str) -> Any:
        call = load_call(call_id)
        core = web_settings().core
        problems = []
        transcript_doc = summary_doc = None
        try:
            transcript_doc = documents.read_document(core, call.get("transcript_uri"))
        except (NotInLake, OSError, ValueError):
            problems.append("The transcript could not be read from the lake.")
        try:
            summary_doc = documents.read_document(core, call.get("summary_uri"))
        except (NotInLake, OSError, ValueError):
            problems.append("The summary could not be read from the lake.")
        turns = documents.display_turns(transcript_doc, call["roles_swapped"])
        with engine().connect() as conn:
            history = queries.status_history(conn, call_id)
            people = queries.caseworkers(conn) if self.appbuilder.sm.has_access("can_assign", CALLS) else []
            cursor = queries.latest_cursor(conn)
        audit.record("view", call_id)
        return self.render_template(
            "callcare/detail.html",
            call=call,
            turns=turns,
            summary=(summary_doc or {}).get("summary"),
            summary_doc=summary_doc,
            metrics=call["metrics"] or (transcript_doc or {}).get("metrics") or {},
            history=history,
            people=people,
            problems=problems,
            badges=BADGES,
            sentiment_badges=SENTIMENT_BADGES,
            can_assign=bool(people),
            can_swap=self.appbuilder.sm.has_access("can_swap_roles", CALLS),
            cursor=cursor,
        )

    @expose("/<call_id>/audio")
    @has_access
    def audio(self, call_id: str) -> Any:
        call = load_call(call_id)
        try:
            response = media.audio_response(web_settings().core, call)
        except NotInLake:
            abort(404, description="The recording is not in the lake.")
        if media.delivers_audio(response):  # once per user and call per window, not once per seek
            audit.record_unless_recent("listen", call_id, audit.LISTEN_WINDOW_S)
        return response

    @expose("/<call_id>/download/<kind>")
    @has_access
    def download(self, call_id: str, kind: str) -> Any:
        call = load_call(call_id)
        core = web_settings().core
        try:
            if kind == "audio":
                response = media.audio_response(core, call, download=True)
                audit.record("download", call_id, kind=kind)
                return response
            if kind in ("transcript.json", "transcript.txt"):
                doc = documents.read_document(core, call.get("transcript_uri"))
            elif kind == "summary.json":
                doc = documents.read_document(core, call.get("summary_uri"))
            else:
                abort(404)
        except NotInLake:
            abort(404, description="That file is not in the lake.")
        if doc is None:
            abort(404)
        audit.record("download", call_id, kind=kind)
        if kind == "transcript.txt":
            body = documents.transcript_text(documents.display_turns(doc, call["roles_swapped"]))
            mimetype = "text/plain; charset=utf-8"
        else:
            body = json.dumps(doc, indent=1, sort_keys=True)
            mimetype = "application/json"
        filename = f"{call_id}-{kind}"
        return Response(
            body,
            mimetype=mimetype,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    @expose("/<call_id>/assign", methods=["POST"])
    @has_access
    def assign(self, call_id: str) -> Any:
        raw = (request.form.get("user_id") or "").strip()
        target = int(raw) if raw.isdigit() else None  # anything else: nobody
        try:
            assigned = commands.assign(engine(), viewer(), call_id, target)
        except NotFound:
            abort(404)
        except Forbidden:
            abort(403)
        except Invalid:
            abort(400)
        if assigned.changed:
            flash("Assignment saved.", "success")
        return redirect(_safe_next(url_for("CallsView.show", call_id=call_id)))

    @expose("/<call_id>/swap-roles", methods=["POST"])
    @has_access
    def swap_roles(self, call_id: str) -> Any:
        try:
            commands.swap_roles(engine(), viewer(), call_id)
        except NotFound:
            abort(404)
        except Forbidden:
            abort(403)
        flash("Agent and customer labels swapped.", "success")
        return redirect(url_for("CallsView.show", call_id=call_id))


class DashboardView(BaseView):
    route_base = "/dashboard"
    class_permission_name = DASHBOARD
    default_view = "show"

    @expose("/")
    @has_access
    def show(self) -> Any:
        raw = (request.args.get("days") or "30").strip()
        if not raw.isdecimal() or len(raw) > 6:
            abort(400, description="days must be a whole number of days (1 to 365)")
        days = min(max(int(raw), 1), 365)
        with engine().connect() as conn:
            data = dashboard.build(conn, days)
        audit.record("dashboard")
        return self.render_template("callcare/dashboard.html", data=data, days=days)


class AuditLogView(ModelView):
    datamodel = SQLAInterface(AuditEntry)
    class_permission_name = "AuditLog"
    route_base = "/audit"
    base_permissions = ["can_list", "can_show"]  # noqa: RUF012 (FAB reads these class attributes)
    list_title = "Audit log"
    show_title = "Audit entry"
    list_columns = ["at", "username", "action", "call_id", "detail", "remote_addr"]  # noqa: RUF012
    show_columns = ["at", "user_id", "username", "action", "call_id", "detail", "remote_addr"]  # noqa: RUF012
    search_columns = ["username", "action", "call_id", "at"]  # noqa: RUF012
    base_order = ("id", "desc")
    page_size = 50


def register(appbuilder: Any) -> None:
    appbuilder.add_view(CallsView, CALLS_MENU, href="/calls/", icon="fa-phone", label="Calls")
    appbuilder.add_view(
        DashboardView, DASHBOARD_MENU, href="/dashboard/", icon="fa-chart-bar", label="Dashboard"
    )
    appbuilder.add_view(
        AuditLogView, "Audit log", icon="fa-clipboard-list", label="Audit log", category="Security"
    )
    appbuilder.add_link("API docs", href="/swagger/v1", icon="fa-book", label="API docs")
