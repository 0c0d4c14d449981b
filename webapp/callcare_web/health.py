"""The load balancer's health check: `GET /health` (config.HEALTH_PATH, which infra reads too).

200 when the registry database answers `SELECT 1`, 503 otherwise, so the ALB takes a task that lost
its database out of service. It needs no login and shows no data (the body says only ok or
unavailable: not why, not which database), and it is exempt from CSRF, the rate limit and the audit
log: the ALB calls it every few seconds from each of its nodes.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from callcare_web.config import HEALTH_PATH

log = logging.getLogger(__name__)


def database_answers() -> bool:
    """Whether the registry database answers a trivial query now (through the app's pool)."""
    try:
        engine = current_app.extensions["sqlalchemy"].engine
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except Exception as exc:  # any failure is "unhealthy"; the reason goes to the log, not the body
        log.warning("health check: the registry database does not answer (%s)", type(exc).__name__)
        return False


def blueprint() -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.route(HEALTH_PATH, methods=["GET"])
    def health() -> tuple[Response, int]:
        if database_answers():
            response = jsonify(status="ok")
            status = 200
        else:
            response = jsonify(status="unavailable")
            status = 503
        response.headers["Cache-Control"] = "no-store"
        return response, status

    return bp
