-- Every COMPLETED call must show the summary of its prompt version. A miss means publish wrote
-- the calls row without the summaries row (or a re-summary moved the call to a version whose row
-- is missing), and the call would drop out of every sentiment and category chart.
select call_id, prompt_version
from {{ ref('fct_calls') }}
where call_status = 'COMPLETED'
    and (sentiment is null or category is null)
