{{ config(**table_config(partitioned_by=['month(call_date)'])) }}

-- One row per finished call (COMPLETED or FAILED): what happened, the current summary's labels,
-- conversation metrics, lifecycle timings and cost. No free text: the issue sentence and the
-- transcript stay in the lake, where access to PII is controlled.

with

calls as (

    select * from {{ ref('stg_calls') }}

),

current_summaries as (

    select * from {{ ref('int_current_summaries') }}

),

summary_costs as (

    -- every version a call was summarized with cost money, not only the current one
    select
        call_id,
        count(*) as summary_versions,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        sum(cost_usd) as llm_cost_usd

    from {{ ref('stg_summaries') }}
    group by call_id

),

metrics as (

    select * from {{ ref('stg_call_metrics') }}

),

lifecycle as (

    select * from {{ ref('int_call_lifecycle') }}

),

stt_prices as (

    select * from {{ ref('stt_prices') }}

),

joined as (

    select

        ----------  ids
        calls.call_id,
        current_summaries.agent_id,
        current_summaries.customer_id,

        ----------  status and provenance
        calls.call_status,
        calls.error_message,
        calls.call_source,
        calls.audio_format,
        calls.channels,
        calls.stt_engine,
        current_summaries.summary_backend,
        current_summaries.model_id,
        current_summaries.prompt_version,

        ----------  summary labels
        current_summaries.category,
        current_summaries.sentiment,
        current_summaries.customer_sentiment,
        current_summaries.agent_sentiment,
        current_summaries.is_resolved,
        current_summaries.is_escalated,
        current_summaries.sentiment = 'Negative' as is_negative,
        current_summaries.key_detail_count,
        current_summaries.action_item_count,
        current_summaries.next_step_count,

        ----------  conversation
        calls.duration_s as handle_time_s,
        metrics.agent_talk_s,
        metrics.customer_talk_s,
        metrics.non_talk_s,
        metrics.longest_silence_s,
        metrics.overlap_s,
        metrics.interruptions,
        metrics.turn_count,
        metrics.agent_wpm,
        metrics.customer_wpm,
        metrics.talk_ratio,

        ----------  lifecycle
        calls.attempt,
        lifecycle.queue_s,
        lifecycle.transcribe_s,
        lifecycle.summarize_s,
        lifecycle.processing_s,
        lifecycle.upload_to_completed_s,
        coalesce(lifecycle.resummarized_count, 0) as resummarized_count,

        ----------  cost
        coalesce(summary_costs.summary_versions, 0) as summary_versions,
        coalesce(summary_costs.input_tokens, 0) as input_tokens,
        coalesce(summary_costs.output_tokens, 0) as output_tokens,
        coalesce(summary_costs.llm_cost_usd, 0) as llm_cost_usd,
        case
            when calls.duration_s is null or stt_prices.usd_per_minute is null then 0
            else greatest(calls.duration_s, stt_prices.minimum_billed_s) / 60 * stt_prices.usd_per_minute
        end as stt_cost_usd,
        -- an engine missing from the stt_prices seed would silently cost 0: flag it
        (calls.stt_engine is not null and stt_prices.stt_engine is null) as is_stt_price_missing,

        ----------  dates and timestamps
        calls.call_date,
        calls.uploaded_at,
        calls.completed_at,
        lifecycle.failed_at

    from calls
    left join current_summaries
        on calls.call_id = current_summaries.call_id
    left join summary_costs
        on calls.call_id = summary_costs.call_id
    left join metrics
        on calls.call_id = metrics.call_id
    left join lifecycle
        on calls.call_id = lifecycle.call_id
    left join stt_prices
        on calls.stt_engine = stt_prices.stt_engine

),

final as (

    select
        *,
        llm_cost_usd + stt_cost_usd as total_cost_usd

    from joined

)

select * from final
