{{ config(**table_config()) }}

-- Each agent's week: calls handled, handle time, negative share, escalations and resolution rate,
-- over the COMPLETED calls where the agent said their id.

with

calls as (

    select
        *,
        cast({{ dbt.date_trunc('week', 'call_date') }} as date) as week_start

    from {{ ref('fct_calls') }}
    where call_status = 'COMPLETED'
        and agent_id is not null

),

weekly as (

    select
        agent_id,
        week_start,
        count(*) as calls_handled,
        sum(handle_time_s) as total_handle_time_s,
        avg(handle_time_s) as avg_handle_time_s,
        {{ percentile('handle_time_s', 0.5) }} as median_handle_time_s,
        {{ count_where("is_negative") }} as negative_calls,
        {{ rate('is_negative') }} as negative_share,
        {{ count_where("is_escalated") }} as escalations,
        {{ rate('is_escalated') }} as escalation_rate,
        {{ count_where("is_resolved") }} as resolved_calls,
        {{ rate('is_resolved') }} as resolution_rate,
        avg(talk_ratio) as avg_talk_ratio,
        avg(longest_silence_s) as avg_longest_silence_s,
        avg(interruptions) as avg_interruptions,
        sum(total_cost_usd) as total_cost_usd

    from calls
    group by agent_id, week_start

)

select * from weekly
