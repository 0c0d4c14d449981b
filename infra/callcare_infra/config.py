"""Deployment settings of one callcare environment, read from CDK context (cdk.json or `-c key=value`).

Every knob has a default that synthesizes; `prod` turns on the settings that cost more but matter in
production (Multi-AZ database, deletion protection, two NAT gateways, retained data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

PREFIX = "callcare:"
ENV_NAME = re.compile(r"^[a-z][a-z0-9]{1,11}$")


@dataclass(frozen=True)
class DeployConfig:
    env_name: str = "dev"
    account: str | None = None
    region: str = "eu-west-1"
    # tags on every resource
    project: str = "callcare"
    cost_center: str = "customer-care"
    owner: str = "callcare-platform"
    compliance: str = "pii"
    # lake
    # 0 keeps raw audio forever; otherwise raw audio (and its old versions) expire after this many days
    raw_audio_retention_days: int = 0
    noncurrent_version_days: int = 30
    athena_results_days: int = 30
    athena_bytes_scanned_cutoff: int = 10 * 1024**3
    # network
    nat_gateways: int = 1
    # MWAA
    airflow_version: str = "3.3.1"
    mwaa_environment_class: str = "mw1.small"
    mwaa_min_workers: int = 1
    mwaa_max_workers: int = 5
    mwaa_schedulers: int = 2
    mwaa_webserver_access: str = "PRIVATE_ONLY"
    # pipeline
    bedrock_model_ids: tuple[str, ...] = ("anthropic.claude-3-5-haiku-20241022-v1:0",)
    metrics_namespace: str = "Callcare"
    # web app; every environment but dev needs the certificate (HTTPS), synth fails without it
    certificate_arn: str = ""
    web_cpu: int = 512
    web_memory_mib: int = 1024
    web_desired_count: int = 2
    web_container_port: int = 8000
    waf_rate_limit: int = 1000  # requests per 5 minutes per client IP
    db_instance_class: str = "t4g.small"
    db_allocated_storage_gib: int = 20
    db_port: int = 5433
    # audit and alarms
    log_retention_days: int = 365
    failed_call_rate_threshold: float = 0.1
    p95_processing_seconds_threshold: int = 900
    web_5xx_threshold: int = 10
    throttle_threshold: int = 20

    def __post_init__(self) -> None:
        if not ENV_NAME.match(self.env_name):
            raise ValueError(f"callcare:env must match {ENV_NAME.pattern}, got {self.env_name!r}")
        if self.mwaa_webserver_access not in ("PRIVATE_ONLY", "PUBLIC_ONLY"):
            raise ValueError("callcare:mwaaWebserverAccess must be PRIVATE_ONLY or PUBLIC_ONLY")
        if not self.bedrock_model_ids:
            raise ValueError("callcare:bedrockModelIds needs at least one model id")
        if not self.is_dev and not self.certificate_arn:
            # Without a certificate the ALB listens on plain HTTP open to the internet: the API login
            # and every transcript would travel in cleartext.
            raise ValueError(
                f"callcare:certificateArn is required for the environment {self.env_name!r}: without it "
                "the web app is served over plain HTTP. Set -c callcare:certificateArn=<ACM certificate "
                "ARN> (only the dev environment may run without one)"
            )

    @property
    def is_prod(self) -> bool:
        return self.env_name == "prod"

    @property
    def is_dev(self) -> bool:
        """The one environment that may serve the web app over plain HTTP (a try-out, no real calls)."""
        return self.env_name == "dev"

    @property
    def prefix(self) -> str:
        """Resource name prefix, e.g. callcare-dev."""
        return f"{self.project}-{self.env_name}"

    @property
    def stack_prefix(self) -> str:
        return f"Callcare-{self.env_name.capitalize()}"

    @property
    def secrets_prefix(self) -> str:
        """Every secret of the environment lives under this name prefix (the MWAA role reads only these)."""
        return f"{self.project}/{self.env_name}"

    @property
    def glue_database(self) -> str:
        """The lake's tables (callcare.warehouse.glue_tables); dbt reads them as the source `lake`."""
        return f"{self.project}_{self.env_name}"

    @property
    def athena_database(self) -> str:
        """Where dbt builds the marts on Athena."""
        return f"{self.glue_database}_analytics"

    @property
    def mwaa_environment_name(self) -> str:
        return self.prefix

    @property
    def tags(self) -> dict[str, str]:
        return {
            "Project": self.project,
            "Environment": self.env_name,
            "ManagedBy": "cdk",
            "CostCenter": self.cost_center,
            "Owner": self.owner,
            "Compliance": self.compliance,
        }

    @classmethod
    def from_context(cls, get: Any, **defaults: Any) -> DeployConfig:
        """`get(key)` returns a context value or None (e.g. `app.node.try_get_context`)."""
        kwargs: dict[str, Any] = dict(defaults)
        for f in fields(cls):
            raw = get(PREFIX + _camel(f.name))
            if raw is None or raw == "":
                continue
            kwargs[f.name] = _coerce(f.type, raw)
        return cls(**kwargs)


# context keys that are not the camel-cased field name
_KEYS = {"env_name": "env"}


def _camel(name: str) -> str:
    if name in _KEYS:
        return _KEYS[name]
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _coerce(type_name: Any, raw: Any) -> Any:
    kind = str(type_name)
    if kind.startswith("tuple"):
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.startswith("[") else [p.strip() for p in raw.split(",")]
        return tuple(str(v) for v in raw if str(v).strip())
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return str(raw)


def context_keys() -> list[str]:
    return [PREFIX + _camel(f.name) for f in fields(DeployConfig)]


DEFAULT = DeployConfig()
__all__ = ["DEFAULT", "DeployConfig", "context_keys"]
