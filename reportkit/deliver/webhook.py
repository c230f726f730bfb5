"""Webhook delivery: POST a published report's facts as JSON, signed so receivers can trust it.

The body is `report_payload(...)`: the report's id, title, window, as_of, source, the path of
every file written (as in manifest.json), every query's totals and the checks. With `secret_env`
the exact bytes sent are signed as GitHub signs its webhooks:

    X-Reportkit-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

A receiver computes the same over the raw body it got and compares in constant time
(`hmac.compare_digest`). `X-Reportkit-Delivery` is stable for one report folder and its
numbers, so a receiver can drop a repeat. Timeouts, connection failures and 5xx answers are
tried again with doubling waits; a 4xx answer is final. The URL (it may hold a token) and the
secret never appear in output or errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from reportkit.deliver.http import post_with_retries
from reportkit.deliver.record import Delivery, numbers_digest, record_sent, skip_reason
from reportkit.errors import DeliveryError, InvalidInput
from reportkit.language.model import WebhookSpec
from reportkit.results import ReportResult
from reportkit.results.codec import check_to_dict
from reportkit.results.context import percent_change, report_span
from reportkit.text import inert_text

SIGNATURE_HEADER = "X-Reportkit-Signature"
PAYLOAD_VERSION = 1


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of `body` keyed with `secret` (UTF-8)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _files(folder: Path) -> list[dict[str, Any]]:
    from reportkit.publish.folders import MANIFEST_FILE

    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
        files = [
            {"path": str(f["path"]), "sha256": str(f["sha256"]), "bytes": int(f["bytes"])}
            for f in manifest["files"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeliveryError(f"{folder}: cannot read its {MANIFEST_FILE}: {exc}") from None
    return [*files, {"path": MANIFEST_FILE}]


def query_totals(result: ReportResult) -> dict[str, dict[str, Any]]:
    """Every query's total (a trend's: the sum of its periods) and its change."""
    out: dict[str, dict[str, Any]] = {}
    for q in result.queries:
        total, previous = q.total, q.previous_total
        if total is None and q.trend:
            total = sum(p.count for p in q.trend)
            known = [p.previous for p in q.trend]
            previous = sum(p or 0 for p in known) if all(v is not None for v in known) else None
        pct = percent_change(total, previous)
        out[q.query_id] = {
            "title": q.title,
            "event": q.event,
            "kind": q.kind,
            "measure": q.measure,
            "from": q.window.start.isoformat(),
            "to": q.window.end.isoformat(),
            "total": total,
            "previous_total": previous,
            "total_pct_change": None if pct is None else round(pct, 4),
            "unique": q.unique,
            "previous_unique": q.previous_unique,
        }
        if q.currency is not None:  # a summed trend in money: its totals are amounts of it
            out[q.query_id]["currency"] = q.currency
    return out


def report_payload(folder: Path, result: ReportResult) -> dict[str, Any]:
    """The JSON a webhook receives: the manifest's facts, the totals and the checks."""
    span = report_span(result)
    return {
        "version": PAYLOAD_VERSION,
        "report": {"id": result.report_id, "title": result.title},
        "window": None
        if span is None
        else {"from": span.start.isoformat(), "to": span.end.isoformat()},
        "as_of": result.as_of.isoformat(),
        "generated_at": result.generated_at.isoformat(),
        "source": result.source,
        "demo": result.demo,
        "reportkit_version": result.reportkit_version,
        "folder": str(folder),
        "files": _files(folder),
        "queries": query_totals(result),
        "checks": [check_to_dict(c) for c in result.checks],
        "checks_failed": sum(1 for c in result.checks if not c.passed),
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _env(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise InvalidInput(f"webhook: the {what} variable ${name} is not set")
    return value


def webhook_url(spec: WebhookSpec) -> str:
    return spec.url if spec.url else _env(spec.url_env or "", "URL")


def check_settings(spec: WebhookSpec) -> None:
    """Raise InvalidInput (exit 2, before any query) for a missing URL or secret variable."""
    webhook_url(spec)
    if spec.secret_env:
        _env(spec.secret_env, "secret")


def deliver_webhook(
    folder: Path,
    result: ReportResult,
    spec: WebhookSpec,
    *,
    state_dir: Path,
    outbox: Path,
    dry_run: bool = False,
    timeout: float = 60.0,
    backoff: float = 1.0,
) -> Delivery:
    """POST the report in `folder` (or with `dry_run` write the body to the outbox)."""
    from reportkit.deliver.outbox import write_json

    digest = numbers_digest(result)
    reason = skip_reason(
        spec.send_if,
        result,
        state_dir=state_dir,
        channel="webhook",
        folder=folder,
        digest=digest,
        dry_run=dry_run,
    )
    if reason is not None:
        return Delivery(result.report_id, "skipped", ("webhook",), reason, channel="webhook")
    body = encode(report_payload(folder, result))
    if dry_run:
        path = write_json(outbox, result.report_id, folder.name, "webhook", body)
        return Delivery(result.report_id, "written", ("webhook",), str(path), channel="webhook")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"reportkit/{result.reportkit_version or 'dev'}",
        "X-Reportkit-Delivery": hashlib.sha256(f"{folder}\0{digest}".encode()).hexdigest()[:32],
    }
    if spec.secret_env:
        headers[SIGNATURE_HEADER] = sign(body, _env(spec.secret_env, "secret"))
    reply = post_with_retries(
        webhook_url(spec), body, headers, name="the webhook", timeout=timeout, backoff=backoff
    )
    if not 200 <= reply.status < 300:
        said = " ".join(inert_text(reply.body[:200].decode("utf-8", "replace")).split())
        detail = f": {said}" if said else ""
        raise DeliveryError(f"the webhook answered {reply.status}{detail}")
    record_sent(state_dir, result.report_id, "webhook", digest=digest, folder=folder)
    return Delivery(result.report_id, "sent", ("webhook",), channel="webhook")
