{#
    Config of a mart table: a table everywhere, plus Athena's table settings on Athena only.

        {{ config(**table_config(partitioned_by=['month(call_date)'])) }}

    The Athena settings never reach DuckDB (dbt-duckdb would ignore most, but a setting that means
    nothing on a target only misleads whoever reads the compiled config).

    Iceberg rather than Hive CTAS tables: a rebuild swaps the table atomically (no window where
    QuickSight sees a half-written table), partition columns need not come last in the select, and
    incremental merge is there when the marts outgrow full rebuilds. Partition transforms are
    Iceberg's (month(col), day(col)); monthly partitions keep files large at our volumes.
#}
{% macro table_config(partitioned_by=none) -%}
    {%- set settings = {'materialized': 'table'} -%}
    {%- if target.type == 'athena' -%}
        {%- do settings.update({'table_type': 'iceberg', 'format': 'parquet', 'write_compression': 'zstd'}) -%}
        {%- if partitioned_by -%}
            {%- do settings.update({'partitioned_by': partitioned_by}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}
