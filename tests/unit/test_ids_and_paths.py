import io

import pytest
from callcare.ids import call_id_from_content, call_id_from_source, sha256_of_stream
from callcare.lake_paths import raw_audio_key, summary_key, table_key, transcript_key


def test_same_content_gives_the_same_call_id() -> None:
    a = call_id_from_content(sha256_of_stream(io.BytesIO(b"RIFF....audio")))
    b = call_id_from_content(sha256_of_stream(io.BytesIO(b"RIFF....audio")))
    c = call_id_from_content(sha256_of_stream(io.BytesIO(b"RIFF....audio!")))
    assert a == b != c
    assert a.startswith("c-") and len(a) == 22


def test_source_identity_includes_the_checksum() -> None:
    assert call_id_from_source("gdrive", "f1", "md5a") != call_id_from_source("gdrive", "f1", "md5b")
    assert call_id_from_source("gdrive", "f1", "md5a") == call_id_from_source("gdrive", "f1", "md5a")


def test_lake_paths_follow_the_contract() -> None:
    assert raw_audio_key("2026-09-02", "c-1", ".WAV") == "raw-audio/2026-09-02/c-1.wav"
    assert transcript_key("2026-09-02", "c-1") == "transcripts/2026-09-02/c-1-transcript.json"
    assert summary_key("2026-09-02", "c-1") == "summaries/2026-09-02/c-1-summary.json"
    assert summary_key("2026-09-02", "c-1", "v2") == "summaries/2026-09-02/c-1-summary-v2.json"
    assert table_key("turns", "2026-09-02", "c-1") == "tables/turns/call_date=2026-09-02/c-1.parquet"


@pytest.mark.parametrize("bad", ["2026-9-2", "20260902", "../etc"])
def test_lake_paths_reject_bad_dates(bad: str) -> None:
    with pytest.raises(ValueError):
        raw_audio_key(bad, "c-1", "wav")


def test_unknown_table_is_rejected() -> None:
    with pytest.raises(ValueError):
        table_key("secrets", "2026-09-02", "c-1")
