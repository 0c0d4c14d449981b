"""The web app's own tables, beside FAB's ab_* tables and the registry's calls/call_events.

They live in the serving database (the registry's): assignment and search join the calls table.
No foreign key points at `calls`: the registry owns that table and its migrations.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Text


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Assignment(Model):
    """Which caseworker a call is assigned to (one at a time)."""

    __tablename__ = "web_assignment"
    call_id = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False, index=True)
    assigned_by_id = Column(Integer, ForeignKey("ab_user.id"))
    assigned_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class CallOverride(Model):
    """Corrections a person made to a call's presentation; the lake documents stay as the pipeline wrote them."""

    __tablename__ = "web_call_override"
    call_id = Column(String(64), primary_key=True)
    roles_swapped = Column(Boolean, nullable=False, default=False)
    updated_by_id = Column(Integer, ForeignKey("ab_user.id"))
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class SearchDoc(Model):
    """A completed call's searchable text, by field, as the search index reads it (callcare_web.search_index).

    The database's own full-text index is built over these rows by triggers the migration creates
    (0005): an FTS5 table on SQLite, a tsvector table with a GIN index on PostgreSQL, both named
    `web_search_fts` and kept out of the models on purpose (each dialect's is its own).
    `id` is the FTS rowid: an explicit INTEGER PRIMARY KEY, because VACUUM may renumber an implicit
    rowid and an external-content FTS5 table would then point at the wrong rows.
    """

    __tablename__ = "web_search_doc"
    id = Column(Integer, primary_key=True, autoincrement=True)
    call_id = Column(String(64), nullable=False, unique=True, index=True)
    source = Column(String(4200), nullable=False)  # the URIs the text came from: re-index when they change
    event_id = Column(Integer, index=True)  # the outbox event the text is as of (search catch-up's cursor)
    ids_text = Column(Text, nullable=False, default="")  # call id, agent id, customer id
    issue_text = Column(Text, nullable=False, default="")  # the summary's issue sentence
    summary_text = Column(Text, nullable=False, default="")  # the summary's other fields
    transcript_text = Column(Text, nullable=False, default="")
    indexed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class AuditEntry(Model):
    """Who viewed or changed what, when: append-only."""

    __tablename__ = "web_audit"
    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    user_id = Column(Integer, index=True)
    username = Column(String(256))
    action = Column(String(32), nullable=False, index=True)
    call_id = Column(String(64), index=True)
    detail = Column(Text)
    remote_addr = Column(String(64))

    def detail_dict(self) -> dict[str, Any]:
        return json.loads(self.detail) if self.detail else {}

    def __repr__(self) -> str:
        return f"{self.action} {self.call_id or ''}"


class LoginThrottle(Model):
    """Failed logins per key (an account and a client address, a client address, an account) and the
    addresses an account has signed in from: in the database, so every task of the service counts the
    same failures and a restart forgets nothing."""

    __tablename__ = "web_login_throttle"
    key = Column(String(200), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    last_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    blocked_until = Column(DateTime(timezone=True))


class OidcIdentity(Model):
    """Which user an IdP's subject is: (issuer, `sub`), the one pair OIDC promises is stable and unique.

    Names and e-mail addresses in a token are profile fields many IdPs let their users edit; a user
    found by one of those could be anybody who typed the same value (security review M6).
    """

    __tablename__ = "web_oidc_identity"
    issuer = Column(String(512), primary_key=True)
    subject = Column(String(255), primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False, unique=True)
    provider = Column(String(64), nullable=False)
    linked_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class UserSession(Model):
    """The generation of a user's sessions and tokens: raised to end all of them (callcare_web.sessions)."""

    __tablename__ = "web_user_session"
    user_id = Column(Integer, ForeignKey("ab_user.id"), primary_key=True)
    generation = Column(Integer, nullable=False, default=0)
    changed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    reason = Column(String(32))
