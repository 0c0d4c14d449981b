"""Catalog: the Glue database with one table per lake table (partition projection on call_date, so no
crawler and no MSCK REPAIR), and the Athena workgroup analysts and dbt use."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.lake_tables import table_inputs
from callcare_infra.stacks.common import import_bucket


def _columns(columns: list[dict[str, Any]]) -> list[glue.CfnTable.ColumnProperty]:
    return [
        glue.CfnTable.ColumnProperty(name=c["Name"], type=c["Type"], comment=c.get("Comment"))
        for c in columns
    ]


def table_input_property(spec: dict[str, Any]) -> glue.CfnTable.TableInputProperty:
    """A Glue TableInput (API shape, as callcare.warehouse.glue_tables writes it) as the CDK property."""
    sd = spec["StorageDescriptor"]
    serde = sd["SerdeInfo"]
    return glue.CfnTable.TableInputProperty(
        name=spec["Name"],
        description=spec.get("Description"),
        table_type=spec["TableType"],
        parameters=spec["Parameters"],
        partition_keys=_columns(spec["PartitionKeys"]),
        storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
            columns=_columns(sd["Columns"]),
            location=sd["Location"],
            input_format=sd["InputFormat"],
            output_format=sd["OutputFormat"],
            compressed=sd.get("Compressed", False),
            stored_as_sub_directories=sd.get("StoredAsSubDirectories", False),
            serde_info=glue.CfnTable.SerdeInfoProperty(
                serialization_library=serde["SerializationLibrary"], parameters=serde.get("Parameters")
            ),
        ),
    )


class CatalogStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        data_key: kms.IKey,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        lake = import_bucket(self, config, "lake")
        results = import_bucket(self, config, "athena-results")
        self.database_name = config.glue_database
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="callcare lake tables (Parquet, Hive-partitioned by call_date)",
                location_uri=f"s3://{lake.bucket_name}/tables/",
            ),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        for spec in table_inputs(f"s3://{lake.bucket_name}"):
            table = glue.CfnTable(
                self,
                f"Table{spec['Name'].title().replace('_', '')}",
                catalog_id=self.account,
                database_name=self.database_name,
                table_input=table_input_property(spec),
            )
            table.add_resource_dependency(self.database)
            self.tables[spec["Name"]] = table
        # dbt's marts (the athena target's schema): created here so dbt needs no glue:CreateDatabase.
        self.analytics_database_name = config.athena_database
        self.analytics_database = glue.CfnDatabase(
            self,
            "AnalyticsDatabase",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.analytics_database_name,
                description="callcare marts built by dbt on Athena",
                location_uri=f"s3://{lake.bucket_name}/warehouse/",
            ),
        )

        self.workgroup_name = f"{config.prefix}-analytics"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=self.workgroup_name,
            description="callcare analysts and dbt: encrypted results, bytes-scanned limit per query",
            state="ENABLED",
            recursive_delete_option=not config.is_prod,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=config.athena_bytes_scanned_cutoff,
                requester_pays_enabled=False,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=data_key.key_arn
                    ),
                    expected_bucket_owner=self.account,
                ),
            ),
        )
