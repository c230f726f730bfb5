"""The emulator answers every bad request with a 4xx (never a dropped connection), checks the
credentials before it reads a byte of the body, and bounds the work a request can ask for."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from reportkit.sources.emulator import MAX_BODY, MAX_TREND_DAYS, Emulator, start_emulator
from reportkit.sources.local import LocalEngine

pytestmark = pytest.mark.timeout(20)

AUTH = "X-CleverTap-Account-Id: ACC\r\nX-CleverTap-Passcode: pass-123\r\n"
PATH = "/1/counts/events.json"
GOOD = {"event_name": "Charged", "from": 20261101, "to": 20261129}


@pytest.fixture(scope="module")
def emulator(demo_store: Path) -> Iterator[Emulator]:
    engine = LocalEngine(demo_store, read_only=True)
    # failures as HTTP 400 (the real service's form, a 200 with a fail body, is the default)
    with start_emulator(
        engine, account_id="ACC", passcode="pass-123", partial_polls=0, fail_form="400"
    ) as emu:
        yield emu
    engine.close()


def exchange(emu: Emulator, raw: bytes, *, send_all: bool = True) -> tuple[int, dict[str, object]]:
    """Send `raw` on a fresh connection, read the answer; its status and JSON body."""
    with socket.create_connection((emu.host, emu.port), timeout=10) as conn:
        conn.sendall(raw)
        data = bytearray()
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            assert chunk, f"the connection was dropped without an answer after {bytes(data)!r}"
            data += chunk
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        while len(body) < length:
            chunk = conn.recv(65536)
            assert chunk, "the answer was cut short"
            body += chunk
    status = int(head.split(b" ")[1])
    return status, json.loads(body) if body.startswith(b"{") else {}


def post(body: bytes, headers: str = AUTH, length: str | None = None) -> bytes:
    size = str(len(body)) if length is None else length
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{headers}"
    if size != "":
        head += f"Content-Length: {size}\r\n"
    return (head + "\r\n").encode("utf-8") + body


BAD_LENGTHS = {
    "huge": ("1" + "0" * 30, 413),
    "over the cap": (str(MAX_BODY + 1), 413),
    "negative": ("-5", 400),
    "not a number": ("ten", 400),
    "arabic digits": ("\u0661\u0662", 400),
    "hex": ("0x10", 400),
    "fraction": ("1.5", 400),
    "empty": (" ", 400),
}


@pytest.mark.parametrize("case", BAD_LENGTHS)
def test_a_bad_content_length_is_a_4xx(emulator: Emulator, case: str) -> None:
    length, expected = BAD_LENGTHS[case]
    status, body = exchange(emulator, post(b"{}", length=length))
    assert status == expected
    assert body["status"] == "fail"


def test_two_different_content_lengths_are_a_400(emulator: Emulator) -> None:
    raw = post(b"{}", headers=AUTH + "Content-Length: 9\r\n")
    assert exchange(emulator, raw)[0] == 400


def test_a_chunked_body_is_411(emulator: Emulator) -> None:
    raw = post(b"2\r\n{}\r\n0\r\n\r\n", headers=AUTH + "Transfer-Encoding: chunked\r\n", length="")
    assert exchange(emulator, raw)[0] == 411


def test_a_body_shorter_than_announced_is_a_400(emulator: Emulator) -> None:
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as conn:
        conn.sendall(post(b'{"a": 1}', length="100"))
        conn.shutdown(socket.SHUT_WR)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")


NESTED = {
    "arrays": b"[" * 100_000 + b"]" * 100_000,
    "objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "unclosed": b"[" * 100_000,
    "inside an event name": b'{"event_name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
}


@pytest.mark.parametrize("case", NESTED)
def test_deeply_nested_json_is_a_400(emulator: Emulator, case: str) -> None:
    status, body = exchange(emulator, post(NESTED[case]))
    assert status == 400
    assert "nested too deep" in str(body["error"])


def test_brackets_inside_strings_are_not_nesting(emulator: Emulator) -> None:
    body = dict(GOOD, event_name="[" * 500)
    status, answer = exchange(emulator, post(json.dumps(body).encode()))
    assert status == 400 and answer["error"] == "Invalid event : " + "[" * 500


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe{}", b'{"event_name": "\xe9"}', b"\x00", b"{" + b'"a":1,' * 3 + b"}"]
)
def test_a_body_that_is_not_utf8_json_is_a_400(emulator: Emulator, raw: bytes) -> None:
    assert exchange(emulator, post(raw))[0] == 400


def test_no_body_is_read_before_the_credentials_are_checked(emulator: Emulator) -> None:
    """A client announces a megabyte and sends none of it: the 401 comes at once."""
    for headers in ["", "X-CleverTap-Account-Id: ACC\r\nX-CleverTap-Passcode: wrong\r\n"]:
        status, body = exchange(emulator, post(b"", headers=headers, length=str(MAX_BODY)))
        assert status == 401 and body["code"] == 401


def test_an_unknown_path_is_answered_before_the_body(emulator: Emulator) -> None:
    raw = post(b"", length=str(MAX_BODY)).replace(PATH.encode(), b"/admin")
    assert exchange(emulator, raw)[0] == 404


BAD_BODIES = {
    "a date past year 9999": dict(GOOD, **{"from": 10**30}),
    "a negative date": dict(GOOD, **{"to": -1}),
    "a float date": dict(GOOD, **{"from": 2.0261101e7}),
    "a daily trend over 100 years": {
        "event_name": "Charged",
        "from": 19000101,
        "to": 20261129,
        "groups": {"t": {"trend_type": "daily"}},
    },
    "a weekly trend over 1000 years": {
        "event_name": "Charged",
        "from": 10000101,
        "to": 20261129,
        "groups": {"t": {"trend_type": "weekly"}},
    },
    "21 trend groups": {
        "event_name": "Charged",
        "from": 20261101,
        "to": 20261129,
        "groups": {f"t{i}": {"trend_type": "daily"} for i in range(21)},
    },
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_unbounded_or_impossible_work_is_a_400(emulator: Emulator, case: str) -> None:
    path = "/1/counts/trends.json" if "groups" in BAD_BODIES[case] else PATH
    raw = post(json.dumps(BAD_BODIES[case]).encode()).replace(PATH.encode(), path.encode())
    status, body = exchange(emulator, raw)
    assert status == 400, body
    assert body["status"] == "fail"


def test_a_trend_at_the_limit_is_answered(emulator: Emulator) -> None:
    end = date(2026, 11, 29)
    start = end - timedelta(days=MAX_TREND_DAYS - 1)
    body = {
        "event_name": "Charged",
        "from": int(start.strftime("%Y%m%d")),
        "to": int(end.strftime("%Y%m%d")),
        "groups": {"t": {"trend_type": "daily"}},
    }
    raw = post(json.dumps(body).encode()).replace(PATH.encode(), b"/1/counts/trends.json")
    status, answer = exchange(emulator, raw)
    assert status == 200 and len(answer["t"]) == MAX_TREND_DAYS  # type: ignore[arg-type]


ENGINE_LIMITS = {
    "a daily trend of just over ten years": (
        {"from": 20161101, "to": 20261129, "groups": {"t": {"trend_type": "daily"}}},
        "Trend too long",
    ),
    "21 groups": (
        {
            "from": 20261101,
            "to": 20261129,
            "groups": {f"t{i}": {"trend_type": "monthly"} for i in range(21)},
        },
        "Too many groups",
    ),
}


@pytest.mark.parametrize("case", ENGINE_LIMITS)
def test_the_engine_bounds_work_behind_any_front(demo_store: Path, case: str) -> None:
    """The local engine (what `--source local:` and the emulator ask) has its own limits."""
    body, error = ENGINE_LIMITS[case]
    engine = LocalEngine(demo_store, read_only=True)
    try:
        status, answer = engine.answer("/1/counts/trends.json", {"event_name": "Charged", **body})
    finally:
        engine.close()
    assert status == 400 and str(answer["error"]).startswith(error)


def test_the_emulator_still_serves_after_all_that(emulator: Emulator) -> None:
    status, body = exchange(emulator, post(json.dumps(GOOD).encode()))
    assert status == 200 and body["status"] == "success"
