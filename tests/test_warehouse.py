"""The warehouse source and `reportkit export`: the demo store exported to Parquet and answered
by the local engine, DuckDB over Parquet, a DuckDB file through an ibis URL and a real local
SparkSession must give the same results.json; bad URLs, missing tables or columns and an engine
that is down get one line and their exit code."""

from __future__ import annotations

import gc
import json
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from reportkit.app import RunOptions, run_paths
from reportkit.cli import cli
from reportkit.sources.local import LocalEngine
from reportkit.sources.warehouse import (
    WarehouseSource,
    open_warehouse,
    parse_warehouse,
    spark_session,
)
from reportkit.sources.warehouse_rules import property_of
from reportkit.store.export import export_store
from reportkit.store.importer import import_events

REPORTS = Path(__file__).resolve().parent.parent / "reports"
AS_OF_DAYS = (date(2026, 11, 30), date(2026, 10, 7), date(2026, 8, 31))
NOW = "2026-12-01T09:00:00+00:00"


@pytest.fixture(scope="session")
def exported(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("warehouse")
    export_store(demo_store, folder)
    return folder


@pytest.fixture(scope="session")
def duckdb_file(exported: Path) -> Path:
    path = exported.parent / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{exported}/events/*.parquet')")
    con.close()
    return path


# PySpark's Arrow fetch leaves its local sockets to the garbage collector: the Spark tests
# collect them before they end and ignore those warnings, so that no other test is blamed.
@pytest.fixture
def spark(spark_session_once: Any) -> Iterator[Any]:
    yield spark_session_once
    gc.collect()


@pytest.fixture(scope="session")
def spark_session_once() -> Iterator[Any]:
    """One local SparkSession for the whole test session (Java from the distribution)."""
    # small-data settings: one shuffle partition, no adaptive planning, no code generation
    session = spark_session(
        **{
            "spark.sql.shuffle.partitions": "1",
            "spark.default.parallelism": "1",
            "spark.sql.adaptive.enabled": "false",
            "spark.sql.codegen.wholeStage": "false",
        }
    )
    yield session
    # not stopped here: this teardown would run inside whichever test came last, outside the
    # Spark tests' warning filters; the JVM ends with the test process


def _results(out: Path) -> dict[str, Any]:
    """Every results.json under `out`, less what names the source or the moment."""
    found = {}
    for path in sorted(out.rglob("results.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in ("source", "generated_at"):
            assert data["report"].pop(key)
        found[str(path.relative_to(out))] = json.dumps(data, sort_keys=True)
    return found


def _run(
    source: str, out: Path, state: Path, days: tuple[date, ...] = AS_OF_DAYS
) -> dict[str, Any]:
    from datetime import datetime

    found: dict[str, Any] = {}
    for day in days:
        options = RunOptions(
            as_of=day,
            source=source,
            formats=("md",),
            out=out / day.isoformat(),
            state_dir=state,
            use_cache=False,
        )
        outcomes = run_paths([REPORTS], options, now=datetime.fromisoformat(NOW))
        assert [o.report.id for o in outcomes if not o.ok] == []
        found.update({f"{day}/{k}": v for k, v in _results(out / day.isoformat()).items()})
    return found


@pytest.fixture(scope="session")
def local_results(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("local-run")
    found = _run(f"local:{demo_store}", tmp / "out", tmp / "state")
    assert len(found) == 2 * len(AS_OF_DAYS)
    return found


# -- export -------------------------------------------------------------------------------------


def test_export_writes_the_flat_layout(exported: Path, demo_store: Path) -> None:
    folder = exported / "events"
    assert sorted(p.name for p in folder.iterdir()) == ["_reportkit.json", "part-00000.parquet"]
    assert json.loads((folder / "_reportkit.json").read_text())["timezone"] == "UTC"
    con = duckdb.connect()
    types = dict(
        con.execute(f"DESCRIBE SELECT * FROM '{folder}/part-00000.parquet'").fetchall()[i][:2]
        for i in range(3)
    )
    assert types == {"event_name": "VARCHAR", "ts": "BIGINT", "identity": "VARCHAR"}
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{folder}/*.parquet'").fetchall()]
    assert {"event.Amount", "profile.Customer Type", "session.utm_source", "profile.City"} <= set(
        columns
    )
    store = duckdb.connect(str(demo_store), read_only=True)
    (events,) = store.execute("SELECT count(*) FROM events").fetchone() or (0,)
    store.close()
    (written,) = con.execute(f"SELECT count(*) FROM '{folder}/*.parquet'").fetchone() or (0,)
    assert written == events > 0


def test_an_export_imported_again_answers_as_the_store(
    exported: Path, demo_store: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "again.duckdb"
    import_events(copy, [exported / "events" / "part-00000.parquet"])
    body = {
        "event_name": "Charged",
        "from": 20261101,
        "to": 20261129,
        "groups": {
            "a": {"property_type": "event_properties", "name": "Amount"},
            "c": {"property_type": "profile_fields", "name": "Customer Type"},
            "o": {"property_type": "technographics", "name": "OS"},
        },
    }
    original, again = LocalEngine(demo_store, read_only=True), LocalEngine(copy, read_only=True)
    try:
        first = original.answer("/1/counts/top.json", body)
        assert first[0] == 200 and first[1]["a"]["NUMBER"]
        assert again.answer("/1/counts/top.json", body) == first
    finally:
        original.close()
        again.close()


def test_export_cli_and_its_errors(demo_store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--db", str(demo_store), "--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote ") and "(timezone UTC)" in result.output
    missing = CliRunner().invoke(
        cli, ["export", "--db", str(tmp_path / "nope.duckdb"), "--to", str(tmp_path)]
    )
    assert missing.exit_code == 2
    assert missing.output.strip().splitlines() == [
        f"error: {tmp_path / 'nope.duckdb'}: no such DuckDB store"
    ]


# -- the same answers on every engine -----------------------------------------------------------


def test_parquet_gives_the_local_results(
    exported: Path, local_results: dict[str, Any], tmp_path: Path
) -> None:
    assert _run(f"warehouse:parquet:{exported}", tmp_path / "o", tmp_path / "s") == local_results


def test_a_duckdb_url_gives_the_local_results(
    duckdb_file: Path, local_results: dict[str, Any], tmp_path: Path
) -> None:
    found = _run(f"warehouse:duckdb://{duckdb_file}?threads=2", tmp_path / "o", tmp_path / "s")
    assert found == local_results


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.timeout(900)  # a generous bound for a loaded machine; about a minute on a quiet one
def test_spark_gives_the_local_results(
    spark: Any, exported: Path, local_results: dict[str, Any], tmp_path: Path
) -> None:
    # one as-of day: a Spark query costs seconds where DuckDB's cost milliseconds
    day = AS_OF_DAYS[0]
    found = _run(f"warehouse:spark:{exported}", tmp_path / "o", tmp_path / "s", (day,))
    assert found == {k: v for k, v in local_results.items() if k.startswith(f"{day}/")}
    assert len(found) == 2


EXTRA = [
    (  # every trend kind, unique counts, a window not starting on a period boundary
        "/1/counts/trends.json",
        {
            "event_name": "Charged",
            "from": 20260810,
            "to": 20261129,
            "unique": True,
            "groups": {"m": {"trend_type": "monthly"}, "w": {"trend_type": "weekly"}},
        },
    ),
    (  # time of day, a NUMBER profile field, ENUM, a string column with dates in it
        "/1/counts/top.json",
        {
            "event_name": "Charged",
            "from": 20261101,
            "to": 20261129,
            "groups": {
                "t": {"property_type": "session_properties", "name": "time_of_day"},
                "a": {"property_type": "demographics", "name": "Age", "order": "asc"},
                "o": {"property_type": "technographics", "name": "OS", "top_n": 2},
                "d": {"property_type": "event_properties", "name": "Delivery Date"},
            },
        },
    ),
    ("/1/counts/profiles.json", {"event_name": "Added To Cart", "from": 20261001, "to": 20261031}),
    (  # where: filters of every kind, event and profile, with the rules of sources/filters.py
        "/1/counts/top.json",
        {
            "event_name": "Charged",
            "from": 20261001,
            "to": 20261129,
            "event_properties": [
                {"name": "Product", "operator": "contains", "value": ["Sh", "Lap"]},
                {"name": "Amount", "operator": "not_equals", "value": [80, 15]},
            ],
            "session_properties": [{"name": "utm_medium", "operator": "exists"}],
            "common_profile_properties": [
                {"name": "Gender", "operator": "does_not_exist"},
                {"name": "Age", "operator": "less_than_equals", "value": 45},
            ],
            "groups": {"c": {"property_type": "geo_fields", "name": "City"}},
        },
    ),
    (
        "/1/counts/trends.json",
        {
            "event_name": "Charged",
            "from": 20261001,
            "to": 20261129,
            "unique": True,
            "event_properties": [{"name": "Product", "operator": "does_not_contain", "value": "a"}],
            "common_profile_properties": [
                {"name": "Customer Type", "operator": "not_equals", "value": "Gold"}
            ],
            "groups": {"w": {"trend_type": "weekly"}},
        },
    ),
    (  # a filter the data cannot answer is refused with the local engine's words
        "/1/counts/events.json",
        {
            "event_name": "Charged",
            "from": 20261001,
            "to": 20261129,
            "event_properties": [{"name": "Product", "operator": "greater_than", "value": 3}],
        },
    ),
    ("/1/counts/events.json", {"event_name": "No Such Event", "from": 20261001, "to": 20261031}),
    (
        "/1/counts/top.json",
        {
            "event_name": "Charged",
            "from": 20261101,
            "to": 20261129,
            "groups": {"x": {"property_type": "event_properties", "name": "No Such Property"}},
        },
    ),
]


def _answers(demo_store: Path, source: WarehouseSource) -> None:
    from reportkit.sources.local import Refused

    engine = LocalEngine(demo_store, read_only=True)
    try:
        for endpoint, body in EXTRA:
            expected = engine.answer(endpoint, body)
            try:
                found: tuple[int, Any] = (200, source.answer(endpoint, body))
            except Refused as exc:
                found = (exc.code, {"status": "fail", "error": exc.error, "code": exc.code})
            assert found == expected, (endpoint, body)
    finally:
        engine.close()


def test_the_rules_beyond_reports_agree_on_duckdb(exported: Path, demo_store: Path) -> None:
    source = open_warehouse(f"parquet:{exported}")
    try:
        _answers(demo_store, source)
    finally:
        source.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_rules_beyond_reports_agree_on_spark(
    spark: Any, exported: Path, demo_store: Path
) -> None:
    source = open_warehouse(f"spark:{exported}")
    _answers(demo_store, source)


def test_a_timezone_shifts_days_as_the_local_engine_does(tmp_path: Path) -> None:
    """A store in Europe/Berlin across the October DST change: the offset CASE must put each
    event on the local day (and hour) the importer gave it."""
    rows = tmp_path / "events.csv"
    lines = ["event_name,ts,identity,event.Amount"]
    start = 1792015200  # 2026-10-22T22:00:00Z
    for i in range(400):
        lines.append(f"Charged,{start + i * 1789},u{i % 37},{i % 13}")
    rows.write_text("\n".join(lines) + "\n")
    store = tmp_path / "berlin.duckdb"
    import_events(store, [rows], timezone="Europe/Berlin")
    export_store(store, tmp_path / "wh")
    source = open_warehouse(f"parquet:{tmp_path / 'wh'}")
    engine = LocalEngine(store, read_only=True)
    try:
        for endpoint, body in [
            (
                "/1/counts/trends.json",
                {
                    "event_name": "Charged",
                    "from": 20261023,
                    "to": 20261030,
                    "groups": {"d": {"trend_type": "daily"}},
                    "sum_event_prop": "Amount",
                },
            ),
            (
                "/1/counts/top.json",
                {
                    "event_name": "Charged",
                    "from": 20261025,
                    "to": 20261025,
                    "groups": {"h": {"property_type": "session_properties", "name": "time_of_day"}},
                },
            ),
        ]:
            status, expected = engine.answer(endpoint, body)
            assert status == 200
            assert source.answer(endpoint, body) == expected
    finally:
        engine.close()
        source.close()


# -- URLs and failures --------------------------------------------------------------------------


def test_flat_column_names_with_dots_or_double_underscores() -> None:
    assert property_of("event.Amount") == ("event_properties", "Amount")
    assert property_of("event__Amount") == ("event_properties", "Amount")
    assert property_of("profile.City") == ("geo_fields", "City")
    assert property_of("profile__Customer Type") == ("profile_fields", "Customer Type")
    assert property_of("geo_fields.City") == ("geo_fields", "City")
    assert property_of("platform") == ("technographics", "platform")
    assert property_of("loaded_at") is None


def test_urls_are_parsed_with_our_parameters_taken_out() -> None:
    target = parse_warehouse("clickhouse://reader@db.example:8123/analytics?table=ev&secure=1")
    assert (target.engine, target.table, target.threads) == ("ibis", "ev", 4)
    assert target.location == "clickhouse://reader@db.example:8123/analytics?secure=1"
    assert target.display == "warehouse:clickhouse://reader@db.example:8123/analytics"
    spark = parse_warehouse("spark:/data/wh?table=clicks&tz=Europe/Berlin&threads=8")
    assert (spark.engine, spark.location, spark.table) == ("spark", "/data/wh", "clicks")
    assert (spark.timezone, spark.threads) == ("Europe/Berlin", 8)


def _invoke(tmp_path: Path, source: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(REPORTS / "charged-breakdown.yaml"),
            "--source",
            source,
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "state"),
            "--as-of",
            "2026-11-30",
            "--quiet",
        ],
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip().splitlines()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("warehouse:", "warehouse: needs a URL (spark:DIR, parquet:DIR or an ibis URL)"),
        ("warehouse:nonsense", "warehouse:nonsense: not a URL"),
        ("warehouse:spark:", "warehouse:spark: needs a folder (warehouse:spark:DIR)"),
        ("warehouse:parquet:/x?colour=red", "warehouse: unknown parameter 'colour'"),
        ("warehouse:parquet:/x?tz=Mars/Base", "warehouse: unknown timezone 'Mars/Base'"),
        ("warehouse:parquet:/x?threads=0", "warehouse: threads must be 1 to 64, not '0'"),
        ("warehouse:postgres://u:hunter2@127.0.0.1/db", "a password in the URL is refused"),
    ],
)
def test_bad_urls_exit_2_with_one_line(tmp_path: Path, url: str, message: str) -> None:
    code, lines = _invoke(tmp_path, url)
    assert code == 2
    assert len(lines) == 1 and message in lines[0]
    assert "hunter2" not in lines[0]


def test_missing_tables_and_columns_exit_2(exported: Path, tmp_path: Path) -> None:
    code, lines = _invoke(tmp_path, f"warehouse:parquet:{exported}?table=clicks")
    assert code == 2 and len(lines) == 1 and "no table 'clicks'" in lines[0]
    code, lines = _invoke(tmp_path, f"warehouse:duckdb://{tmp_path / 'none.duckdb'}")
    assert code == 2 and lines == [
        f"error: warehouse:duckdb://{tmp_path / 'none.duckdb'}: no such DuckDB file"
        f" {tmp_path / 'none.duckdb'}"
    ]
    bare = tmp_path / "bare.duckdb"
    con = duckdb.connect(str(bare))
    con.execute("CREATE TABLE events AS SELECT 'Charged' AS event_name, 1 AS identity")
    con.close()
    code, lines = _invoke(tmp_path, f"warehouse:duckdb://{bare}")
    assert code == 2 and len(lines) == 1 and "missing column 'ts'" in lines[0]
    code, lines = _invoke(tmp_path, f"warehouse:duckdb://{bare}?table=clicks")
    assert code == 2 and len(lines) == 1 and "no table 'clicks'" in lines[0]


def test_an_engine_that_is_down_exits_1(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, lines = _invoke(tmp_path, f"warehouse:clickhouse://reader@127.0.0.1:{port}/default")
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"error: warehouse:clickhouse://reader@127.0.0.1:{port}/default:")
    assert "cannot connect" in lines[0]


def test_a_property_the_table_lacks_fails_that_report(exported: Path, tmp_path: Path) -> None:
    definition = tmp_path / "r.yaml"
    definition.write_text(
        "version: 1\ntitle: T\nwindow: last_7_days\nqueries:\n"
        "  - id: q\n    title: Q\n    event: Charged\n"
        "    groups:\n      x: { property_type: event_properties, name: Colour }\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(definition),
            "--source",
            f"warehouse:parquet:{exported}",
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "s"),
            "--as-of",
            "2026-11-30",
            "--quiet",
        ],
    )
    assert result.exit_code == 1
    assert "Invalid group" in result.output and "Traceback" not in result.output


def test_choosing_a_warehouse_source_imports_no_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from reportkit.sources.factory import parse_source;"
        "choice = parse_source('warehouse:spark:/data/wh?table=events');"
        "assert choice.kind == 'warehouse' and choice.url == 'spark:/data/wh?table=events';"
        "heavy = {'ibis', 'pyspark', 'duckdb', 'pandas', 'pyarrow'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
