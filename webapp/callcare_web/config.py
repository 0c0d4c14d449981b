"""The web app's settings: callcare's own Settings (registry, lake, home) plus CALLCARE_WEB_* variables.

This module is the only place in the web app that reads the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcare.config import Settings

ROLE_ADMIN = "admin"
ROLE_SUPERVISOR = "supervisor"
ROLE_CASEWORKER = "caseworker"
ROLE_PUBLIC = "public"
ROLES = (ROLE_ADMIN, ROLE_SUPERVISOR, ROLE_CASEWORKER)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WebSettings:
    core: Settings
    secret_key: str
    cookie_secure: bool = True
    admin_user: str = "admin"
    admin_email: str = "admin@callcare.local"
    admin_password: str | None = None
    admin_password_file: Path | None = None
    auth_type: str = "db"  # db | oauth
    oauth_providers: list[dict[str, Any]] = field(default_factory=list)
    roles_mapping: dict[str, list[str]] = field(default_factory=dict)
    oauth_groups_claim: str = "cognito:groups"
    jwt_expires_s: int = 900
    session_hours: int = 8
    login_rate_limit: str = "10 per minute"
    login_max_failures: int = 5
    login_lockout_s: int = 900
    ratelimit_storage_uri: str = "memory://"
    poll_interval_s: float = 1.0
    sns_enabled: bool = True
    sns_topic_arns: tuple[str, ...] = ()
    audio_url_expiry_s: int = 300
    page_size: int = 25
    host: str = "127.0.0.1"
    port: int = 8081
    threads: int = 64
    proxy_hops: int = 0  # reverse proxies (load balancer) in front whose X-Forwarded-* headers to trust

    @classmethod
    def from_mapping(cls, env: Mapping[str, str], core: Settings | None = None) -> WebSettings:
        core = core or Settings.from_mapping(env)

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(f"CALLCARE_WEB_{name}")
            return default if value in (None, "") else value

        password_file = get("ADMIN_PASSWORD_FILE")
        return cls(
            core=core,
            secret_key=get("SECRET_KEY") or _secret_key(core.home, get("SECRET_KEY_FILE")),
            cookie_secure=_flag(get("COOKIE_SECURE"), True),
            admin_user=get("ADMIN_USER", "admin") or "admin",
            admin_email=get("ADMIN_EMAIL", "admin@callcare.local") or "admin@callcare.local",
            admin_password=get("ADMIN_PASSWORD"),
            admin_password_file=Path(password_file) if password_file else None,
            auth_type=(get("AUTH_TYPE", "db") or "db").lower(),
            oauth_providers=json.loads(get("OAUTH_PROVIDERS", "[]") or "[]"),
            roles_mapping=json.loads(get("ROLES_MAPPING", "{}") or "{}"),
            oauth_groups_claim=get("OAUTH_GROUPS_CLAIM", "cognito:groups") or "cognito:groups",
            jwt_expires_s=int(get("JWT_EXPIRES_S", "900") or 900),
            session_hours=int(get("SESSION_HOURS", "8") or 8),
            login_rate_limit=get("LOGIN_RATE_LIMIT", "10 per minute") or "10 per minute",
            login_max_failures=int(get("LOGIN_MAX_FAILURES", "5") or 5),
            login_lockout_s=int(get("LOGIN_LOCKOUT_S", "900") or 900),
            ratelimit_storage_uri=get("RATELIMIT_STORAGE_URI", "memory://") or "memory://",
            poll_interval_s=float(get("POLL_INTERVAL_S", "1.0") or 1.0),
            sns_enabled=_flag(get("SNS_ENABLED"), True),
            sns_topic_arns=tuple(
                a.strip() for a in (get("SNS_TOPIC_ARNS", "") or "").split(",") if a.strip()
            ),
            audio_url_expiry_s=int(get("AUDIO_URL_EXPIRY_S", "300") or 300),
            page_size=int(get("PAGE_SIZE", "25") or 25),
            host=get("HOST", "127.0.0.1") or "127.0.0.1",
            port=int(get("PORT", "8081") or 8081),
            threads=int(get("THREADS", "64") or 64),
            proxy_hops=int(get("PROXY_HOPS", "0") or 0),
        )

    @classmethod
    def from_env(cls) -> WebSettings:
        return cls.from_mapping(os.environ)


def _secret_key(home: Path, path: str | None) -> str:
    """A signing key kept in a file (0600): generated once, so sessions survive restarts."""
    key_file = Path(path) if path else home / "webapp" / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return key
