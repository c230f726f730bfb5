"""The fast way of reading JSON Lines (DuckDB's reader, every property a struct field typed by
its JSON text) writes the store the line-numbered way writes: the same tables, columns, types,
rows and ids, on a file with every kind of value. A file with bad records goes the line-numbered
way, so importing it with --skip-invalid is the reference for the same file without them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reportkit.store import jsonlines
from reportkit.store.importer import ImportLimits, import_events

TABLES = ("meta", "event_names", "identities", "props", "events", "profile_history", "profiles")


def record(name: str, ts: Any, identity: Any, **parts: Any) -> dict[str, Any]:
    return {"event_name": name, "ts": ts, "profile": {"identity": identity}, **parts}


# Every value type, in one key or mixed in a key, in every container.
EVERY_VALUE = [
    {
        "event_name": "Charged",
        "ts": 20261120134501,
        "profile": {
            "identity": "u1",
            "objectId": "__o1",
            "platform": "Android",
            "email": {"nested": ["ignored", "not a container"]},
            "profileData": {"Customer Type": "Gold", "Age": 31, "Member Since": "$D_1700000000"},
            "demographics": {"City": "Köln"},
            "reachability": {"MSG-push": True},
        },
        "event_props": {
            "Amount": 250,
            "Price": 19.99,
            "Product": 'Shoes "Air" \\ 7',
            "Paid": "$D_1790000000",
            "Gift": True,
            "Note": None,
            "Mixed": "seven",
            "Big": 18446744073709551615,
            "Huge": 123456789012345678901234567890,
            "Tiny": 5e-324,
            "Text": "ünï\u2028cødé 👍🏽 \t tab",
            "Empty": "",
            "Almost date": "$D_x",
            'say "hi" it\'s': "quotes in a key",
            "a.b[1]": 1,
            "select": "a reserved word",
        },
        "session_props": {"utm_source": "google"},
    },
    {
        "event_name": "Charged",
        "ts": "20261120150000",
        "profile": {"identity": 42, "platform": None, "profileData": {"Age": "thirty"}},
        "event_props": {"Amount": 40.5, "Mixed": 7, "Gift": False, "Paid": "$D_-86400"},
        "session_props": {},
    },
    {
        "event_name": "App Launched",
        "ts": 1790000000,
        "profile": {"identity": "", "objectId": "__o3", "geo_fields": {"Country": "DE"}},
        "event_props": {"Mixed": False, "Price": -0.0},
    },
    {
        "event_name": "App Launched",
        "ts": 20260329023000,  # a local time the clocks skip in Europe/Berlin
        "profile": {"identity": -9223372036854775808, "profileData": None},
        "event_props": None,
        "session_props": None,
    },
    {"event_name": "Searched", "ts": 20261231235959, "profile": {"objectId": 7}},
]
BAD = [
    b"{not json",
    json.dumps(record("Charged", 20261120134501, "u1", event_props={"x": {"y": 1}})).encode(),
    json.dumps(record("Charged", "yesterday", "u1")).encode(),
    json.dumps(record("", 20261120134501, "u1")).encode(),
    json.dumps(record("Charged", 20261120134501, 1.5)).encode(),
    json.dumps(record("Charged", 20261120134501, "u1", event_props={"n": 1e400})).encode(),
]


def uniform(records: list[dict[str, Any]], text_ids: bool) -> list[dict[str, Any]]:
    """The records with identities of one JSON type (text, or integers) and ts of the other:
    the reader takes such top-level fields typed, not as JSON text."""
    out = json.loads(json.dumps(records))
    for i, r in enumerate(out):
        if "identity" in r["profile"]:
            r["profile"]["identity"] = f"u{i}" if text_ids else i + 1
        r["ts"] = int(r["ts"]) if text_ids else str(r["ts"])
    return out


def write(path: Path, lines: list[Any]) -> Path:
    path.write_bytes(
        b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)
    )
    return path


def store_content(db: Path) -> dict[str, Any]:
    """Every table's columns with their types and its rows (the random store_id left out)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: (
                con.execute(f"DESCRIBE {t}").fetchall(),
                con.execute(
                    f"SELECT * FROM {t} {'WHERE key <> $k' if t == 'meta' else ''} ORDER BY ALL",
                    {"k": "store_id"} if t == "meta" else None,
                ).fetchall(),
            )
            for t in TABLES
        }
    finally:
        con.close()


def read_fast(file: Path) -> bool:
    """Whether the file goes the fast way, every property a struct field."""
    con = duckdb.connect()
    try:
        try:
            fields = jsonlines._discover_file(con, file).fields
        except duckdb.Error:
            return False
        return fields and jsonlines._stage_fast(con, file, "_stage", "UTC", 500) is not None
    finally:
        con.close()


# Every field of one JSON type: nothing is read as JSON text.
ONE_TYPE_EACH = [
    {
        "event_name": name,
        "ts": 20261120134501 + i,
        "profile": {
            "identity": f"u{i}",
            "objectId": f"__o{i}",
            "platform": "iOS",
            "profileData": {"Age": 30 + i, "Gold": i % 2 == 0},
        },
        "event_props": {"Amount": 2.5 * i, "Paid": f"$D_{1790000000 + i}", "Note": f"n{i}"},
        "session_props": {"utm_source": None if i == 1 else "ads"},
    }
    for i, name in enumerate(["Charged", "Charged", "Viewed"])
]


@pytest.mark.parametrize(
    ("timezone", "records"),
    [
        ("UTC", EVERY_VALUE),
        ("Europe/Berlin", EVERY_VALUE),
        ("Europe/Berlin", uniform(EVERY_VALUE, text_ids=True)),
        ("UTC", uniform(EVERY_VALUE, text_ids=False)),
        ("UTC", ONE_TYPE_EACH),
    ],
    ids=["mixed-utc", "mixed-berlin", "text-ids", "integer-ids", "one-type-each"],
)
def test_the_fast_way_writes_the_store_the_line_numbered_way_writes(
    tmp_path: Path, timezone: str, records: list[dict[str, Any]]
) -> None:
    good = write(tmp_path / "good.jsonl", records)
    assert read_fast(good)
    fast = import_events(tmp_path / "fast.duckdb", [good], timezone=timezone)

    # The same records among bad ones: the whole file goes the line-numbered way.
    mixed = write(tmp_path / "mixed.jsonl", [BAD[0], *records[:2], *BAD[1:], *records[2:]])
    assert not read_fast(mixed)
    exact = import_events(tmp_path / "exact.duckdb", [mixed], timezone=timezone, skip_invalid=True)

    assert (fast.loaded, exact.loaded, exact.skipped) == (len(records), len(records), 6)
    assert store_content(tmp_path / "fast.duckdb") == store_content(tmp_path / "exact.duckdb")
    # and the store holds what the file says, not two equal empty stores
    content = store_content(tmp_path / "fast.duckdb")
    assert len(content["events"][1]) == len(records)
    if records is ONE_TYPE_EACH:
        return
    types = {(scope, name, typ) for scope, name, typ, _, _ in content["props"][1]}
    assert {
        ("event_properties", "Mixed", "STR"),
        ("event_properties", "Mixed", "NUMBER"),
        ("event_properties", "Paid", "DATE"),
        ("event_properties", "Gift", "STR"),
        ("demographics", "Age", "NUMBER"),
        ("demographics", "Age", "STR"),
        ("demographics", "City", "STR"),
        ("reachability", "MSG-push", "STR"),
        ("technographics", "platform", "STR"),
    } <= types
    identities = {row[1] for row in content["identities"][1]}
    if records is EVERY_VALUE:
        assert identities == {"u1", "42", "__o3", "-9223372036854775808", "7"}


@pytest.mark.parametrize(
    "props",
    [
        [{"amount": 1}, {"Amount": "x"}],  # keys that differ only in case
        [{"a": 1}, {"": 2}],  # an empty key
    ],
    ids=["case", "empty-key"],
)
def test_keys_a_struct_cannot_hold_load_as_the_line_numbered_way_does(
    tmp_path: Path, props: list[dict[str, Any]]
) -> None:
    lines = [record("Charged", 20261120134501, f"u{i}", event_props=p) for i, p in enumerate(props)]
    good = write(tmp_path / "good.jsonl", lines)
    mixed = write(tmp_path / "mixed.jsonl", [*lines, BAD[0]])
    import_events(tmp_path / "fast.duckdb", [good])
    import_events(tmp_path / "exact.duckdb", [mixed], skip_invalid=True)
    assert store_content(tmp_path / "fast.duckdb") == store_content(tmp_path / "exact.duckdb")
    assert len(store_content(tmp_path / "fast.duckdb")["props"][1]) == 2  # one column a key


def test_an_import_in_little_memory_loads_the_same_and_leaves_no_temp_folder(
    tmp_path: Path,
) -> None:
    lines = [
        record("Charged", 1790000000 + i, f"u{i % 500}", event_props={"n": i, "s": f"v{i}" * 9})
        for i in range(60_000)
    ]
    file = write(tmp_path / "e.jsonl", lines)
    roomy = import_events(tmp_path / "roomy.duckdb", [file])
    small = import_events(
        tmp_path / "small.duckdb", [file], limits=ImportLimits(memory_limit="40MB")
    )
    assert roomy.loaded == small.loaded == len(lines)
    assert store_content(tmp_path / "small.duckdb") == store_content(tmp_path / "roomy.duckdb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.jsonl", "roomy.duckdb", "small.duckdb"]
