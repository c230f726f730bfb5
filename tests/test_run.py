"""`reportkit run` end to end on a real DuckDB store: files, numbers, failures and exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from reportkit.cli import cli
from reportkit.sources.local import LocalEngine
from tests.conftest import AS_OF

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def weekly(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    state = tmp_path_factory.mktemp("state")
    result = run(
        "run",
        str(REPORTS / "weekly-ecommerce.yaml"),
        "--as-of",
        AS_OF,
        "--source",
        f"local:{demo_store}",
        "--out",
        str(out),
        "--state-dir",
        str(state),
    )
    assert result.exit_code == 0, result.output
    return out / "weekly-ecommerce" / "2026-11-29"


def test_a_run_writes_every_format_and_a_manifest_that_matches(weekly: Path) -> None:
    manifest = json.loads((weekly / "manifest.json").read_text())
    names = {f["path"] for f in manifest["files"]}
    assert {"report.html", "report.pdf", "report.md", "results.json"} <= names
    for entry in manifest["files"]:
        data = (weekly / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    assert manifest["as_of"] == AS_OF
    assert manifest["source"].startswith("local:")
    assert manifest["demo"] is False
    assert not [p for p in weekly.parent.iterdir() if p.name.startswith(".")]


def test_results_equal_the_engine_answers(weekly: Path, demo_store: Path) -> None:
    results = json.loads((weekly / "results.json").read_text())
    engine = LocalEngine(demo_store, read_only=True)
    try:
        status, total = engine.answer(
            "/1/counts/events.json", {"event_name": "Charged", "from": 20261123, "to": 20261129}
        )
        status_p, previous = engine.answer(
            "/1/counts/events.json", {"event_name": "Charged", "from": 20261116, "to": 20261122}
        )
        _, top = engine.answer(
            "/1/counts/top.json",
            {
                "event_name": "Charged",
                "from": 20261123,
                "to": 20261129,
                "groups": {
                    "g": {"property_type": "event_properties", "name": "Category", "top_n": 5}
                },
            },
        )
    finally:
        engine.close()
    assert (status, status_p) == (200, 200)
    orders = results["queries"]["orders"]
    assert (orders["from"], orders["to"]) == ("2026-11-23", "2026-11-29")
    assert orders["count"] == total["count"] > 0
    assert orders["previous_count"] == previous["count"]
    rows = results["queries"]["purchases"]["groups"]["category"]["rows"]
    expected = sorted(top["g"]["STR"].items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(r["value"], r["count"]) for r in rows] == expected


def test_the_pdf_shows_titles_and_numbers(weekly: Path) -> None:
    results = json.loads((weekly / "results.json").read_text())
    text = "\n".join(page.extract_text() for page in PdfReader(weekly / "report.pdf").pages)
    assert "Weekly e-commerce report" in text
    assert f"{results['queries']['orders']['count']:,}" in text
    assert "What sold" in text
    top_product = results["queries"]["purchases"]["groups"]["product"]["rows"][0]["value"]
    assert top_product in text
    assert "demo data" not in text.lower()  # a local store is not the demo source


def test_the_demo_source_says_demo_data_on_every_page(tmp_path: Path) -> None:
    result = run(
        "run",
        str(REPORTS / "charged-breakdown.yaml"),
        "--as-of",
        AS_OF,
        "--out",
        str(tmp_path / "out"),
        "--state-dir",
        str(tmp_path / "state"),
        "--format",
        "pdf,md",
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "charged-breakdown" / "2026-11-29"
    pages = PdfReader(folder / "report.pdf").pages
    assert all("demo data" in page.extract_text().lower() for page in pages)
    assert "demo data" in (folder / "report.md").read_text().lower()
    assert not (folder / "report.html").exists()
    assert (tmp_path / "state" / "demo.duckdb").is_file()


def test_a_failing_query_fails_its_report_only(demo_store: Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "broken.yaml").write_text(
        "version: 1\ntitle: Broken\nqueries:\n"
        "  - {id: ghost, event: No Such Event, kind: count}\n"
        "  - {id: fine, event: Charged, kind: count}\n"
    )
    (defs / "good.yaml").write_text(
        "version: 1\ntitle: Good\nqueries:\n  - {id: orders, event: Charged, kind: count}\n"
    )
    result = run(
        "run",
        str(defs),
        "--as-of",
        AS_OF,
        "--source",
        f"local:{demo_store}",
        "--out",
        str(tmp_path / "out"),
        "--state-dir",
        str(tmp_path / "state"),
        "--format",
        "md",
    )
    assert result.exit_code == 1
    assert "FAILED  broken" in result.stderr
    assert "query 'ghost'" in result.stderr
    assert "Invalid event : No Such Event" in result.stderr
    assert '"event_name":"No Such Event"' in result.stderr  # the request
    assert "Traceback" not in result.output
    assert (tmp_path / "out" / "good" / "2026-11-29" / "report.md").is_file()
    assert not (tmp_path / "out" / "broken").exists()


def test_invalid_definitions_exit_2_before_any_query(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntitle: x\nqueries: []\n")
    result = run(
        "run", str(bad), "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "s")
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{bad}:3:")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "bigquery"], "unknown source 'bigquery'"),
        (["--source", "local:/no/such.duckdb"], "/no/such.duckdb: no such DuckDB store"),
        (["--format", "pdf,docx"], "docx"),
        (["--shard", "3/2"], "--shard"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(
        "run", str(REPORTS), "--out", str(tmp_path / "o"), "--state-dir", str(tmp_path / "s"), *args
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def charged_md_json(demo_store: Path, tmp_path: Path) -> list[str]:
    """`run` of the charged-breakdown report as Markdown with --json, its state under tmp_path."""
    return [
        *("run", str(REPORTS / "charged-breakdown.yaml"), "--as-of", AS_OF),
        *("--source", f"local:{demo_store}", "--format", "md", "--json"),
        *("--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")),
    ]


def test_json_prints_the_manifests_and_a_rerun_comes_from_the_cache(
    demo_store: Path, tmp_path: Path
) -> None:
    args = charged_md_json(demo_store, tmp_path)
    first = run(*args)
    assert first.exit_code == 0, first.output
    (manifest,) = json.loads(first.stdout)
    assert manifest["report_id"] == "charged-breakdown" and manifest["cached"] == []
    second = run(*args)
    (again,) = json.loads(second.stdout)
    assert again["cached"] == ["charged"]
    fresh = run(*args, "--no-cache")
    assert json.loads(fresh.stdout)[0]["cached"] == []


def test_shards_split_reports_disjointly(demo_store: Path, tmp_path: Path) -> None:
    ids = []
    for shard in ("1/2", "2/2"):
        result = run(
            "run",
            str(REPORTS),
            "--as-of",
            AS_OF,
            "--source",
            f"local:{demo_store}",
            "--format",
            "md",
            "--out",
            str(tmp_path / shard.replace("/", "-")),
            "--state-dir",
            str(tmp_path / "s"),
            "--shard",
            shard,
            "--json",
        )
        assert result.exit_code == 0, result.output
        ids.append({m["report_id"] for m in json.loads(result.stdout)})
    assert ids[0].isdisjoint(ids[1])
    assert ids[0] | ids[1] == {"weekly-ecommerce", "charged-breakdown"}


def test_render_redraws_from_results_without_querying(weekly: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy" / "weekly-ecommerce" / "2026-11-29"
    shutil.copytree(weekly, copy)
    before = (copy / "results.json").read_bytes()
    result = run("render", str(copy), "--format", "md")
    assert result.exit_code == 0, result.output
    assert (copy / "results.json").read_bytes() == before
    assert "Weekly e-commerce report" in (copy / "report.md").read_text()


def test_a_cached_answer_the_results_cannot_read_is_dropped_and_asked_again(
    demo_store: Path, tmp_path: Path
) -> None:
    args = charged_md_json(demo_store, tmp_path)
    assert run(*args).exit_code == 0
    entries = list((tmp_path / "state" / "cache").rglob("*.json"))
    assert entries
    for entry in entries:  # a success body of the wrong shape, as a broken server might send
        data = json.loads(entry.read_text())
        data["body"] = {"status": "success", **{k: "?" for k in data["body"] if k != "status"}}
        entry.write_text(json.dumps(data))
    broken = run(*args)
    assert broken.exit_code == 1
    assert "charged" in broken.output
    assert not list((tmp_path / "state" / "cache").rglob("*.json"))
    healed = run(*args)
    assert healed.exit_code == 0, healed.output
    assert json.loads(healed.stdout)[0]["cached"] == []
