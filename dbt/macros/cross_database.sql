{#
    Dialect gaps between DuckDB (local) and Athena/Trino (production), one dispatched macro each.
    Models call these instead of either dialect's function, so the same SQL compiles for both
    targets. dbt's own cross-database macros (dbt.date_trunc, dbt.dateadd, dbt.bool_or, ...) are
    used directly where they exist. The default__ versions are plain ANSI/Postgres for any other
    adapter a test might use.
#}

{# A timestamp column as a UTC timestamp without time zone. DuckDB reads the Parquet timestamps
   as TIMESTAMPTZ and would render them in the session's time zone; Athena's Iceberg tables only
   store timestamp(6), and its Parquet reader gives timestamp(3). #}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'callcare')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{% macro duckdb__utc_timestamp(column) -%}
    timezone('UTC', {{ column }})
{%- endmacro %}

{% macro athena__utc_timestamp(column) -%}
    cast({{ column }} as timestamp(6))
{%- endmacro %}


{# Seconds, with fractions, from one timestamp to another. dbt.datediff counts whole boundaries
   crossed, which turns a 59.9 s stage into 0 or 1 s. #}
{% macro seconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('seconds_between', 'callcare')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__seconds_between(start_ts, end_ts) -%}
    extract(epoch from ({{ end_ts }} - {{ start_ts }}))
{%- endmacro %}

{% macro duckdb__seconds_between(start_ts, end_ts) -%}
    (epoch({{ end_ts }}) - epoch({{ start_ts }}))
{%- endmacro %}

{% macro athena__seconds_between(start_ts, end_ts) -%}
    (to_unixtime({{ end_ts }}) - to_unixtime({{ start_ts }}))
{%- endmacro %}


{# Number of elements of an array (the summary's list fields). #}
{% macro array_size(column) -%}
    {{ return(adapter.dispatch('array_size', 'callcare')(column)) }}
{%- endmacro %}

{% macro default__array_size(column) -%}
    coalesce(array_length({{ column }}, 1), 0)
{%- endmacro %}

{% macro duckdb__array_size(column) -%}
    coalesce(len({{ column }}), 0)
{%- endmacro %}

{% macro athena__array_size(column) -%}
    coalesce(cardinality({{ column }}), 0)
{%- endmacro %}


{# Continuous percentile as an aggregate. Athena has no exact percentile function; its
   approx_percentile is within about 1 % rank error, which is fine for SLA and handle-time charts. #}
{% macro percentile(column, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'callcare')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro athena__percentile(column, fraction) -%}
    approx_percentile(cast({{ column }} as double), {{ fraction }})
{%- endmacro %}


{# Lower-case words of a text as an array, punctuation dropped (for unnest). DuckDB's
   regexp_replace replaces only the first match unless given the 'g' option; Trino's replaces all. #}
{% macro text_words(column) -%}
    {{ return(adapter.dispatch('text_words', 'callcare')(column)) }}
{%- endmacro %}

{% macro default__text_words(column) -%}
    regexp_split_to_array(lower({{ column }}), '[^a-z0-9]+')
{%- endmacro %}

{% macro duckdb__text_words(column) -%}
    string_split(regexp_replace(lower({{ column }}), '[^a-z0-9]+', ' ', 'g'), ' ')
{%- endmacro %}

{% macro athena__text_words(column) -%}
    split(regexp_replace(lower({{ column }}), '[^a-z0-9]+', ' '), ' ')
{%- endmacro %}


{# The share of rows where a condition holds, as a double in 0..1. Trino averages a decimal
   literal (1.0) as a decimal of the same scale, rounding every rate to one digit; casting to
   double first keeps both dialects exact. #}
{% macro rate(condition) -%}
    avg(case when {{ condition }} then cast(1 as double) else cast(0 as double) end)
{%- endmacro %}


{# Division as a double, null for a zero denominator. Trino divides integers as integers. #}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}


{# True when a text matches a regular expression anywhere. #}
{% macro regex_match(column, pattern) -%}
    {{ return(adapter.dispatch('regex_match', 'callcare')(column, pattern)) }}
{%- endmacro %}

{% macro default__regex_match(column, pattern) -%}
    ({{ column }} ~ '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regex_match(column, pattern) -%}
    regexp_matches({{ column }}, '{{ pattern }}')
{%- endmacro %}

{% macro athena__regex_match(column, pattern) -%}
    regexp_like({{ column }}, '{{ pattern }}')
{%- endmacro %}


{# Rows where a condition holds, as a bigint. DuckDB sums integers into a 128-bit HUGEINT, which
   pandas, QuickSight and the web app's drivers turn into floats or reject. #}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as bigint)
{%- endmacro %}
