"""reportkit: declarative, YAML-driven reports over CleverTap-style event analytics.

The flow, one stage a folder, each a function of what the stage before it made::

    reports/*.yaml --load-->  Report              language/  yamldoc, spec, model, windows
      --plan(as_of)-->        Plan of Requests    plan.py    merged and de-duplicated
      --execute-->            answers             sources/   clevertap, local, demo, emulator, cache
      --normalize-->          ReportResult        results/   pure: tables, results.json codec
      --render-->             html / md / pdf     render/    returns bytes, never writes
      --publish-->            out/<id>/<end>/     publish/   the only writer of report folders
      --deliver-->            email ...           deliver/   one module per channel, a sent record

Beside the flow: `store/` (the DuckDB event store and its importers) serves the local and demo
sources. On top of it: `runner.py` strings plan -> execute -> results -> publish together for many
reports, `app/` has one function per command, and `cli/` only parses, prints and exits.

The one-way rule: a stage imports only stages above it in the list (and `errors`, `text`,
`assets`); nothing imports `app` but `cli`, and nothing imports `cli`. language, plan and results
are pure: no network, no DuckDB, no Jinja, no clock. Heavy libraries (duckdb, weasyprint, jinja2,
requests, rich, vl-convert) load inside the functions that need them.

The Python API, the same functions the `reportkit` command calls::

    from datetime import date
    import reportkit

    report = reportkit.load_report(Path("reports/weekly-ecommerce.yaml"))
    plan = reportkit.plan_requests(report, date(2026, 11, 30))
    outcomes = reportkit.run_paths([Path("reports")], reportkit.RunOptions(out=Path("out")))

More, with delivery, in docs/python-api.md.

Names load on first use, so `import reportkit` costs nothing the caller does not touch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from reportkit.app import (
        DeliverOptions,
        DeliveryOutcome,
        RunOptions,
        deliver_outcomes,
        run_and_deliver,
        run_paths,
        send_folders,
        source_catalog,
        validate_paths,
    )
    from reportkit.errors import (
        AuthError,
        DataImportError,
        DeliveryError,
        InvalidInput,
        QueryFailed,
        QueryTimeout,
        RenderError,
        ReportkitError,
        SourceError,
        SpecError,
        TransportError,
        WindowError,
    )
    from reportkit.language.model import Filter, Group, Query, Report, WindowSpec
    from reportkit.language.spec import load_report, load_reports
    from reportkit.language.windows import DateRange, resolve_window
    from reportkit.plan import Plan, Request, plan_requests
    from reportkit.results import ReportResult, build_report_result
    from reportkit.runner import ReportOutcome, run_reports

_HOMES = {
    "reportkit.app": (
        "DeliverOptions",
        "DeliveryOutcome",
        "RunOptions",
        "deliver_outcomes",
        "run_and_deliver",
        "run_paths",
        "send_folders",
        "source_catalog",
        "validate_paths",
    ),
    "reportkit.errors": (
        "AuthError",
        "DataImportError",
        "DeliveryError",
        "InvalidInput",
        "QueryFailed",
        "QueryTimeout",
        "RenderError",
        "ReportkitError",
        "SourceError",
        "SpecError",
        "TransportError",
        "WindowError",
    ),
    "reportkit.language.model": ("Check", "Filter", "Group", "Query", "Report", "WindowSpec"),
    "reportkit.language.spec": ("load_report", "load_reports"),
    "reportkit.language.windows": ("DateRange", "resolve_window"),
    "reportkit.plan": ("Plan", "Request", "plan_requests"),
    "reportkit.results": ("CheckResult", "ReportResult", "build_report_result"),
    "reportkit.runner": ("ReportOutcome", "run_reports"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'reportkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AuthError",
    "Check",
    "CheckResult",
    "DataImportError",
    "DateRange",
    "DeliverOptions",
    "DeliveryError",
    "DeliveryOutcome",
    "Filter",
    "Group",
    "InvalidInput",
    "Plan",
    "Query",
    "QueryFailed",
    "QueryTimeout",
    "RenderError",
    "Report",
    "ReportOutcome",
    "ReportResult",
    "ReportkitError",
    "Request",
    "RunOptions",
    "SourceError",
    "SpecError",
    "TransportError",
    "WindowError",
    "WindowSpec",
    "__version__",
    "build_report_result",
    "deliver_outcomes",
    "load_report",
    "load_reports",
    "plan_requests",
    "resolve_window",
    "run_and_deliver",
    "run_paths",
    "run_reports",
    "send_folders",
    "source_catalog",
    "validate_paths",
]
