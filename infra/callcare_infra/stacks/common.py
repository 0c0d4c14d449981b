"""Small helpers the stacks share."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

# CloudWatch Logs accepts only these retention periods (days).
_RETENTION = (
    (1, "ONE_DAY"),
    (3, "THREE_DAYS"),
    (5, "FIVE_DAYS"),
    (7, "ONE_WEEK"),
    (14, "TWO_WEEKS"),
    (30, "ONE_MONTH"),
    (60, "TWO_MONTHS"),
    (90, "THREE_MONTHS"),
    (120, "FOUR_MONTHS"),
    (150, "FIVE_MONTHS"),
    (180, "SIX_MONTHS"),
    (365, "ONE_YEAR"),
    (400, "THIRTEEN_MONTHS"),
    (545, "EIGHTEEN_MONTHS"),
    (731, "TWO_YEARS"),
    (1827, "FIVE_YEARS"),
    (3653, "TEN_YEARS"),
)


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least `days` days."""
    for value, name in _RETENTION:
        if value >= days:
            return logs.RetentionDays[name]
    return logs.RetentionDays.INFINITE


def bucket_name(config, purpose: str, scope: Construct) -> str:
    """Deterministic bucket names: consumers build ARNs from the name in their own stack (a literal
    plus pseudo parameters) instead of importing the bucket's ARN from the storage stack, which keeps
    IAM resources readable, and cdk-nag findings on them stable and acknowledgeable."""
    stack = Stack.of(scope)
    return f"{config.prefix}-{purpose}-{stack.account}-{stack.region}"


def import_bucket(scope: Construct, config, purpose: str) -> s3.IBucket:
    return s3.Bucket.from_bucket_name(
        scope, f"{purpose.title().replace('-', '')}Bucket", bucket_name(config, purpose, scope)
    )
