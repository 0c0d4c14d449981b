{{ config(**table_config()) }}

-- Why customers call, week by week: each category's calls, share of the week and outcomes, ranked.

with

calls as (

    select
        *,
        cast({{ dbt.date_trunc('week', 'call_date') }} as date) as week_start

    from {{ ref('fct_calls') }}
    where call_status = 'COMPLETED'

),

by_category as (

    select
        week_start,
        category,
        count(*) as calls,
        {{ rate("sentiment = 'Negative'") }} as negative_share,
        {{ rate('is_resolved') }} as resolution_rate,
        {{ rate('is_escalated') }} as escalation_rate,
        avg(handle_time_s) as avg_handle_time_s

    from calls
    group by week_start, category

),

final as (

    select
        week_start,
        category,
        calls,
        {{ safe_divide('calls', 'sum(calls) over (partition by week_start)') }} as share_of_week,
        rank() over (partition by week_start order by calls desc) as rank_in_week,
        negative_share,
        resolution_rate,
        escalation_rate,
        avg_handle_time_s

    from by_category

)

select * from final
