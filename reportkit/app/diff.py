"""`diff`: two revisions of definitions run at the same as-of day on one source, compared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportkit.errors import InvalidInput, ReportkitError, SpecError
from reportkit.language.model import Report
from reportkit.runner import default_as_of
from reportkit.sources.factory import CleverTapOptions, open_source, parse_source

if TYPE_CHECKING:
    from reportkit.plan import Plan
    from reportkit.review import ReportReview, Review
    from reportkit.review.git import Tree
    from reportkit.review.pairs import Definition, Pair


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
    from reportkit.errors import WindowError
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
