"""Monitoring: alarms to the alarm topic and one CloudWatch dashboard.

Pipeline figures are the metrics callcare.observability puts (names from callcare.names, namespace
from the config, dimension Environment);
DAG failures from the metrics MWAA publishes for Airflow (namespace AmazonMWAA); web 5xx from the
ALB; Bedrock throttling also from AWS/Bedrock.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from callcare import names
from constructs import Construct

from callcare_infra.config import DeployConfig


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        alarm_topic: sns.ITopic,
        mwaa_environment_name: str,
        alb: elbv2.IApplicationLoadBalancer,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        action = cw_actions.SnsAction(alarm_topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(construct_id: str, **props) -> cw.Alarm:
            created = cw.Alarm(
                self,
                construct_id,
                alarm_name=f"{config.prefix}-{construct_id}",
                treat_missing_data=props.pop("treat_missing_data", cw.TreatMissingData.NOT_BREACHING),
                **props,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)
            return created

        # DAG failures: every failed run of a watched DAG (Airflow's dagrun.duration.failed.<dag_id>).
        for dag_id in names.WATCHED_DAG_IDS:
            alarm(
                f"dag-failed-{dag_id}",
                alarm_description=f"{dag_id}: a DAG run failed (MWAA {mwaa_environment_name})",
                metric=cw.Metric(
                    namespace="AmazonMWAA",
                    metric_name="DAGDurationFailed",
                    dimensions_map={"Environment": mwaa_environment_name, "DAG": dag_id},
                    statistic="SampleCount",
                    period=Duration.minutes(5),
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )

        completed = self.metric(names.CALLS_COMPLETED, "Sum", Duration.hours(1))
        failed = self.metric(names.CALLS_FAILED, "Sum", Duration.hours(1))
        alarm(
            "failed-call-rate",
            alarm_description=(
                f"more than {config.failed_call_rate_threshold:.0%} of calls FAILED in the last hour "
                "(with at least 5 calls finished)"
            ),
            metric=cw.MathExpression(
                expression="IF(c + f >= 5, f / (c + f), 0)",
                using_metrics={"c": completed, "f": failed},
                label="failed call rate",
                period=Duration.hours(1),
            ),
            threshold=config.failed_call_rate_threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        alarm(
            "processing-p95",
            alarm_description=f"p95 upload-to-COMPLETED time above {config.p95_processing_seconds_threshold} s",
            metric=self.metric(names.PROCESSING_SECONDS, "p95", Duration.minutes(15)),
            threshold=config.p95_processing_seconds_threshold,
            evaluation_periods=2,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        for service in names.THROTTLED_SERVICES:  # the Service labels the pipeline records
            alarm(
                f"throttling-{service}",
                alarm_description=f"{service} throttled the pipeline more than {config.throttle_threshold} times in 15 min",
                metric=self.metric(names.THROTTLES, "Sum", Duration.minutes(15), Service=service),
                threshold=config.throttle_threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
        bedrock_throttles = [
            cw.Metric(
                namespace="AWS/Bedrock",
                metric_name="InvocationThrottles",
                dimensions_map={"ModelId": model_id},
                statistic="Sum",
                period=Duration.minutes(15),
            )
            for model_id in config.bedrock_model_ids
        ]
        alarm(
            "throttling-bedrock-service",
            alarm_description="Bedrock reports throttled invocations of the configured models",
            metric=cw.MathExpression(
                expression=" + ".join(f"b{i}" for i in range(len(bedrock_throttles))),
                using_metrics={f"b{i}": m for i, m in enumerate(bedrock_throttles)},
                label="Bedrock InvocationThrottles",
                period=Duration.minutes(15),
            ),
            threshold=config.throttle_threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        web_5xx = cw.MathExpression(
            expression="FILL(t, 0) + FILL(e, 0)",
            using_metrics={
                "t": alb.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=Duration.minutes(5)
                ),
                "e": alb.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=Duration.minutes(5)),
            },
            label="web 5xx",
            period=Duration.minutes(5),
        )
        alarm(
            "web-5xx",
            alarm_description=f"web app answered more than {config.web_5xx_threshold} 5xx in 5 minutes",
            metric=web_5xx,
            threshold=config.web_5xx_threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )

        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=f"{config.prefix}-pipeline", default_interval=Duration.days(1)
        )
        hour = Duration.hours(1)
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# callcare {config.env_name}\nPer-call figures from callcare.observability "
                f"(namespace `{config.metrics_namespace}`), Airflow from MWAA `{mwaa_environment_name}`.",
                width=24,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Calls per hour",
                left=[
                    cw.MathExpression(
                        expression="FILL(c, 0) + FILL(f, 0)",
                        using_metrics={"c": completed, "f": failed},
                        label="calls finished",
                        period=hour,
                    )
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Success and failure",
                left=[completed.with_(label="COMPLETED"), failed.with_(label="FAILED")],
                stacked=True,
                width=8,
            ),
            cw.GraphWidget(
                title="Processing time, upload to COMPLETED (s)",
                left=[
                    self.metric(names.PROCESSING_SECONDS, stat, Duration.minutes(15)).with_(label=stat)
                    for stat in ("p50", "p95", "p99")
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Seconds per stage (p95)",
                left=[
                    self.metric(names.STAGE_SECONDS, "p95", Duration.minutes(15), Stage=stage).with_(
                        label=stage
                    )
                    for stage in ("transcribe", "summarize", "publish")
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Cost (USD per hour)",
                left=[self.metric(names.COST_USD, "Sum", hour).with_(label="cost")],
                width=8,
            ),
            cw.GraphWidget(
                title="LLM tokens per hour",
                left=[
                    self.metric(names.INPUT_TOKENS, "Sum", hour).with_(label="input"),
                    self.metric(names.OUTPUT_TOKENS, "Sum", hour).with_(label="output"),
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Throttling",
                left=[
                    self.metric(names.THROTTLES, "Sum", Duration.minutes(15), Service=s).with_(label=s)
                    for s in names.THROTTLED_SERVICES
                ],
                width=8,
            ),
            cw.GraphWidget(title="Web 5xx", left=[web_5xx], width=8),
            cw.GraphWidget(
                title="Web latency (s)",
                left=[alb.metrics.target_response_time(statistic="p95", period=Duration.minutes(5))],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=4)
        )

    def metric(self, name: str, statistic: str, period: Duration, **dimensions: str) -> cw.Metric:
        return cw.Metric(
            namespace=self.config.metrics_namespace,
            metric_name=name,
            dimensions_map={"Environment": self.config.env_name, **dimensions},
            statistic=statistic,
            period=period,
        )
