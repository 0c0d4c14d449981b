"""The web app's settings: callcare's own Settings (registry, lake, home) plus CALLCARE_WEB_* variables.

This module is the only place in the web app that reads the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
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


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


# how a CALLCARE_WEB_* value becomes each field's type (the annotations are strings here)
_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "str | None": str,
    "int": int,
    "float": float,
    "bool": lambda value: _flag(value, False),
    "Path | None": Path,
    "list[dict[str, Any]]": json.loads,
    "dict[str, list[str]]": json.loads,
    "tuple[str, ...]": _names,
}


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
    page_size: int = 25
    host: str = "127.0.0.1"
    port: int = 8081
    threads: int = 64
    proxy_hops: int = 0  # reverse proxies (load balancer) in front whose X-Forwarded-* headers to trust

    def __post_init__(self) -> None:
        object.__setattr__(self, "auth_type", self.auth_type.lower())

    @classmethod
    def from_mapping(cls, env: Mapping[str, str], core: Settings | None = None) -> WebSettings:
        """CALLCARE_WEB_<FIELD> for each field (unset or empty: the field's default), like core's."""
        core = core or Settings.from_mapping(env)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"CALLCARE_WEB_{f.name.upper()}")
            if f.name in ("core", "secret_key") or raw is None or raw == "":
                continue
            kwargs[f.name] = _PARSERS[str(f.type)](raw)
        secret_key = env.get("CALLCARE_WEB_SECRET_KEY") or _secret_key(
            core.home, env.get("CALLCARE_WEB_SECRET_KEY_FILE") or None
        )
        return cls(core=core, secret_key=secret_key, **kwargs)

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
