"""A profile field's value is its latest; of several with one ts, the store picks one that does
not depend on the order of the records, files or imports. The file is read in parallel and in
no order, so before this rule the same file gave other profiles run after run."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reportkit.store import jsonlheader
from reportkit.store.importer import import_events
from tests.test_import_fast import BAD
from tests.test_import_one_read import read_once

RECORDS, USERS = 250_000, 20_000  # two row groups and more: several threads read and write


def record(i: int, **props: Any) -> dict[str, Any]:
    """Every user's records: the first at one ts, all the others at a later one, each with a city
    and a visit count of its own."""
    u = i % USERS
    return {
        "event_name": "Viewed",
        "ts": 1790000000 + u % 50 + (i >= USERS),
        "profile": {"identity": f"u{u}", "profileData": {"City": f"c{i}", "Visits": i}},
        "event_props": {"Page": f"p{i % 7}", **props},
    }


LINES = [json.dumps(record(i), separators=(",", ":")).encode() + b"\n" for i in range(RECORDS)]
# each user's values at the latest ts: the profile must hold one of them
LATEST: dict[str, tuple[set[str], set[float]]] = {}
for _i in range(USERS, RECORDS):
    cities, visits = LATEST.setdefault(f"u{_i % USERS}", (set(), set()))
    cities.add(f"c{_i}")
    visits.add(float(_i))


def profiles(db: Path) -> dict[str, tuple[str, float]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = dict(con.execute("SELECT name, col FROM props WHERE tbl = 'profiles'").fetchall())
        rows = con.execute(
            f"SELECT identity, {cols['City']}, {cols['Visits']}"
            " FROM profiles JOIN identities USING (pid)"
        ).fetchall()
    finally:
        con.close()
    return {str(i): (str(city), float(visits)) for i, city, visits in rows if i != "late"}


def with_late_key(tmp_path: Path) -> Path:
    """LINES with a record whose key the sample misses (the file goes the two-read way); the
    record is a user of its own."""
    odd = json.dumps({**record(0, Coupon="SAVE10"), "profile": {"identity": "late"}}).encode()
    file, sample = tmp_path / "late.jsonl", tmp_path / "sample.jsonl"
    for at in range(100_000, 200_000, 997):
        file.write_bytes(b"".join([*LINES[:at], odd + b"\n", *LINES[at:]]))
        jsonlheader.write_sample(file, sample)
        if odd not in sample.read_bytes():
            return file
    raise AssertionError("every line is in the sample")


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, float]]:
    """The profiles of LINES in another order."""
    lines = list(LINES)
    random.Random(7).shuffle(lines)
    folder = tmp_path_factory.mktemp("shuffled")
    (folder / "e.jsonl").write_bytes(b"".join(lines))
    import_events(folder / "s.duckdb", [folder / "e.jsonl"])
    return profiles(folder / "s.duckdb")


@pytest.mark.parametrize("way", ["once", "twice", "line by line"])
def test_a_tie_in_ts_gives_one_profile_whatever_the_order_and_the_way(
    tmp_path: Path, way: str, shuffled: dict[str, tuple[str, float]]
) -> None:
    file = tmp_path / "ties.jsonl"
    file.write_bytes(b"".join(LINES))
    skip = way == "line by line"
    if way == "twice":
        file = with_late_key(tmp_path)
        assert not read_once(file)
    elif skip:
        file.write_bytes(BAD[0] + b"\n" + file.read_bytes())  # the line-numbered way reads it
    else:
        assert read_once(file)
    for run in ("a", "b"):
        db = tmp_path / f"{run}.duckdb"
        import_events(db, [file], skip_invalid=skip)
        found = profiles(db)
        assert found == shuffled
    assert found.keys() == LATEST.keys()
    for user, (city, visits) in found.items():
        assert city in LATEST[user][0] and visits in LATEST[user][1]


def city(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        col = con.execute("SELECT col FROM props WHERE name = 'City'").fetchone()
        assert col is not None
        return con.execute(f"SELECT {col[0]} FROM profiles").fetchall()
    finally:
        con.close()


def test_imports_in_either_order_give_one_profile_and_a_later_ts_wins(tmp_path: Path) -> None:
    def event(ts: int, city: str) -> str:
        profile = {"identity": "u0", "geo_fields": {"City": city}}
        return json.dumps({**record(0), "ts": 1790000000 + ts, "profile": profile}) + "\n"

    first, second, later = (tmp_path / f"{n}.jsonl" for n in ("first", "second", "later"))
    first.write_text(event(5, "Pune") + event(1, "Goa"))
    second.write_text(event(5, "Mumbai"))
    later.write_text(event(6, "Goa"))
    for db, files in (("ab", [first, second]), ("ba", [second, first])):
        for file in files:
            import_events(tmp_path / db, [file])
    assert city(tmp_path / "ab") == city(tmp_path / "ba")
    assert city(tmp_path / "ab") in ([("Pune",)], [("Mumbai",)])
    import_events(tmp_path / "ab", [later])
    assert city(tmp_path / "ab") == [("Goa",)]
