with

source as (

    select * from {{ current_lake_rows('summaries') }}

),

renamed as (

    select

        ----------  ids
        call_id,
        prompt_version,
        nullif(upper(trim(agent_id)), '') as agent_id,
        nullif(trim(customer_id), '') as customer_id,

        ----------  text
        backend as summary_backend,
        model_id,
        issue_sentence,
        sentiment,
        customer_sentiment,
        agent_sentiment,
        category,

        ----------  arrays
        key_details,
        action_items,
        next_steps,

        ----------  numerics
        {{ array_size('key_details') }} as key_detail_count,
        {{ array_size('action_items') }} as action_item_count,
        {{ array_size('next_steps') }} as next_step_count,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(cost_usd, 0) as cost_usd,

        ----------  booleans
        resolved as is_resolved,
        escalated as is_escalated,
        coalesce(truncated, false) as is_truncated,

        ----------  dates
        cast(call_date as date) as call_date

    from source

)

select * from renamed
