"""The demo's sample recordings are dated in the last days, so the dashboard's recent window (and
the list's default order) shows them right after the run command."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from callcare.dev.samples import SAMPLES_FILE, sample_file_name
from callcare.sources.inbox import call_date_for


def test_each_sample_is_dated_a_few_days_before_today() -> None:
    today = date(2027, 3, 1)
    calls = json.loads(SAMPLES_FILE.read_text())
    names = [sample_file_name(call, today) for call in calls]

    dates = [date.fromisoformat(call_date_for(Path(name), mtime=0)) for name in names]
    assert all(0 < (today - d).days <= 7 for d in dates), names
    assert len(set(names)) == len(calls)  # distinct files
    assert names[0].startswith("2027-02-26_") and names[0].endswith(".wav")
