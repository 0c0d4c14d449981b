"""Alerting and secrets: the call-alert topic the pipeline publishes COMPLETED/FAILED to, the alarm
topic CloudWatch alarms publish to (both KMS-encrypted, TLS-only, with an optional email subscription
given as a stack parameter), and the Secrets Manager secrets the MWAA secrets backend reads."""

from __future__ import annotations

import json

from aws_cdk import CfnCondition, CfnParameter, Fn, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from callcare.names import SETTINGS_VARIABLE
from constructs import Construct

from callcare_infra.config import DeployConfig

# Airflow's Secrets Manager backend: connection `x` is the secret `<prefix>/connections/x`.
# Names callcare.config uses: Settings.gdrive_conn_id, the SETTINGS_VARIABLE Variable (callcare.names;
# a JSON object of setting overrides, e.g. gdrive_folder_id) and Settings.registry_conn_id (set by the
# MWAA options).
DRIVE_CONNECTION_ID = "callcare_gdrive"
REGISTRY_CONNECTION_ID = "callcare_registry"


class AlertingStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, data_key: kms.IKey, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.call_alerts = self._topic("CallAlerts", f"{config.prefix}-call-alerts", data_key)
        self.alarms = self._topic("Alarms", f"{config.prefix}-alarms", data_key)
        self.alarms.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarms.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self._email_subscription(
            "AlertEmail", self.call_alerts, "email address that receives call alerts (empty: none)"
        )
        self._email_subscription(
            "AlarmEmail", self.alarms, "email address that receives operational alarms (empty: none)"
        )

        prefix = config.secrets_prefix
        self.connections_prefix = f"{prefix}/connections"
        self.variables_prefix = f"{prefix}/variables"
        # The Drive service account's key: an Airflow connection of type google_cloud_platform. The
        # operator puts the real key in after the first deploy (docs/DEPLOY.md); the placeholder keeps
        # the secret's shape and holds nothing sensitive.
        placeholder = {
            "conn_type": "google_cloud_platform",
            "extra": {"keyfile_dict": "REPLACE with the service account key JSON"},
        }
        self.drive_key = secretsmanager.Secret(
            self,
            "DriveServiceAccount",
            secret_name=f"{self.connections_prefix}/{DRIVE_CONNECTION_ID}",
            description=f"Google Drive service account key (Airflow connection {DRIVE_CONNECTION_ID})",
            encryption_key=data_key,
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps(placeholder)),
            removal_policy=RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY,
        )
        # The Airflow Variable callcare_settings: setting overrides read once per task, among them the
        # Drive folder the ingest DAG polls.
        self.settings_secret = secretsmanager.Secret(
            self,
            "SettingsVariable",
            secret_name=f"{self.variables_prefix}/{SETTINGS_VARIABLE}",
            description=f"Airflow variable {SETTINGS_VARIABLE}: callcare setting overrides (gdrive_folder_id)",
            encryption_key=data_key,
            secret_string_value=SecretValue.unsafe_plain_text(
                json.dumps({"gdrive_folder_id": "REPLACE-with-the-folder-id"})
            ),
            removal_policy=RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY,
        )

    def _topic(self, construct_id: str, name: str, key: kms.IKey) -> sns.Topic:
        return sns.Topic(
            self, construct_id, topic_name=name, display_name=name, master_key=key, enforce_ssl=True
        )

    def _email_subscription(self, param_id: str, topic: sns.Topic, description: str) -> None:
        email = CfnParameter(self, param_id, type="String", default="", description=description)
        has_email = CfnCondition(
            self, f"Has{param_id}", expression=Fn.condition_not(Fn.condition_equals(email, ""))
        )
        subscription = sns.CfnSubscription(
            self,
            f"{param_id}Subscription",
            topic_arn=topic.topic_arn,
            protocol="email",
            endpoint=email.value_as_string,
        )
        subscription.cfn_options.condition = has_email
