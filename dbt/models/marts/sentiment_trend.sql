{{ config(**table_config()) }}

-- Completed calls per day by overall sentiment, with the negative share over the trailing 7
-- calendar days (days without calls count as nothing, not as zero-share days).

with

calls as (

    select * from {{ ref('fct_calls') }}
    where call_status = 'COMPLETED'

),

daily as (

    select
        call_date,
        count(*) as completed_calls,
        {{ count_where("sentiment = 'Positive'") }} as positive_calls,
        {{ count_where("sentiment = 'Neutral'") }} as neutral_calls,
        {{ count_where("sentiment = 'Negative'") }} as negative_calls,
        {{ count_where("customer_sentiment = 'Negative'") }} as negative_customer_calls

    from calls
    group by call_date

),

trailing_week as (

    select
        base_day.call_date,
        cast(sum(window_day.negative_calls) as bigint) as negative_calls_7d,
        cast(sum(window_day.completed_calls) as bigint) as completed_calls_7d

    from daily as base_day
    inner join daily as window_day
        on window_day.call_date <= base_day.call_date
        and window_day.call_date > {{ dbt.dateadd('day', -7, 'base_day.call_date') }}
    group by base_day.call_date

),

final as (

    select
        daily.call_date,
        daily.completed_calls,
        daily.positive_calls,
        daily.neutral_calls,
        daily.negative_calls,
        daily.negative_customer_calls,
        {{ safe_divide('daily.negative_calls', 'daily.completed_calls') }} as negative_share,
        {{ safe_divide('daily.positive_calls', 'daily.completed_calls') }} as positive_share,
        {{ safe_divide('trailing_week.negative_calls_7d', 'trailing_week.completed_calls_7d') }} as negative_share_7d

    from daily
    inner join trailing_week
        on daily.call_date = trailing_week.call_date

)

select * from final
