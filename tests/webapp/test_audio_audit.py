"""Every answer that hands over a recording's first byte writes a `listen` row, however the Range
header is spelled (security review L1); a seek does not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.webapp import World, audit_rows

# headers that get the file from its first byte: whole, or a range from 0 in any spelling Werkzeug reads
FROM_THE_START = ["", "bytes=0-", "bytes=00-", "bytes= 0-", "bytes=000-99", "bytes=0-0"]
SEEKS = ["bytes=1-", "bytes=100-199", "bytes=4000-", "bytes=-10"]
# what Werkzeug cannot serve as asked: it answers 416 (nothing) or the whole file (a listen)
ODD = ["junk", "bytes=0-0,100-", "bytes=-100000000", "bytes=5-1"]


def listens(app: Any, call_id: str) -> int:
    return len(audit_rows(app, action="listen", call_id=call_id))


def get_page(client_for: Any, call_id: str, header: str) -> Any:
    return client_for("cw1").get(f"/calls/{call_id}/audio", headers={"Range": header} if header else {})


def get_api(app: Any, token_for: Any, call_id: str, header: str) -> Any:
    headers = {"Authorization": f"Bearer {token_for('sam')}"}
    if header:
        headers["Range"] = header
    return app.test_client().get(f"/api/v1/calls/{call_id}/audio", headers=headers)


@pytest.mark.parametrize("via", ["page", "api"])
@pytest.mark.parametrize("header", FROM_THE_START)
def test_a_request_from_the_first_byte_is_a_listen(
    app: Any, world: World, client_for: Any, token_for: Any, via: str, header: str
) -> None:
    call_id = world.completed[1].call_id
    before = listens(app, call_id)
    if via == "page":
        response = get_page(client_for, call_id, header)
    else:
        response = get_api(app, token_for, call_id, header)
    assert response.status_code in (200, 206)
    assert listens(app, call_id) == before + 1


@pytest.mark.parametrize("header", SEEKS)
def test_a_seek_is_not_a_listen(app: Any, world: World, client_for: Any, header: str) -> None:
    call_id = world.completed[0].call_id
    before = listens(app, call_id)
    assert get_page(client_for, call_id, header).status_code == 206
    assert listens(app, call_id) == before


@pytest.mark.parametrize("header", ODD)
def test_an_odd_range_is_a_listen_exactly_when_the_file_goes_out(
    app: Any, world: World, client_for: Any, header: str
) -> None:
    call_id = world.completed[0].call_id
    whole = get_page(client_for, call_id, "").get_data()
    before = listens(app, call_id)
    response = get_page(client_for, call_id, header)
    body = response.get_data()
    got_first_byte = response.status_code in (200, 206) and whole.startswith(body) and len(body) > 0
    assert listens(app, call_id) == before + (1 if got_first_byte else 0)
