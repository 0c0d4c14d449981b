"""Handles on the web app's own tables (and FAB's users), for queries written in SQLAlchemy Core.

The models declare them for FAB's views; the reads, the commands, the audit writer and the live feed
need the bare tables, and importing them from here keeps those modules from importing one another.
"""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import User

from callcare_web.models import (
    Assignment,
    AuditEntry,
    CallOverride,
    LoginThrottle,
    OidcIdentity,
    SearchDoc,
    UserSession,
)

assignments = Assignment.__table__
overrides = CallOverride.__table__
search_docs = SearchDoc.__table__
audit = AuditEntry.__table__
login_throttle = LoginThrottle.__table__
oidc_identities = OidcIdentity.__table__
user_sessions = UserSession.__table__
users = User.__table__
# the assignee's user row, joined beside the signed-in user's
assignee_user = users.alias("assignee_user")
