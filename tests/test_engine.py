from __future__ import annotations

import itertools
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from reportkit.errors import QueryFailed
from reportkit.plan import Request
from reportkit.sources.local import LocalEngine, LocalSource, bucket_width
from reportkit.store.importer import import_into
from tests.test_engine_data import DAYS, START, TZ, Reference, make_records, write_jsonl

GROUPS = [
    ("event_properties", "Amount"),
    ("event_properties", "Product"),
    ("event_properties", "Due"),
    ("event_properties", "Gift"),
    ("session_properties", "utm_source"),
    ("session_properties", "time_of_day"),
    ("profile_fields", "Customer Type"),
    ("demographics", "Age"),
    ("geo_fields", "City"),
    ("technographics", "OS"),
    ("technographics", "platform"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalEngine, Reference]:
    records = make_records()
    path = write_jsonl(tmp_path_factory.mktemp("engine") / "events.jsonl", records)
    engine = LocalEngine()
    import_into(engine.connection, [path], timezone=TZ)
    engine.refresh()
    yield engine, Reference(records)
    engine.close()


def ymd(d: date) -> int:
    return int(d.strftime("%Y%m%d"))


WINDOWS = [
    (START, START + timedelta(days=DAYS)),  # everything
    (START, START),  # first day: events just before local midnight are excluded
    (START + timedelta(days=7), START + timedelta(days=8)),  # across the DST change
    (START + timedelta(days=3), START + timedelta(days=12)),
    (date(2025, 1, 1), date(2025, 1, 31)),  # empty
]


def test_top_matches_the_reference_for_every_type_order_and_top_n(loaded: Any) -> None:
    engine, ref = loaded
    for event, (lo, hi), (scope, name), order, top_n in itertools.product(
        ["Charged", "Viewed"], WINDOWS, GROUPS, ["desc", "asc"], [10, 2]
    ):
        group = {"property_type": scope, "name": name, "top_n": top_n, "order": order}
        body = {"event_name": event, "from": ymd(lo), "to": ymd(hi), "groups": {"g": group}}
        status, answer = engine.answer("/1/counts/top.json", body)
        assert status == 200, answer
        expected = ref.top(event, lo, hi, group)
        assert answer["g"] == expected, (body, answer["g"], expected)
        for typ in expected:  # order of the keys is the ranking
            assert list(answer["g"][typ]) == list(expected[typ])


def test_top_defaults_and_several_groups_in_one_request(loaded: Any) -> None:
    engine, ref = loaded
    lo, hi = WINDOWS[0]
    groups = {f"k{i}": {"property_type": s, "name": n} for i, (s, n) in enumerate(GROUPS)}
    status, answer = engine.answer(
        "/1/counts/top.json",
        {"event_name": "Charged", "from": ymd(lo), "to": ymd(hi), "groups": groups},
    )
    assert status == 200 and answer["status"] == "success"
    for key, group in groups.items():
        assert answer[key] == ref.top("Charged", lo, hi, group)
    # the data set does exercise the interesting cases
    assert {"STR", "NUMBER"} <= set(answer["k0"])  # one property under two types
    assert "-1" in answer["k1"]["STR"] and "DATE" in answer["k2"] and "ENUM" in answer["k9"]


def test_counts_and_trends_match_the_reference(loaded: Any) -> None:
    engine, ref = loaded
    for event, (lo, hi) in itertools.product(["Charged", "App Launched"], WINDOWS):
        body = {"event_name": event, "from": ymd(lo), "to": ymd(hi)}
        assert engine.answer("/1/counts/events.json", body)[1] == {
            "status": "success",
            "count": ref.count(event, lo, hi, unique=False),
        }
        assert engine.answer("/1/counts/profiles.json", body)[1]["count"] == ref.count(
            event, lo, hi, unique=True
        )
        for kind, unique, prop in itertools.product(
            ["daily", "weekly", "monthly"], [False, True], [None, "Amount"]
        ):
            if unique and prop:
                continue
            trend_body: dict[str, Any] = {
                **body,
                "unique": unique,
                "groups": {"t": {"trend_type": kind}},
            }
            if prop:
                trend_body["sum_event_prop"] = prop
            status, answer = engine.answer("/1/counts/trends.json", trend_body)
            assert status == 200, answer
            assert answer["t"] == ref.trend(event, lo, hi, kind, unique, prop), trend_body


def test_day_edges_follow_the_store_timezone(tmp_path: Path) -> None:
    # 23:30 and 00:30 New York time on either side of a local midnight (04:30 / 05:30 UTC)
    records = [
        {"event_name": "E", "ts": 20261110233000, "profile": {"identity": "a"}},
        {"event_name": "E", "ts": 1762839000, "profile": {"identity": "b"}},  # 2025-11-11 00:30 EST
        {"event_name": "E", "ts": 20261111003000, "profile": {"identity": "c"}},
    ]
    engine = LocalEngine()
    import_into(engine.connection, [write_jsonl(tmp_path / "e.jsonl", records)], timezone=TZ)
    count = lambda lo, hi: engine.answer(  # noqa: E731
        "/1/counts/events.json", {"event_name": "E", "from": lo, "to": hi}
    )[1]["count"]
    assert count(20261110, 20261110) == 1
    assert count(20261111, 20261111) == 1
    assert count(20251111, 20251111) == 1
    assert count(20251110, 20251110) == 0


@pytest.mark.parametrize(
    ("endpoint", "body", "error"),
    [
        (
            "/1/counts/events.json",
            {"event_name": "Nope", "from": 20260301, "to": 20260302},
            "Invalid event : Nope",
        ),
        (
            "/1/counts/top.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "groups": {"g": {"property_type": "event_properties", "name": "Nope"}},
            },
            "Invalid group",
        ),
        (
            "/1/counts/top.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "groups": {"g": {"property_type": "bogus", "name": "Amount"}},
            },
            "Invalid group",
        ),
        (
            "/1/counts/top.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "groups": {"g": {"property_type": "profile_fields", "name": "Amount"}},
            },
            "Invalid group",
        ),
        (
            "/1/counts/top.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "groups": {
                    "g": {"property_type": "event_properties", "name": "Amount", "order": "up"}
                },
            },
            "Invalid order : up",
        ),
        (
            "/1/counts/top.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "groups": {
                    "g": {"property_type": "event_properties", "name": "Amount", "top_n": 0}
                },
            },
            "Invalid top_n : 0",
        ),
        (
            "/1/counts/top.json",
            {"event_name": "Charged", "from": 20260301, "to": 20260302},
            "groups is required",
        ),
        (
            "/1/counts/events.json",
            {"event_name": "Charged", "from": 20260302, "to": 20260301},
            "from (20260302) is after to (20260301)",
        ),
        (
            "/1/counts/events.json",
            {"event_name": "Charged", "from": 20261340, "to": 20261341},
            "Invalid from date : 20261340 (expected an integer YYYYMMDD)",
        ),
        (
            "/1/counts/events.json",
            {"event_name": "Charged", "from": "20260301", "to": 20260302},
            "Invalid from date : '20260301' (expected an integer YYYYMMDD)",
        ),
        ("/1/counts/events.json", {"from": 20260301, "to": 20260302}, "event_name is required"),
        ("/1/counts/events.json", ["not", "a", "dict"], "Request body must be a JSON object"),
        (
            "/1/counts/trends.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "groups": {"t": {"trend_type": "hourly"}},
            },
            "Invalid trend_type : hourly",
        ),
        (
            "/1/counts/trends.json",
            {
                "event_name": "Charged",
                "from": 20260301,
                "to": 20260302,
                "sum_event_prop": "Product",
                "groups": {"t": {"trend_type": "daily"}},
            },
            "Invalid group",
        ),
    ],
)
def test_bad_requests_answer_fail_bodies(loaded: Any, endpoint: str, body: Any, error: str) -> None:
    engine, _ = loaded
    assert engine.answer(endpoint, body) == (400, {"status": "fail", "error": error, "code": 400})


def test_source_returns_success_bodies_and_raises_query_failed(loaded: Any) -> None:
    engine, ref = loaded
    source = LocalSource(engine, "local:test")
    body = {"event_name": "Charged", "from": 20260301, "to": 20260321}
    assert source.execute(Request("/1/counts/events.json", body))["count"] == ref.count(
        "Charged", date(2026, 3, 1), date(2026, 3, 21), unique=False
    )
    with pytest.raises(QueryFailed) as info:
        source.execute(Request("/1/counts/events.json", {**body, "event_name": "Nope"}))
    assert str(info.value) == (
        "local:test /1/counts/events.json for event 'Nope' failed: Invalid event : Nope (code 400)"
    )


def test_many_threads_get_the_same_answers(loaded: Any) -> None:
    engine, _ = loaded
    body = {
        "event_name": "Charged",
        "from": 20260301,
        "to": 20260321,
        "groups": {
            "a": {"property_type": "event_properties", "name": "Amount"},
            "c": {"property_type": "profile_fields", "name": "Customer Type"},
        },
    }
    expected = engine.answer("/1/counts/top.json", body)
    results: list[Any] = []

    def work() -> None:
        for _ in range(10):
            results.append(engine.answer("/1/counts/top.json", body))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 80


def test_bucket_width_follows_the_1_2_5_rule() -> None:
    assert bucket_width(0, 999) == 100
    assert bucket_width(0, 9) == 1
    assert bucket_width(0, 10) == 2
    assert bucket_width(3, 3) == 1
    assert bucket_width(-4, 1000) == 200
    assert bucket_width(0, 86400 * 3, 86400) == 86400


def test_number_labels_match_the_seed_page(tmp_path: Path) -> None:
    records = [
        {
            "event_name": "Charged",
            "ts": 1_790_000_000 + i,
            "profile": {"identity": "u"},
            "event_props": {"Amount": v},
        }
        for i, v in enumerate([5, 150, 150, 999, 420, 420, 420])
    ]
    engine = LocalEngine()
    import_into(engine.connection, [write_jsonl(tmp_path / "a.jsonl", records)])
    _, answer = engine.answer(
        "/1/counts/top.json",
        {
            "event_name": "Charged",
            "from": 20200101,
            "to": 20301231,
            "groups": {"foo": {"property_type": "event_properties", "name": "Amount"}},
        },
    )
    assert answer == {
        "status": "success",
        "foo": {"NUMBER": {"400-500": 3, "100-200": 2, "0-100": 1, "900-1000": 1}},
    }


def test_non_finite_numbers_written_by_other_means_count_as_no_value(tmp_path: Path) -> None:
    records = make_records()[:200]
    path = write_jsonl(tmp_path / "events.jsonl", records)
    engine = LocalEngine()
    try:
        import_into(engine.connection, [path], timezone=TZ)
        (col,) = engine.connection.execute(
            "SELECT col FROM props WHERE name = 'Amount' AND type = 'NUMBER'"
        ).fetchone()
        engine.connection.execute(
            f"UPDATE events SET {col} = CASE WHEN eid % 3 = 0 THEN 'nan' ELSE 'inf' END::DOUBLE"
            f" WHERE {col} IS NOT NULL AND rowid % 5 = 0"
        )
        (spoiled,) = engine.connection.execute(
            f"SELECT count(*) FROM events WHERE NOT isfinite({col})"
        ).fetchone()
        assert spoiled > 0
        engine.refresh()
        body = {
            "event_name": "Charged",
            "from": ymd(START),
            "to": ymd(START + timedelta(days=DAYS)),
            "groups": {"a": {"property_type": "event_properties", "name": "Amount", "top_n": 100}},
        }
        http_status, answer = engine.answer("/1/counts/top.json", body)
        assert http_status == 200
        assert answer["status"] == "success"
        labels = answer["a"]["NUMBER"]
        assert all("inf" not in k and "nan" not in k for k in labels)
        total = engine.answer(
            "/1/counts/events.json", {k: body[k] for k in ("event_name", "from", "to")}
        )[1]["count"]
        # every event is counted once: in a bucket, under a text value, or as "-1"
        assert sum(n for values in answer["a"].values() for n in values.values()) == total
    finally:
        engine.close()
