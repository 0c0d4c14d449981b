"""The StartTranscriptionJob request built from settings, and the references read back: pure logic."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from callcare.config import Settings
from callcare.hooks.transcribe import build_job_request, job_name_for, transcript_s3_uri

REGION = "eu-west-1"
CALL_ID = "c0ffee1234"
CALL_DATE = "2026-09-02"
MEDIA = f"s3://callcare-lake/prod/raw-audio/{CALL_DATE}/{CALL_ID}.wav"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, lake_uri="s3://callcare-lake/prod", aws_region=REGION)


def request(settings: Settings, **overrides: Any) -> dict[str, Any]:
    return build_job_request(
        call_id=CALL_ID,
        attempt=1,
        media_uri=MEDIA,
        call_date=CALL_DATE,
        channels=1,
        settings=settings.with_overrides(**overrides),
    )


def test_mono_and_stereo_settings(settings):
    assert request(settings)["Settings"] == {
        "ShowSpeakerLabels": True,
        "MaxSpeakerLabels": settings.max_speakers,
    }
    stereo = build_job_request(
        call_id=CALL_ID, attempt=1, media_uri=MEDIA, call_date=CALL_DATE, channels=2, settings=settings
    )
    assert stereo["Settings"] == {"ChannelIdentification": True}
    # Transcribe accepts 2 to 30 speakers
    assert request(settings, max_speakers=1)["Settings"]["MaxSpeakerLabels"] == 2
    assert request(settings, max_speakers=99)["Settings"]["MaxSpeakerLabels"] == 30


def test_output_in_the_lake_partition(settings):
    assert (request(settings)["OutputBucketName"], request(settings)["OutputKey"]) == (
        "callcare-lake",
        f"prod/transcripts/{CALL_DATE}/{CALL_ID}-transcribe-raw.json",
    )
    bare = request(settings, lake_uri="s3://callcare-lake")
    assert bare["OutputKey"] == f"transcripts/{CALL_DATE}/{CALL_ID}-transcribe-raw.json"


def test_language_identification_moves_the_vocabulary_to_its_language(settings):
    settings = settings.with_overrides(
        transcribe_language_options="en-US,es-US",
        transcribe_vocabulary_name="callcare-terms",
    )
    req = build_job_request(
        call_id=CALL_ID, attempt=1, media_uri=MEDIA, call_date=CALL_DATE, channels=1, settings=settings
    )
    assert "LanguageCode" not in req
    assert req["IdentifyLanguage"] is True
    assert req["LanguageOptions"] == ["en-US", "es-US"]
    assert req["LanguageIdSettings"] == {"en-US": {"VocabularyName": "callcare-terms"}}
    assert "VocabularyName" not in req["Settings"]
    # the real service model accepts the shape
    client = boto3.client("transcribe", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("start_transcription_job", {"TranscriptionJob": {}}, req)
        client.start_transcription_job(**req)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"transcribe_redaction_output": "everything"}, "transcribe_redaction_output"),
        (
            {"transcribe_vocabulary_filter_name": "f", "transcribe_vocabulary_filter_method": "bleep"},
            "method",
        ),
        ({"lake_uri": "file:///tmp/lake"}, "S3"),
        (
            {"transcribe_language_options": "es-US,fr-CA", "transcribe_vocabulary_name": "v"},
            "language option",
        ),
    ],
)
def test_bad_settings_are_refused_before_any_call(settings, overrides, message):
    with pytest.raises(ValueError, match=message):
        build_job_request(
            call_id=CALL_ID,
            attempt=1,
            media_uri=MEDIA,
            call_date=CALL_DATE,
            channels=1,
            settings=settings.with_overrides(**overrides),
        )


def test_separate_output_bucket_and_date_objects(settings):
    settings = settings.with_overrides(lake_uri="file:///tmp/lake", transcribe_output_bucket="transcribe-out")
    req = build_job_request(
        call_id=CALL_ID,
        attempt=1,
        media_uri=MEDIA,
        call_date=dt.date(2026, 9, 2),
        channels=1,
        settings=settings,
    )
    assert (req["OutputBucketName"], req["OutputKey"]) == (
        "transcribe-out",
        f"transcripts/2026-09-02/{CALL_ID}-transcribe-raw.json",
    )
    with pytest.raises(ValueError):
        build_job_request(
            call_id=CALL_ID,
            attempt=1,
            media_uri="/local/file.wav",
            call_date=CALL_DATE,
            channels=1,
            settings=settings,
        )
    with pytest.raises(ValueError):
        build_job_request(
            call_id=CALL_ID, attempt=1, media_uri=MEDIA, call_date="yesterday", channels=1, settings=settings
        )


@pytest.mark.parametrize("call_id", ["c0ffee1234", "drive:1AbC/x y+z", "é" * 5, "x" * 400])
def test_job_names_are_deterministic_and_valid(call_id):
    shape = boto3.client("transcribe", region_name=REGION).meta.service_model.shape_for(
        "TranscriptionJobName"
    )
    for attempt in (1, 2, 12345):
        name = job_name_for(call_id, attempt)
        assert name == job_name_for(call_id, str(attempt))  # templated fields arrive as strings
        assert re.fullmatch(shape.metadata["pattern"].lstrip("^") + "$", name)
        assert shape.metadata["min"] <= len(name) <= shape.metadata["max"]
        assert name.endswith(f"-a{attempt}")  # a long call id is shortened, never the attempt


def test_each_processing_attempt_has_its_own_job():
    """A retry of one attempt re-attaches to its job; a reprocess (the next attempt) starts a new one."""
    assert job_name_for(CALL_ID, 1) == f"callcare-{CALL_ID}-a1"
    assert job_name_for(CALL_ID, 2) != job_name_for(CALL_ID, 1)
    assert job_name_for("x" * 400, 1) != job_name_for("x" * 400, 2)
    with pytest.raises(ValueError):
        job_name_for(CALL_ID, 0)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s3.us-east-1.amazonaws.com/bucket/a/b.json", "s3://bucket/a/b.json"),
        ("https://s3.amazonaws.com/bucket/a%20b.json", "s3://bucket/a b.json"),
        ("https://bucket.s3.eu-west-1.amazonaws.com/a/b.json", "s3://bucket/a/b.json"),
        ("s3://bucket/k.json", "s3://bucket/k.json"),
        ("https://transcript-file-uri-location", None),
    ],
)
def test_transcript_uri_forms(url, expected):
    assert transcript_s3_uri({"Transcript": {"TranscriptFileUri": url}}) == expected
