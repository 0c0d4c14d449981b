"""Roles, password policy, login throttling and IdP group mapping on top of FAB's SQLA security manager.

Roles are FAB "builtin" roles (permissions as regular expressions, kept in code, not in the DB):
caseworker and supervisor below; admin is FAB's admin role, which holds every permission.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_appbuilder.api import expose, safe
from flask_appbuilder.const import AUTH_DB, LOGMSG_WAR_SEC_LOGIN_FAILED
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import User
from flask_appbuilder.security.views import ResetMyPasswordView
from flask_appbuilder.validators import PasswordComplexityValidator
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt_identity, jwt_required
from flask_login import user_logged_in, user_logged_out
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from callcare_web import sessions
from callcare_web.config import ROLE_CASEWORKER, ROLE_SUPERVISOR
from callcare_web.models import utcnow
from callcare_web.tables import oidc_identities, user_sessions
from callcare_web.throttle import LoginThrottle, Policy

log = logging.getLogger(__name__)

CALLS = "Calls"
DASHBOARD = "Dashboard"
# menu entries have names of their own (a menu named like a view's permissions gets pruned by FAB)
CALLS_MENU = "Call list"
DASHBOARD_MENU = "Supervisor dashboard"
# What a person may do on their own account (DB auth): see it, change their password and name.
# (Anchored patterns: FAB stores builtin roles' pairs as they are, and a pattern equal to a real view
# name would make FAB try to prune it on every start.)
_SELF_SERVICE = [
    ["^(UserInfoEditView|ChangeMyPasswordView)$", "^(can_this_form_get|can_this_form_post)$"],
    ["^User(DB|OAuth|LDAP|RemoteUser)ModelView$", "^(can_userinfo|resetmypassword|userinfoedit)$"],
    ["^OpenApi$", "^can_get$"],
    ["^SwaggerView$", "^can_show$"],
    [f"^(API docs|{CALLS_MENU})$", "^menu_access$"],
]
CALLS_API = "CallsApi"
_CALLS_VIEWS = f"^({CALLS}|{CALLS_API})$"
_CASEWORKER_CALLS = "can_list|can_show|can_audio|can_download|can_swap_roles|can_live"
FAB_ROLES: dict[str, list[list[str]]] = {
    ROLE_CASEWORKER: [[_CALLS_VIEWS, f"^({_CASEWORKER_CALLS})$"], *_SELF_SERVICE],
    ROLE_SUPERVISOR: [
        [_CALLS_VIEWS, f"^({_CASEWORKER_CALLS}|can_list_all|can_assign)$"],
        [f"^{DASHBOARD}$", "^can_show$"],
        [f"^{DASHBOARD_MENU}$", "^menu_access$"],
        *_SELF_SERVICE,
    ],
}

MIN_PASSWORD_LENGTH = 12


def password_policy(password: str) -> None:
    """At least 12 characters, with three of: lower case, upper case, digits, other characters."""
    password = password or ""
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < MIN_PASSWORD_LENGTH or classes < 3:
        raise PasswordComplexityValidationError(
            f"Passwords need at least {MIN_PASSWORD_LENGTH} characters and three of: lower case, "
            "upper case, digits, other characters."
        )


def generate_password(length: int = 20) -> str:
    """A random password that passes the policy."""
    alphabet = string.ascii_letters + string.digits + "-_.!"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        try:
            password_policy(candidate)
            return candidate
        except PasswordComplexityValidationError:
            continue


def _current_password(form: Any, field: Any) -> None:
    """The signed-in user's password, checked behind the login throttle: a stolen session must not
    turn into a new password (review L2), nor into an unthrottled way to guess the old one."""
    sm = current_app.appbuilder.sm
    user = sm.get_user_by_id(g.user.id)
    address = request.remote_addr or "-"
    if sm.throttle.retry_after(user.id, address) > 0:
        raise ValidationError("Too many wrong passwords: try again later.")
    if not user.password or not check_password_hash(user.password, field.data or ""):
        sm.throttle.failed(user.id, address)
        raise ValidationError("This is not your current password.")


class ChangePasswordForm(DynamicForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), _current_password], widget=BS3PasswordFieldWidget()
    )
    password = PasswordField(
        "New password",
        description=f"At least {MIN_PASSWORD_LENGTH} characters, with three of: lower case, upper case, "
        "digits, other characters",
        validators=[DataRequired(), PasswordComplexityValidator()],
        widget=BS3PasswordFieldWidget(),
    )
    conf_password = PasswordField(
        "Confirm the new password",
        validators=[EqualTo("password", message="Passwords must match")],
        widget=BS3PasswordFieldWidget(),
    )


class ChangeMyPasswordView(ResetMyPasswordView):
    """FAB's own-password form, asking for the current password first.

    The change ends every other session and token of the user (the flush hook below raises their
    generation); this browser's session is kept by taking the new generation into its cookie.
    """

    form = ChangePasswordForm
    form_title = "Change your password"

    def form_post(self, form: Any) -> None:
        super().form_post(form)
        session[sessions.SESSION_KEY] = sessions.generation(self.appbuilder.sm.session, g.user.id)


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _revoke_changed_users(orm: sa.orm.Session, _context: Any, _instances: Any) -> None:
    """Deactivation, a change of roles and a change of password end the user's sessions, tokens and
    live sockets, whichever form, command or login changed the user (every path flushes here).

    Roles compare as sets: an OIDC sign-in assigns the same roles again at every login.
    """
    for user in list(orm.dirty):
        if not isinstance(user, User) or user.id is None:
            continue
        attrs = sa.inspect(user).attrs
        reasons = [name for name in ("active", "password") if attrs[name].history.has_changes()]
        roles = attrs["roles"].history
        if {r.id for r in roles.added} != {r.id for r in roles.deleted}:
            reasons.append("roles")
        if reasons:
            sessions.revoke(orm, user.id, ",".join(reasons))
    for user in list(orm.deleted):
        if isinstance(user, User) and user.id is not None:
            orm.execute(user_sessions.delete().where(user_sessions.c.user_id == user.id))
            orm.execute(oidc_identities.delete().where(oidc_identities.c.user_id == user.id))


def _remember_generation(_app: Any, user: Any) -> None:
    """A browser login: the session cookie holds the user's generation as it is now."""
    session[sessions.SESSION_KEY] = sessions.generation(current_app.appbuilder.sm.session, user.id)


def _revoke_on_logout(app: Any, user: Any) -> None:
    """Logout ends every session of the user, not just this cookie: a signed cookie cannot be ended
    on its own, and a copy of it must not outlive the logout."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return
    with app.extensions["sqlalchemy"].engine.begin() as conn:
        sessions.revoke(conn, user_id, "logout")


class CallcareSecurityApi(SecurityApi):
    """FAB's token endpoints with a request and answer its OpenAPI document describes exactly.

    FAB's login took a body without `provider` (a KeyError: 500), answered a bad body with a 400
    whose `message` was an object where its own document says a string, and documented `ldap`,
    which this app does not offer (issue 19's schemathesis run).
    """

    @expose("/login", methods=["POST"])
    @safe
    def login(self) -> Any:
        """Sign in with a user name (or e-mail address) and password; get a JWT access token
        ---
        post:
          description: >-
            Tokens for the REST API. Failed sign-ins back off per account and client address
            (the answer stays 401), and a client address is rate-limited (429).
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [username, password]
                  properties:
                    username: {type: string, minLength: 1, maxLength: 320, example: ana}
                    password: {type: string, minLength: 1, maxLength: 1024}
                    provider: {type: string, enum: [db], default: db}
                    refresh: {type: boolean, description: "also return a refresh token"}
          responses:
            200:
              description: Signed in
              content:
                application/json:
                  schema:
                    type: object
                    required: [access_token]
                    properties:
                      access_token: {type: string}
                      refresh_token: {type: string}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many sign-in attempts from this address
        """
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.response_400(message="the body must be a JSON object")
        username, password = body.get("username"), body.get("password")
        if not (isinstance(username, str) and 0 < len(username) <= 320):
            return self.response_400(message="username must be a string of 1 to 320 characters")
        if not (isinstance(password, str) and 0 < len(password) <= 1024):
            return self.response_400(message="password must be a string of 1 to 1024 characters")
        if body.get("provider", "db") != "db" or self.appbuilder.sm.auth_type != AUTH_DB:
            return self.response_400(message="provider must be db (the app signs in against its database)")
        refresh = body.get("refresh", False)
        if not isinstance(refresh, bool):
            return self.response_400(message="refresh must be true or false")
        user = self.appbuilder.sm.auth_user_db(username, password)
        if not user:
            return self.response_401()
        tokens = {"access_token": create_access_token(identity=str(user.id), fresh=True)}
        if refresh:
            tokens["refresh_token"] = create_refresh_token(identity=str(user.id))
        return self.response(200, **tokens)

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @safe
    def refresh(self) -> Any:
        """A new access token for a refresh token
        ---
        post:
          description: >-
            Send the refresh token as the bearer token. It ends with the user's sessions (logout,
            deactivation, a change of roles or password) like every token.
          responses:
            200:
              description: A new access token
              content:
                application/json:
                  schema:
                    type: object
                    required: [access_token]
                    properties:
                      access_token: {type: string}
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many requests from this address
          security:
            - jwt_refresh: []
        """
        return self.response(200, access_token=create_access_token(identity=get_jwt_identity(), fresh=False))


class NoTypedNames(logging.Filter):
    """Drops FAB's "Login Failed for user: <typed name>" record (review L8): the typed name is often
    a password typed into the wrong field. The audit row of the failure names the account when the
    name is one (CallcareSecurityManager.auth_user_db)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != LOGMSG_WAR_SEC_LOGIN_FAILED


FAB_SECURITY_LOG = logging.getLogger("flask_appbuilder.security.manager")


class CallcareSecurityManager(SecurityManager):
    resetmypasswordview = ChangeMyPasswordView
    security_api = CallcareSecurityApi

    def __init__(self, appbuilder: Any) -> None:
        super().__init__(appbuilder)
        if not any(isinstance(f, NoTypedNames) for f in FAB_SECURITY_LOG.filters):
            FAB_SECURITY_LOG.addFilter(NoTypedNames())
        web = current_app.config["CALLCARE_WEB"]
        self.throttle = LoginThrottle(
            lambda: current_app.extensions["sqlalchemy"].engine,
            Policy(web.login_max_failures, web.login_backoff_s, web.login_lockout_s),
        )
        self.groups_claim = web.oauth_groups_claim

    # -- DB auth with throttling and audit -------------------------------------------------------------
    def auth_user_db(self, username: str, password: str) -> Any:
        """FAB's check behind the throttle (callcare_web.throttle says why its keys are what they are).

        The form and the API login both come here. The name is resolved first, as FAB resolves it
        (user name, else e-mail), so both spellings count against one account. The audit row names
        the account only when the name is one: a typed name that is no user is often a password
        typed in the wrong field (review L8), so it is not stored.
        """
        from callcare_web import audit

        if not username:
            return None
        account = self.find_user(username=username) or self.find_user(email=username)
        user_id = account.id if account is not None else None
        address = request.remote_addr or "-"
        wait = self.throttle.retry_after(user_id, address)
        if wait > 0:
            log.warning("login refused: backing off this account or address for %.0f s", wait)
            audit.record("login_throttled", user=account, known_user=account is not None)
            return None
        user = super().auth_user_db(username, password)
        if user is None:
            self.throttle.failed(user_id, address)
            audit.record("login_failed", user=account, known_user=account is not None)
        else:
            self.throttle.succeeded(user.id, address)
        return user

    # -- revocable sessions and tokens (callcare_web.sessions) ----------------------------------------
    def create_login_manager(self, app: Any) -> Any:
        lm = super().create_login_manager(app)
        lm.user_loader(self.load_session_user)
        flask_app = current_app._get_current_object()  # FAB passes the proxy; signals come from the app
        user_logged_in.connect(_remember_generation, flask_app)
        user_logged_out.connect(_revoke_on_logout, flask_app)
        return lm

    def load_session_user(self, pk: Any) -> Any:
        """The cookie's user, while the cookie's generation is still the user's."""
        user = self.load_user(pk)
        if user is None or session.get(sessions.SESSION_KEY) != sessions.generation(self.session, user.id):
            return None
        return user

    def create_jwt_manager(self, app: Any) -> Any:
        jwt = super().create_jwt_manager(app)
        jwt.additional_claims_loader(self._token_claims)
        jwt.token_in_blocklist_loader(self._token_revoked)
        return jwt

    def _token_claims(self, identity: Any) -> dict[str, Any]:
        return {sessions.CLAIM: sessions.generation(self.session, int(identity))}

    def _token_revoked(self, _header: dict, payload: dict) -> bool:
        """Access and refresh tokens alike: issued before the user's last revocation, refused."""
        try:
            user_id = int(payload["sub"])
        except (KeyError, TypeError, ValueError):
            return True
        return payload.get(sessions.CLAIM) != sessions.generation(self.session, user_id)

    def on_user_logout(self, user: Any) -> None:
        from callcare_web import audit

        audit.record("logout", user=user)

    def on_user_login(self, user: Any) -> None:
        from callcare_web import audit

        audit.record("login", user=user)

    # -- OAuth / OIDC (e.g. Cognito): IdP groups become role keys for AUTH_ROLES_MAPPING ---------------
    def get_oauth_user_info(self, provider: str, resp: dict[str, Any]) -> dict[str, Any]:
        claims = dict(resp.get("userinfo") or {})  # the ID token's claims, which authlib verified
        if not claims:
            claims = dict(self.oauth_remotes[provider].userinfo())
        return oidc_user_info(provider, claims, self.groups_claim)

    def auth_user_oauth(self, userinfo: dict[str, Any]) -> Any:
        """The user bound to the token's (issuer, sub); FAB's login (activity, role sync from the
        groups, registration) then runs on that user's name, never on a name from the token.

        A first sign-in links an existing user made before this binding existed (`legacy_names`,
        tried in order), so nobody is duplicated; each user is linked to one identity at most.
        """
        issuer, subject = userinfo.get("iss"), userinfo.get("sub")
        if not issuer or not subject:
            log.error("OIDC sign-in refused: the token has no issuer or subject")
            return None
        found = self.session.execute(
            sa.select(oidc_identities.c.user_id).where(
                oidc_identities.c.issuer == issuer, oidc_identities.c.subject == subject
            )
        ).scalar()
        if found is not None:
            bound = self.get_user_by_id(found)
            if bound is None:
                return None
            return super().auth_user_oauth({**userinfo, "username": bound.username})
        user = self._legacy_user(userinfo)
        username = user.username if user is not None else userinfo["username"]
        if user is None and self.find_user(username=username) is not None:
            log.error("OIDC sign-in refused: user name %s is taken by another identity", username)
            return None
        user = super().auth_user_oauth({**userinfo, "username": username})
        if user is not None:
            self.session.execute(
                oidc_identities.insert().values(
                    issuer=issuer,
                    subject=subject,
                    user_id=user.id,
                    provider=userinfo.get("provider") or "",
                    linked_at=utcnow(),
                )
            )
            self.session.commit()
        return user

    def _legacy_user(self, userinfo: dict[str, Any]) -> Any:
        """An unlinked user made by the old naming that this identity provably is, or None."""
        linked = sa.select(oidc_identities.c.user_id)
        for name, email in userinfo.get("legacy_names") or []:
            user = self.find_user(username=name)
            if user is None:
                continue
            if self.session.execute(linked.where(oidc_identities.c.user_id == user.id)).first():
                continue  # another identity already owns it
            if email is not None and (user.email or "").lower() != email.lower():
                continue
            return user
        return None


COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[A-Za-z0-9_-]+$")
MAX_USERNAME = 128  # ab_user.username


def oidc_user_info(provider: str, claims: dict[str, Any], groups_claim: str) -> dict[str, Any]:
    """FAB's user info from an OIDC token's claims, with the identity (issuer, sub) beside it.

    The user name of a new user is made from claims no user can edit: Cognito's `cognito:username`
    (fixed at sign-up, unique in its pool; the name users of a Cognito pool had before) or `sub`.
    `legacy_names` are the names the old code gave this person, each with the e-mail address it
    must also have (None: no check needed): `sub` and, from a Cognito issuer, `cognito:username` are
    immutable; `preferred_username` is editable, so it links only with a verified e-mail address
    that matches the old user's.
    """
    issuer = str(claims.get("iss") or f"oauth:{provider}")
    subject = str(claims.get("sub") or "")
    cognito_name = claims.get("cognito:username") if COGNITO_ISSUER.match(issuer) else None
    name = f"{provider}_{cognito_name or subject}"
    if len(name) > MAX_USERNAME:
        name = f"{provider}_{hashlib.sha256(f'{issuer} {subject}'.encode()).hexdigest()[:40]}"
    email = claims.get("email") or ""
    legacy: list[tuple[str, str | None]] = []
    if subject:
        legacy.append((f"{provider}_{subject}", None))
    if cognito_name:
        legacy.append((f"{provider}_{cognito_name}", None))
    preferred = claims.get("preferred_username")
    if preferred and email and claims.get("email_verified") in (True, "true"):
        legacy.append((f"{provider}_{preferred}", email))
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [g for g in re.split(r"[,\s]+", groups) if g]
    return {
        "username": name,
        "email": email,
        "first_name": claims.get("given_name") or "",
        "last_name": claims.get("family_name") or "",
        "role_keys": list(groups),
        "iss": issuer,
        "sub": subject,
        "provider": provider,
        "legacy_names": legacy,
    }
