{{ config(**table_config()) }}

-- What processing cost per call date: the LLM (every summary version, re-summaries included) and
-- speech-to-text at list price, in total and per call.

with

calls as (

    select * from {{ ref('fct_calls') }}

),

daily as (

    select
        call_date,
        count(*) as finished_calls,
        {{ count_where("call_status = 'COMPLETED'") }} as completed_calls,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        sum(llm_cost_usd) as llm_cost_usd,
        sum(stt_cost_usd) as stt_cost_usd,
        sum(total_cost_usd) as total_cost_usd,
        sum(handle_time_s) / 60 as audio_minutes,
        {{ count_where("is_stt_price_missing") }} as calls_without_stt_price

    from calls
    group by call_date

),

final as (

    select
        *,
        {{ safe_divide('total_cost_usd', 'finished_calls') }} as cost_per_call_usd,
        {{ safe_divide('total_cost_usd', 'completed_calls') }} as cost_per_completed_call_usd,
        {{ safe_divide('total_cost_usd', 'audio_minutes') }} as cost_per_audio_minute_usd

    from daily

)

select * from final
