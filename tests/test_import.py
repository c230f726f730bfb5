from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reportkit.errors import DataImportError
from reportkit.sources.local import LocalEngine
from reportkit.store.importer import import_events

GOOD = [
    {
        "event_name": "Charged",
        "ts": 20261120134501,
        "profile": {
            "identity": "u1",
            "platform": "Android",
            "profileData": {"Customer Type": "Gold"},
        },
        "event_props": {"Amount": 250, "Product": "Shoes"},
        "session_props": {"utm_source": "google"},
    },
    {
        "event_name": "Charged",
        "ts": 20261120150000,
        "profile": {"identity": "u2"},
        "event_props": {"Amount": 40, "Product": "Hat"},
    },
]
TOP = {
    "event_name": "Charged",
    "from": 20261120,
    "to": 20261120,
    "groups": {
        "a": {"property_type": "event_properties", "name": "Amount"},
        "p": {"property_type": "event_properties", "name": "Product"},
        "s": {"property_type": "session_properties", "name": "utm_source"},
        "c": {"property_type": "profile_fields", "name": "Customer Type"},
        "o": {"property_type": "technographics", "name": "platform"},
    },
}


def jsonl(path: Path, lines: list[Any]) -> Path:
    def encode(x: Any) -> bytes:
        if isinstance(x, bytes):
            return x
        return (x if isinstance(x, str) else json.dumps(x)).encode()

    path.write_bytes(b"".join(encode(x) + b"\n" for x in lines))
    return path


def snapshot(db: Path) -> Any:
    engine = LocalEngine(db, read_only=True)
    try:
        con = engine.connection
        return (
            con.execute("SELECT * FROM events ORDER BY ts").fetchall(),
            con.execute("SELECT * FROM props ORDER BY col").fetchall(),
            con.execute("SELECT * FROM event_names ORDER BY eid").fetchall(),
            con.execute("SELECT * FROM identities ORDER BY pid").fetchall(),
        )
    finally:
        engine.close()


def answer(db: Path, endpoint: str, body: Any) -> Any:
    engine = LocalEngine(db, read_only=True)
    try:
        return engine.answer(endpoint, body)[1]
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"event_name": "Charged", "ts": ', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"ts": 20261120134501, "profile": {"identity": "u3"}}, "missing event_name"),
        (
            {"event_name": "X", "ts": 20261340134501, "profile": {"identity": "u3"}},
            "bad ts 20261340134501 (expected YYYYMMDDHHMMSS or epoch seconds)",
        ),
        ({"event_name": "X", "ts": 20261120134501, "profile": {}}, "missing profile.identity"),
        (
            {
                "event_name": "X",
                "ts": 20261120134501,
                "profile": {"identity": "u3"},
                "event_props": {"Cart": {"n": 1}},
            },
            "property 'Cart': nested objects and lists are not supported",
        ),
        (
            {
                "event_name": "X",
                "ts": 20261120134501,
                "profile": {"identity": "u3"},
                "event_props": [1],
            },
            "event_props is not an object",
        ),
        (
            '{"event_name": "X", "ts": 20261120134501, "profile": {"identity": "u3"},'
            ' "event_props": {"N": NaN}}',
            "property 'N': number out of range",
        ),
        (
            '{"event_name": "X", "ts": 20261120134501, "profile": {"identity": "u3"},'
            ' "event_props": {"N": -1e400}}',
            "property 'N': number out of range",
        ),
        (
            {
                "event_name": "X",
                "ts": 20261120134501,
                "profile": {"identity": "u3"},
                "event_props": {"D": "$D_99999999999999999999999"},
            },
            "property 'D': date out of range",
        ),
        (
            {"event_name": "X", "ts": 20261120134501, "profile": {"identity": {"id": 1}}},
            "profile.identity must be a string or an integer",
        ),
        (
            {"event_name": "X", "ts": "0x10", "profile": {"identity": "u3"}},
            "bad ts 0x10 (expected YYYYMMDDHHMMSS or epoch seconds)",
        ),
        (
            {"event_name": "X", "ts": 1790000000.5, "profile": {"identity": "u3"}},
            "bad ts 1790000000.5 (expected YYYYMMDDHHMMSS or epoch seconds)",
        ),
        (
            b'{"event_name": "X\xff", "ts": 1790000000, "profile": {"identity": "u3"}}',
            "not valid UTF-8",
        ),
    ],
)
def test_a_bad_record_names_file_and_line_and_leaves_the_store_unchanged(
    tmp_path: Path, line: Any, reason: str
) -> None:
    db = tmp_path / "s.duckdb"
    import_events(db, [jsonl(tmp_path / "good.jsonl", GOOD)])
    before = snapshot(db)
    bad = jsonl(
        tmp_path / "bad.jsonl",
        [{**GOOD[0], "event_props": {"New Prop": 1}, "profile": {"identity": "new"}}, "", line],
    )
    with pytest.raises(DataImportError) as info:
        import_events(db, [bad])
    assert str(info.value) == f"{bad}:3: {reason}"
    assert snapshot(db) == before


def test_skip_invalid_loads_the_rest_and_says_why(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    f = jsonl(tmp_path / "e.jsonl", [GOOD[0], "{oops", GOOD[1], {"event_name": "Charged"}])
    summary = import_events(db, [f], skip_invalid=True)
    assert (summary.loaded, summary.skipped) == (2, 2)
    assert summary.reasons == (f"{f}:2: not valid JSON", f"{f}:4: missing ts")
    assert (
        answer(
            db, "/1/counts/events.json", {"event_name": "Charged", "from": 20261120, "to": 20261120}
        )["count"]
        == 2
    )


def test_csv_and_parquet_flat_layouts_answer_like_json_lines(tmp_path: Path) -> None:
    import duckdb

    expected_db = tmp_path / "j.duckdb"
    import_events(expected_db, [jsonl(tmp_path / "e.jsonl", GOOD)])
    expected = answer(expected_db, "/1/counts/top.json", TOP)
    csv = tmp_path / "e.csv"
    csv.write_text(
        "event_name,ts,identity,platform,event.Amount,event.Product,session.utm_source,"
        "profile.Customer Type\n"
        "Charged,20261120134501,u1,Android,250,Shoes,google,Gold\n"
        "Charged,20261120150000,u2,,40,Hat,,\n"
    )
    import_events(tmp_path / "c.duckdb", [csv])
    assert answer(tmp_path / "c.duckdb", "/1/counts/top.json", TOP) == expected
    parquet = tmp_path / "e.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{parquet}'")
    import_events(tmp_path / "p.duckdb", [parquet])
    assert answer(tmp_path / "p.duckdb", "/1/counts/top.json", TOP) == expected


def test_flat_layout_refuses_unknown_columns(tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    csv.write_text("event_name,ts,identity,Amount\nCharged,20261120134501,u1,3\n")
    with pytest.raises(DataImportError, match="unknown column 'Amount'"):
        import_events(tmp_path / "s.duckdb", [csv])


def test_profile_fields_count_with_the_latest_value_across_imports(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    import_events(db, [jsonl(tmp_path / "a.jsonl", GOOD)])
    later = {
        "event_name": "App Launched",
        "ts": 20261125000000,
        "profile": {"identity": "u1", "profileData": {"Customer Type": "Silver"}},
    }
    earlier = {
        "event_name": "App Launched",
        "ts": 20261101000000,
        "profile": {"identity": "u1", "profileData": {"Customer Type": "Bronze"}},
    }
    import_events(db, [jsonl(tmp_path / "b.jsonl", [later, earlier])])
    body = {
        "event_name": "Charged",
        "from": 20261120,
        "to": 20261120,
        "groups": {"c": {"property_type": "profile_fields", "name": "Customer Type"}},
    }
    assert answer(db, "/1/counts/top.json", body)["c"] == {"STR": {"-1": 1, "Silver": 1}}


def test_bom_crlf_and_whitespace_lines_are_read_like_any_other_file(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    body = "\r\n".join(json.dumps(r) for r in GOOD)
    f.write_bytes(b"\xef\xbb\xbf" + body.encode() + b"\r\n\t\x0b\x0c\r\n")
    assert import_events(tmp_path / "s.duckdb", [f]).loaded == 2
    expected_db = tmp_path / "plain.duckdb"
    import_events(expected_db, [jsonl(tmp_path / "plain.jsonl", GOOD)])
    assert answer(tmp_path / "s.duckdb", "/1/counts/top.json", TOP) == answer(
        expected_db, "/1/counts/top.json", TOP
    )


def test_a_reason_is_one_short_line_even_for_a_huge_multiline_value(tmp_path: Path) -> None:
    bad = {"event_name": "X", "ts": "2026\n" + "9" * 100_000, "profile": {"identity": "u"}}
    f = jsonl(tmp_path / "e.jsonl", [GOOD[0], bad])
    with pytest.raises(DataImportError) as info:
        import_events(tmp_path / "s.duckdb", [f])
    message = str(info.value)
    assert message.startswith(f"{f}:2: bad ts 2026\ufffd9999")
    assert "\n" not in message and len(message) < 300


def test_a_line_longer_than_the_fast_readers_limit_still_loads(tmp_path: Path) -> None:
    big = {**GOOD[1], "event_props": {"Note": "n" * 20_000_000}}
    f = jsonl(tmp_path / "e.jsonl", [GOOD[0], big])
    assert import_events(tmp_path / "s.duckdb", [f]).loaded == 2


def test_a_failed_import_into_a_new_store_leaves_no_file(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    with pytest.raises(DataImportError):
        import_events(db, [jsonl(tmp_path / "e.jsonl", [GOOD[0], "{oops"])])
    assert list(tmp_path.iterdir()) == [tmp_path / "e.jsonl"]


def test_csv_with_a_ragged_last_record_names_it(tmp_path: Path) -> None:
    # DuckDB's CSV sniffer reads such a file as having no rows at all
    csv = tmp_path / "e.csv"
    csv.write_text("event_name,ts,identity\nA,1790000000,u\nB,1790000001,v,extra\n")
    with pytest.raises(DataImportError) as info:
        import_events(tmp_path / "s.duckdb", [csv])
    assert str(info.value) == f"{csv}:3: expected 3 fields, found 4"
    summary = import_events(tmp_path / "s.duckdb", [csv], skip_invalid=True)
    assert (summary.loaded, summary.skipped) == (1, 1)


def test_csv_columns_are_typed_by_every_value_not_a_sample(tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    rows = [f"Charged,20261120134501,u{i},{i % 7}" for i in range(25_000)] + [
        "Charged,20261120134501,late,abc"
    ]
    csv.write_text("event_name,ts,identity,event.Amount\n" + "\n".join(rows) + "\n")
    import_events(tmp_path / "s.duckdb", [csv])
    body = {
        "event_name": "Charged",
        "from": 20261120,
        "to": 20261120,
        "groups": {"a": {"property_type": "event_properties", "name": "Amount", "top_n": 100}},
    }
    counts = answer(tmp_path / "s.duckdb", "/1/counts/top.json", body)["a"]
    assert list(counts) == ["STR"] and counts["STR"]["abc"] == 1


def test_csv_timestamps_are_local_time_in_the_timezone(tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    csv.write_text("event_name,ts,identity\nA,2026-11-20 23:30:00,u\n")
    import_events(tmp_path / "s.duckdb", [csv], timezone="Europe/Berlin")
    engine = LocalEngine(tmp_path / "s.duckdb", read_only=True)
    try:
        row = engine.connection.execute("SELECT day, ts FROM events").fetchone()
    finally:
        engine.close()
    assert row is not None and str(row[0]) == "2026-11-20" and row[1] == 1_795_213_800  # 22:30 UTC


def test_csv_fields_over_python_csv_default_limit_load_the_line_numbered_way_too(
    tmp_path: Path,
) -> None:
    csv = tmp_path / "e.csv"
    big = "x" * 200_000
    csv.write_text(f"event_name,ts,identity,event.Note\nA,1790000000,u,{big}\nB,1790000001,v\n")
    summary = import_events(tmp_path / "s.duckdb", [csv], skip_invalid=True)
    assert (summary.loaded, summary.skipped) == (1, 1)
    assert summary.reasons == (f"{csv}:3: expected 4 fields, found 3",)
