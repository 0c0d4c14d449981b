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
            {%- endfor %},
                cast(null as varchar) as filename
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


{#
    The rows of a lake table that count: `from {{ current_lake_rows('calls') }}` in a staging model.

    A partition can hold a call twice for a while: a per-call file beside the compacted file that
    merged it (compaction writes before it deletes, and may be killed between), or a newer per-call
    file written after the day was compacted (a reprocess, a re-summary). Each unit of the table
    (the source's meta.file_unit: a call's rows; a call's summary version) is taken from one file
    only, the best-ranked: a per-call file over a compacted one, then the later path (a compacted
    file's generation sorts as text). The same rule as callcare.core.lake_generations.file_rank.
    call_date leads the window's partition, so a filter on the day still prunes partitions.
#}
{% macro current_lake_rows(table_name) -%}
    {%- set unit = ['call_id'] -%}
    {%- if execute -%}
        {%- set unit = graph.sources['source.callcare.lake.' ~ table_name].meta.file_unit -%}
    {%- endif -%}
    (
        select * from (
            select
                lake_rows.*,
                dense_rank() over (
                    partition by lake_rows.call_date, {% for column in unit %}lake_rows.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
                    order by
                        case when {{ lake_file_path() }} like '%/compacted-%' then 1 else 0 end,
                        {{ lake_file_path() }} desc
                ) as lake_file_rank
            from {{ lake_source(table_name) }} as lake_rows
        ) as ranked
        where lake_file_rank = 1
    )
{%- endmacro %}

{# The path of the file a lake row was read from: Athena's hidden column; DuckDB's filename = true. #}
{% macro lake_file_path() -%}
    {{ return(adapter.dispatch('lake_file_path', 'callcare')()) }}
{%- endmacro %}

{% macro default__lake_file_path() -%}
    "$path"
{%- endmacro %}

{% macro duckdb__lake_file_path() -%}
    lake_rows.filename
{%- endmacro %}
