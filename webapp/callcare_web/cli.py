"""`callcare-web`: initialize the database and the first admin, add users, serve the app.

callcare-web init                 tables, roles, first admin (idempotent)
callcare-web db upgrade           migrate the registry's and the web app's tables (the deploy step)
callcare-web db current           their revisions (exit 1 when behind)
callcare-web serve                init, then gunicorn (threaded) on CALLCARE_WEB_HOST:CALLCARE_WEB_PORT
callcare-web create-user --role caseworker --username ana --email ana@example.com [--password ...]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from callcare_web.config import ROLES, WebSettings, core_settings
from callcare_web.security import generate_password, password_policy


def _is_tty(out: Any) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new file that is 0600 from its creation (no moment readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def hand_over(password: str, what: str, path: Path, out: Any) -> None:
    """Tell the operator a generated password without putting it in a log.

    On a terminal it is printed. Anywhere else stdout is a log (a container's goes to CloudWatch, a
    CI job's to its build log), so the password goes into a 0600 file and only the file's path is
    printed.
    """
    if _is_tty(out):
        print(f"callcare-web: {what} with password {password}", file=out, flush=True)
        print("callcare-web: this password is shown only this once", file=out, flush=True)
        return
    write_private(path, password)
    print(f"callcare-web: {what}; its password is in {path} (mode 0600)", file=out, flush=True)


def _admin_password(web: WebSettings) -> tuple[str, bool]:
    """(password, generated): from the environment, from the password file, or new (local only)."""
    if web.admin_password:
        return web.admin_password, False
    path: Path | None = web.admin_password_file
    if path is not None and path.exists():
        return path.read_text().strip(), False
    if web.core.profile == "aws":
        # A container cannot hand a generated password to anyone except through its log.
        raise SystemExit(
            "callcare-web: no admin password: set CALLCARE_WEB_ADMIN_PASSWORD (the deployment passes the "
            "Secrets Manager secret callcare/<env>/web/admin_password) or CALLCARE_WEB_ADMIN_PASSWORD_FILE"
        )
    return generate_password(), True


def ensure_admin(app: Flask, web: WebSettings, out: Any = sys.stdout) -> None:
    """Create the first admin once (idempotent). The password comes from the deployment; only on the
    local profile is one generated, and it is never printed unless stdout is a terminal."""
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username=web.admin_user) is not None:
            return
        if web.auth_type != "db":
            return
        password, generated = _admin_password(web)
        password_policy(password)
        user = sm.add_user(web.admin_user, "Admin", "User", web.admin_email, sm.find_role("admin"), password)
        if not user:
            # ECS starts the service's tasks together and each runs init: the one that lost the
            # race finds the winner's admin (FAB rolled its own insert back), which is success
            if sm.find_user(username=web.admin_user) is not None:
                print(
                    f"callcare-web: the admin user {web.admin_user!r} was created by another task", file=out
                )
                return
            raise SystemExit("callcare-web: could not create the admin user")
        what = f"created the admin user {web.admin_user!r}"
        if generated and web.admin_password_file is not None:
            write_private(web.admin_password_file, password)
            print(f"callcare-web: {what}; its password is in {web.admin_password_file}", file=out)
        elif generated:
            hand_over(password, what, web.core.home / "webapp" / "admin_password", out)
        else:
            where = "from the environment" if web.admin_password else f"in {web.admin_password_file}"
            print(f"callcare-web: {what} (password {where})", file=out)


def init(web: WebSettings | None = None) -> Flask:
    from callcare_web.app import create_app

    web = web or WebSettings.from_env()
    app = create_app(web)
    ensure_admin(app, web)
    return app


def create_user(args: argparse.Namespace) -> int:
    app = init()
    password = args.password or generate_password()
    password_policy(password)
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username=args.username):
            print(f"callcare-web: user {args.username!r} exists", file=sys.stderr)
            return 1
        user = sm.add_user(
            args.username, args.first_name, args.last_name, args.email, sm.find_role(args.role), password
        )
        if not user:
            return 1
    what = f"created {args.role} {args.username!r}"
    if args.password:
        print(f"callcare-web: {what}")
    else:
        home = app.config["CALLCARE_WEB"].core.home
        hand_over(password, what, home / "webapp" / f"{args.username}.password", sys.stdout)
    return 0


def db(args: argparse.Namespace) -> int:
    """Migrations without starting the app: the registry's history, then the web app's (FAB's tables first)."""
    from callcare.core import schema as registry_schema

    from callcare_web import schema as web_schema

    url = core_settings(os.environ).registry_url
    histories = (("registry", registry_schema), ("web", web_schema))
    if args.db_command == "current":
        behind = False
        for name, history in histories:
            current, head = history.current_revision(url), history.head_revision()
            behind = behind or current != head
            state = "at head" if current == head else f"behind (head {head})"
            print(f"{name}: {current or 'no migration history'}  {state}")
        return 1 if behind else 0
    for name, history in histories:
        print(f"{name}: at {history.upgrade(url)}")
    return 0


def gunicorn_settings(
    web: WebSettings,
    host: str,
    port: int,
    access_log: bool = False,
    forwarded_allow_ips: str | None = None,
) -> dict[str, Any]:
    """What `serve` sets on gunicorn."""
    return {
        "bind": f"{host}:{port}",
        "workers": 1,  # one process: the live feed's poller and throttles are per process
        "worker_class": "gthread",
        "threads": web.threads,  # each open WebSocket holds one thread
        "timeout": 120,
        "graceful_timeout": 5,
        "accesslog": "-" if access_log else None,
        # whose X-Forwarded-Proto gunicorn believes (wsgi.url_scheme): the load balancer's subnets
        "forwarded_allow_ips": forwarded_allow_ips or web.forwarded_allow_ips,
        # no control socket (gunicorn >= 25.1): nothing uses gunicornc, and its default place,
        # $HOME/.gunicorn, is /nonexistent/.gunicorn for the image's USER nobody, which it cannot
        # create: an ERROR in the task's log at every start (the deployment rehearsal saw it)
        "control_socket_disable": True,
    }


def serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    web = WebSettings.from_env()
    app = init(web)
    host = args.host or web.host
    port = args.port or web.port
    settings = gunicorn_settings(web, host, port, args.access_log, args.forwarded_allow_ips)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Flask:
            return app

    scheme = "https" if web.cookie_secure and host not in ("127.0.0.1", "localhost", "::1") else "http"
    print(f"callcare-web: serving on {scheme}://{host}:{port}", flush=True)
    Server().run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcare-web", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create tables, roles and the first admin")
    s = sub.add_parser("serve", help="initialize, then serve with gunicorn")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--access-log", action="store_true")
    s.add_argument(
        "--forwarded-allow-ips",
        help="proxies whose X-Forwarded-* gunicorn trusts (default: CALLCARE_WEB_FORWARDED_ALLOW_IPS, 127.0.0.1)",
    )
    d = sub.add_parser("db", help="schema migrations of the registry and the web app")
    dsub = d.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="migrate both to their heads (the deploy step for migrations)")
    dsub.add_parser("current", help="their revisions (exit 1 when behind)")
    u = sub.add_parser("create-user", help="add a user with a role")
    u.add_argument("--role", choices=ROLES, required=True)
    u.add_argument("--username", required=True)
    u.add_argument("--email", required=True)
    u.add_argument("--first-name", default="")
    u.add_argument("--last-name", default="")
    u.add_argument(
        "--password", help="default: generated, printed on a terminal, else written to a 0600 file"
    )
    args = parser.parse_args(argv)
    if args.command == "init":
        init()
        return 0
    if args.command == "serve":
        return serve(args)
    if args.command == "db":
        return db(args)
    return create_user(args)


if __name__ == "__main__":
    sys.exit(main())
