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

{# The files of one lake table, by the same pattern as the source's external_location. #}
{% macro lake_file_pattern(table_name) -%}
    {{ return(env_var('CALLCARE_LAKE_DIR', '../var/lake') ~ '/tables/' ~ table_name ~ '/*/*.parquet') }}
{%- endmacro %}

{% macro lake_file_count(table_name) -%}
    {%- set pattern = lake_file_pattern(table_name) -%}
    {%- set result = run_query("select count(*) from glob(" ~ dbt.string_literal(pattern) ~ ")") -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{#
    The rows of a lake table that count: `from {{ current_lake_rows('calls') }}` in a staging model.

    A partition can hold a call twice for a while: a per-call file beside the compacted file that
    merged it (compaction writes before it deletes, and may be killed between), or a newer per-call
    file written after the day was compacted (a reprocess, a re-summary). Each unit of the table
    (the source's meta.file_unit: a call's rows; a call's summary version) is taken from the best of
    the files that exist for it, whether or not that file holds any of its rows: its per-call file
    (the later path, should a summary version be in two), else the partition's latest compacted
    file (a generation sorts as text). A per-call file names its call (`<call_id>.parquet`), so where
    the unit is the call, that file replaces the call's compacted rows even when it holds none (a call
    reprocessed into no turns). The same rule as callcare.core.lake_generations.current_rows.
    call_date leads the window's partition and keys the join, so a filter on the day still prunes
    partitions. A file is compacted by its name alone (lake_is_compacted), as in Python.

    DuckDB can list the files: just before the query (when the model is compiled), lake_empty_files
    finds the files that decide a unit with no rows to show it (a per-call file of the call that holds
    none; a latest generation that holds none), and the query leaves out the compacted rows they
    replace, only those of generations the listing saw: a file written between the listing and the
    read can at worst leave an emptied unit's previous rows showing, never lose a unit or count it
    twice (tests/dbt/test_lake_rule.py; callcare.warehouse.sql does the same). Athena sees a file only
    through its rows ("$path"): there such a file counts for nothing until the next compaction merges
    it (docs/OPERATIONS.md, "Lake compaction").

    The partition's latest generation is an aggregate joined back on call_date, not a window over
    the whole day: on Athena a day-wide window puts all of a day's rows (a big day's turns, text
    included) through one worker. The aggregate reads the table a second time (on Athena its "$path"
    and call_date only), and so lists its files a second time: docs/OPERATIONS.md, Known faults.
#}
{% macro current_lake_rows(table_name) -%}
    {%- set unit = ['call_id'] -%}
    {%- if execute -%}
        {%- set unit = graph.sources['source.callcare.lake.' ~ table_name].meta.file_unit -%}
    {%- endif -%}
    {%- set path = lake_file_path() -%}
    {%- set per_call = "not " ~ lake_is_compacted(path) -%}
    {%- set in_unit -%}
        partition by lake_rows.call_date, {% for column in unit %}lake_rows.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
    {%- endset -%}
    {%- set empty = lake_empty_files(table_name, unit) -%}
    (
        select * from (
            select
                lake_rows.*,
                case
                    when {{ per_call }}
                        then {{ path }} = max(case when {{ per_call }} then {{ path }} end) over ({{ in_unit }})
                    else count(case when {{ per_call }} then 1 end) over ({{ in_unit }}) = 0
                        and {{ path }} = lake_latest.latest
                    {%- if empty %}
                        -- files listed just before the query that hold no rows: a later generation; a call's file
                        and not exists (
                            select 1
                            from (values {% for file, latest in empty %}({{ dbt.string_literal(file) }}, {{ dbt.string_literal(latest) }}){% if not loop.last %}, {% endif %}{% endfor %}) as lake_empty (file, latest)
                            where regexp_replace(lake_empty.file, '[^/]*$', '') = regexp_replace({{ path }}, '[^/]*$', '')
                                and (
                                    (lake_empty.file = lake_empty.latest and {{ path }} < lake_empty.file)
                                    or (
                                        lake_empty.file = regexp_replace({{ path }}, '[^/]*$', '') || lake_rows.call_id || '.parquet'
                                        and {{ path }} <= lake_empty.latest
                                    )
                                )
                        )
                    {%- endif %}
                end as lake_file_current
            from {{ lake_source(table_name) }} as lake_rows
            left join (
                -- each day's latest compacted file
                select lake_rows.call_date, max({{ path }}) as latest
                from {{ lake_source(table_name) }} as lake_rows
                where {{ lake_is_compacted(path) }}
                group by lake_rows.call_date
            ) as lake_latest on lake_latest.call_date = lake_rows.call_date
        ) as ranked
        where lake_file_current
    )
{%- endmacro %}

{#
    [file, latest generation of its folder] for each file listed now that decides a unit with no rows
    to show it: a partition's latest compacted file that holds none, and (where the unit is the call)
    a per-call file that holds none beside a compacted file. Only DuckDB lists files; elsewhere none.
#}
{% macro lake_empty_files(table_name, unit) -%}
    {{ return(adapter.dispatch('lake_empty_files', 'callcare')(table_name, unit)) }}
{%- endmacro %}

{% macro default__lake_empty_files(table_name, unit) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro duckdb__lake_empty_files(table_name, unit) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set candidates -%}
        with listed as (
            select file, regexp_replace(file, '[^/]*$', '') as folder
            from glob({{ dbt.string_literal(lake_file_pattern(table_name)) }})
        )
        select listed.file, generations.latest
        from listed
        join (
            select folder, max(file) as latest from listed where {{ lake_is_compacted('file') }} group by folder
        ) as generations on generations.folder = listed.folder
        where listed.file = generations.latest
            {%- if unit | list == ['call_id'] %} or not {{ lake_is_compacted('listed.file') }}{% endif %}
    {%- endset -%}
    {%- set listed = run_query(candidates) -%}
    {%- set latest = {} -%}
    {%- for row in listed.rows -%}
        {%- do latest.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- if not latest -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set files = [] -%}
    {%- for file in latest -%}
        {%- do files.append(dbt.string_literal(file)) -%}
    {%- endfor -%}
    {%- set counted = run_query("select file_name, num_rows from parquet_file_metadata([" ~ files | join(', ') ~ "])") -%}
    {%- set empty = [] -%}
    {%- for row in counted.rows if row[1] == 0 -%}
        {%- do empty.append([row[0], latest[row[0]]]) -%}
    {%- endfor -%}
    {{ return(empty | sort) }}
{%- endmacro %}

{# The path of the file a lake row was read from: Athena's hidden column; DuckDB's filename = true. #}
{% macro lake_file_path() -%}
    {{ return(adapter.dispatch('lake_file_path', 'callcare')()) }}
{%- endmacro %}

{% macro default__lake_file_path() -%}
    lake_rows."$path"
{%- endmacro %}

{% macro duckdb__lake_file_path() -%}
    lake_rows.filename
{%- endmacro %}

{#
    Whether a lake file is a compacted one, by its name alone, as callcare.lake_paths.compacted_generation
    tells (`compacted-<generation>.parquet`): a folder above it named compacted-... (the lake's
    directory, an S3 bucket) does not make a per-call file compacted. callcare.warehouse.sql matches
    the same pattern (COMPACTED_NAME).
#}
{% macro lake_is_compacted(path) -%}
    {{ return(adapter.dispatch('lake_is_compacted', 'callcare')(path)) }}
{%- endmacro %}

{% macro lake_compacted_name() -%}
    {{ return('/compacted-[0-9]{8}T[0-9]{12}Z[.]parquet$') }}
{%- endmacro %}

{% macro default__lake_is_compacted(path) -%}
    regexp_like({{ path }}, {{ dbt.string_literal(lake_compacted_name()) }})
{%- endmacro %}

{% macro duckdb__lake_is_compacted(path) -%}
    regexp_matches({{ path }}, {{ dbt.string_literal(lake_compacted_name()) }})
{%- endmacro %}
