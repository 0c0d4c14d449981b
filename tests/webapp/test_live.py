"""The live feed's server side: outbox messages, per-user filtering, the poller, and a real socket."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from typing import Any

import pytest
from callcare_web.live import for_client, read_messages, visible

from tests.support.webapp import World
from tests.support.webapp_seed import complete_call, dialogues, register_call


def engine_of(app: Any) -> Any:
    with app.app_context():
        return app.extensions["sqlalchemy"].engine


def test_messages_carry_the_calls_fields_and_alerts(app: Any, world: World) -> None:
    messages = read_messages(engine_of(app), 0, 0, limit=10000)
    completed = [m for m in messages if m["type"] == "call" and m["status"] == "COMPLETED"]
    assert {m["call_id"] for m in completed} >= {c.call_id for c in world.completed}
    negative = [m for m in completed if m["sentiment"] == "Negative"]
    assert negative and all(for_client(m)["alert"] for m in negative)
    calm = [m for m in completed if m["sentiment"] == "Positive" and not m["escalated"]]
    assert calm and not any(for_client(m)["alert"] for m in calm)
    assert all(not k.startswith("_") for k in for_client(completed[0]))


def test_caseworkers_get_only_their_calls(app: Any, world: World) -> None:
    messages = [m for m in read_messages(engine_of(app), 0, 0, limit=10000) if m["type"] == "call"]
    cw1 = world.user_ids["cw1"]
    seen = {m["call_id"] for m in messages if visible(m, cw1, can_all=False)}
    assert seen == set(world.assigned["cw1"]) & {m["call_id"] for m in messages}
    assert {m["call_id"] for m in messages if visible(m, world.user_ids["sam"], can_all=True)} >= seen


def test_poller_fans_out_new_events(app: Any, world: World) -> None:
    hub = app.extensions["callcare_live"]
    supervisor = hub.subscribe(world.user_ids["sam"], can_all=True)
    caseworker = hub.subscribe(world.user_ids["cw2"], can_all=False)
    try:
        registry, lake = world.registry_and_lake()
        call = register_call(
            registry, lake, dialogues()[17], (dt.date.today() - dt.timedelta(days=2)).isoformat()
        )
        hub.poke()
        message = supervisor.queue.get(timeout=10)
        assert message["call_id"] == call.call_id and message["status"] == "UPLOADED"
        assert caseworker.queue.empty()
        registry.engine.dispose()
    finally:
        hub.unsubscribe(supervisor)
        hub.unsubscribe(caseworker)


def test_websocket_needs_a_session(app: Any) -> None:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        import simple_websocket

        ws = simple_websocket.Client.connect(f"ws://127.0.0.1:{server.port}/live")
        with pytest.raises(simple_websocket.ConnectionClosed) as closed:
            ws.receive(timeout=5)
        assert closed.value.reason == 1008
        # a page of another site cannot open the feed with the user's cookies
        ws = simple_websocket.Client.connect(
            f"ws://127.0.0.1:{server.port}/live", headers={"Origin": "https://evil.example"}
        )
        with pytest.raises(simple_websocket.ConnectionClosed) as closed:
            ws.receive(timeout=5)
        assert closed.value.reason == 1008 and closed.value.message == "cross-origin"
    finally:
        server.shutdown()


def test_websocket_delivers_backlog_and_live_events(app: Any, world: World) -> None:
    """A caseworker's socket: what happened since the cursor, then new events, only for their calls."""
    from werkzeug.serving import make_server

    from tests.support.webapp import PASSWORDS, csrf_from

    app.config["SESSION_COOKIE_SECURE"] = False  # plain http on loopback for this socket test
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        import requests
        import simple_websocket

        base = f"http://127.0.0.1:{server.port}"
        session = requests.Session()
        token = csrf_from(session.get(f"{base}/login/").text)
        session.post(
            f"{base}/login/", data={"username": "cw1", "password": PASSWORDS["cw1"], "csrf_token": token}
        )
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        ws = simple_websocket.Client.connect(
            f"{base.replace('http', 'ws')}/live?after_event=0&after_audit=0", headers={"Cookie": cookie}
        )
        received: queue.Queue = queue.Queue()

        def read() -> None:
            while True:
                try:
                    received.put(json.loads(ws.receive()))
                except Exception:
                    return

        threading.Thread(target=read, daemon=True).start()
        backlog = []
        while (m := received.get(timeout=10))["type"] != "hello":
            backlog.append(m)
        assert m["scope"] == "assigned"
        assert {b["call_id"] for b in backlog} == set(world.assigned["cw1"])
        # a new call, assigned to cw1 by a supervisor, then completed: cw1 hears of both
        registry, lake = world.registry_and_lake()
        call = register_call(
            registry, lake, dialogues()[18], (dt.date.today() - dt.timedelta(days=3)).isoformat()
        )
        with app.test_request_context():
            from callcare_web import audit
            from callcare_web.tables import assignments

            with app.extensions["sqlalchemy"].engine.begin() as conn:
                conn.execute(assignments.insert().values(call_id=call.call_id, user_id=world.user_ids["cw1"]))
            audit.record(
                "assign", call.call_id, user=None, from_user_id=None, to_user_id=world.user_ids["cw1"]
            )
        complete_call(registry, lake, call)
        got = []
        while not (
            any(g.get("status") == "COMPLETED" for g in got) and any(g["type"] == "assignment" for g in got)
        ):
            got.append(received.get(timeout=10))
        assert {g["call_id"] for g in got} == {call.call_id}
        ws.close()
        registry.engine.dispose()
    finally:
        app.config["SESSION_COOKIE_SECURE"] = True
        server.shutdown()
