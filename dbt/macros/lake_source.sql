{#
    A lake table for a staging model: `from {{ lake_source('calls') }}` instead of source().

    On Athena (and any other adapter) it is exactly source('lake', name): the Glue table exists
    whether or not any file does, and partition projection makes new days visible at once.

    On DuckDB the source renders as read_parquet over CALLCARE_LAKE_DIR (see _lake__sources.yml),
    and read_parquet fails when its pattern matches no file. A fresh lake, or one where every call so
    far FAILED (no turns, summaries or metrics yet), would fail the whole build. So when no file
    matches, this renders an empty relation with the source's declared columns and DuckDB types
    (generated from the pyarrow schemas), and the build goes on with zero rows.
#}
{% macro lake_source(table_name) -%}
    {{ return(adapter.dispatch('lake_source', 'callcare')(table_name)) }}
{%- endmacro %}

{% macro default__lake_source(table_name) -%}
    {{ source('lake', table_name) }}
{%- endmacro %}

{% macro duckdb__lake_source(table_name) -%}
    {%- set relation = source('lake', table_name) -%}
    {%- if execute and lake_file_count(table_name) == 0 -%}
        {%- set node = graph.sources['source.callcare.lake.' ~ table_name] -%}
        (
            select
            {%- for column in node.columns.values() %}
                cast(null as {{ column.meta.duckdb_type }}) as {{ adapter.quote(column.name) }}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
            where false
        )
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{# Files of one lake table, by the same pattern as the source's external_location. #}
{% macro lake_file_count(table_name) -%}
    {%- set pattern = env_var('CALLCARE_LAKE_DIR', '../var/lake') ~ '/tables/' ~ table_name ~ '/*/*.parquet' -%}
    {%- set result = run_query("select count(*) from glob(" ~ dbt.string_literal(pattern) ~ ")") -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}
