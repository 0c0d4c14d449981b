"""Celery options of the rehearsal's Airflow: python/mwaa/config/celery.py of MWAA's image, followed.

MWAA points `[celery] celery_config_options` at its own module; this one builds the same dictionary
(Airflow's defaults, the SQS broker's predefined queue, region, TLS switch and visibility timeout,
database engine options) with kombu's SQS transport in place of MWAA's subclass of it. It is on the
components' PYTHONPATH as MWAA's package is on the image's.
"""

from __future__ import annotations

import copy
import os

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

_queue_url = os.environ["MWAA__SQS__QUEUE_URL"]
_queue_name = _queue_url.rstrip("/").rsplit("/", 1)[-1]

CELERY_CONFIG = copy.deepcopy(DEFAULT_CELERY_CONFIG)
CELERY_CONFIG["broker_transport_options"] = {
    **CELERY_CONFIG["broker_transport_options"],
    "predefined_queues": {_queue_name: {"url": _queue_url}, "default": {"url": _queue_url}},
    "is_secure": os.environ.get("MWAA__SQS__USE_SSL", "true").lower() == "true",
    "region": os.environ.get("AWS_REGION", "us-east-1"),
    "visibility_timeout": 43200,
}
CELERY_CONFIG["database_engine_options"] = {"pool_pre_ping": True, "pool_recycle": 1200}
