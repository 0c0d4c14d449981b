{{ config(**table_config()) }}

-- How fast the pipeline turned uploads into summaries, per upload date (UTC): upload to first
-- COMPLETED, its percentiles, the share within var('sla_minutes'), and where the time went.

with

calls as (

    select
        fct_calls.*,
        lifecycle.first_uploaded_at,
        cast(lifecycle.first_uploaded_at as date) as upload_date

    from {{ ref('fct_calls') }} as fct_calls
    inner join {{ ref('int_call_lifecycle') }} as lifecycle
        on fct_calls.call_id = lifecycle.call_id

),

daily as (

    select
        upload_date,
        count(*) as finished_calls,
        {{ count_where("upload_to_completed_s is not null") }} as completed_calls,
        {{ count_where("call_status = 'FAILED'") }} as failed_calls,
        {{ rate("call_status = 'FAILED'") }} as failure_rate,
        {{ percentile('upload_to_completed_s', 0.5) }} as p50_upload_to_completed_s,
        {{ percentile('upload_to_completed_s', 0.9) }} as p90_upload_to_completed_s,
        {{ percentile('upload_to_completed_s', 0.95) }} as p95_upload_to_completed_s,
        max(upload_to_completed_s) as max_upload_to_completed_s,
        {{ count_where("upload_to_completed_s <= " ~ var('sla_minutes') * 60) }} as completed_within_sla,
        avg(queue_s) as avg_queue_s,
        avg(transcribe_s) as avg_transcribe_s,
        avg(summarize_s) as avg_summarize_s,
        {{ count_where("attempt > 1") }} as reprocessed_calls

    from calls
    group by upload_date

),

final as (

    select
        *,
        {{ safe_divide('completed_within_sla', 'completed_calls') }} as within_sla_share,
        completed_calls - completed_within_sla as sla_breaches

    from daily

)

select * from final
