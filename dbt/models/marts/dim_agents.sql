{{ config(**table_config()) }}

-- One row per agent id heard in a completed call. Agent ids are what the agent said ("agent ID
-- A-G-T six one two zero"), normalised to upper case; an id misheard by speech-to-text shows up as
-- a separate agent with few calls.

with

summaries as (

    select * from {{ ref('int_current_summaries') }}
    where agent_id is not null

),

category_counts as (

    select
        agent_id,
        category,
        count(*) as category_calls

    from summaries
    group by agent_id, category

),

agents as (

    select
        agent_id,
        min(call_date) as first_call_date,
        max(call_date) as last_call_date,
        count(*) as lifetime_calls,
        count(distinct call_date) as active_days

    from summaries
    group by agent_id

),

primary_categories as (

    select
        agent_id,
        max_by(category, category_calls) as primary_category

    from category_counts
    group by agent_id

),

final as (

    select
        agents.agent_id,
        primary_categories.primary_category,
        agents.lifetime_calls,
        agents.active_days,
        agents.first_call_date,
        agents.last_call_date

    from agents
    left join primary_categories
        on agents.agent_id = primary_categories.agent_id

)

select * from final
