"""`.json` event files: JSON Lines, a JSON array of records, or CleverTap Get Events answers
(`records` arrays) all load alike; anything else is refused with a line saying what to write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportkit.errors import DataImportError
from reportkit.store.importer import import_events
from tests.test_import import GOOD, TOP, answer, jsonl


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> object:
    folder = tmp_path_factory.mktemp("expected")
    import_events(folder / "j.duckdb", [jsonl(folder / "e.jsonl", GOOD)])
    return answer(folder / "j.duckdb", "/1/counts/top.json", TOP)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(GOOD, indent=2),  # a JSON array, pretty-printed
        "\ufeff" + json.dumps(GOOD),  # with a byte order mark
        json.dumps({"status": "success", "records": GOOD, "next_cursor": "x"}, indent=1),
        json.dumps({"status": "success", "records": GOOD}),  # one answer on one line
        "\n".join(  # two pages, one answer per line
            json.dumps({"status": "success", "records": [record]}) for record in GOOD
        ),
        "\n".join(json.dumps(record) for record in GOOD),  # JSON Lines named .json
    ],
    ids=["array", "bom", "answer", "answer-one-line", "answer-pages", "json-lines"],
)
def test_every_json_shape_loads_like_json_lines(
    tmp_path: Path, text: str, expected: object
) -> None:
    file = tmp_path / "events.json"
    file.write_text(text, encoding="utf-8")
    summary = import_events(tmp_path / "s.duckdb", [file])
    assert summary.loaded == 2
    assert answer(tmp_path / "s.duckdb", "/1/counts/top.json", TOP) == expected


def test_a_bad_record_of_a_document_is_named_by_its_number(tmp_path: Path) -> None:
    file = tmp_path / "events.json"
    file.write_text(json.dumps([GOOD[0], {"ts": 20261120134501}, GOOD[1]], indent=2))
    with pytest.raises(DataImportError) as caught:
        import_events(tmp_path / "s.duckdb", [file])
    assert str(caught.value) == f"{file}: record 2: missing event_name"
    summary = import_events(tmp_path / "t.duckdb", [file], skip_invalid=True)
    assert (summary.loaded, summary.skipped) == (2, 1)
    assert summary.reasons == (f"{file}: record 2: missing event_name",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"event_name": "Charged",', "not valid JSON at line 1, column 27"),
        ('{"status": "fail", "error": "Invalid cursor"}', "1: a CleverTap answer (status 'fail')"),
        ('{\n  "status": "partial"\n}', "a JSON object without a `records` array"),
    ],
)
def test_other_json_is_refused_with_what_to_write(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "events.json"
    file.write_text(text)
    with pytest.raises(DataImportError) as caught:
        import_events(tmp_path / "s.duckdb", [file])
    shown = str(caught.value)
    assert shown.startswith(f"{file}") and message in shown
    assert shown.endswith(
        "a .json file holds JSON Lines (one record per line), a JSON array of records, "
        "or a CleverTap Get Events answer with a `records` array"
    )
