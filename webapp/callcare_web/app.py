"""The Flask app factory: configuration, FAB, CSRF, security headers, views, API, live feed, SNS, health."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from callcare.core.registry import Registry
from flask import Flask, g, jsonify, request
from flask_appbuilder import AppBuilder
from flask_appbuilder.const import AUTH_DB, AUTH_OAUTH
from flask_appbuilder.models.sqla.base import SQLA
from flask_wtf.csrf import CSRFProtect

from callcare_web import schema, search_index
from callcare_web.config import ROLE_ADMIN, ROLE_PUBLIC, WebSettings
from callcare_web.security import FAB_ROLES, CallcareSecurityApi, CallcareSecurityManager, password_policy

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL (the registry sets it on the file) with NORMAL sync: no corruption on a crash, and a commit
    # needs no fsync of its own; FAB's first start writes a few hundred permission rows one by one
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def flask_config(web: WebSettings) -> dict[str, Any]:
    registry_url = web.core.registry_url
    # Every gunicorn thread may hold two connections at once (FAB's session, which loaded the user,
    # and the view's own); SQLAlchemy's default pool (5 + 10 overflow) made slow requests under load
    # wait 30 s and fail with a 500 (bench/web.py: 50 clients over 100k calls).
    pool: dict[str, Any] = {"pool_size": web.threads, "max_overflow": web.threads}
    engine_options: dict[str, Any] = {"pool_pre_ping": True, **pool}
    if registry_url.startswith("sqlite"):
        engine_options = {"connect_args": {"timeout": 30}}
        if ":memory:" not in registry_url and registry_url.rstrip("/") != "sqlite:":
            engine_options.update(pool)
    config: dict[str, Any] = {
        "CALLCARE_WEB": web,
        "SECRET_KEY": web.secret_key,
        "SQLALCHEMY_DATABASE_URI": registry_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "APP_NAME": "callcare",
        "FAB_INDEX_VIEW": "callcare_web.views.HomeView",
        "FAB_ROLES": FAB_ROLES,
        "AUTH_ROLE_ADMIN": ROLE_ADMIN,
        "AUTH_ROLE_PUBLIC": ROLE_PUBLIC,
        "AUTH_TYPE": AUTH_OAUTH if web.auth_type == "oauth" else AUTH_DB,
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        "FAB_PASSWORD_COMPLEXITY_VALIDATOR": password_policy,
        # login throttling per client address (Flask-Limiter) on the login form and the API login
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": web.ratelimit_storage_uri,
        "AUTH_RATE_LIMITED": True,
        "AUTH_RATE_LIMIT": web.login_rate_limit,
        # JWT for the REST API (FAB's security API: POST /api/v1/security/login)
        "JWT_ACCESS_TOKEN_EXPIRES": dt.timedelta(seconds=web.jwt_expires_s),
        "JWT_REFRESH_TOKEN_EXPIRES": dt.timedelta(hours=web.session_hours),
        "FAB_API_SWAGGER_UI": True,
        "FAB_ADD_SECURITY_API": False,
        # FAB's menu API serves single-page front ends; these pages render their menu on the server
        "FAB_ADD_MENU_API": False,
        "FAB_API_MAX_PAGE_SIZE": 100,
        # sessions
        "SESSION_COOKIE_NAME": "callcare_session",
        "SESSION_COOKIE_SECURE": web.cookie_secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": web.cookie_secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=web.session_hours),
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": web.session_hours * 3600,
        "PREFERRED_URL_SCHEME": "https" if web.cookie_secure else "http",
        "MAX_CONTENT_LENGTH": 1 << 20,
    }
    if web.auth_type == "oauth":
        config.update(
            {
                "OAUTH_PROVIDERS": web.oauth_providers,
                "AUTH_ROLES_MAPPING": web.roles_mapping,
                "AUTH_ROLES_SYNC_AT_LOGIN": True,
                "AUTH_USER_REGISTRATION": True,
                "AUTH_USER_REGISTRATION_ROLE": ROLE_PUBLIC,
            }
        )
    return config


def create_app(web: WebSettings | None = None, **overrides: Any) -> Flask:
    web = web or WebSettings.from_env()
    app = Flask(__name__)
    app.config.update(flask_config(web))
    app.config.update(overrides)

    # the registry's migrations first: the app may start before the pipeline ever ran
    Registry(web.core.registry_url).create_schema()

    csrf = CSRFProtect(app)  # before FAB, so its API blueprints get exempted (they use JWT)
    db = SQLA(app)
    with app.app_context():
        if web.core.registry_url.startswith("sqlite"):
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
        # FAB's ab_* tables as FAB makes them, then the web tables through their migrations (never
        # create_all: that would not change a table that exists); FAB's own check then finds ab_user
        schema.upgrade(db.engine)
        search_index.start(db.engine)  # the search catch-up reads the outbox from here on
        appbuilder = AppBuilder(security_manager_class=CallcareSecurityManager)
        appbuilder.init_app(app, db.session)
        _register(app, appbuilder, csrf)
    _harden(app)
    if web.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # client address (audit, login rate limit) and scheme as the load balancer saw them
        n = web.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app


def _register(app: Flask, appbuilder: AppBuilder, csrf: CSRFProtect) -> None:
    from callcare_web import api, health, live, sns, views

    views.register(appbuilder)
    api.register(appbuilder)
    security_api = next(v for v in appbuilder.baseviews if isinstance(v, CallcareSecurityApi))
    appbuilder.sm.limiter.limit(app.config["AUTH_RATE_LIMIT"], methods=["POST"])(security_api.blueprint)
    _jwt_errors(appbuilder)
    live.register(app)
    sns_blueprint = sns.blueprint()
    csrf.exempt(sns_blueprint)
    # no login, so a limit per client address (security review M4); read per request, from the
    # settings the app holds now
    appbuilder.sm.limiter.limit(lambda: app.config["CALLCARE_WEB"].sns_rate_limit)(sns_blueprint)
    app.register_blueprint(sns_blueprint)
    # the load balancer's probe: no login (a plain blueprint, not a FAB view), no CSRF, no rate limit
    health_blueprint = health.blueprint()
    csrf.exempt(health_blueprint)
    appbuilder.sm.limiter.exempt(health_blueprint)
    app.register_blueprint(health_blueprint)


def _jwt_errors(appbuilder: AppBuilder) -> None:
    """Every token problem is a 401 (flask-jwt-extended answers 422 to a malformed one by default)."""
    jwt = appbuilder.sm.jwt_manager

    @jwt.invalid_token_loader
    def invalid(reason: str):  # type: ignore[no-untyped-def]
        return jsonify(message="Invalid token"), 401

    @jwt.expired_token_loader
    def expired(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return jsonify(message="Token has expired"), 401

    @jwt.unauthorized_loader
    def missing(reason: str):  # type: ignore[no-untyped-def]
        return jsonify(message="Missing or malformed Authorization header"), 401

    @jwt.revoked_token_loader
    def revoked(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return jsonify(message="Token has been revoked"), 401

    @jwt.user_lookup_error_loader
    def unknown_user(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return jsonify(message="Unknown or inactive user"), 401


# The style attributes FAB's own templates write (login box margins, hidden action forms, pre-line
# cells): allowed by their hashes ('unsafe-hashes' admits exactly these values), so no page needs
# 'unsafe-inline'. Our templates write none.
FAB_STYLE_ATTRIBUTES = (
    "display: none",
    "display: none;",
    "display:inherit;",
    "display: flex;",
    "color: red",
    "white-space: pre-line",
    "margin-top:50px;",
    "padding-top:30px",
)


def _style_hashes() -> str:
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()}'"
        for value in FAB_STYLE_ATTRIBUTES
    )


def csp_nonce() -> str:
    """This response's script nonce (FAB's templates put `csp_nonce()` on each inline script)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return str(g.csp_nonce)


def content_security_policy(nonce: str, media_origins: str, host: str, secure: bool) -> str:
    """Scripts only from this origin or with this response's nonce, no inline event handlers, no
    plugins, no framing, no <base>: the pages render caller speech and LLM output (review L3)."""
    sockets = f"wss://{host}" if secure else f"ws://{host} wss://{host}"
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}' 'unsafe-hashes' {_style_hashes()}",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src 'self' {sockets}",
            f"media-src 'self'{media_origins}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _media_origins(web: WebSettings) -> str:
    """Where the audio player may follow the recording's redirect: S3 (presigned URLs), or the
    configured S3-compatible endpoint."""
    origins = []
    if (web.core.lake_uri or "").startswith("s3://"):
        origins.append("https://*.amazonaws.com")
    if web.core.s3_endpoint_url:
        parsed = urlparse(web.core.s3_endpoint_url)
        origins.append(f"{parsed.scheme}://{parsed.netloc}")
    return "".join(f" {o}" for o in origins)


def _harden(app: Flask) -> None:
    secure = app.config["SESSION_COOKIE_SECURE"]
    media_origins = _media_origins(app.config["CALLCARE_WEB"])
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(csp_nonce(), media_origins, request.host, secure),
        )
        # Every page, JSON answer, recording and download holds call data or a session's view of it:
        # none may stay in a shared PC's browser cache, or come back on Back after logout (review
        # L4). Only static assets (scripts, styles, fonts) are cached.
        if not (request.endpoint or "").endswith("static"):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
