"""Airflow pools: one per external quota, one for CPU-bound local speech-to-text (DESIGN.md)."""

LOCAL_STT_POOL = "callcare_local_stt"
TRANSCRIBE_POOL = "callcare_transcribe"
BEDROCK_POOL = "callcare_bedrock"
POOLS = {
    LOCAL_STT_POOL: (2, "CPU-bound offline speech-to-text: one slot per core"),
    TRANSCRIBE_POOL: (20, "concurrent Amazon Transcribe jobs (account quota)"),
    BEDROCK_POOL: (4, "concurrent Bedrock summary requests (token quota)"),
}
