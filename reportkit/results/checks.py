"""Checks on a report's numbers: each definition's `expect` evaluated over the text context.

Pure over its inputs: the caller hands in the sandboxed Jinja environment (the one email subjects
use, with the same formatting filters), so this module imports no template engine itself. A check
passes when its expression is true; an expression that cannot be evaluated on these numbers (a
comparison with a missing count, say) fails the check and says why instead of stopping the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reportkit.language.model import Check
from reportkit.results import CheckResult

MESSAGE_LIMIT = 500  # characters of a rendered message


def failed(checks: Sequence[CheckResult], severity: str | None = None) -> list[CheckResult]:
    """The checks that failed (of one severity, or any), in their order."""
    return [c for c in checks if not c.passed and (severity is None or c.severity == severity)]


def in_reading_order(checks: Sequence[CheckResult]) -> list[CheckResult]:
    """Failed fail checks first, then failed warnings, then those that passed."""
    rank = {(False, "fail"): 0, (False, "warn"): 1}
    return sorted(checks, key=lambda c: rank.get((c.passed, c.severity), 2))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def evaluate_check(check: Check, context: Mapping[str, Any], env: Any) -> CheckResult:
    """One check over `context` with the sandboxed Jinja environment `env`."""
    import jinja2  # only ever called with a Jinja environment, which has imported it

    title = check.title or check.id
    try:
        value = env.compile_expression(check.expect, undefined_to_none=False)(**context)
        passed = bool(value) and not isinstance(value, jinja2.Undefined)
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        return CheckResult(
            check.id,
            check.severity,
            False,
            _clip(f"{title}: cannot evaluate {check.expect!r} on these numbers: {detail}"),
            check.query,
        )
    if passed:
        return CheckResult(check.id, check.severity, True, _clip(title), check.query)
    message = f"{title}: expected {check.expect}"
    if check.message:
        try:
            message = env.from_string(check.message).render(**context)
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            message = f"{message} (the message could not be written: {' '.join(str(exc).split())})"
    return CheckResult(check.id, check.severity, False, _clip(message), check.query)


def evaluate_checks(
    checks: Sequence[Check], context: Mapping[str, Any], env: Any
) -> tuple[CheckResult, ...]:
    """Every check over the report's numbers (`context`, see `results.context.text_context`);
    a query's own checks also see `query`. A check on a query the run did not answer fails,
    naming it."""
    queries = context.get("queries", {})
    out: list[CheckResult] = []
    for check in checks:
        scope = dict(context)
        if check.query is not None:
            if check.query not in queries:
                message = f"{check.title or check.id}: query {check.query!r} has no result"
                out.append(CheckResult(check.id, check.severity, False, message, check.query))
                continue
            scope["query"] = queries[check.query]
        out.append(evaluate_check(check, scope, env))
    return tuple(out)


__all__ = ["CheckResult", "evaluate_checks", "failed", "in_reading_order"]
