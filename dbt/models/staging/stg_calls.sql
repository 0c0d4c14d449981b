with

source as (

    select * from {{ current_lake_rows('calls') }}

),

renamed as (

    select

        ----------  ids
        call_id,
        nullif(upper(trim(agent_id)), '') as agent_id,
        nullif(trim(customer_id), '') as customer_id,

        ----------  text
        status as call_status,
        error_message,
        source as call_source,
        audio_format,
        stt_engine,
        summary_backend,
        model_id,
        prompt_version,
        sentiment,
        category,

        ----------  numerics
        duration_s,
        channels,
        attempt,
        size_bytes,
        cost_usd as summary_cost_usd,

        ----------  booleans
        resolved as is_resolved,
        escalated as is_escalated,

        ----------  dates and timestamps
        cast(call_date as date) as call_date,
        {{ utc_timestamp('uploaded_at') }} as uploaded_at,
        {{ utc_timestamp('completed_at') }} as completed_at,
        {{ utc_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
