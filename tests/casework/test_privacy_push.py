"""Privacy (encrypted identities, crypto-shredding, access log) and push (webhooks down then up, SSE)."""

from __future__ import annotations

import datetime
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import errors
from api.routes import casework, push
from ledger.client import KeyFile
from ledger.errors import Forbidden, MalformedInput, NotFound
from ledger.privacy import access_log, erase_person, mask_terms, read_person, register_person
from ledger.push import subscriptions as subs
from ledger.push.sse import parse_events
from ledger.push.webhook import Dispatcher, verify_push
from tests.casework.conftest import Scene, make_terms
from verifier.bundle import verify_bundle
from verifier.errors import SignatureError
from verifier.identity import make_citizen_id, pseudonym

ID = make_citizen_id("12011319850312123")


def test_register_read_erase_and_still_verifies(scene: Scene) -> None:
    led = scene.ledger
    subject = register_person(led, "赵立新", ID.lower() if ID[-1] == "X" else ID)
    assert subject == pseudonym(led.platform.pseudonym_key, ID)
    assert "赵立新" not in b"".join(d for _, d in led.entries(0, led.size())).decode()
    with pytest.raises(Forbidden):
        read_person(led, subject, who="someone", role=None, reason="curious")
    with pytest.raises(MalformedInput):
        read_person(led, subject, who="张三", role="operator", reason=" ")
    p = read_person(led, subject, who="张三", role="operator", reason="异议核查")
    assert (p.name, p.id_number) == ("赵立新", ID)
    erase_person(led, subject, who="李四", role="authority", reason="依申请删除")
    with pytest.raises(NotFound) as e:
        read_person(led, subject, who="张三", role="operator", reason="再次核查")
    assert e.value.code == "erased"
    with pytest.raises(NotFound):
        erase_person(led, subject, who="李四", role="authority", reason="again")
    log = [(r.action, r.who, r.why) for r in access_log(led)]
    assert log == [
        ("register", "desk", "registration"),
        ("refused", "someone", "curious"),
        ("refused", "张三", " "),
        ("read", "张三", "异议核查"),
        ("erase", "李四", "依申请删除"),
        ("read", "张三", "再次核查"),
    ]
    with pytest.raises(MalformedInput) as m:
        register_person(led, "x", ID[:-1] + ("0" if ID[-1] != "0" else "1"))
    assert m.value.code == "invalid_id_number"
    buf = io.BytesIO()
    led.export(buf)
    assert verify_bundle(buf.getvalue().splitlines(), led.verifier_key).entries == led.size()


def test_mask_terms() -> None:
    a, b = "91120113MA0000011R", "11120113MB0000037K"
    masked = mask_terms(make_terms(a, b))
    assert masked["amount"] is None and masked["milestones"][1]["amount"] is None
    assert masked["parties"][1]["subject"] == "91120113******011R"
    shown = mask_terms({**make_terms(a, b), "disclose_amount": True})
    assert shown["amount"] == 100_000


class Receiver:
    """A webhook receiver in a thread; answers 503 while ``down``."""

    def __init__(self) -> None:
        self.down = True
        self.got: list[tuple[dict[str, Any], bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.down:
                    self.send_response(503)
                else:
                    receiver.got.append((orjson.loads(body), body, self.headers["Lvyue-Signature"]))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_webhook_down_then_up(scene: Scene, receiver: Receiver) -> None:
    led = scene.ledger
    sid = subs.follow(led, scene.b.subject, scene.a.subject, receiver.url, start=0)
    now = [datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)]
    dispatcher = Dispatcher(led, base_delay=10, max_delay=60, clock=lambda: now[0])
    expected = [i for i, d in led.entries(0, led.size()) if scene.a.subject in orjson.loads(d)["links"]]
    assert dispatcher.run_once() == 0
    sub = subs.get_subscription(led, sid)
    assert (sub.position, sub.attempts) == (0, 1) and sub.last_error == "HTTP 503"
    assert dispatcher.backoff(1) == 10 and dispatcher.backoff(3) == 40 and dispatcher.backoff(9) == 60
    receiver.down = False
    assert dispatcher.run_once() == 0  # still backing off
    now[0] += datetime.timedelta(seconds=11)
    receiver.down = True
    dispatcher.run_once()
    assert subs.get_subscription(led, sid).attempts == 2
    now[0] += datetime.timedelta(seconds=21)
    receiver.down = False
    # a new dispatcher (a restart) resumes from the stored position and retry state
    restarted = Dispatcher(led, base_delay=10, clock=lambda: now[0])
    assert restarted.run_once() == len(expected)
    scene.a.submit("objection.filed", "0f0e0d0c-0b0a-4909-8807-060504030201", {"entry": scene.overdue, "reason": "x"})
    expected.append(led.size() - 1)
    assert restarted.run_once() == 1
    assert restarted.run_once() == 0
    assert [g[0]["index"] for g in receiver.got] == expected
    for event, body, sig in receiver.got:
        verify_push(body, sig, led.platform.log_public_key)
        assert event["subject"] == scene.a.subject and event["origin"] == led.origin
    with pytest.raises(SignatureError):
        verify_push(receiver.got[0][1] + b" ", receiver.got[0][2], led.platform.log_public_key)
    assert subs.get_subscription(led, sid).position == led.size()


def test_follow_entitlement_and_signed_requests(scene: Scene) -> None:
    led = scene.ledger
    person_key = KeyFile.generate(pseudonym(led.platform.pseudonym_key, ID))
    register_person(led, "赵立新", ID, key=person_key)
    with pytest.raises(Forbidden):
        subs.follow(led, scene.c.subject, person_key.subject)
    assert subs.may_follow(led, scene.c.subject, scene.a.subject)  # organisations are public
    signed = subs.sign_follow_request(scene.a.key, scene.b.subject, None, 0)
    sid = subs.follow_signed(led, signed)
    assert subs.get_subscription(led, sid).follower == scene.a.subject
    forged = {**signed, "request": {**signed["request"], "subject": scene.c.subject}}
    with pytest.raises(Exception) as e:
        subs.follow_signed(led, forged)
    assert getattr(e.value, "code", "") == "bad_signature"
    subs.unfollow(led, sid)
    with pytest.raises(NotFound):
        subs.unfollow(led, sid)


def test_api_sse_records_and_access_log(scene: Scene) -> None:
    from api.auth import Tokens

    app = FastAPI()
    app.state.ledger = scene.ledger
    app.state.tokens = Tokens.from_plain({"operator": "op", "auditor": "au", "authority": "de"})
    app.state.limiter = None
    from api.access import AccessLog

    app.state.access = AccessLog(None)
    errors.install(app)
    app.include_router(casework.router)
    app.include_router(push.router)
    client = TestClient(app)
    r = client.post("/push/subscriptions", json=subs.sign_follow_request(scene.b.key, scene.a.subject, None, 0))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    with client.stream("GET", f"/push/subscriptions/{sid}/events", params={"limit": 3}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        got = list(parse_events(resp.iter_lines()))
    assert len(got) == 3 and [i for i, _ in got] == sorted(i for i, _ in got)
    with client.stream(
        "GET", f"/push/subscriptions/{sid}/events", params={"limit": 1}, headers={"Last-Event-ID": str(got[1][0])}
    ) as resp:
        assert [i for i, _ in parse_events(resp.iter_lines())] == [got[2][0]]

    records = client.get(f"/casework/subjects/{scene.a.subject}/records").json()
    assert records["subject"].count("*") == 6 and records["records"][0]["kind"] == "overdue"
    r = client.post(
        "/casework/persons", json={"name": "赵立新", "id_number": ID}, headers={"Authorization": "Bearer de"}
    )
    assert r.status_code == 201
    psn = r.json()["subject"]
    body = {"who": "张三", "reason": "核查"}
    assert client.post(f"/casework/persons/{psn}/read", json=body).status_code == 401
    assert (
        client.post(f"/casework/persons/{psn}/read", json=body, headers={"Authorization": "Bearer au"}).status_code
        == 403
    )
    r = client.post(f"/casework/persons/{psn}/read", json=body, headers={"Authorization": "Bearer op"})
    assert r.json()["name"] == "赵立新"
    assert client.get("/casework/access-log", headers={"Authorization": "Bearer op"}).status_code == 403
    log = client.get("/casework/access-log", headers={"Authorization": "Bearer au"}).json()
    assert [x["action"] for x in log] == ["register", "read"]
    ind = client.get("/casework/indicators").json()
    assert ind["objections"]["filed"] == 0 and ind["repairs"]["pass_rate"] is None
    r = client.post("/casework/judgments/import", content=b'{"court": "c"}\n', headers={"Authorization": "Bearer op"})
    assert r.json()["totals"]["refused"] == 1
