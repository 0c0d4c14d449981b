{{ config(**table_config(partitioned_by=['month(call_date)'])) }}

-- One row per speaker turn of a COMPLETED call, with its timing against the previous turn. The
-- words themselves stay in the lake (PII); word counts and timings are what coaching charts need.

with

turns as (

    select * from {{ ref('stg_turns') }}

),

calls as (

    select call_id, agent_id
    from {{ ref('fct_calls') }}
    where call_status = 'COMPLETED'

),

sequenced as (

    select
        turns.*,
        lag(turns.end_s) over (partition by turns.call_id order by turns.turn_index) as previous_end_s,
        lag(turns.speaker) over (partition by turns.call_id order by turns.turn_index) as previous_speaker

    from turns

),

final as (

    select

        ----------  ids
        sequenced.turn_id,
        sequenced.call_id,
        calls.agent_id,
        sequenced.turn_index,
        sequenced.speaker,

        ----------  text
        sequenced.speaker_role,

        ----------  numerics
        sequenced.start_s,
        sequenced.end_s,
        sequenced.duration_s,
        sequenced.word_count,
        case
            when sequenced.duration_s > 0 then sequenced.word_count / sequenced.duration_s * 60
        end as words_per_minute,
        -- negative when the turn started before the previous one ended (talk-over)
        sequenced.start_s - sequenced.previous_end_s as gap_before_s,

        ----------  booleans
        coalesce(
            sequenced.speaker <> sequenced.previous_speaker and sequenced.start_s < sequenced.previous_end_s,
            false
        ) as is_interruption,
        sequenced.is_redacted,

        ----------  dates
        sequenced.call_date

    from sequenced
    inner join calls
        on sequenced.call_id = calls.call_id

)

select * from final
