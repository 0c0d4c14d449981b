"""The local run keeps generated passwords out of its output (security review L7): the Airflow admin's
password and Airflow's signing secrets are written to files that are 0600 from their creation, and only
the files' paths are printed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from callcare.config import Settings
from callcare.dev import local_run
from callcare.dev.local_stack import WebApp, admin_password, airflow_env


def admin_password_file(home: Path) -> Path:
    return home / "airflow" / "passwords.json"  # where Airflow's simple auth manager reads it


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chmod after the write would hide a file created with the umask's permissions."""
    monkeypatch.setattr(Path, "chmod", lambda *_a, **_k: None)
    monkeypatch.setattr(os, "chmod", lambda *_a, **_k: None)


def test_the_password_file_is_0600_from_its_creation(tmp_path: Path, no_chmod: None) -> None:
    (tmp_path / "airflow").mkdir()
    previous = os.umask(0)  # the loosest umask: only the creation mode can keep others out
    try:
        password = admin_password(tmp_path)
    finally:
        os.umask(previous)
    path = admin_password_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password and admin_password(tmp_path) == password  # generated once, then read back


def test_a_link_in_the_files_place_is_not_written_through(tmp_path: Path) -> None:
    (tmp_path / "airflow").mkdir()
    target = tmp_path / "elsewhere.json"
    admin_password_file(tmp_path).symlink_to(target)
    with pytest.raises(OSError):
        admin_password(tmp_path)
    assert not target.exists()


def test_the_signing_secrets_file_is_0600_from_its_creation(tmp_path: Path, no_chmod: None) -> None:
    previous = os.umask(0)
    try:
        env = airflow_env(tmp_path, base={})
    finally:
        os.umask(previous)
    path = tmp_path / "airflow" / "secret.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert airflow_env(tmp_path, base={})["AIRFLOW__API__SECRET_KEY"] == env["AIRFLOW__API__SECRET_KEY"]


def test_a_link_in_the_secrets_place_is_not_written_through(tmp_path: Path) -> None:
    (tmp_path / "airflow").mkdir()
    target = tmp_path / "elsewhere.json"
    (tmp_path / "airflow" / "secret.json").symlink_to(target)
    with pytest.raises(OSError):
        airflow_env(tmp_path, base={})
    assert not target.exists()


def test_the_run_prints_where_the_passwords_are_not_the_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    web_password = "Web-admin-Secret-2026!"

    class Stack:
        url = "http://127.0.0.1:8080"

        def __init__(self, home: Path, port: int) -> None:
            self.home = home

        def initialize(self) -> None:
            admin_password(self.home)

        def start(self) -> None:
            pass

        def stop(self) -> None:
            pass

    class Web(WebApp):
        def available(self) -> bool:
            return True

        def start(self, timeout_s: float = 90) -> None:  # as `callcare-web serve` does: into the file
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            self.password_file.write_text(web_password)

        def stop(self) -> None:
            pass

    def stop_now(_seconds: float) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(
        local_run, "get_settings", lambda: Settings.from_mapping({"CALLCARE_HOME": str(tmp_path)})
    )
    monkeypatch.setattr(local_run, "AirflowStack", Stack)
    monkeypatch.setattr(local_run, "WebApp", Web)
    monkeypatch.setattr(local_run.time, "sleep", stop_now)
    (tmp_path / "airflow").mkdir()
    assert local_run.run_local(with_samples=False) == 0
    out = capsys.readouterr().out
    assert admin_password(tmp_path) not in out
    assert web_password not in out
    assert str(admin_password_file(tmp_path)) in out
    assert str(tmp_path / "webapp" / "admin-password") in out
