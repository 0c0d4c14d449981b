-- For a completed attempt, waiting + transcribing + summarizing is the whole processing time
-- (to the millisecond). A gap means an event is missing or out of order in the outbox export.
select call_id, queue_s, transcribe_s, summarize_s, processing_s
from {{ ref('int_call_lifecycle') }}
where completed_at is not null
    and abs(queue_s + transcribe_s + summarize_s - processing_s) > 0.001
