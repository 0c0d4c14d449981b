{#
    Fails for each row whose value lies outside [min_value, max_value] (either bound optional).
    Nulls pass: not_null says whether they may exist. Durations, rates and counts use it to catch
    a sign error or a rate computed over the wrong denominator.
#}
{% test in_range(model, column_name, min_value=none, max_value=none) %}

select {{ column_name }} as out_of_range_value
from {{ model }}
where {{ column_name }} is not null
  and (
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% else %} false{% endif %}
    or
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% else %} false{% endif %}
  )

{% endtest %}
