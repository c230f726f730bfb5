"""Imports that try to make a small file cost a lot, or to slip past the rules of one format."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.errors import DataImportError
from reportkit.store import ALTER_ONE_BY_ONE
from reportkit.store.importer import (
    MAX_PROPERTIES_PER_IMPORT,
    MAX_STORE_PROPERTIES,
    MEMORY_LIMIT,
    ImportLimits,
    import_events,
)


def record(props: dict[str, object], identity: str = "u1", **more: object) -> str:
    return json.dumps(
        {
            "event_name": "E",
            "ts": 20261120134501,
            "profile": {"identity": identity, "profileData": more},
            "event_props": props,
        }
    )


def wide(path: Path, n: int, prefix: str = "p", identity: str = "u1") -> Path:
    path.write_text(record({f"{prefix}{i}": i for i in range(n)}, identity) + "\n")
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", [5000, MAX_PROPERTIES_PER_IMPORT])  # the limit counts platform
def test_a_record_with_thousands_of_properties_is_refused_in_one_line(
    tmp_path: Path, n: int
) -> None:
    f = wide(tmp_path / "w.jsonl", n)
    db = tmp_path / "s.duckdb"
    code, err = invoke("import", str(f), "--db", str(db))
    assert (code, err) == (
        2,
        f"error: {f}: {n + 1} distinct properties, more than {MAX_PROPERTIES_PER_IMPORT} per"
        " import (raise the limit with --max-properties-per-import)\n",
    )
    assert not db.exists()  # nothing half-written


@pytest.mark.timeout(60)
def test_the_same_limit_holds_for_csv_and_parquet_headers(tmp_path: Path) -> None:
    header = ["event_name", "ts", "identity"] + [f"event.p{i}" for i in range(600)]
    csv = tmp_path / "w.csv"
    csv.write_text(",".join(header) + "\n" + ",".join(["E", "20261120134501", "u"] + ["1"] * 600))
    parquet = tmp_path / "w.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{parquet}'")
    for f in (csv, parquet):
        code, err = invoke("import", str(f), "--db", str(tmp_path / "s.duckdb"))
        assert (code, err) == (
            2,
            f"error: {f}: 600 distinct properties, more than 500 per import"
            " (raise the limit with --max-properties-per-import)\n",
        )


def test_the_per_import_limit_counts_every_file_of_the_import(tmp_path: Path) -> None:
    files = [wide(tmp_path / f"{k}.jsonl", 30, prefix=f"f{k}_") for k in range(3)]
    limits = ImportLimits(max_properties_per_import=80)
    with pytest.raises(DataImportError, match=r"^91 distinct properties in 3 files, more than 80"):
        import_events(tmp_path / "s.duckdb", files, limits=limits)
    assert import_events(tmp_path / "s.duckdb", files[:2], limits=limits).loaded == 2


def test_the_store_limit_counts_what_the_store_already_holds(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    limits = ImportLimits(max_store_properties=50)
    import_events(db, [wide(tmp_path / "a.jsonl", 40, "a")], limits=limits)
    with pytest.raises(DataImportError) as caught:
        import_events(db, [wide(tmp_path / "b.jsonl", 20, "b")], limits=limits)
    assert str(caught.value) == (
        "the store would hold 60 property columns (40 now, 20 new; one per property and value"
        " type), more than 50 (raise the limit with --max-store-properties)"
    )
    # the same names again add no column, so they are welcome
    assert import_events(db, [wide(tmp_path / "c.jsonl", 40, "a", "u2")], limits=limits).loaded == 1
    assert MAX_STORE_PROPERTIES >= MAX_PROPERTIES_PER_IMPORT


def test_the_cli_defaults_are_the_librarys(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["import", "--help"])
    assert f"[default: {MAX_PROPERTIES_PER_IMPORT};" in result.output
    assert f"[default: {MAX_STORE_PROPERTIES};" in result.output
    assert f"[default: {MEMORY_LIMIT}]" in " ".join(result.output.split())


def contents(db: Path) -> dict[str, object]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        props = con.execute("SELECT scope, name, type, col FROM props ORDER BY col").fetchall()
        cols = ", ".join(
            str(c) for (c,) in con.execute("SELECT col FROM props WHERE tbl = 'events'").fetchall()
        )
        rows = con.execute(f"SELECT eid, ts, pid, {cols} FROM events ORDER BY ALL").fetchall()
        profile = con.execute("SELECT * FROM profiles ORDER BY ALL").fetchall()
        return {"props": props, "events": rows, "profiles": profile}
    finally:
        con.close()


@pytest.mark.parametrize("n", [3, ALTER_ONE_BY_ONE, ALTER_ONE_BY_ONE + 1, 120])
def test_many_new_columns_at_once_keep_the_rows_already_stored(tmp_path: Path, n: int) -> None:
    """Both ways of adding columns (ALTER one by one, or one copy of the table) keep every row
    and value already stored, and add a column per new property and type."""
    first = tmp_path / "a.jsonl"
    first.write_text(
        "\n".join(
            record({"Amount": k, "Product": f"x{k}"}, f"u{k}", City=f"c{k}") for k in range(5)
        )
    )
    second = tmp_path / "b.jsonl"
    second.write_text(
        record({f"q{i}": i for i in range(n)}, "u9", **{f"pf{i}": "v" for i in range(n)}) + "\n"
    )
    together = tmp_path / "one.duckdb"
    import_events(together, [first])
    import_events(together, [second])
    snapshot = contents(together)
    assert len(snapshot["events"]) == 6  # type: ignore[arg-type]
    assert len(snapshot["props"]) == 3 + 2 * n  # type: ignore[arg-type]
    # the old rows kept their values in their columns
    con = duckdb.connect(str(together), read_only=True)
    try:
        col = con.execute("SELECT col FROM props WHERE name = 'Amount'").fetchone()
        assert col is not None
        amounts = con.execute(f"SELECT {col[0]} FROM events ORDER BY ts, pid").fetchall()
        assert sorted(a for (a,) in amounts if a is not None) == [0, 1, 2, 3, 4]
        city = con.execute("SELECT col FROM props WHERE name = 'City'").fetchone()
        assert city is not None
        cities = con.execute(f"SELECT {city[0]} FROM profiles WHERE {city[0]} IS NOT NULL")
        assert sorted(c for (c,) in cities.fetchall()) == [f"c{k}" for k in range(5)]
    finally:
        con.close()


def test_importing_the_same_file_twice_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text(record({"Amount": 1}) + "\n")
    db = tmp_path / "s.duckdb"
    assert invoke("import", str(f), "--db", str(db))[0] == 0
    copy = tmp_path / "renamed.jsonl"
    copy.write_bytes(f.read_bytes())  # another name, the same content
    for again in (f, copy):
        code, err = invoke("import", str(again), "--db", str(db))
        assert (code, err) == (
            2,
            f"error: {again}: the store already holds this file's events (imported as {f});"
            " pass --allow-duplicate-file to load them again\n",
        )
    assert invoke("import", str(copy), "--db", str(db), "--allow-duplicate-file")[0] == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (2,)
    con.close()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_file_the_store_holds_is_named_before_its_bad_records(
    tmp_path: Path, suffix: str
) -> None:
    # the files are hashed while the first is staged: the refusal must still come first
    f = tmp_path / f"e{suffix}"
    if suffix == ".jsonl":
        f.write_text(record({"Amount": 1}) + "\n" + '{"event_name": "x"}\n')
    else:
        f.write_text("event_name,ts,identity\nCharged,20261101000000,u1\nCharged,,u2\n")
    db = tmp_path / "s.duckdb"
    assert invoke("import", str(f), "--db", str(db), "--skip-invalid")[0] == 0
    code, err = invoke("import", str(f), "--db", str(db))
    assert code == 2 and "the store already holds this file's events" in err, err


def test_one_file_given_twice_in_one_import_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text(record({"Amount": 1}) + "\n")
    db = tmp_path / "s.duckdb"
    code, err = invoke("import", str(f), str(f), "--db", str(db))
    assert code == 2 and "the store already holds this file's events" in err
    assert not db.exists()


def test_a_changed_file_is_not_a_duplicate(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text(record({"Amount": 1}) + "\n")
    db = tmp_path / "s.duckdb"
    assert invoke("import", str(f), "--db", str(db))[0] == 0
    f.write_text(record({"Amount": 1}) + "\n" + record({"Amount": 2}) + "\n")
    assert invoke("import", str(f), "--db", str(db))[0] == 0


@pytest.mark.parametrize(
    ("select", "message"),
    [
        (
            "42 AS event_name, 'u' AS identity",
            "column 'event_name' has type INTEGER: event_name must be a non-empty string",
        ),
        ("true AS event_name, 'u' AS identity", "column 'event_name' has type BOOLEAN"),
        (
            "'E' AS event_name, [1, 2] AS identity",
            "column 'identity' has type INTEGER[]: identity must be a string or an integer",
        ),
        ("'E' AS event_name, {'a': 1} AS identity", "column 'identity' has type STRUCT(a INTEGER)"),
        ("'E' AS event_name, 1.5 AS identity", "column 'identity' has type DECIMAL(2,1)"),
    ],
)
def test_parquet_follows_the_json_lines_rule_for_names_and_identities(
    tmp_path: Path, select: str, message: str
) -> None:
    f = tmp_path / "e.parquet"
    duckdb.connect().execute(f"COPY (SELECT {select}, 1790000000 AS ts) TO '{f}'")
    code, err = invoke("import", str(f), "--db", str(tmp_path / "s.duckdb"))
    assert code == 2
    assert err.startswith(f"error: {f}: {message}"), err


def test_parquet_integer_identities_load_like_json_lines_integers(tmp_path: Path) -> None:
    f = tmp_path / "e.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT 'E' AS event_name, 42 AS identity, 1790000000 AS ts) TO '{f}'"
    )
    assert invoke("import", str(f), "--db", str(tmp_path / "s.duckdb"))[0] == 0
