-- The summary each COMPLETED call shows now: the row of the call's prompt_version. Other versions
-- (re-summaries kept for comparison) stay in stg_summaries; a FAILED call shows none, even when an
-- earlier attempt had completed.

with

calls as (

    select * from {{ ref('stg_calls') }}

),

summaries as (

    select * from {{ ref('stg_summaries') }}

),

current_summaries as (

    select summaries.*
    from summaries
    inner join calls
        on summaries.call_id = calls.call_id
        and summaries.prompt_version = calls.prompt_version
    where calls.call_status = 'COMPLETED'

)

select * from current_summaries
