"""Security review H1: whoever can write to the inbox cannot make ingestion read anything else.

A link, a hard link or a special file named like a recording is rejected with a reason (and moved to
rejected/, as a link, never followed), the files beside it still land, and nothing outside the inbox
reaches the lake, is moved, or is written to.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from callcare.core.context import Context
from callcare.sources import inbox as inbox_module
from callcare.sources.inbox import ingest_inbox

from tests.support.helpers import drop_settled

SECRET = b"signing-key: do not serve me\n"


def settle(path: Path) -> None:
    """Age the entry itself (not what a link points at) past the inbox's settle time."""
    os.utime(path, (0, 1_000_000_000), follow_symlinks=False)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file the worker can read that the inbox's writers must not reach (the web app's key)."""
    path = tmp_path / "outside" / "secret_key"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    settle(path)  # old, as a key is: only the link's own name decides when it is taken
    return path


def assert_nothing_outside_landed(ctx: Context) -> None:
    for key in ctx.lake.list_keys(""):
        assert SECRET not in ctx.lake.get_bytes(key), key


def land(ctx: Context) -> dict[str, inbox_module.IngestOutcome]:
    drop_settled(ctx.settings.inbox_dir, "2026-09-02_good.wav", b"RIFF good audio")
    outcomes = {o.file_name: o for o in ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry)}
    assert outcomes["2026-09-02_good.wav"].outcome == "new"  # the others still land
    assert_nothing_outside_landed(ctx)
    return outcomes


def test_a_symlink_is_rejected_and_moved_aside_as_a_link(ctx: Context, secret: Path) -> None:
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True)
    link = inbox / "2026-09-02_key.wav"
    link.symlink_to(secret)
    settle(link)
    outcome = land(ctx)[link.name]
    assert outcome.outcome == "rejected" and "symbolic link" in outcome.reason
    moved = inbox / "rejected" / link.name
    assert moved.is_symlink() and secret.read_bytes() == SECRET  # the entry moved, the target did not
    assert "symbolic link" in (inbox / "rejected" / f"{link.name}.reason.txt").read_text()
    assert len(ctx.registry.list_calls()) == 1


def test_a_symlink_to_a_device_is_rejected_without_reading_it(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True)
    link = inbox / "zero.wav"
    link.symlink_to("/dev/zero")
    settle(link)
    outcome = land(ctx)[link.name]
    assert outcome.outcome == "rejected" and "symbolic link" in outcome.reason


def test_a_hard_link_is_rejected(ctx: Context, secret: Path) -> None:
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True)
    hard = inbox / "2026-09-02_hard.wav"
    os.link(secret, hard)
    settle(hard)
    outcome = land(ctx)[hard.name]
    assert outcome.outcome == "rejected" and "2 hard links" in outcome.reason
    assert secret.read_bytes() == SECRET


def test_a_fifo_is_rejected_without_blocking_the_poll(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True)
    fifo = inbox / "2026-09-02_pipe.wav"
    os.mkfifo(fifo)
    settle(fifo)
    result: dict[str, inbox_module.IngestOutcome] = {}
    poll = threading.Thread(target=lambda: result.update(land(ctx)), daemon=True)
    poll.start()
    poll.join(timeout=30)
    if poll.is_alive():  # unblock the thread: open a writer end so its read returns
        with open(fifo, "wb"):
            pass
        pytest.fail("ingestion blocked on a FIFO")
    outcome = result[fifo.name]
    assert outcome.outcome == "rejected" and "FIFO" in outcome.reason
    assert stat.S_ISFIFO((inbox / "rejected" / fifo.name).lstat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_node_is_rejected(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True)
    device = inbox / "2026-09-02_null.wav"
    os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    settle(device)
    outcome = land(ctx)[device.name]
    assert outcome.outcome == "rejected" and "character device" in outcome.reason


def test_a_name_swapped_for_a_link_after_the_check_is_still_refused(
    ctx: Context, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check that counts is on the opened file: a name that looked like a plain file when it was
    listed and checked, and is a link when it is opened, is refused (no check-then-use race)."""
    inbox = ctx.settings.inbox_dir
    inbox.mkdir(parents=True)
    swapped = inbox / "2026-09-02_swapped.wav"
    swapped.symlink_to(secret)
    settle(swapped)
    plain = os.lstat(secret)
    real_lstat = Path.lstat

    def looks_plain(self: Path) -> os.stat_result:  # what the name was when it was checked
        return plain if self == swapped else real_lstat(self)

    monkeypatch.setattr(Path, "lstat", looks_plain)
    outcome = land(ctx)[swapped.name]
    assert outcome.outcome == "rejected" and "symbolic link" in outcome.reason


def test_a_planted_rejected_link_sends_nothing_out_of_the_inbox(ctx: Context, tmp_path: Path) -> None:
    """`rejected` (or a reason file's name) replaced by a link: the bad file stays in the inbox, and
    nothing is moved to, or written in, the link's target."""
    inbox = ctx.settings.inbox_dir
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    drop_settled(inbox, "evil.py", b"import os\n")
    (inbox / "rejected").symlink_to(elsewhere)
    outcomes = land(ctx)
    assert "evil.py" not in outcomes  # not moved: reported in the log, retried next poll
    assert (inbox / "evil.py").read_bytes() == b"import os\n"
    assert list(elsewhere.iterdir()) == []


def test_a_planted_reason_file_link_is_not_written_through(ctx: Context, tmp_path: Path) -> None:
    inbox = ctx.settings.inbox_dir
    target = tmp_path / "bashrc"
    target.write_text("original\n")
    (inbox / "rejected").mkdir(parents=True)
    (inbox / "rejected" / "notes.txt.reason.txt").symlink_to(target)
    drop_settled(inbox, "notes.txt", b"hello")
    assert land(ctx)["notes.txt"].outcome == "rejected"
    assert target.read_text() == "original\n"
    reason = inbox / "rejected" / "notes.txt.reason.txt"
    assert not reason.is_symlink() and "not a supported audio format" in reason.read_text()
