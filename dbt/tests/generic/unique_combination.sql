{#
    Fails for each combination of the columns that occurs more than once: the grain of a table
    whose key is several columns (summaries: call_id + prompt_version).
#}
{% test unique_combination(model, combination) %}

select
    {{ combination | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1

{% endtest %}
