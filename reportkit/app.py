"""The library behind every `reportkit` command: one function per command, the same call a
Python user makes. The CLI only parses arguments, prints and maps errors to exit codes.

    validate  -> validate_paths        plan     -> plan_path
    catalog   -> source_catalog
    run       -> run_paths (+ deliver_outcomes with --deliver)
    send      -> send_folders          render   -> rerender_folder, rebuild_from_pdf
    emulate   -> serving_emulator      demo     -> reportkit.sources.demo.build_demo
    preview   -> serving_preview
    import    -> reportkit.store.importer.import_events
    export    -> export_path
    diff      -> diff_revisions
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reportkit.errors import InvalidInput, ReportkitError, SpecError
from reportkit.language.model import Report
from reportkit.language.spec import load_reports
from reportkit.runner import ReportOutcome, default_as_of, finish_reports, plan_reports
from reportkit.sources.base import Source
from reportkit.sources.execute import ProgressEvent, ReportStep
from reportkit.sources.factory import CleverTapOptions, open_source, parse_source

if TYPE_CHECKING:
    from reportkit.deliver.email import SmtpConfig
    from reportkit.deliver.record import Delivery
    from reportkit.plan import Plan
    from reportkit.preview import PreviewServer
    from reportkit.publish.folders import Manifest
    from reportkit.review import ReportReview, Review
    from reportkit.review.git import Tree
    from reportkit.review.pairs import Definition, Pair
    from reportkit.sources.emulator import Emulator
    from reportkit.store.catalog import NameCatalog
    from reportkit.store.export import ExportSummary


@dataclass(frozen=True, slots=True)
class RunOptions:
    as_of: date | None = None
    source: str = "demo"
    formats: tuple[str, ...] | None = None
    out: Path = Path("out")
    state_dir: Path = Path(".reportkit")
    use_cache: bool = (
        True  # False (`--no-cache`): ask again, and refresh the cache with the answers
    )
    shard: tuple[int, int] | None = None  # (I, N), 1-based
    clevertap: CleverTapOptions = field(default_factory=CleverTapOptions)


def in_shard(report_id: str, shard: tuple[int, int]) -> bool:
    """Whether a report is in share I of N: a stable hash of its id, the same on every machine."""
    index, total = shard
    digest = int.from_bytes(hashlib.sha256(report_id.encode()).digest()[:8], "big")
    return digest % total == index - 1


def select_shard(reports: Sequence[Report], shard: tuple[int, int] | None) -> list[Report]:
    return [r for r in reports if shard is None or in_shard(r.id, shard)]


def run_paths(
    paths: Sequence[Path],
    options: RunOptions,
    *,
    progress: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    now: datetime | None = None,
    on_finished: Callable[[Source], None] | None = None,
) -> list[ReportOutcome]:
    """Validate, plan, execute and publish every report under `paths`.

    `on_progress` sees every request's steps (`Progress`: sent, polled, done ...) and every
    report's rendering (`ReportStep`); `progress` draws them on the terminal instead.
    `on_finished` sees the source once every report is done, before it is closed (the CLI reads
    a CleverTap source's request counts there). An interrupt (Ctrl-C, SIGTERM raised as an
    exception) leaves no staging folder behind under `options.out`."""
    outcomes, _ = run_and_deliver(
        paths,
        options,
        None,
        progress=progress,
        on_progress=on_progress,
        now=now,
        on_finished=on_finished,
    )
    return outcomes


def run_and_deliver(
    paths: Sequence[Path],
    options: RunOptions,
    deliver: DeliverOptions | None,
    *,
    progress: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    now: datetime | None = None,
    on_finished: Callable[[Source], None] | None = None,
) -> tuple[list[ReportOutcome], list[DeliveryOutcome]]:
    """`run_paths`, then (with `deliver`) `deliver_outcomes` for the reports, within the same
    progress display: `reportkit run --deliver`."""
    try:
        return _run_paths(paths, options, deliver, progress, on_progress, now, on_finished)
    except KeyboardInterrupt:
        from reportkit.publish.staging import sweep

        sweep(options.out)  # the interrupt may have landed while a swap was clearing up
        raise


def _run_paths(
    paths: Sequence[Path],
    options: RunOptions,
    deliver: DeliverOptions | None,
    progress: bool,
    on_progress: Callable[[ProgressEvent], None] | None,
    now: datetime | None,
    on_finished: Callable[[Source], None] | None,
) -> tuple[list[ReportOutcome], list[DeliveryOutcome]]:
    moment = now or datetime.now(UTC)
    choice = parse_source(options.source)
    reports = select_shard(load_reports(list(paths)), options.shard)
    if not reports:
        return [], []
    days = [options.as_of or default_as_of(r, moment) for r in reports]
    source = open_source(
        choice,
        state_dir=options.state_dir,
        latest_day=max(days),
        clevertap=options.clevertap,
    )
    from reportkit.sources.cache import ResultCache, cache_namespace

    cache = ResultCache(
        options.state_dir / "cache",
        namespace=cache_namespace(source),
        today=min(default_as_of(r, moment) for r in reports),
        refresh=not options.use_cache,  # --no-cache asks again and keeps the fresh answers
    )
    planned = plan_reports(reports, as_of=options.as_of, now=moment)
    try:

        def finish(
            callback: Callable[[ProgressEvent], None] | None,
        ) -> tuple[list[ReportOutcome], list[DeliveryOutcome]]:
            outcomes = finish_reports(
                planned,
                source,
                out=options.out,
                formats=options.formats,
                cache=cache,
                demo=choice.is_demo,
                on_progress=callback,
                now=moment,
                # a source that sets its own limit (the warehouse's threads) gets that many
                max_workers=max(6, int(getattr(source, "max_in_flight", 6))),
            )
            if deliver is None:
                return outcomes, []
            sent = deliver_outcomes(
                outcomes,
                deliver,
                state_dir=options.state_dir,
                out=options.out,
                on_progress=callback,
            )
            return outcomes, sent

        if progress:
            from reportkit.progress import QueryProgress

            plans = [o.plan for o in planned if o.plan is not None]
            delivering = [r.id for r in reports if deliver and r.deliver.email is not None]
            with QueryProgress(plans, stream=sys.stderr, delivering=delivering) as view:
                done = finish(view)
        else:
            done = finish(on_progress)
        if on_finished is not None:
            on_finished(source)
        return done
    finally:
        source.close()


@dataclass(frozen=True, slots=True)
class DeliverOptions:
    smtp_url: str | None = None  # REPORTKIT_SMTP_URL when None
    dry_run: bool = False  # write .eml files to OUT/outbox/ instead of sending
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    report_id: str
    delivery: Delivery | None = None
    error: str | None = None  # starts with the channel: "slack: ..."
    channel: str = "email"


def smtp_config(options: DeliverOptions) -> SmtpConfig | None:
    """The SMTP server to use, or None for a dry run; a missing URL is invalid input."""
    from reportkit.deliver.email import parse_smtp_url

    url = options.smtp_url or os.environ.get("REPORTKIT_SMTP_URL")
    if not url:
        if options.dry_run:
            return None
        raise InvalidInput("no SMTP server: set REPORTKIT_SMTP_URL or pass --smtp-url")
    return parse_smtp_url(url, sender=options.sender or os.environ.get("REPORTKIT_MAIL_FROM"))


def check_delivery(reports: Sequence[Report], options: DeliverOptions) -> None:
    """Raise InvalidInput (exit 2, before any query runs) when a channel the reports deliver to
    is not configured: no SMTP server for email, an unset variable for Slack or a webhook. A dry
    run needs none of them."""
    if options.dry_run:
        return
    from reportkit.deliver import slack, webhook

    if any(r.deliver.email is not None for r in reports):
        smtp_config(options)
    for report in reports:
        try:
            if report.deliver.slack is not None:
                slack.check_settings(report.deliver.slack)
            if report.deliver.webhook is not None:
                webhook.check_settings(report.deliver.webhook)
        except InvalidInput as exc:
            raise InvalidInput(f"report {report.id!r}: deliver.{exc}") from None


def check_delivery_paths(paths: Sequence[Path], options: DeliverOptions) -> None:
    """`check_delivery` for the definitions under `paths`."""
    check_delivery(load_reports(list(paths)), options)


class _Smtp:
    """The SMTP settings, worked out when the first email needs them."""

    def __init__(self, options: DeliverOptions) -> None:
        self.options = options
        self._config: SmtpConfig | None = None
        self._done = False

    def get(self) -> SmtpConfig | None:
        if not self._done:
            self._config = smtp_config(self.options)
            self._done = True
        return self._config


def deliver_folder_channels(
    report: Report,
    folder: Path,
    options: DeliverOptions,
    smtp: _Smtp,
    *,
    state_dir: Path,
    outbox: Path,
) -> list[DeliveryOutcome]:
    """Every channel of `report` for the published `folder`; a channel that fails does not
    stop the others (its outcome carries the error, naming the channel)."""
    from reportkit.deliver.email import deliver_folder
    from reportkit.deliver.slack import deliver_slack
    from reportkit.deliver.webhook import deliver_webhook
    from reportkit.publish.folders import load_results

    done: list[DeliveryOutcome] = []
    spec = report.deliver
    result = None
    for channel in ("email", "slack", "webhook"):
        try:
            if channel == "email" and spec.email is not None:
                delivery = deliver_folder(
                    folder,
                    spec.email,
                    config=smtp.get(),
                    state_dir=state_dir,
                    outbox=outbox,
                    dry_run=options.dry_run,
                    sender=options.sender,
                )
            elif channel in ("slack", "webhook") and getattr(spec, channel) is not None:
                result = result or load_results(folder / "results.json")
                if channel == "slack" and spec.slack is not None:
                    delivery = deliver_slack(
                        folder,
                        result,
                        spec.slack,
                        state_dir=state_dir,
                        outbox=outbox,
                        dry_run=options.dry_run,
                    )
                elif spec.webhook is not None:
                    delivery = deliver_webhook(
                        folder,
                        result,
                        spec.webhook,
                        state_dir=state_dir,
                        outbox=outbox,
                        dry_run=options.dry_run,
                    )
                else:
                    continue
            else:
                continue
        except ReportkitError as exc:
            done.append(DeliveryOutcome(report.id, error=f"{channel}: {exc}", channel=channel))
            continue
        except Exception as exc:  # a bug in one channel's delivery must not stop the others'
            error = f"{channel}: {_unexpected(exc)}"
            done.append(DeliveryOutcome(report.id, error=error, channel=channel))
            continue
        done.append(DeliveryOutcome(report.id, delivery, channel=channel))
    return done


def deliver_outcomes(
    outcomes: Sequence[ReportOutcome],
    options: DeliverOptions,
    *,
    state_dir: Path,
    out: Path,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> list[DeliveryOutcome]:
    """Deliver every successful report on each of its channels (email, Slack, webhook); a
    failure notice by email for failed ones that ask for it. `on_progress` sees each report's
    delivery as a `ReportStep`."""
    from reportkit.deliver.email import send_failure_notice

    tell = on_progress or (lambda _: None)
    smtp = _Smtp(options)
    done: list[DeliveryOutcome] = []
    for outcome in outcomes:
        report_id = outcome.report.id
        if outcome.ok and outcome.out_dir is not None:
            tell(ReportStep(report_id, "deliver", "running"))
            sent = deliver_folder_channels(
                outcome.report,
                outcome.out_dir,
                options,
                smtp,
                state_dir=state_dir,
                outbox=out / "outbox",
            )
            errors = [d.error for d in sent if d.error]
            if errors:
                tell(ReportStep(report_id, "deliver", "failed", "; ".join(errors)))
            else:
                actions = ", ".join(d.delivery.action for d in sent if d.delivery is not None)
                tell(ReportStep(report_id, "deliver", "done", actions))
            done += sent
            continue
        email = outcome.report.deliver.email
        if email is None or not email.on_failure:
            continue
        tell(ReportStep(report_id, "deliver", "running"))
        errors = [str(f) for f in outcome.failures]
        errors += [outcome.error] if outcome.error else []
        try:
            delivery = send_failure_notice(
                report_id,
                outcome.report.title,
                email.on_failure,
                errors,
                config=smtp.get(),
                outbox=out / "outbox",
                dry_run=options.dry_run,
                sender=options.sender,
            )
        except ReportkitError as exc:
            tell(ReportStep(report_id, "deliver", "failed", str(exc)))
            done.append(DeliveryOutcome(report_id, error=f"email: {exc}"))
            continue
        except Exception as exc:  # a bug in one report's delivery must not stop the others'
            tell(ReportStep(report_id, "deliver", "failed", _unexpected(exc)))
            done.append(DeliveryOutcome(report_id, error=_unexpected(exc)))
            continue
        tell(ReportStep(report_id, "deliver", "done", delivery.action))
        done.append(DeliveryOutcome(report_id, delivery))
    return done


def _unexpected(exc: Exception) -> str:
    """One line for an error no stage translated."""
    from reportkit.text import inert_text

    return " ".join(inert_text(f"{type(exc).__name__}: {exc}").split())[:500]


def send_folders(
    folders: Sequence[Path],
    definitions: Sequence[Path],
    options: DeliverOptions,
    *,
    state_dir: Path,
    outbox: Path,
) -> list[DeliveryOutcome]:
    """Deliver already-built report folders on the channels of the matching definitions."""
    from reportkit.publish.folders import load_results

    by_id = {r.id: r for r in load_reports(list(definitions))}
    smtp = _Smtp(options)
    done: list[DeliveryOutcome] = []
    for folder in folders:
        results = folder / "results.json"
        if not results.is_file():
            raise InvalidInput(f"{folder}: not a report folder (no results.json)")
        report_id = load_results(results).report_id
        report = by_id.get(report_id)
        spec = report.deliver if report else None
        if report is None or spec is None or not (spec.email or spec.slack or spec.webhook):
            where = "no definition" if report is None else "no deliver section in its definition"
            raise InvalidInput(f"{folder}: report {report_id!r} has {where}")
        check_delivery([report], options)
        done += deliver_folder_channels(
            report, folder, options, smtp, state_dir=state_dir, outbox=outbox
        )
    return done


# ---------------------------------------------------------------- the other commands


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


# ---------------------------------------------------------------- diff


@dataclass(frozen=True, slots=True)
class DiffOptions:
    base: str
    as_of: date
    head: str | None = None  # None: the work tree as it is
    source: str = "demo"
    state_dir: Path = Path(".reportkit")
    use_cache: bool = True
    clevertap: CleverTapOptions = field(default_factory=CleverTapOptions)


DEFAULT_DIFF_PATHS = (Path("reports"),)


@dataclass(frozen=True, slots=True)
class _Side:
    """One definition of one revision, loaded and planned, or the located reason it was not."""

    tree: Tree
    definition: Definition
    report: Report | None = None
    plan: Plan | None = None
    problems: tuple[str, ...] = ()


def _relative_paths(root: Path, paths: Sequence[Path]) -> list[str]:
    out = []
    for path in paths:
        absolute = Path(path).resolve()
        if absolute != root and not absolute.is_relative_to(root):
            raise InvalidInput(f"{path}: outside the git repository {root}")
        out.append(absolute.relative_to(root).as_posix())
    return out


def _load_side(tree: Tree, definition: Definition, as_of: date) -> _Side:
    from reportkit.errors import SpecError, WindowError
    from reportkit.language.spec import load_report
    from reportkit.plan import plan_requests

    file = tree.root / definition.relative
    where = tree.locate(definition.relative)
    try:
        # a revision is checked out without its .git: its templates may be anywhere in it
        report = load_report(file, template_roots=(tree.root,))
    except SpecError as exc:
        # name the revision, not the temporary folder it was checked out to
        lines = tuple(p.replace(str(file), where, 1) for p in exc.problems)
        return _Side(tree, definition, problems=lines)
    try:
        plan = plan_requests(report, as_of)
    except WindowError as exc:
        return _Side(tree, definition, report, problems=(f"{where}: {exc}",))
    return _Side(tree, definition, report, plan)


def _side_result(side: _Side, answers: Any, source_name: str, demo: bool, now: datetime) -> Any:
    """(ReportResult | None, problems) of a planned side."""
    from reportkit import __version__
    from reportkit.results import build_report_result

    assert side.plan is not None
    where = side.tree.locate(side.definition.relative)
    problems = []
    for request in side.plan.requests:
        message = answers.failures.get(request.key)
        if message is not None:
            queries = ", ".join(sorted({s.query_id for s in request.serves}))
            problems.append(f"{where}: query {queries}: {message}")
    if problems:
        return None, tuple(dict.fromkeys(problems))
    try:
        result = build_report_result(
            side.plan,
            answers.bodies,
            source=source_name,
            demo=demo,
            generated_at=now,
            version=__version__,
        )
    except ReportkitError as exc:
        return None, (f"{where}: {exc}",)
    return result, ()


def diff_revisions(
    paths: Sequence[Path],
    options: DiffOptions,
    *,
    cwd: Path | None = None,
    now: datetime | None = None,
) -> Review:
    """`reportkit diff`: every report under `paths` whose definition or template files differ
    between `options.base` and `options.head` (default: the work tree), run at both revisions
    on the same day and source, and the difference of their numbers.

    Both sides' requests go to the source in one batch, each distinct request once and through
    the answer cache, so a query the change did not touch costs one answer. A definition that
    does not validate at one side is reported with its location at that revision
    (`REF:reports/x.yaml:3:5: ...`) and `Review.invalid` is set; a query that fails sets
    `Review.failed`."""
    import tempfile

    from reportkit.results.diff import diff_results
    from reportkit.review import Review
    from reportkit.review.git import checkout, repository_root, work_tree
    from reportkit.review.pairs import find_definitions, pair_definitions

    moment = now or datetime.now(UTC)
    here = Path(cwd or Path.cwd())
    root = repository_root(here)
    wanted = [p if p.is_absolute() else here / p for p in (paths or DEFAULT_DIFF_PATHS)]
    relative = _relative_paths(root, wanted)
    with tempfile.TemporaryDirectory(prefix="reportkit-diff-") as tmp:
        base_tree = checkout(root, options.base, Path(tmp) / "base")
        head_tree = (
            checkout(root, options.head, Path(tmp) / "head") if options.head else work_tree(root)
        )
        base_defs = find_definitions(base_tree, relative)
        head_defs = find_definitions(head_tree, relative)
        if not base_defs and not head_defs:
            shown = ", ".join(relative)
            raise InvalidInput(f"{shown}: no .yaml or .yml report definitions at either revision")
        pairs = pair_definitions(base_defs, head_defs)
        sides: dict[tuple[int, str], _Side] = {}
        for index, pair in enumerate(pairs):
            if pair.base is not None and pair.status != "removed":
                sides[(index, "base")] = _load_side(base_tree, pair.base, options.as_of)
            if pair.head is not None:
                sides[(index, "head")] = _load_side(head_tree, pair.head, options.as_of)
        runnable = {
            key: side
            for key, side in sides.items()
            if side.plan is not None and pairs[key[0]].status in ("changed", "renamed")
        }
        results: dict[tuple[int, str], Any] = {}
        source_name = options.source
        if runnable:
            results, source_name = _run_sides(runnable, options, moment)
        reviews: list[ReportReview] = []
        for index, pair in enumerate(pairs):
            reviews.append(_review(index, pair, sides, results, diff_results))
    invalid = any(s.problems for s in sides.values())
    failed = any(problems for _, problems in results.values())
    return Review(
        base=options.base,
        head=options.head or head_tree.label,
        as_of=options.as_of,
        source=source_name,
        reports=tuple(reviews),
        invalid=invalid,
        failed=failed,
    )


def _run_sides(
    sides: dict[tuple[int, str], _Side], options: DiffOptions, now: datetime
) -> tuple[dict[tuple[int, str], Any], str]:
    from reportkit.sources.execute import execute, unique_requests

    choice = parse_source(options.source)
    plans = [side.plan for side in sides.values() if side.plan is not None]
    source = open_source(
        choice, state_dir=options.state_dir, latest_day=options.as_of, clevertap=options.clevertap
    )
    try:
        cache = None
        if options.use_cache:
            from reportkit.sources.cache import ResultCache

            today = min(default_as_of(p.report, now) for p in plans)
            cache = ResultCache(options.state_dir / "cache", namespace=source.name, today=today)
        answers = execute(unique_requests(plans), source, cache=cache)
        results = {
            key: _side_result(side, answers, source.name, choice.is_demo, now)
            for key, side in sides.items()
        }
        return results, source.name
    finally:
        source.close()


def _review(
    index: int,
    pair: Pair,
    sides: dict[tuple[int, str], _Side],
    results: dict[tuple[int, str], Any],
    diff_results: Callable[..., Any],
) -> ReportReview:
    from reportkit.review import ReportReview

    base, head = sides.get((index, "base")), sides.get((index, "head"))
    known = next((s.report for s in (head, base) if s is not None and s.report), None)
    fallback = (pair.head or pair.base).report_id  # type: ignore[union-attr]
    problems = [p for s in (base, head) if s is not None for p in s.problems]
    before, base_problems = results.get((index, "base"), (None, ()))
    after, head_problems = results.get((index, "head"), (None, ()))
    problems += [*base_problems, *head_problems]
    diff = diff_results(before, after) if before is not None and after is not None else None
    return ReportReview(
        status=pair.status,
        report_id=known.id if known else fallback,
        title=known.title if known else "",
        base_path=pair.base.relative if pair.base else None,
        head_path=pair.head.relative if pair.head else None,
        definition_changed=pair.definition_changed,
        template_changed=pair.template_changed,
        diff=diff,
        problems=tuple(problems),
    )
