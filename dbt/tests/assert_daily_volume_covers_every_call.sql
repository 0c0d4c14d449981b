-- The daily marts must add up to fct_calls: a join that drops or duplicates calls shows here.
with

volume as (

    select sum(finished_calls) as calls from {{ ref('daily_call_volume') }}

),

costs as (

    select sum(finished_calls) as calls, sum(total_cost_usd) as cost from {{ ref('daily_costs') }}

),

facts as (

    select count(*) as calls, coalesce(sum(total_cost_usd), 0) as cost from {{ ref('fct_calls') }}

)

select facts.calls, volume.calls as volume_calls, costs.calls as cost_calls
from facts
cross join volume
cross join costs
where coalesce(volume.calls, 0) <> facts.calls
    or coalesce(costs.calls, 0) <> facts.calls
    or abs(coalesce(costs.cost, 0) - facts.cost) > 0.000001
