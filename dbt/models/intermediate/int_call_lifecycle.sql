-- One row per finished call: when each status was entered, per attempt, and how long each stage
-- took. Reprocessing (COMPLETED/FAILED -> UPLOADED) starts a new attempt; stage durations are the
-- latest attempt's, upload_to_completed_s is the first upload to the first completion (what the
-- caseworker waited for).

with

status_changes as (

    select * from {{ ref('stg_status_events') }}
    where is_status_change

),

resummaries as (

    select
        call_id,
        count(*) as resummarized_count

    from {{ ref('stg_status_events') }}
    where event_type = 'resummarized'
    group by call_id

),

numbered as (

    select
        *,
        cast(sum(case when status = 'UPLOADED' then 1 else 0 end) over (
            partition by call_id
            order by event_id
            rows between unbounded preceding and current row
        ) as bigint) as attempt

    from status_changes

),

attempts as (

    select
        call_id,
        attempt,
        min(case when status = 'UPLOADED' then occurred_at end) as uploaded_at,
        min(case when status = 'TRANSCRIBING' then occurred_at end) as transcribing_at,
        min(case when status = 'SUMMARIZING' then occurred_at end) as summarizing_at,
        min(case when status = 'COMPLETED' then occurred_at end) as completed_at,
        min(case when status = 'FAILED' then occurred_at end) as failed_at

    from numbered
    group by call_id, attempt

),

per_call as (

    select
        call_id,
        max(attempt) as attempts,
        min(uploaded_at) as first_uploaded_at,
        min(completed_at) as first_completed_at

    from attempts
    group by call_id

),

latest_attempt as (

    select attempts.*
    from attempts
    inner join per_call
        on attempts.call_id = per_call.call_id
        and attempts.attempt = per_call.attempts

),

final as (

    select
        per_call.call_id,
        per_call.attempts,
        per_call.first_uploaded_at,
        per_call.first_completed_at,
        latest_attempt.uploaded_at,
        latest_attempt.transcribing_at,
        latest_attempt.summarizing_at,
        latest_attempt.completed_at,
        latest_attempt.failed_at,
        {{ seconds_between('latest_attempt.uploaded_at', 'latest_attempt.transcribing_at') }} as queue_s,
        {{ seconds_between('latest_attempt.transcribing_at', 'latest_attempt.summarizing_at') }} as transcribe_s,
        {{ seconds_between('latest_attempt.summarizing_at', 'latest_attempt.completed_at') }} as summarize_s,
        {{ seconds_between(
            'latest_attempt.uploaded_at',
            'coalesce(latest_attempt.completed_at, latest_attempt.failed_at)'
        ) }} as processing_s,
        {{ seconds_between('per_call.first_uploaded_at', 'per_call.first_completed_at') }} as upload_to_completed_s,
        coalesce(resummaries.resummarized_count, 0) as resummarized_count

    from per_call
    inner join latest_attempt
        on per_call.call_id = latest_attempt.call_id
    left join resummaries
        on per_call.call_id = resummaries.call_id

)

select * from final
