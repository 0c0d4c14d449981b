with

source as (

    select * from {{ current_lake_rows('metrics') }}

),

renamed as (

    select

        ----------  ids
        call_id,

        ----------  numerics
        duration_s,
        agent_talk_s,
        customer_talk_s,
        unknown_talk_s,
        non_talk_s,
        longest_silence_s,
        overlap_s,
        interruptions,
        agent_interruptions,
        customer_interruptions,
        agent_turns,
        customer_turns,
        unknown_turns,
        coalesce(agent_turns, 0) + coalesce(customer_turns, 0) + coalesce(unknown_turns, 0) as turn_count,
        agent_words,
        customer_words,
        agent_wpm,
        customer_wpm,
        talk_ratio,

        ----------  dates
        cast(call_date as date) as call_date

    from source

)

select * from renamed
