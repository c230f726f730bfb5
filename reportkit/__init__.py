"""reportkit: declarative, YAML-driven reports over CleverTap-style event analytics.

The Python API, the same functions the `reportkit` command calls::

    from datetime import date
    import reportkit

    report = reportkit.load_report(Path("reports/weekly-ecommerce.yaml"))
    plan = reportkit.plan_requests(report, date(2026, 11, 30))
    outcomes = reportkit.run_paths([Path("reports")], reportkit.RunOptions(out=Path("out")))
"""

from __future__ import annotations

__version__ = "0.1.0"

from reportkit.app import RunOptions, run_paths
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
from reportkit.language.model import Group, Query, Report, WindowSpec
from reportkit.language.spec import load_report, load_reports
from reportkit.language.windows import DateRange, resolve_window
from reportkit.plan import Plan, Request, plan_requests
from reportkit.results import ReportResult, build_report_result
from reportkit.runner import ReportOutcome, run_reports

__all__ = [
    "AuthError",
    "DataImportError",
    "DateRange",
    "DeliveryError",
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
    "load_report",
    "load_reports",
    "plan_requests",
    "resolve_window",
    "run_paths",
    "run_reports",
]
