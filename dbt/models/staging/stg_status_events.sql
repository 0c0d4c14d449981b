with

source as (

    select * from {{ current_lake_rows('status_events') }}

),

renamed as (

    select

        ----------  ids
        event_id,
        call_id,

        ----------  text
        status,
        previous_status,
        -- a status change has no event name; events that leave the status as it was do
        coalesce(event, 'status_change') as event_type,
        error_message,

        ----------  booleans
        (event is null and (previous_status is null or previous_status <> status)) as is_status_change,

        ----------  dates and timestamps
        cast(call_date as date) as call_date,
        {{ utc_timestamp('created_at') }} as occurred_at

    from source

)

select * from renamed
