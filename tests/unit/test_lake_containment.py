"""Security review L10: no key, URI or id leads outside the lake, on disk or in a key.

The web app serves `Lake.local_path(Lake.key_from_uri(call["audio_uri"]))` as a download, so a
registry row holding `file:///…/lake/../../etc/passwd` would hand out that file; the keys the
pipeline builds take their parts from file names, settings and registry rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from callcare.core.lake import Lake
from callcare.lake_paths import engine_output_key, raw_audio_key, summary_key, table_key, transcript_key

SECRET = b"outside the lake\n"

ESCAPES = [
    "../secret",
    "raw-audio/../../secret",
    "raw-audio/2026-09-02/../../../secret",
    "/etc/passwd",
    "raw-audio//x.wav",
    "raw-audio/./x.wav",
    "raw-audio\\..\\..\\secret",
    "raw-audio/x.wav\x00.txt",
]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    (tmp_path / "secret").write_bytes(SECRET)
    root = tmp_path / "lake"
    (root / "raw-audio").mkdir(parents=True)
    (root / "raw-audio" / "x.wav").write_bytes(b"RIFF")
    return Lake(root.as_uri())


@pytest.mark.parametrize("key", ESCAPES)
def test_a_registry_uri_that_leaves_the_lake_is_refused(lake: Lake, key: str) -> None:
    with pytest.raises(ValueError, match="lake"):
        lake.key_from_uri(f"{lake.uri}/{key}")


@pytest.mark.parametrize("key", ESCAPES)
def test_no_read_or_served_path_leaves_the_lake(lake: Lake, key: str) -> None:
    for use in (lake.local_path, lake.get_bytes, lake.exists, lake.open_input):
        with pytest.raises(ValueError, match="lake"):
            use(key)


def test_a_link_inside_the_lake_does_not_lead_out(lake: Lake, tmp_path: Path) -> None:
    (Path(lake.root) / "raw-audio" / "key.wav").symlink_to(tmp_path / "secret")
    with pytest.raises(ValueError, match="outside the lake"):
        lake.local_path("raw-audio/key.wav")
    with pytest.raises(ValueError, match="outside the lake"):
        lake.get_bytes("raw-audio/key.wav")


def test_ordinary_keys_and_prefixes_still_work(lake: Lake) -> None:
    assert lake.get_bytes(lake.key_from_uri(f"{lake.uri}/raw-audio/x.wav")) == b"RIFF"
    assert lake.local_path("raw-audio/x.wav") == Path(lake.root) / "raw-audio" / "x.wav"
    assert lake.list_keys("") == lake.list_keys("raw-audio/") == ["raw-audio/x.wav"]
    assert not lake.exists("tables/calls/call_date=2026-09-02/c-1.parquet")


@pytest.mark.parametrize(
    "make",
    [
        lambda: raw_audio_key("2026-09-02", "../../etc/passwd", "wav"),
        lambda: raw_audio_key("2026-09-02", "c-1", "wav/../../x"),
        lambda: raw_audio_key("2026-09-02", "c-1", ""),
        lambda: raw_audio_key("2026-09-02\n", "c-1", "wav"),
        lambda: raw_audio_key("２０２６-09-02", "c-1", "wav"),
        lambda: transcript_key("2026-09-02", "c-1/../../x"),
        lambda: engine_output_key("2026-09-02", "c-1", "../transcribe"),
        lambda: summary_key("2026-09-02", "c-1", "v2/../../../x"),
        lambda: summary_key("2026-09-02", ".."),
        lambda: table_key("calls", "2026-09-02", "../c-1"),
        lambda: table_key("summaries", "2026-09-02", "c-1", "v2/.."),
    ],
)
def test_key_parts_cannot_leave_their_folder(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_the_keys_the_pipeline_makes_are_unchanged() -> None:
    call_id = "c-0123456789abcdef0123"
    assert raw_audio_key("2026-09-02", call_id, ".M4A") == f"raw-audio/2026-09-02/{call_id}.m4a"
    assert engine_output_key("2026-09-02", call_id, "transcribe") == (
        f"transcripts/2026-09-02/{call_id}-transcribe-raw.json"
    )
    assert summary_key("2026-09-02", call_id, "v2.1") == f"summaries/2026-09-02/{call_id}-summary-v2.1.json"
