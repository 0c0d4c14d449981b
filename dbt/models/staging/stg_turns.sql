with

source as (

    select * from {{ current_lake_rows('turns') }}

),

renamed as (

    select

        ----------  ids
        call_id || '-' || cast(turn_index as varchar) as turn_id,
        call_id,
        turn_index,
        speaker,

        ----------  text
        -- the transcript text stays in the lake (PII): no model below staging selects it
        text as turn_text,
        coalesce(role, 'unknown') as speaker_role,

        ----------  numerics
        start_s,
        end_s,
        greatest(end_s - start_s, 0) as duration_s,
        word_count,

        ----------  booleans
        coalesce(redacted, false) as is_redacted,

        ----------  dates
        cast(call_date as date) as call_date

    from source

)

select * from renamed
