"""`reportkit catalog` and `validate --source`: names checked against what a real store holds,
and a run-time "Invalid group" that names the groups to check."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from reportkit.cli import cli
from reportkit.plan import Request
from reportkit.sources.cache import ResultCache
from reportkit.sources.local import LocalEngine
from reportkit.store.catalog import near_miss
from tests.conftest import AS_OF

BAD = """\
version: 1
title: Names
queries:
  - id: sales
    event: Chargd
    groups:
      city: { property_type: profile_fields, name: city }
  - id: both
    event: [Charged, App Launched]
    groups:
      place: { property_type: geo_fields, name: Cty }
      product: { property_type: event_properties, name: product }
  - id: total
    event: Charged
    kind: trend
    sum_event_prop: Amount
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_near_miss_prefers_the_same_name_in_another_case() -> None:
    assert near_miss("city", ["Country", "City", "Cities"]) == "City"
    assert near_miss("Chargd", ["Charged", "App Launched"]) == "Charged"
    assert near_miss("Revenue", ["Charged", "App Launched"]) is None


def test_catalog_lists_events_properties_types_and_counts(demo_store: Path) -> None:
    result = run("catalog", "--source", f"local:{demo_store}", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["complete"] is True
    assert found["window"] == {"from": "2026-10-31", "to": "2026-11-29"}
    con = duckdb.connect(str(demo_store), read_only=True)
    try:
        (charged,) = con.execute(
            "SELECT count(*) FROM events JOIN event_names USING (eid)"
            " WHERE name = 'Charged' AND day BETWEEN '2026-10-31' AND '2026-11-29'"
        ).fetchone() or (None,)
        (col,) = con.execute(
            "SELECT col FROM props WHERE scope = 'event_properties' AND name = 'Payment Mode'"
        ).fetchone() or (None,)
        (with_mode,) = con.execute(
            f"SELECT count({col}) FROM events JOIN event_names USING (eid)"
            " WHERE name = 'Charged' AND day BETWEEN '2026-10-31' AND '2026-11-29'"
        ).fetchone() or (None,)
        (profiles,) = con.execute("SELECT count(*) FROM profiles").fetchone() or (None,)
    finally:
        con.close()
    events = {e["name"]: e for e in found["events"]}
    assert set(events) == {"Added To Cart", "App Launched", "Charged", "Product Viewed"}
    assert events["Charged"]["count"] == charged
    props = {(p["scope"], p["name"]): p for p in events["Charged"]["properties"]}
    assert props[("event_properties", "Amount")]["type"] == "NUMBER"
    assert props[("event_properties", "Delivery Date")]["type"] == "DATE"
    assert props[("event_properties", "Payment Mode")]["count"] == with_mode < charged
    assert props[("session_properties", "time_of_day")]["count"] == charged
    profile = {(p["scope"], p["name"]): p for p in found["profile"]}
    assert profile[("geo_fields", "City")] == {
        "scope": "geo_fields",
        "name": "City",
        "type": "STR",
        "count": profiles,
    }


def test_catalog_table_and_window_choice(demo_store: Path) -> None:
    week = run(
        "catalog", "--source", f"local:{demo_store}", "--as-of", AS_OF, "--window", "last_7_days"
    )
    assert week.exit_code == 0, week.output
    assert week.output.splitlines()[0] == f"local:{demo_store}: 2026-11-23 .. 2026-11-29"
    assert any(
        line.startswith("  City ") and "geo_fields" in line for line in week.output.splitlines()
    )
    everything = run("catalog", "--source", f"local:{demo_store}", "--window", "all", "--json")
    week_json = run(
        "catalog",
        "--source",
        f"local:{demo_store}",
        "--as-of",
        AS_OF,
        "--window",
        "last_7_days",
        "--json",
    )

    def charged(output: str) -> int:
        return next(e["count"] for e in json.loads(output)["events"] if e["name"] == "Charged")

    assert charged(everything.output) > charged(week_json.output) > 0
    bad = run("catalog", "--source", f"local:{demo_store}", "--window", "last_fortnight")
    assert bad.exit_code == 2
    assert "--window" in bad.output and "last_30_days" in bad.output


def test_catalog_of_a_missing_store_is_invalid_input(tmp_path: Path) -> None:
    result = run("catalog", "--source", f"local:{tmp_path / 'none.duckdb'}")
    assert result.exit_code == 2
    assert "no such DuckDB store" in result.output


def test_validate_against_the_source_names_each_near_miss(demo_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "names.yaml"
    path.write_text(BAD)
    assert run("validate", str(path)).exit_code == 0  # the schema alone cannot know
    result = run("validate", str(path), "--source", f"local:{demo_store}")
    assert result.exit_code == 2
    source = f"local:{demo_store}"
    assert result.output.splitlines() == [
        f"{path}:5:5: queries[0].event: no event 'Chargd' in {source}; did you mean 'Charged'?",
        f"{path}:7:46: queries[0].groups.city.name: no profile_fields property 'city' in {source};"
        " did you mean 'City' (property_type: geo_fields)?",
        f"{path}:11:43: queries[1].groups.place.name: no geo_fields property 'Cty' in {source};"
        " did you mean 'City'?",
        f"{path}:12:51: queries[1].groups.product.name: no event_properties property 'product'"
        f" in {source}; did you mean 'Product'?",
    ]


def test_validate_against_the_source_passes_the_shipped_reports(demo_store: Path) -> None:
    reports = Path(__file__).resolve().parent.parent / "reports"
    result = run("validate", str(reports), "--source", f"local:{demo_store}")
    assert result.exit_code == 0, result.output


def _cache_answers(demo_store: Path, state: Path, namespace: str) -> None:
    """Real answers of the local engine, stored the way a CleverTap run stores them."""
    engine = LocalEngine(demo_store, read_only=True)
    cache = ResultCache(state / "cache", namespace=namespace, today=date(2026, 11, 30))
    try:
        for request in (
            Request(
                "/1/counts/top.json",
                {
                    "event_name": "Charged",
                    "from": 20261123,
                    "to": 20261129,
                    "groups": {
                        "g0": {"property_type": "geo_fields", "name": "City", "top_n": 3},
                        "g1": {"property_type": "event_properties", "name": "Amount", "top_n": 3},
                    },
                },
            ),
            Request(
                "/1/counts/events.json",
                {"event_name": "App Launched", "from": 20261123, "to": 20261129},
            ),
        ):
            status, body = engine.answer(request.endpoint, request.body)
            assert status == 200
            cache.put(request, body)
    finally:
        engine.close()


def test_clevertap_catalog_is_what_the_cache_shows(demo_store: Path, tmp_path: Path) -> None:
    _cache_answers(demo_store, tmp_path, "clevertap:acc1@api.clevertap.com")
    _cache_answers(demo_store, tmp_path, "local:elsewhere")  # another source: not shown
    result = CliRunner(env={"CLEVERTAP_ACCOUNT_ID": "acc1"}).invoke(
        cli, ["catalog", "--source", "clevertap", "--state-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["complete"] is False
    assert [e["name"] for e in found["events"]] == ["App Launched", "Charged"]
    charged = found["events"][1]
    assert charged["properties"] == [
        {"scope": "event_properties", "name": "Amount", "type": "NUMBER", "count": None}
    ]
    assert found["profile"] == [
        {"scope": "geo_fields", "name": "City", "type": "STR", "count": None}
    ]
    other = CliRunner(env={"CLEVERTAP_ACCOUNT_ID": "acc2"}).invoke(
        cli, ["catalog", "--source", "clevertap", "--state-dir", str(tmp_path), "--json"]
    )
    assert json.loads(other.output)["events"] == []

    # partial: an unseen name is no error, a near miss of a seen one is
    path = tmp_path / "names.yaml"
    path.write_text(BAD)
    checked = CliRunner(env={"CLEVERTAP_ACCOUNT_ID": "acc1"}).invoke(
        cli, ["validate", str(path), "--source", "clevertap", "--state-dir", str(tmp_path)]
    )
    assert checked.exit_code == 2
    lines = checked.output.splitlines()
    assert lines[0] == (
        f"{path}:5:5: queries[0].event: event 'Chargd' is not among the names clevertap:acc1"
        " (answer cache) shows; did you mean 'Charged'?"
    )
    assert not any("product" in line for line in lines)  # never seen: may exist


def test_an_invalid_group_at_run_time_names_the_groups_and_query(
    demo_store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(
        "version: 1\ntitle: g\nqueries:\n  - id: by-city\n    event: Charged\n    groups:\n"
        "      city: { property_type: profile_fields, name: city }\n"
    )
    result = run(
        "run",
        str(path),
        "--as-of",
        AS_OF,
        "--source",
        f"local:{demo_store}",
        "--out",
        str(tmp_path / "out"),
        "--state-dir",
        str(tmp_path / "state"),
        "-q",
    )
    assert result.exit_code == 1
    assert (
        "query 'by-city': local:" in result.output
        and "Invalid group (code 400); one of the groups of query 'by-city' is unknown to the"
        " source: city (profile_fields 'city')"
        in result.output
    ), result.output


@pytest.mark.parametrize("window", ["all", "last_7_days"])
def test_catalog_of_an_empty_store(tmp_path: Path, window: str) -> None:
    from reportkit.store import connect, ensure_schema

    db = tmp_path / "empty.duckdb"
    con = connect(db)
    ensure_schema(con)
    con.close()
    result = run("catalog", "--source", f"local:{db}", "--window", window)
    assert result.exit_code == 0, result.output
    assert "(no events)" in result.output
