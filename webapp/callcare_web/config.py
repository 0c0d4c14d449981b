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
from urllib.parse import quote

from callcare.config import Settings

ROLE_ADMIN = "admin"
ROLE_SUPERVISOR = "supervisor"
ROLE_CASEWORKER = "caseworker"
ROLE_PUBLIC = "public"
ROLES = (ROLE_ADMIN, ROLE_SUPERVISOR, ROLE_CASEWORKER)

# The load balancer's health check (infra reads this constant, so the two cannot drift apart).
HEALTH_PATH = "/health"
# The registry database in parts, as the ECS task gets them from the RDS secret (host and port in the
# task definition, user, password and database name as ECS secrets). CALLCARE_REGISTRY_URL wins.
DB_HOST = "CALLCARE_DB_HOST"
DB_PORT = "CALLCARE_DB_PORT"
DB_USER = "CALLCARE_DB_USER"
DB_PASSWORD = "CALLCARE_DB_PASSWORD"
DB_NAME = "CALLCARE_DB_NAME"
DB_SSLMODE = "CALLCARE_DB_SSLMODE"
DB_VARIABLES = (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, DB_SSLMODE)
SECRET_KEY = "CALLCARE_WEB_SECRET_KEY"
SECRET_KEY_FILE = "CALLCARE_WEB_SECRET_KEY_FILE"


class ConfigurationError(ValueError):
    """A setting the deployment must provide is missing or inconsistent: the app refuses to start."""


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
    login_max_failures: int = 5  # failures of one account from one address before it backs off
    login_backoff_s: int = 30  # the first backoff, doubled at each further failure
    login_lockout_s: int = 900  # the longest backoff
    ratelimit_storage_uri: str = "memory://"
    poll_interval_s: float = 1.0
    sns_enabled: bool = True
    sns_topic_arns: tuple[str, ...] = ()
    # requests to /sns/events per client address (the address ProxyFix gives behind proxy_hops); SNS
    # itself sends from many addresses, so only a stranger's flood meets it (security review M4)
    sns_rate_limit: str = "60 per minute"
    page_size: int = 25
    host: str = "127.0.0.1"
    port: int = 8081
    threads: int = 64
    proxy_hops: int = 0  # reverse proxies (load balancer) in front whose X-Forwarded-* headers to trust
    # gunicorn's forwarded_allow_ips: peers whose X-Forwarded-Proto it believes (on ECS: the VPC's CIDR,
    # which only the load balancer reaches the task from); never "*"
    forwarded_allow_ips: str = "127.0.0.1"

    def __post_init__(self) -> None:
        object.__setattr__(self, "auth_type", self.auth_type.lower())

    @classmethod
    def from_mapping(cls, env: Mapping[str, str], core: Settings | None = None) -> WebSettings:
        """CALLCARE_WEB_<FIELD> for each field (unset or empty: the field's default), like core's."""
        core = core or core_settings(env)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"CALLCARE_WEB_{f.name.upper()}")
            if f.name in ("core", "secret_key") or raw is None or raw == "":
                continue
            kwargs[f.name] = _PARSERS[str(f.type)](raw)
        secret_key = env.get(SECRET_KEY) or _secret_key(
            core.home, env.get(SECRET_KEY_FILE) or None, shared=core.profile == "aws"
        )
        return cls(core=core, secret_key=secret_key, **kwargs)

    @classmethod
    def from_env(cls) -> WebSettings:
        return cls.from_mapping(os.environ)


def registry_url_from_parts(env: Mapping[str, str]) -> str | None:
    """postgresql+psycopg2://user:password@host:port/name[?sslmode=...] from CALLCARE_DB_*, or None
    without CALLCARE_DB_HOST.

    The ECS task gets the RDS secret's fields one by one (a URL would need the password spliced into
    it before the task starts, which ECS secrets cannot do). The generated password may hold any
    character, so user, password and name are percent-escaped.
    """
    host = env.get(DB_HOST)
    if not host:
        return None
    missing = [name for name in (DB_USER, DB_PASSWORD, DB_NAME) if not env.get(name)]
    if missing:
        raise ConfigurationError(f"{DB_HOST} is set but {', '.join(missing)} not")
    port = env.get(DB_PORT) or "5432"
    if not port.isdigit():
        raise ConfigurationError(f"{DB_PORT} is not a port number: {port!r}")
    user, password, name = (quote(env[v], safe="") for v in (DB_USER, DB_PASSWORD, DB_NAME))
    url = f"postgresql+psycopg2://{user}:{password}@{host}:{port}/{name}"
    sslmode = env.get(DB_SSLMODE)
    return f"{url}?sslmode={quote(sslmode, safe='')}" if sslmode else url


def core_settings(env: Mapping[str, str]) -> Settings:
    """callcare's Settings, the registry's URL built from CALLCARE_DB_* when CALLCARE_REGISTRY_URL is
    unset: what the app and `callcare-web db upgrade` both connect to."""
    if not env.get("CALLCARE_REGISTRY_URL"):
        url = registry_url_from_parts(env)
        if url is not None:
            env = {**env, "CALLCARE_REGISTRY_URL": url}
    return Settings.from_mapping(env)


def environment_names() -> frozenset[str]:
    """Every environment variable the web app reads (infra's tests check the task definition sets
    no other CALLCARE_* name: a name nothing reads is a setting silently lost)."""
    core = {f"CALLCARE_{f.name.upper()}" for f in fields(Settings)}
    web = {f"CALLCARE_WEB_{f.name.upper()}" for f in fields(WebSettings) if f.name != "core"}
    return frozenset(core | web | set(DB_VARIABLES) | {SECRET_KEY_FILE})


def _secret_key(home: Path, path: str | None, *, shared: bool = False) -> str:
    """A signing key kept in a file (0600): generated once, so sessions survive restarts.

    `shared` (the aws profile): several tasks serve behind one load balancer, and a key generated by
    one of them would not verify the sessions, CSRF tokens and JWTs another signed, and would change
    at every task start. There the key must come from the deployment (CALLCARE_WEB_SECRET_KEY from
    Secrets Manager, or an existing CALLCARE_WEB_SECRET_KEY_FILE), never be generated.
    """
    key_file = Path(path) if path else home / "webapp" / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    if shared:
        raise ConfigurationError(
            f"{SECRET_KEY} (or an existing {SECRET_KEY_FILE}) is required on the aws profile: every task "
            "must sign sessions and tokens with the same key, so none is generated"
        )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return key
