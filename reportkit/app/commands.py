"""The commands that are one call each: validate, catalog, plan, render, export, emulate and
preview."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reportkit.errors import InvalidInput, SpecError
from reportkit.language.model import Report
from reportkit.language.spec import load_reports
from reportkit.runner import default_as_of
from reportkit.sources.factory import CleverTapOptions, open_source, parse_source

if TYPE_CHECKING:
    from reportkit.plan import Plan
    from reportkit.preview import PreviewServer
    from reportkit.publish.folders import Manifest
    from reportkit.sources.emulator import Emulator
    from reportkit.store.catalog import NameCatalog
    from reportkit.store.export import ExportSummary


def export_path(db: Path, to: Path) -> ExportSummary:
    """`reportkit export`: the store at `db` written to `to`/events/ as Parquet in the flat
    layout that `reportkit import` and `--source warehouse:` read (docs/warehouse.md)."""
    from reportkit.store.export import export_store

    return export_store(db, to)


def validate_paths(
    paths: Sequence[Path],
    *,
    source: str | None = None,
    state_dir: Path = Path(".reportkit"),
    env: Mapping[str, str] | None = None,
) -> list[Report]:
    """`reportkit validate`: every definition under `paths`, loaded and checked (SpecError lists
    every problem, located). With `source`, every event and property name is also looked up in
    that source's catalog, and a near miss gets a did-you-mean."""
    reports = load_reports(list(paths))
    if source is None:
        return reports
    from reportkit.language.spec import name_references
    from reportkit.store.catalog import check_names

    catalog = source_catalog(source, state_dir=state_dir, window=None, env=env)
    problems = [
        line
        for report in reports
        if report.path is not None
        for line in check_names(name_references(report.path), catalog)
    ]
    if problems:
        raise SpecError(problems)
    return reports


def source_catalog(
    source: str,
    *,
    state_dir: Path = Path(".reportkit"),
    window: tuple[date, date] | None = None,
    env: Mapping[str, str] | None = None,
    today: date | None = None,
) -> NameCatalog:
    """`reportkit catalog`: the events and properties `source` holds, counted over `window`
    (None: all its days). For clevertap: what earlier answers in the answer cache show (of the
    account in CLEVERTAP_ACCOUNT_ID when it is set)."""
    from reportkit.store.catalog import cache_catalog, store_catalog

    choice = parse_source(source)
    if choice.kind == "clevertap":
        account = (os.environ if env is None else env).get("CLEVERTAP_ACCOUNT_ID", "").strip()
        return cache_catalog(
            state_dir / "cache", f"clevertap:{account}@" if account else "clevertap:"
        )
    if choice.kind == "demo":
        from reportkit.sources.demo import ensure_demo

        path = state_dir / "demo.duckdb"
        if not path.is_file():  # names do not change with the days a store covers
            ensure_demo(path, today or datetime.now(UTC).date())
        return store_catalog(path, "demo", window)
    if choice.kind != "local":
        raise InvalidInput(
            f"catalog: the {choice.kind} source has no catalog yet (demo, local:PATH, clevertap)"
        )
    assert choice.path is not None
    if not choice.path.is_file():
        raise InvalidInput(
            f"{choice.path}: no such DuckDB store (build one with reportkit demo or import)"
        )
    return store_catalog(choice.path, f"local:{choice.path}", window)


def plan_path(path: Path, as_of: date | None = None) -> tuple[Report, date, Plan]:
    """`reportkit plan`: one definition and the requests it would send on `as_of` (default:
    today in the report's timezone)."""
    from reportkit.language.spec import find_report_files, load_report
    from reportkit.plan import plan_requests

    (file,) = find_report_files([path]) if not path.is_dir() else [path]
    report = load_report(file)
    day = as_of or default_as_of(report)
    return report, day, plan_requests(report, day)


def rerender_folder(
    folder: Path,
    *,
    formats: Sequence[str] | None = None,
    template: Path | None = None,
    paper: str = "A4",
    orientation: Literal["portrait", "landscape"] = "portrait",
) -> Manifest:
    """`reportkit render`: a published report rendered again from its results.json, in place,
    in `formats` (default: the formats it was made with)."""
    from reportkit.language.model import OutputSpec
    from reportkit.publish.folders import MANIFEST_FILE, rerender_report
    from reportkit.render import FORMATS

    wanted = tuple(formats) if formats else FORMATS
    if not formats:
        with contextlib.suppress(OSError, ValueError, AttributeError, TypeError, RecursionError):
            previous = json.loads((Path(folder) / MANIFEST_FILE).read_text("utf-8"))
            wanted = tuple(previous.get("formats") or FORMATS)
    output = OutputSpec(formats=wanted, template=template, paper=paper, orientation=orientation)
    return rerender_report(folder, output, formats=wanted)


def rebuild_from_pdf(
    pdf: Path,
    out: Path,
    *,
    formats: Sequence[str] | None = None,
    template: Path | None = None,
    paper: str = "A4",
    orientation: Literal["portrait", "landscape"] = "portrait",
) -> Manifest:
    """`reportkit render FILE.pdf`: an archival PDF (output.pdf.archive) back into a report
    folder OUT/<report id>/<window end>/ with results.json and the other formats rebuilt from
    the results it carries; the PDF itself is kept as it is, byte for byte."""
    from reportkit.language.model import OutputSpec
    from reportkit.publish.archive import read_archive
    from reportkit.publish.folders import publish_report
    from reportkit.render import FILE_NAMES, FORMATS

    archive = read_archive(pdf)
    wanted = tuple(formats) if formats else FORMATS
    output = OutputSpec(
        formats=wanted, template=template, paper=paper, orientation=orientation, pdf_archive=True
    )
    keep = {FILE_NAMES["pdf"]: archive.pdf} if "pdf" in wanted else {}
    return publish_report(
        out, archive.result, output, formats=wanted, definition=archive.definition, keep=keep
    )


@contextlib.contextmanager
def serving_emulator(
    db: Path, host: str = "127.0.0.1", port: int = 0, **settings: Any
) -> Iterator[Emulator]:
    """`reportkit emulate`: the CleverTap emulator serving the store `db` while the block runs.
    `settings` are `start_emulator`'s (passcode, partial_polls, faults ...)."""
    from reportkit.sources.emulator import start_emulator
    from reportkit.sources.local import LocalEngine

    if not Path(db).is_file():
        raise InvalidInput(f"{db}: no such DuckDB store (build one with reportkit demo or import)")
    engine = LocalEngine(db, read_only=True)
    try:
        try:
            emulator = start_emulator(engine, host, port, **settings)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        try:
            yield emulator
        finally:
            emulator.stop()
    finally:
        engine.close()


@contextlib.contextmanager
def serving_preview(
    path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    as_of: date | None = None,
    source: str = "demo",
    state_dir: Path = Path(".reportkit"),
    use_cache: bool = True,
    clevertap: CleverTapOptions | None = None,
    poll: float = 0.2,
) -> Iterator[PreviewServer]:
    """`reportkit preview`: the report(s) at `path` served on host:port while the block runs,
    redrawn in the browser when a definition or template file changes. Answers go through the
    answer cache under `state_dir`, so only changed queries are asked again."""
    from reportkit.preview import Preview, start_preview

    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder")
    choice = parse_source(source)
    today = as_of or datetime.now(UTC).date()
    opened = open_source(choice, state_dir=state_dir, latest_day=today, clevertap=clevertap)
    try:
        cache = None
        if use_cache:
            from reportkit.sources.cache import ResultCache

            cache = ResultCache(state_dir / "cache", namespace=opened.name, today=today)
        preview = Preview(path, opened, cache=cache, as_of=as_of, demo=choice.is_demo)
        server = start_preview(preview, host, port, poll=poll)
        try:
            yield server
        finally:
            server.stop()
    finally:
        opened.close()
