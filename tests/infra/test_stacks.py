"""What each stack provides: lake layout and lifecycle, MWAA wiring and its execution role, Glue and
Athena, alerting, web hosting, alarms and dashboard."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("aws_cdk", reason="needs the CDK environment: .venv-infra (infra/bootstrap.sh)")

from aws_cdk.assertions import Match, Template

from tests.infra.cdk_synth import MODELS, REPO


def _statements(prod, sid_prefix=""):
    ((_, _, policy),) = prod.resources("AWS::IAM::ManagedPolicy")
    return {
        s.get("Sid", ""): s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid", "").startswith(sid_prefix)
    }


def _flat(value) -> str:
    return json.dumps(value, sort_keys=True)


def test_raw_audio_stays_instantly_readable(prod):
    """Playback (a presigned URL) and reprocess read a recording at any age: no lifecycle rule that
    covers raw-audio/ may move it to a class that needs a restore, and Intelligent-Tiering's opt-in
    archive tiers (which need one too) stay off."""
    (lake,) = [
        r
        for lid, r in prod.templates["storage"]["Resources"].items()
        if lid.startswith("Lake") and r["Type"] == "AWS::S3::Bucket"
    ]
    props = lake["Properties"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    raw = rules["raw-audio-intelligent-tiering"]
    assert raw["Prefix"] == "raw-audio/"
    assert raw["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    for rule in rules.values():
        prefix = rule.get("Prefix") or rule.get("Filter", {}).get("Prefix") or ""
        if not "raw-audio/".startswith(prefix):
            continue  # another prefix: not raw audio
        moves = [*rule.get("Transitions", []), *rule.get("NoncurrentVersionTransitions", [])]
        classes = {t["StorageClass"] for t in moves}
        assert not classes & {"GLACIER", "DEEP_ARCHIVE"}, (rule["Id"], classes)
    assert "IntelligentTieringConfigurations" not in props  # no Archive / Deep Archive Access tiers
    assert rules["old-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert lake["DeletionPolicy"] == "Retain"  # prod keeps the lake when the stack goes


def test_mwaa_environment_runs_private_with_the_artifacts_and_secrets_backend(prod):
    ((_, _, env),) = prod.resources("AWS::MWAA::Environment")
    props = env["Properties"]
    assert props["Name"] == "callcare-prod"
    assert props["AirflowVersion"] == "3.3.1"
    assert props["DagS3Path"] == "dags"
    for key, path in (
        ("Plugins", "plugins.zip"),
        ("Requirements", "requirements.txt"),
        ("StartupScript", "startup.sh"),
    ):
        assert path in _flat(props[f"{key}S3Path"])
        assert "ObjectVersion" in _flat(props[f"{key}S3ObjectVersion"])
    subnets = _flat(props["NetworkConfiguration"]["SubnetIds"])
    assert subnets.count("privateSubnet") == 2 and "public" not in subnets
    options = props["AirflowConfigurationOptions"]
    assert options["secrets.backend"].endswith("SecretsManagerBackend")
    kwargs = json.loads(options["secrets.backend_kwargs"])
    assert kwargs["connections_prefix"] == "callcare/prod/connections"
    assert kwargs["variables_prefix"] == "callcare/prod/variables"
    assert options["callcare.profile"] == "aws"
    # a lost worker's tasks are retried elsewhere after 2 minutes, not Airflow's default 5
    assert options["scheduler.task_instance_heartbeat_timeout"] == "120"
    assert "callcare-prod-lake-123456789012-eu-west-1" in _flat(options["callcare.lake_uri"])
    assert options["callcare.glue_database"] == "callcare_prod"
    assert options["callcare.athena_database"] == "callcare_prod_analytics"
    assert options["callcare.athena_work_group"] == "callcare-prod-analytics"
    assert options["callcare.registry_conn_id"] == "callcare_registry"
    for key in options:  # MWAA's key pattern for configuration options
        assert key == key.lower() and len(key) <= 64, key
    parameters = prod.templates["airflow"]["Parameters"]
    assert {"PluginsObjectVersion", "RequirementsObjectVersion", "StartupObjectVersion"} <= set(parameters)


def test_execution_role_is_least_privilege(prod):
    (role,) = [res for stack, _, res in prod.resources("AWS::IAM::Role") if stack == "airflow"]
    principals = _flat(role["Properties"]["AssumeRolePolicyDocument"])
    assert "airflow.amazonaws.com" in principals and "airflow-env.amazonaws.com" in principals
    s = _statements(prod)
    # lake: only the DESIGN.md prefixes, no bucket-wide object access
    lake = _flat(s["LakeObjects"]["Resource"])
    for prefix in ("raw-audio/*", "transcripts/*", "summaries/*", "tables/*", "warehouse/*"):
        assert prefix in lake
    # delete: only where dbt-athena rebuilds tables (warehouse/) and where compaction replaces the
    # per-call Parquet files it merged (tables/), never what the pipeline keeps
    deleting = [st for st in s.values() if "s3:DeleteObject" in _flat(st["Action"])]
    assert [st["Sid"] for st in deleting] == ["WarehouseRebuilds", "LakeCompaction"]
    warehouse, compaction = deleting
    for statement, prefix in ((warehouse, "warehouse/"), (compaction, "tables/")):
        assert statement["Action"] == "s3:DeleteObject"
        resource = _flat(statement["Resource"])
        assert "callcare-prod-lake-" in resource and resource.count("/*") == 1
        assert resource.count(f"/{prefix}*") == 1
        for kept in ("raw-audio/", "transcripts/", "summaries/", "results/"):
            assert kept not in _flat(statement)
    assert "tables/" not in _flat(warehouse) and "warehouse/" not in _flat(compaction)
    assert "s3:Delete" not in _flat([st for st in s.values() if st not in deleting])
    # Bedrock: exactly the configured models (a foundation model; an inference profile and its model)
    bedrock = _flat(s["BedrockInvoke"]["Resource"])
    assert f"foundation-model/{MODELS[0]}" in bedrock
    assert f"inference-profile/{MODELS[1]}" in bedrock
    assert "foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0" in bedrock
    assert s["BedrockInvoke"]["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    # secrets: only what the Airflow Secrets Manager backend reads, under this environment's prefix
    secrets = _flat(s["Secrets"]["Resource"])
    for kind in ("connections", "variables", "config"):
        assert f":secret:callcare/prod/{kind}/*" in secrets
    assert ":secret:callcare/prod/*" not in secrets
    assert sorted(s["Secrets"]["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]
    assert s["CallAlerts"]["Action"] == "sns:Publish"
    assert "CallAlerts" in _flat(s["CallAlerts"]["Resource"])
    assert "transcription-job/callcare-*" in _flat(s["TranscribeJobs"]["Resource"])
    # a FAILED job is never deleted and started again: a reprocess names a new job
    assert sorted(s["TranscribeJobs"]["Action"]) == [
        "transcribe:GetTranscriptionJob",
        "transcribe:StartTranscriptionJob",
    ]
    assert "workgroup/callcare-prod-analytics" in _flat(s["AthenaWorkgroup"]["Resource"])
    glue = _flat(s["GlueCatalog"]["Resource"])
    assert "database/callcare_prod" in glue and "table/callcare_prod/*" in glue
    assert s["Metrics"]["Condition"]["StringEquals"]["cloudwatch:namespace"] == ["AmazonMWAA", "Callcare"]
    assert "log-group:airflow-callcare-prod-*" in _flat(s["AirflowLogs"]["Resource"])


def test_glue_tables_come_from_the_generated_catalog_with_partition_projection(prod):
    committed = json.loads((REPO / "dbt" / "glue" / "lake_tables.json").read_text())
    tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]
        for _, _, r in prod.resources("AWS::Glue::Table")
    }
    assert set(tables) == {t["Name"] for t in committed}
    for spec in committed:
        props = tables[spec["Name"]]
        assert props["DatabaseName"] == "callcare_prod"
        table = props["TableInput"]
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert columns == [(c["Name"], c["Type"]) for c in spec["StorageDescriptor"]["Columns"]]
        assert [k["Name"] for k in table["PartitionKeys"]] == ["call_date"]
        assert "call_date" not in dict(columns)
        params = table["Parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.call_date.type"] == "date"
        template = _flat(params["storage.location.template"])
        assert f"tables/{spec['Name']}/call_date=${{call_date}}/" in template
        assert "callcare-prod-lake-" in template
        assert "{{lake_uri}}" not in _flat(table)
    Template.from_json(prod.templates["catalog"]).resource_count_is("AWS::Glue::Database", 2)


def test_pyarrow_schemas_have_glue_tables():
    """Every lake table callcare names (callcare.names.LAKE_TABLES, the tables of callcare.core.tables)
    is in the generated catalog infra applies, and the catalog has no other."""
    from callcare.names import LAKE_TABLES
    from callcare_infra.lake_tables import table_inputs

    names = {t["Name"] for t in table_inputs("s3://bucket")}
    assert names == set(LAKE_TABLES)


def test_athena_workgroup_limits_and_encrypts(prod):
    Template.from_json(prod.templates["catalog"]).has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": "callcare-prod-analytics",
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "BytesScannedCutoffPerQuery": 10 * 1024**3,
                    "PublishCloudWatchMetricsEnabled": True,
                }
            ),
        },
    )


def test_alert_topics_secrets_and_email_parameters(prod):
    template = Template.from_json(prod.templates["alerting"])
    template.resource_count_is("AWS::SNS::Topic", 2)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}
    )
    subscriptions = [
        r for r in prod.templates["alerting"]["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"
    ]
    assert all(r.get("Condition") for r in subscriptions)  # no subscription when the parameter is empty
    names = {r["Properties"]["Name"] for _, _, r in prod.resources("AWS::SecretsManager::Secret")}
    assert names == {
        "callcare/prod/connections/callcare_gdrive",
        "callcare/prod/variables/callcare_settings",
        "callcare/prod/connections/callcare_registry",
        "callcare/prod/web/secret_key",
        "callcare/prod/web/admin_password",
    }


def test_web_app_behind_alb_with_waf_rate_limit_and_postgres(prod):
    web = Template.from_json(prod.templates["webapp"])
    web.has_resource_properties(
        "AWS::WAFv2::WebACL",
        {
            "Scope": "REGIONAL",
            "Rules": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Name": "rate-limit-per-ip",
                            "Action": {"Block": {}},
                            "Statement": {
                                "RateBasedStatement": Match.object_like(
                                    {"AggregateKeyType": "IP", "Limit": 1000}
                                )
                            },
                        }
                    )
                ]
            ),
        },
    )
    web.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)
    web.has_resource_properties("AWS::ECS::Service", {"LaunchType": "FARGATE"})
    web.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Protocol": "HTTPS", "Port": 443, "Certificates": Match.any_value()},
    )
    (task,) = [
        r for r in prod.templates["webapp"]["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"
    ]
    container = task["Properties"]["ContainerDefinitions"][0]
    assert {s["Name"] for s in container["Secrets"]} == {
        "CALLCARE_DB_USER",
        "CALLCARE_DB_PASSWORD",
        "CALLCARE_DB_NAME",
        "CALLCARE_WEB_SECRET_KEY",
        "CALLCARE_WEB_ADMIN_PASSWORD",
    }
    assert not any("PASSWORD" in e["Name"] for e in container["Environment"])
    Template.from_json(prod.templates["database"]).has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "MultiAZ": True,
            "DeletionProtection": True,
            "EnableIAMDatabaseAuthentication": True,
        },
    )


def test_alarms_and_dashboard(prod):
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"] for _, _, r in prod.resources("AWS::CloudWatch::Alarm")
    }
    expected = {
        "callcare-prod-dag-failed-callcare_process_call",
        "callcare-prod-dag-failed-callcare_ingest",
        "callcare-prod-failed-call-rate",
        "callcare-prod-processing-p95",
        "callcare-prod-throttling-transcribe",
        "callcare-prod-throttling-bedrock",
        "callcare-prod-throttling-drive",
        "callcare-prod-throttling-bedrock-service",
        "callcare-prod-web-5xx",
    }
    assert expected <= set(alarms)
    for name, props in alarms.items():
        assert "Alarms" in _flat(props["AlarmActions"]), f"{name} does not notify the alarm topic"
    assert alarms["callcare-prod-processing-p95"]["ExtendedStatistic"] == "p95"
    assert alarms["callcare-prod-dag-failed-callcare_process_call"]["Namespace"] == "AmazonMWAA"
    ((_, _, dashboard),) = prod.resources("AWS::CloudWatch::Dashboard")
    body = _flat(dashboard["Properties"]["DashboardBody"])
    for title in ("Calls per hour", "Processing time", "Success and failure", "Cost (USD per hour)"):
        assert title in body
    for stat in ("p50", "p95", "p99"):
        assert stat in body


def test_throttling_alarms_read_what_the_pipeline_records(prod):
    """One alarm per Service label the pipeline records throttles under (callcare.names), on the
    metric name and dimensions callcare.observability puts: a label that drifted would never fire."""
    from callcare import names

    alarms = [r["Properties"] for _, _, r in prod.resources("AWS::CloudWatch::Alarm")]
    ours = [a for a in alarms if a.get("MetricName") == names.THROTTLES]
    services = sorted(next(d["Value"] for d in a["Dimensions"] if d["Name"] == "Service") for a in ours)
    assert services == sorted(names.THROTTLED_SERVICES)
    for alarm in ours:
        assert alarm["Namespace"] == "Callcare" and alarm["Statistic"] == "Sum"
        assert {d["Name"] for d in alarm["Dimensions"]} == {"Environment", "Service"}


def test_metric_names_come_from_the_pipelines_names_module(prod):
    from callcare import names

    body = _flat([r["Properties"] for _, _, r in prod.resources("AWS::CloudWatch::Alarm")])
    for name in (names.CALLS_FAILED, names.CALLS_COMPLETED, names.PROCESSING_SECONDS, names.THROTTLES):
        assert name in body
