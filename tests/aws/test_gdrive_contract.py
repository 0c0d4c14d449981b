"""The Google Drive source against recorded Drive v3 payloads and a fake Drive that speaks the API.

The fake routes and validates every request with the real discovery document and answers with
partial responses, so these tests check the requests google-api-python-client builds from our
calls (parameters, fields, Range headers), not only our handling of the answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tracemalloc
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.error import HTTPError

import pytest
from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.ids import call_id_from_source
from callcare.sources.cursor import CursorStore
from callcare.sources.gdrive import (
    DriveAccessError,
    DriveClient,
    DriveContentChanged,
    DriveError,
    DriveFile,
    DriveNotFoundError,
    DriveSource,
    drive_service,
    skip_reason,
)

from tests.support.fake_drive import FakeDrive, FakeFile

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "google-drive"
WAV = "audio/wav"


def wav_bytes(seed: str, size: int = 4096) -> bytes:
    """Distinct content per seed (the call id follows the md5)."""
    block = hashlib.sha256(seed.encode()).digest()
    return b"RIFF" + (block * (size // len(block) + 1))[: size - 4]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def recorded_uri(name: str) -> str:
    return fixture(name)["request_uri"]


# -- recorded payloads -------------------------------------------------------------------------


def test_recorded_file_list_parses_and_nothing_in_it_is_a_recording():
    listing = fixture("files-list-v3-32-files.json")
    files = [DriveFile.from_api(r) for r in listing["files"]]
    assert len(files) == 32
    first = files[0]
    assert first.id == "1SxYTfScQ92xtzBZjcvJU5RFi7nb-jTH07NaOCYEAtZI"
    assert first.created_time == datetime(2023, 8, 17, 10, 53, 51, 177000, tzinfo=UTC)
    assert first.modified_time == datetime(2023, 8, 17, 10, 53, 52, 280000, tzinfo=UTC)
    # the partial response carries no parents, MIME type or checksum: none can pass for a recording
    assert {skip_reason(f, "any-folder") for f in files} == {"not in the folder"}
    assert all(f.md5 is None and f.size is None for f in files)


def test_recorded_get_and_create_responses_parse():
    got = DriveFile.from_api(fixture("files-get-v3-fields.json"))
    assert got.name == "Test ClientTest test_openall" and got.parents == ()
    created = DriveFile.from_api(fixture("files-create-v3-response.json"))
    assert created.mime_type == "application/vnd.google-apps.spreadsheet"
    created_in_folder = DriveFile(**{**created.__dict__, "parents": ("F",)})
    assert skip_reason(created_in_folder, "F") == "not audio (application/vnd.google-apps.spreadsheet)"


def test_drive_file_extension_and_date_rules():
    base = {"id": "x", "parents": ["F"], "md5Checksum": "0" * 32, "size": "10"}
    mp3 = DriveFile.from_api({**base, "name": "voicemail", "mimeType": "audio/mpeg"})
    assert mp3.extension == "mp3" and skip_reason(mp3, "F") is None
    named = DriveFile.from_api({**base, "name": "2026-09-10_agent7.wav", "mimeType": "audio/x-wav"})
    assert named.extension == "wav" and named.call_date() == "2026-09-10"
    dated = DriveFile.from_api(
        {**base, "name": "call.flac", "mimeType": "audio/flac", "createdTime": "2026-03-01T23:59:59.999Z"}
    )
    assert dated.call_date() == "2026-03-01"
    wma = DriveFile.from_api({**base, "name": "old.wma", "mimeType": "audio/x-ms-wma"})
    assert skip_reason(wma, "F") == "not a supported audio format (audio/x-ms-wma)"
    video = DriveFile.from_api({**base, "name": "call.mp4", "mimeType": "video/mp4"})
    assert skip_reason(video, "F") == "not audio (video/mp4)"
    big = DriveFile.from_api({**base, "name": "a.wav", "mimeType": WAV, "size": "2000"})
    assert skip_reason(big, "F", max_bytes=1000).startswith("too large")
    trashed = DriveFile.from_api({**base, "name": "a.wav", "mimeType": WAV, "trashed": True})
    assert skip_reason(trashed, "F") == "in the trash"


# -- the fake against the recorded traffic -------------------------------------------------------


def bearer(fake: FakeDrive, scope: str = "https://www.googleapis.com/auth/drive.readonly") -> str:
    token = "ya29.test-" + scope.rsplit("/", 1)[-1]
    fake.tokens[token] = {scope}
    return token


def raw_get(fake: FakeDrive, path_and_query: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(fake.url + path_and_query, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    "name", ["files-list-v3-single-file", "files-list-v3-32-files", "files-get-v3-fields"]
)
def test_the_fake_answers_recorded_requests_in_the_recorded_shape(fake_drive: FakeDrive, name: str):
    """Replays the exact request gspread sent to Drive; the fake's partial response has its keys."""
    recorded = fixture(f"{name}.json")
    uri = urllib.parse.urlsplit(recorded_uri(f"{name}.http-meta.json"))
    sheet = "application/vnd.google-apps.spreadsheet"
    file_id = uri.path.rsplit("/", 1)[-1] if "/files/" in uri.path else None
    made = fake_drive._add(FakeFile(file_id or "sheet1", "Test Spreadsheet", sheet, ["root"]))
    query = urllib.parse.parse_qs(uri.query)
    if "includeItemsFromAllDrives" in query and "/files/" in uri.path:
        # files.get has no such parameter: Drive ignored it, the discovery document does not know it
        query.pop("includeItemsFromAllDrives")
    status, body = raw_get(
        fake_drive, f"{uri.path}?{urllib.parse.urlencode(query, doseq=True)}", bearer(fake_drive)
    )
    assert status == 200, body
    if "files" in recorded:
        assert set(body) == set(recorded) - {"nextPageToken"}
        assert {made} == {f["id"] for f in body["files"]}
        assert set(body["files"][0]) == set(recorded["files"][0])
    else:
        assert set(body) == set(recorded)


def test_the_fake_refuses_what_drive_refuses(fake_drive: FakeDrive):
    token = bearer(fake_drive)
    status, body = raw_get(fake_drive, "/drive/v3/files?supportAllDrives=true", token)
    assert status == 400 and "Unknown name" in body["error"]["message"]
    status, body = raw_get(fake_drive, "/drive/v3/changes", token)
    assert status == 400 and body["error"]["errors"][0]["reason"] == "required"
    status, body = raw_get(fake_drive, "/drive/v3/files?pageSize=5000", token)
    assert status == 400
    status, _ = raw_get(fake_drive, "/drive/v3/files", "not-a-token")
    assert status == 401
    status, body = raw_get(fake_drive, "/drive/v3/files?includeItemsFromAllDrives=true", token)
    assert status == 403 and body["error"]["errors"][0]["reason"] == "teamDrivesParameterNotSupported"


# -- the source over the real client library -------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def registry(home: Path) -> Registry:
    reg = Registry(f"sqlite:///{home / 'registry.db'}")
    reg.create_schema()
    CursorStore(reg.engine).create_schema()
    return reg


@pytest.fixture
def lake(home: Path) -> Lake:
    return Lake((home / "lake").as_uri())


def settings_for(fake: FakeDrive, home: Path, folder: str, **extra) -> Settings:
    return Settings(home=home, profile="aws", gdrive_folder_id=folder, gdrive_api_endpoint=fake.url, **extra)


def make_source(
    fake: FakeDrive, home: Path, lake: Lake, registry: Registry, folder: str, **extra
) -> DriveSource:
    return DriveSource.from_settings(settings_for(fake, home, folder, **extra), lake, registry)


def outcomes_by(outcomes) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for o in outcomes:
        grouped.setdefault(o.outcome, []).append(o.file_name)
    return {k: sorted(v) for k, v in grouped.items()}


def test_first_poll_lands_the_folder_then_follows_changes(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    elsewhere = drive.add_folder("elsewhere")
    sub = drive.add_folder("archive", parent=folder)
    a = drive.add_file("2026-09-10_a.wav", wav_bytes("a"), WAV, folder)
    drive.add_file("b.mp3", wav_bytes("b"), "audio/mpeg", folder)
    drive.add_file("notes.pdf", b"%PDF-1.4", "application/pdf", folder)
    drive.add_file("deep.wav", wav_bytes("deep"), WAV, sub)
    outside = drive.add_file("later-moved-in.wav", wav_bytes("moved"), WAV, elsewhere)

    source = make_source(drive, home, lake, registry, folder)
    first = source.poll()
    assert outcomes_by(first) == {"new": ["2026-09-10_a.wav", "b.mp3"]}
    calls = {c["source_ref"].split("/", 1)[1]: c for c in registry.list_calls()}
    assert set(calls) == {"2026-09-10_a.wav", "b.mp3"}
    landed = calls["2026-09-10_a.wav"]
    content = wav_bytes("a")
    assert landed["call_id"] == call_id_from_source("gdrive", a, hashlib.md5(content).hexdigest())
    assert landed["call_date"] == "2026-09-10" and landed["source"] == "gdrive"
    assert landed["content_sha256"] == hashlib.sha256(content).hexdigest()
    assert lake.get_bytes(lake.key_from_uri(landed["audio_uri"])) == content
    assert landed["audio_uri"].endswith(f"raw-audio/2026-09-10/{landed['call_id']}.wav")
    # the first poll listed the folder (audio only, shared-drive aware) and stored a changes token
    [listing] = drive.calls("drive.files.list")
    assert listing["params"]["q"].startswith(f"'{folder}' in parents and trashed = false")
    assert listing["params"]["supportsAllDrives"] and listing["params"]["includeItemsFromAllDrives"]
    assert "md5Checksum" in listing["params"]["fields"]
    assert drive.calls("drive.changes.getStartPageToken")

    # nothing changed: one changes request, nothing landed, nothing downloaded
    downloads = len([r for r in drive.calls("drive.files.get") if r["params"].get("alt") == "media"])
    assert source.poll() == []
    assert len(drive.calls("drive.changes.list")) == 1
    assert len([r for r in drive.calls("drive.files.get") if r["params"].get("alt") == "media"]) == downloads

    # a rename is the same call; a move into the folder and a new revision are new calls
    drive.change(a, name="renamed.wav")
    drive.change(outside, parents=[folder])
    b_id = next(i for i, f in drive.files.items() if f.name == "b.mp3")
    drive.change(b_id, content=wav_bytes("b, second take"))
    third = source.poll()
    assert outcomes_by(third) == {
        "duplicate": ["renamed.wav"],
        "new": ["b.mp3", "later-moved-in.wav"],
    }
    assert len(registry.list_calls()) == 4

    # trashed before landing: skipped; deleted after landing: the call stays
    trashed = drive.add_file("oops.wav", wav_bytes("oops"), WAV, folder)
    drive.change(trashed, trashed=True)
    drive.delete(a)
    assert outcomes_by(source.poll()) == {"skipped": ["oops.wav"]}
    assert len(registry.list_calls()) == 4


def test_shared_drive_folder_reads_that_drives_changes(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    shared = drive.add_shared_drive("Contact centre")
    folder = drive.add_folder("inbound", drive_id=shared)
    drive.add_file("x.wav", wav_bytes("x"), WAV, folder, drive_id=shared)
    source = make_source(drive, home, lake, registry, folder)
    assert outcomes_by(source.poll()) == {"new": ["x.wav"]}
    [listing] = drive.calls("drive.files.list")
    assert listing["params"]["corpora"] == "drive" and listing["params"]["driveId"] == shared
    assert drive.calls("drive.changes.getStartPageToken")[0]["params"]["driveId"] == shared
    drive.add_file("y.wav", wav_bytes("y"), WAV, folder, drive_id=shared)
    assert outcomes_by(source.poll()) == {"new": ["y.wav"]}
    [changes] = drive.calls("drive.changes.list")
    assert changes["params"]["driveId"] == shared and changes["params"]["includeRemoved"]


def test_pages_are_followed_in_listings_and_changes(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    for i in range(5):
        drive.add_file(f"{i}.wav", wav_bytes(f"list{i}"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_page_size=2)
    assert len(outcomes_by(source.poll())["new"]) == 5
    assert len(drive.calls("drive.files.list")) == 3
    for i in range(5):
        drive.add_file(f"c{i}.wav", wav_bytes(f"change{i}"), WAV, folder)
    assert len(outcomes_by(source.poll())["new"]) == 5
    pages = drive.calls("drive.changes.list")
    assert len(pages) == 3 and len({p["params"]["pageToken"] for p in pages}) == 3


def test_a_large_recording_streams_in_ranged_chunks(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    size = 24 * 1024 * 1024
    big = wav_bytes("big", size)
    drive.add_file("long-call.wav", big, WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_download_chunk_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        assert outcomes_by(source.poll()) == {"new": ["long-call.wav"]}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    ranges = [r["range"] for r in drive.calls("drive.files.get") if r["params"].get("alt") == "media"]
    assert len(ranges) == 24 and ranges[0] == "bytes=0-1048575"
    assert peak < size / 3, f"peak {peak} bytes: the download was held in memory"
    [call] = registry.list_calls()
    assert call["size_bytes"] == size
    assert call["content_sha256"] == hashlib.sha256(big).hexdigest()


def test_throttling_and_server_errors_are_retried_with_backoff(
    fake_drive, drive_connection, lake, registry, home, no_sleep
):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    drive.add_file("a.wav", wav_bytes("retry"), WAV, folder)
    drive.fail_next("drive.files.list", 429, "rateLimitExceeded")
    drive.fail_next("drive.files.list", 503, "backendError")
    drive.fail_next("drive.files.get", 500, "backendError")  # the folder lookup
    source = make_source(drive, home, lake, registry, folder)
    assert outcomes_by(source.poll()) == {"new": ["a.wav"]}
    assert len(no_sleep) >= 3  # one backoff sleep per retried request
    assert len(drive.calls("drive.files.list")) == 3


def test_media_errors_mid_download_are_retried(fake_drive, drive_connection, lake, registry, home, no_sleep):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    drive.add_file("a.wav", wav_bytes("media", 3 * 1024 * 1024), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_download_chunk_bytes=1024 * 1024)
    source.client.folder(folder)
    drive.requests.clear()
    original = drive._files_get
    served = []

    def flaky(params, headers, body):
        if params.get("alt") == "media":
            served.append(headers.get("range"))
            if len(served) == 2:
                from tests.support.fake_drive import DriveHttpError

                raise DriveHttpError(503, "backendError", "try again")
        return original(params, headers, body)

    drive._files_get = flaky
    assert outcomes_by(source.poll()) == {"new": ["a.wav"]}
    assert served == [
        "bytes=0-1048575",
        "bytes=1048576-2097151",
        "bytes=1048576-2097151",
        "bytes=2097152-3145727",
    ]


def test_missing_or_unshared_folder_says_what_to_do(fake_drive, drive_connection, lake, registry, home):
    source = make_source(fake_drive, home, lake, registry, "1NoSuchFolder")
    with pytest.raises(DriveNotFoundError) as missing:
        source.poll()
    assert drive_connection["client_email"] in str(missing.value)
    assert "share the folder" in str(missing.value)
    hidden = fake_drive.add_folder("private")
    fake_drive.change(hidden, hidden=True)
    with pytest.raises(DriveNotFoundError):
        make_source(fake_drive, home, lake, registry, hidden).poll()
    denied = fake_drive.add_folder("denied")
    fake_drive.fail_next("drive.files.get", 403, "insufficientFilePermissions")
    with pytest.raises(DriveAccessError, match="insufficientFilePermissions"):
        make_source(fake_drive, home, lake, registry, denied).poll()
    a_file = fake_drive.add_file("a.wav", wav_bytes("f"), WAV, denied)
    with pytest.raises(DriveError, match="not a folder"):
        make_source(fake_drive, home, lake, registry, a_file).poll()


def test_an_undownloadable_file_is_retried_then_given_up(
    fake_drive, drive_connection, lake, registry, home, caplog
):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    locked = drive.add_file("locked.wav", wav_bytes("locked"), WAV, folder)
    drive.change(locked, no_download="cannotDownloadFile")
    drive.add_file("fine.wav", wav_bytes("fine"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_max_attempts=3)
    assert outcomes_by(source.poll()) == {"deferred": ["locked.wav"], "new": ["fine.wav"]}
    assert "cannotDownloadFile" in source.cursors.load(source.cursor_name)["pending"][locked]["error"]
    assert outcomes_by(source.poll()) == {"deferred": ["locked.wav"]}
    with caplog.at_level(logging.ERROR):
        assert outcomes_by(source.poll()) == {"given_up": ["locked.wav"]}
    assert "given up after 3 polls" in caplog.text
    assert source.poll() == []
    # and nothing half-written was left in the lake
    assert len(lake.list_keys("raw-audio")) == 1


def test_a_revision_that_does_not_match_its_checksum_is_not_kept(
    fake_drive, drive_connection, lake, registry, home
):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    file_id = drive.add_file("a.wav", wav_bytes("one"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder)
    stale = source.client.file(file_id)
    drive.change(file_id, content=wav_bytes("two"))  # a new revision lands between listing and download
    with pytest.raises(DriveContentChanged):
        source._land(stale, "c-stale")
    assert lake.list_keys("raw-audio") == []
    assert registry.list_calls() == []


def test_per_poll_limit_defers_the_rest(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    for i in range(3):
        drive.add_file(f"{i}.wav", wav_bytes(f"limit{i}"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_max_files_per_poll=2)
    first = outcomes_by(source.poll())
    assert len(first["new"]) == 2 and len(first["deferred"]) == 1
    assert outcomes_by(source.poll()) == {"new": first["deferred"]}
    assert len(registry.list_calls()) == 3


def test_an_invalid_stored_token_falls_back_to_a_listing(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    drive.add_file("a.wav", wav_bytes("tok"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder)
    source.poll()
    source.cursors.save(source.cursor_name, {"page_token": "999999", "pending": {}})
    assert outcomes_by(source.poll()) == {"duplicate": ["a.wav"]}
    assert source.cursors.load(source.cursor_name)["page_token"] != "999999"


def test_list_mode_lists_every_poll(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    drive.add_file("a.wav", wav_bytes("listmode"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_discovery="list")
    assert outcomes_by(source.poll()) == {"new": ["a.wav"]}
    assert outcomes_by(source.poll()) == {"duplicate": ["a.wav"]}
    assert drive.calls("drive.changes.list") == [] and len(drive.calls("drive.files.list")) == 2


def test_processed_files_move_with_the_write_scope(fake_drive, drive_connection, lake, registry, home):
    drive = fake_drive
    folder = drive.add_folder("recordings")
    done = drive.add_folder("processed")
    file_id = drive.add_file("a.wav", wav_bytes("move"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_processed_folder_id=done)
    assert outcomes_by(source.poll()) == {"new": ["a.wav"]}
    assert drive.files[file_id].parents == [done]
    [update] = drive.calls("drive.files.update")
    assert update["params"]["addParents"] == done and update["params"]["removeParents"] == folder
    # the move shows up in the changes feed as a file that left the folder: nothing happens
    assert source.poll() == []


def test_a_read_only_connection_still_lands_but_cannot_move(
    fake_drive, drive_connection, lake, registry, home, monkeypatch, caplog
):
    conn = {
        "conn_type": "google_cloud_platform",
        "extra": {
            "keyfile_dict": json.dumps(drive_connection),
            "scope": "https://www.googleapis.com/auth/drive.readonly",
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_CALLCARE_GDRIVE", json.dumps(conn))
    drive = fake_drive
    folder = drive.add_folder("recordings")
    done = drive.add_folder("processed")
    file_id = drive.add_file("a.wav", wav_bytes("ro"), WAV, folder)
    source = make_source(drive, home, lake, registry, folder, gdrive_processed_folder_id=done)
    with caplog.at_level(logging.WARNING):
        assert outcomes_by(source.poll()) == {"new": ["a.wav"]}
    assert drive.files[file_id].parents == [folder]
    assert "insufficientPermissions" in caplog.text


def test_the_service_comes_from_the_connection_and_no_secret_is_logged(
    fake_drive, drive_connection, home, caplog
):
    with caplog.at_level(logging.DEBUG):
        service, account, retries = drive_service(settings_for(fake_drive, home, "F"))
        DriveClient(service, account=account).start_page_token(None)
    assert account == drive_connection["client_email"] and retries >= 1
    key_body = drive_connection["private_key"].splitlines()[1]
    assert key_body not in caplog.text
    assert not any(token in caplog.text for token in fake_drive.tokens)
