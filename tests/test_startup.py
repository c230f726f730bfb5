"""The light commands stay light: `reportkit --help`, `validate` and `plan` load none of the
heavy libraries (a behaviour test on `sys.modules` in a fresh interpreter, not a timing test;
bench/startup.py prints the times)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run the command in-process in a fresh interpreter, then list what got imported.
PROBE = """
import sys
sys.argv = ["reportkit", *sys.argv[1:]]
from reportkit.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
print("\\nEXIT", code)
print("MODULES", " ".join(sorted(sys.modules)))
"""

HEAVY = {
    "duckdb",
    "weasyprint",
    "vl_convert",
    "jinja2",
    "markupsafe",
    "requests",
    "urllib3",
    "rich",
    "ibis",
    "pyspark",
    "pandas",
    "pyarrow",
    "numpy",
}


def modules_loaded_by(*args: str) -> set[str]:
    """Every module `reportkit ARGS` imported (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert lines[-2] == "EXIT 0", done.stdout + done.stderr
    return set(lines[-1].split()[1:])


def loaded_by(*args: str) -> set[str]:
    """The top-level packages `reportkit ARGS` imported."""
    return {name.split(".")[0] for name in modules_loaded_by(*args)}


def test_help_loads_click_and_nothing_heavier() -> None:
    loaded = loaded_by("--help")
    assert "click" in loaded
    assert not loaded & (HEAVY | {"jsonschema", "yaml", "json", "concurrent"})


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "reports/charged-breakdown.yaml"),
        ("plan", "reports/charged-breakdown.yaml", "--as-of", "2026-11-30"),
        ("plan", "reports/charged-breakdown.yaml", "--as-of", "2026-11-30", "--json"),
    ],
    ids=["validate", "plan", "plan-json"],
)
def test_validate_and_plan_load_no_heavy_library(args: tuple[str, ...]) -> None:
    loaded = loaded_by(*args)
    assert {"yaml", "jsonschema"} <= loaded  # what checking a definition truly needs
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_checks_load_jinja_to_check_their_expressions_and_nothing_heavier() -> None:
    """A definition with `checks:` needs Jinja's parser at validate time (an unknown query id in
    an `expect` is a located error, exit 2); still nothing that runs or renders a report."""
    loaded = loaded_by("validate", "reports/weekly-ecommerce.yaml")
    assert "jinja2" in loaded
    assert not loaded & (HEAVY - {"jinja2", "markupsafe"}), sorted(loaded & HEAVY)


def test_import_loads_duckdb_and_nothing_a_report_needs(tmp_path: Path) -> None:
    """`reportkit import` pays for DuckDB and the store, not for definitions, runs or renders."""
    file = tmp_path / "e.jsonl"
    file.write_text(
        '{"event_name": "Charged", "ts": 20261120134501, "profile": {"identity": "u1"}}\n'
    )
    modules = modules_loaded_by("import", str(file), "--db", str(tmp_path / "s.duckdb"))
    loaded = {name.split(".")[0] for name in modules}
    assert "duckdb" in loaded
    assert not loaded & (HEAVY - {"duckdb"} | {"yaml", "jsonschema"}), sorted(loaded & HEAVY)
    assert not modules & {
        "reportkit.app",
        "reportkit.runner",
        "reportkit.plan",
        "reportkit.language.spec",
        "reportkit.sources",
    }
