{{ config(**table_config()) }}

-- Calls per call date: how many finished, how many failed, and how long they were.

with

calls as (

    select * from {{ ref('fct_calls') }}

),

daily as (

    select
        call_date,
        count(*) as finished_calls,
        {{ count_where("call_status = 'COMPLETED'") }} as completed_calls,
        {{ count_where("call_status = 'FAILED'") }} as failed_calls,
        {{ rate("call_status = 'FAILED'") }} as failure_rate,
        sum(case when call_status = 'COMPLETED' then handle_time_s else 0 end) as total_handle_time_s,
        avg(case when call_status = 'COMPLETED' then handle_time_s end) as avg_handle_time_s,
        {{ percentile("case when call_status = 'COMPLETED' then handle_time_s end", 0.5) }} as median_handle_time_s,
        {{ percentile("case when call_status = 'COMPLETED' then handle_time_s end", 0.9) }} as p90_handle_time_s,
        {{ count_where("is_escalated") }} as escalated_calls,
        {{ count_where("is_resolved") }} as resolved_calls,
        count(distinct agent_id) as active_agents

    from calls
    group by call_date

)

select * from daily
