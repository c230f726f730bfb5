"""`send` and the delivery half of `run --deliver`: every channel of every report folder, one
sent record."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit.errors import InvalidInput, ReportkitError
from reportkit.language.model import Report
from reportkit.language.spec import load_reports
from reportkit.runner import ReportOutcome
from reportkit.sources.execute import ProgressEvent, ReportStep

if TYPE_CHECKING:
    from reportkit.deliver.email import SmtpConfig
    from reportkit.deliver.record import Delivery


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
