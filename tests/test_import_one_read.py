"""A JSON Lines file read once, behind a header made from a sample of it (`jsonlheader`), writes
the store the line-numbered way writes; and whatever the sample missed (a key, a type, a date, a
bad record, a key of the header's own) sends the file the two-read way, with the same store or
the same located error as before."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reportkit.errors import DataImportError
from reportkit.store import jsonlheader, jsonlines
from reportkit.store.importer import import_events
from tests.test_import_fast import BAD, EVERY_VALUE, ONE_TYPE_EACH, store_content, uniform, write


def read_once(file: Path) -> bool:
    """Whether the file is staged in one read, behind its header."""
    con = duckdb.connect()
    try:
        return jsonlines._stage_headed(con, file, "_stage", "UTC", 500) is not None
    finally:
        con.close()


def same_as_line_numbered(tmp_path: Path, file: Path, records: int) -> dict[str, Any]:
    """Import `file`, and the same lines after a bad one (which the line-numbered way reads,
    skipping it); both stores must be equal. Returns the first store's content."""
    once = import_events(tmp_path / "once.duckdb", [file])
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(BAD[0] + b"\n" + file.read_bytes())
    exact = import_events(tmp_path / "exact.duckdb", [mixed], skip_invalid=True)
    assert (once.loaded, exact.loaded, exact.skipped) == (records, records, 1)
    content = store_content(tmp_path / "once.duckdb")
    assert content == store_content(tmp_path / "exact.duckdb")
    return content


# Strings only, but strings that a number, a boolean or an object would read as when read as
# text: these keys are read as JSON, the others as text.
LOOK_ALIKES = [
    {
        "event_name": "Charged",
        "ts": 1790000000 + i,
        "profile": {"identity": f"{i}", "platform": "-", "profileData": {"Zip": "10115"}},
        "event_props": {"Flag": ["true", "false"][i % 2], "Json": "{}", "List": "[1]", "Ok": "x"},
    }
    for i in range(4)
]


@pytest.mark.parametrize(
    "records",
    [EVERY_VALUE, uniform(EVERY_VALUE, text_ids=True), ONE_TYPE_EACH, LOOK_ALIKES],
    ids=["every-value", "text-ids", "one-type-each", "look-alikes"],
)
def test_a_clean_file_is_read_once_into_the_store_the_line_numbered_way_writes(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    file = write(tmp_path / "e.jsonl", records)
    assert read_once(file)
    content = same_as_line_numbered(tmp_path, file, len(records))
    assert len(content["events"][1]) == len(records)


def event(i: int, **props: Any) -> dict[str, Any]:
    return {
        "event_name": "Charged",
        "ts": 1790000000 + i,
        "profile": {"identity": f"u{i % 97}", "platform": "iOS", "profileData": {"Age": 30}},
        "event_props": {"Amount": i * 0.5, "Product": f"P{i % 13:04d}", **props},
        "session_props": {"utm_source": "ads"},
    }


ORDINARY = [json.dumps(event(i)).encode() + b"\n" for i in range(20_000)]


def big_file_with(
    tmp_path: Path, odd: dict[str, Any] | bytes, ordinary: list[bytes] = ORDINARY
) -> tuple[Path, int]:
    """About 6 MB of ordinary records with `odd` where the sample does not look (asserted: the
    premise of every test below). Returns the file and the odd record's line number."""
    line = odd if isinstance(odd, bytes) else json.dumps(odd).encode()
    sample = tmp_path / "sample.jsonl"
    file = tmp_path / "big.jsonl"
    for at in range(12_000, 20_000, 97):  # a line no sample window covers
        file.write_bytes(b"".join([*ordinary[:at], line + b"\n", *ordinary[at:]]))
        jsonlheader.write_sample(file, sample)
        if line not in sample.read_bytes():
            return file, at + 1
    raise AssertionError("every line is in the sample")


@pytest.mark.parametrize(
    ("odd", "once"),
    [
        (event(1, **{"Coupon": "SAVE10"}), False),  # a key first seen late
        ({**event(2), "profile": {"identity": "u2", "profileData": {"Tier": "Gold"}}}, False),
        (event(3, Amount="free"), False),  # a number key with a string
        (event(4, Amount=True), False),  # ... with a boolean (a typed reader makes it 1.0)
        (event(5, Product=12), False),  # a text key with a number (a typed reader: "12")
        (event(5, Product=True), False),  # ... with a boolean (a typed reader: "true")
        (event(5, Product="true"), False),  # ... with text that a boolean reads as
        (event(6, Product="$D_1790000000"), True),  # a text key with a date: still text
        ({**event(8), "source": "import"}, False),  # a top-level key the stage does not use
        ({**event(11), "ts": "1790000011"}, False),  # ts as text where it was a number
        (event(9, **{jsonlheader.HOLE: 1}), False),  # a key of the header's own
        ({**event(10), jsonlheader.MARK: 1}, False),  # the header's mark
    ],
    ids=[
        "late-key",
        "late-profile-key",
        "number-then-string",
        "number-then-boolean",
        "text-then-number",
        "text-then-boolean",
        "text-then-true-text",
        "text-then-date",
        "top-level-extra",
        "ts-text",
        "header-hole-key",
        "header-mark",
    ],
)
def test_what_the_sample_missed_loads_as_the_line_numbered_way_loads_it(
    tmp_path: Path, odd: dict[str, Any], once: bool
) -> None:
    file, _ = big_file_with(tmp_path, odd)
    assert read_once(file) is once
    content = same_as_line_numbered(tmp_path, file, 20_001)
    assert len(content["events"][1]) == 20_001


@pytest.mark.parametrize(
    ("odd", "reason"),
    [
        ({**event(1), "event_name": 7}, "event_name must be a non-empty string"),
        # a reader typing ts as an integer would round it
        ({**event(2), "ts": 1790000002.5}, "bad ts 1790000002.5 (expected YYYYMMDDHHMMSS"),
        (b'{"event_name": "Broken", "ts": 1790000000, "profile": ', "not valid JSON"),
    ],
    ids=["event-name-number", "fractional-ts", "broken-line"],
)
def test_a_late_bad_record_is_named_by_its_line(tmp_path: Path, odd: Any, reason: str) -> None:
    file, line = big_file_with(tmp_path, odd)
    with pytest.raises(DataImportError) as caught:
        import_events(tmp_path / "s.duckdb", [file])
    assert str(caught.value).startswith(f"{file}:{line}: {reason}")


def test_a_file_with_a_byte_order_mark_is_read_once(tmp_path: Path) -> None:
    file = write(tmp_path / "e.jsonl", ONE_TYPE_EACH)
    file.write_bytes(b"\xef\xbb\xbf" + file.read_bytes())
    assert read_once(file)
    assert import_events(tmp_path / "s.duckdb", [file]).loaded == len(ONE_TYPE_EACH)


def test_the_headed_copy_is_removed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    file = write(tmp_path / "data" / "e.jsonl", ONE_TYPE_EACH)
    (tmp_path / "store").mkdir()
    import_events(tmp_path / "store" / "s.duckdb", [file])
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["s.duckdb"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["e.jsonl"]


def test_a_late_key_is_loaded_when_records_hold_keys_the_stage_does_not_use(
    tmp_path: Path,
) -> None:
    """The reader checks for unknown keys only while every top-level column is read: a column
    the stage has no use for must still be read."""
    ordinary = [json.dumps({**event(i), "source": "app"}).encode() + b"\n" for i in range(20_000)]
    file, _ = big_file_with(tmp_path, event(1, Coupon="SAVE10"), ordinary)
    assert not read_once(file)
    content = same_as_line_numbered(tmp_path, file, 20_001)
    assert ("event_properties", "Coupon", "STR") in {tuple(r[:3]) for r in content["props"][1]}


def test_a_utc_stores_day_and_hour_by_arithmetic_are_the_time_zone_librarys() -> None:
    """`_local_day_hour` computes a UTC store's local day and hour by arithmetic; the time zone
    library's answer (as for any other zone) is the reference, over years 1000 to 2286."""
    from reportkit.store.importer import _local_day_hour

    fast, library = _local_day_hour("ts", "UTC"), _local_day_hour("ts", "Etc/UTC")
    assert fast != library  # two ways, really
    con = duckdb.connect()
    try:
        row = con.execute(
            f"""WITH t AS (
                SELECT (random() * 40000000000 - 30000000000)::BIGINT AS ts FROM range(200000)
                UNION ALL SELECT unnest([0, -1, 86399, 86400, -86400, -86401, 9999999999])
            )
            SELECT count(*), count(*) FILTER (WHERE ({fast[0]}) IS DISTINCT FROM ({library[0]})
                                              OR ({fast[1]}) IS DISTINCT FROM ({library[1]}))
            FROM t"""
        ).fetchone()
    finally:
        con.close()
    assert row == (200_007, 0)


def test_epoch_shortcuts_give_the_general_ways_answers() -> None:
    """`epoch_sql` skips the time zone library in UTC, and the digit check for an integer's text;
    the general SQL (the library's Etc/UTC, the check) is the reference, over texts of every
    shape a ts can have: YYYYMMDDHHMMSS (valid or not), epoch seconds, negatives, out of range."""
    from reportkit.store.stagetables import epoch_sql

    general = epoch_sql("x", "Etc/UTC")
    shortcuts = [epoch_sql("x", "UTC"), epoch_sql("x", "UTC", integer=True)]
    assert len({general, *shortcuts}) == 3  # three ways, really
    differ = ", ".join(
        f"count(*) FILTER (WHERE ({s}) IS DISTINCT FROM ({general}))" for s in shortcuts
    )
    con = duckdb.connect()
    try:
        row = con.execute(
            f"""WITH n AS (
                SELECT (random() * 100000000000000)::BIGINT AS v FROM range(100000)
                UNION ALL SELECT strftime(TIMESTAMP '1000-01-01' + to_seconds(
                    (random() * 280000000000)::BIGINT), '%Y%m%d%H%M%S')::BIGINT FROM range(100000)
                UNION ALL SELECT (random() * 20000000000 - 10000000000)::BIGINT FROM range(50000)
                UNION ALL SELECT unnest([0, 9999999999, 10000000000, 10000101000000,
                    99991231235959, 99991231235960, 20260230120000, 20261301000000,
                    20261101240000, 20261101236000, 20261101235960, -1, -20261101000000])
            ), t AS (SELECT CAST(v AS VARCHAR) AS x FROM n UNION ALL SELECT '-0')
            SELECT count(*), count(({general})), {differ} FROM t"""
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    total, valid, *different = row
    assert total == 250_014 and valid > 100_000  # half the texts are valid: a fair comparison
    assert different == [0, 0]


def test_a_copy_an_import_killed_outright_left_is_removed_by_the_next(tmp_path: Path) -> None:
    """A folder named for a process that is not running goes; one of a running process (an
    import beside this one) stays."""
    file = write(tmp_path / "e.jsonl", ONE_TYPE_EACH)
    store = tmp_path / "store"
    store.mkdir()
    dead = store / "reportkit-import-999999999-abc"  # above any pid_max: never running
    alive = store / f"reportkit-import-{os.getpid()}-def"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "headed.jsonl").write_text("{}\n")
    import_events(store / "s.duckdb", [file])
    assert sorted(p.name for p in store.iterdir()) == [alive.name, "s.duckdb"]
