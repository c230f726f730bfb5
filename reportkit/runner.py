"""A run: definitions -> plans -> answers -> results -> published reports, one outcome per report.

This is the library behind `reportkit run`; it never prints. A failing query fails its own report
(nothing is published for it) while the other reports of the run still complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit.errors import ReportkitError
from reportkit.language.model import Report
from reportkit.language.windows import local_date
from reportkit.plan import Plan, Request, plan_requests
from reportkit.results import CheckResult, ReportResult, build_report_result
from reportkit.sources.base import Source
from reportkit.sources.execute import (
    AnswerCache,
    Answers,
    ProgressEvent,
    ReportStep,
    execute,
    unique_requests,
)

if TYPE_CHECKING:
    from reportkit.publish.folders import Manifest


@dataclass(frozen=True, slots=True)
class QueryFailure:
    """A query that could not be answered: which, the request it needed, and the source's word."""

    query_id: str
    endpoint: str
    body: str  # the request body as compact JSON
    message: str

    def __str__(self) -> str:
        return f"query {self.query_id!r}: {self.message} (POST {self.endpoint} {self.body})"


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What became of one report in a run."""

    report: Report
    plan: Plan | None = None
    result: ReportResult | None = None
    failures: tuple[QueryFailure, ...] = ()
    error: str | None = None  # a failure that is not a query's (window, render)
    out_dir: Path | None = None
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        """The checks of severity fail that failed (exit 3 when nothing else went wrong)."""
        checks = self.result.checks if self.result else ()
        return tuple(c for c in checks if not c.passed and c.severity == "fail")


def default_as_of(report: Report, now: datetime | None = None) -> date:
    """Today in the report's timezone."""
    return local_date(now or datetime.now(UTC), report.timezone)


def _failures(plan: Plan, answers: Answers) -> tuple[QueryFailure, ...]:
    out: dict[str, QueryFailure] = {}
    for request in plan.requests:
        message = answers.failures.get(request.key)
        if message is None:
            continue
        body = json.dumps(request.body, separators=(",", ":"), ensure_ascii=False)
        for serves in request.serves:
            said = message
            if "Invalid group" in message:
                said += _groups_asked(request, serves.query_id)
            out.setdefault(
                serves.query_id, QueryFailure(serves.query_id, request.endpoint, body, said)
            )
    return tuple(out.values())


def _groups_asked(request: Request, query_id: str) -> str:
    """For an "Invalid group" answer (the API does not say which): the groups this query asked,
    so that the user sees which names to check."""
    groups = request.body.get("groups") or {}
    asked = []
    for serves in request.serves:
        group = groups.get(serves.request_key or "")
        if serves.query_id == query_id and isinstance(group, dict):
            asked.append(f"{serves.group} ({group.get('property_type')} {group.get('name')!r})")
    if not asked:
        return ""
    return (
        f"; one of the groups of query {query_id!r} is unknown to the source: "
        + ", ".join(dict.fromkeys(asked))
        + " (`reportkit validate --source ...` names it)"
    )


def plan_reports(
    reports: Sequence[Report], *, as_of: date | None = None, now: datetime | None = None
) -> list[ReportOutcome]:
    """Plan every report; one whose windows cannot be resolved carries its error instead."""
    moment = now or datetime.now(UTC)
    outcomes: list[ReportOutcome] = []
    for report in reports:
        try:
            plan = plan_requests(report, as_of or default_as_of(report, moment))
        except ReportkitError as exc:
            outcomes.append(ReportOutcome(report, error=str(exc)))
            continue
        outcomes.append(ReportOutcome(report, plan=plan))
    return outcomes


def _cached_queries(plan: Plan, answers: Answers) -> list[str]:
    return sorted(
        q.id
        for q in plan.report.queries
        if all(
            r.key in answers.cached
            for r in plan.requests
            if any(s.query_id == q.id for s in r.serves)
        )
    )


def _definition(report: Report) -> tuple[str, bytes] | None:
    """The definition's file name and text, for an archival PDF to carry."""
    if not report.output.pdf_archive or report.path is None:
        return None
    try:
        return report.path.name, report.path.read_bytes()
    except OSError:
        return None


def finish_reports(
    planned: Sequence[ReportOutcome],
    source: Source,
    *,
    out: Path,
    formats: Sequence[str] | None = None,
    cache: AnswerCache | None = None,
    demo: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    now: datetime | None = None,
    max_workers: int = 6,
    render_workers: int | None = None,
) -> list[ReportOutcome]:
    """Execute the planned reports' requests (each once) and publish every report that succeeded.

    Reports are published together at the end, in worker processes when several PDFs are to be
    made (`render_workers`: how many; None chooses by cores and memory, 0 renders in this
    process)."""
    from reportkit import __version__
    from reportkit.publish.pool import PublishJob, publish_all

    moment = now or datetime.now(UTC)
    plans = [o.plan for o in planned if o.plan is not None]
    answers = execute(
        unique_requests(plans),
        source,
        cache=cache,
        on_progress=on_progress,
        max_workers=max_workers,
    )
    tell = on_progress or (lambda _: None)
    finished: list[ReportOutcome] = []
    jobs: list[PublishJob] = []
    waiting: list[tuple[int, Plan]] = []  # per job: its index in `finished`, its plan
    for outcome in planned:
        plan = outcome.plan
        if plan is None:
            finished.append(outcome)
            continue
        failures = _failures(plan, answers)
        if failures:
            tell(ReportStep(outcome.report.id, "render", "skipped", "a query failed"))
            finished.append(ReportOutcome(outcome.report, plan, failures=failures))
            continue
        try:
            result = build_report_result(
                plan,
                answers.bodies,
                source=source.name,
                demo=demo,
                generated_at=moment,
                version=__version__,
            )
        except ReportkitError as exc:
            # An answer the results stage cannot read must not stay cached for good: a rerun
            # would fail the same way until --no-cache.
            if cache:
                for request in plan.requests:
                    cache.discard(request)
            tell(ReportStep(outcome.report.id, "render", "failed", str(exc)))
            finished.append(ReportOutcome(outcome.report, plan, error=str(exc)))
            continue
        try:
            result = assess(plan.report, result)
        except ReportkitError as exc:
            tell(ReportStep(outcome.report.id, "render", "failed", str(exc)))
            finished.append(ReportOutcome(outcome.report, plan, error=str(exc)))
            continue
        jobs.append(
            PublishJob(
                out=out,
                result=result,
                output=plan.report.output,
                formats=tuple(formats or plan.report.output.formats),
                cached=tuple(_cached_queries(plan, answers)),
                definition=_definition(plan.report),
            )
        )
        waiting.append((len(finished), plan))
        finished.append(outcome)  # replaced once published

    def published(index: int, done: Manifest | ReportkitError) -> None:
        slot, plan = waiting[index]
        if isinstance(done, ReportkitError):
            tell(ReportStep(plan.report.id, "render", "failed", str(done)))
            finished[slot] = ReportOutcome(plan.report, plan, error=str(done))
            return
        tell(ReportStep(plan.report.id, "render", "done"))
        finished[slot] = ReportOutcome(
            plan.report, plan, result=jobs[index].result, out_dir=done.directory, manifest=done
        )

    for _, plan in waiting:
        tell(ReportStep(plan.report.id, "render", "running"))
    # several PDFs render in worker processes at once (see publish.pool)
    publish_all(jobs, workers=render_workers, on_done=published)
    return finished


def assess(report: Report, result: ReportResult) -> ReportResult:
    """`result` with the definition's checks evaluated and, with compare, its highlights."""
    from dataclasses import replace

    from reportkit.results.highlights import find_highlights

    checks: tuple[CheckResult, ...] = ()
    if report.all_checks:
        from reportkit.deliver.email import email_context
        from reportkit.render.environment import text_environment
        from reportkit.results.checks import evaluate_checks

        context = email_context(result)
        from reportkit.render.labels import formatting_locale

        with formatting_locale(result.locale):  # messages write numbers as the report does
            checks = evaluate_checks(report.all_checks, context, text_environment())
    highlights = find_highlights(result) if report.output.highlights and report.compare else ()
    return replace(result, checks=checks, highlights=highlights)


def run_reports(
    reports: Sequence[Report],
    source: Source,
    *,
    out: Path,
    as_of: date | None = None,
    formats: Sequence[str] | None = None,
    cache: AnswerCache | None = None,
    demo: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    now: datetime | None = None,
) -> list[ReportOutcome]:
    """Run every report against `source` and publish each one that fully succeeded under `out`."""
    planned = plan_reports(reports, as_of=as_of, now=now)
    return finish_reports(
        planned,
        source,
        out=out,
        formats=formats,
        cache=cache,
        demo=demo,
        on_progress=on_progress,
        now=now,
    )
