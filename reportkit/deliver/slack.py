"""Slack delivery: a Block Kit summary through an incoming webhook, or with a bot token the same
message through `chat.postMessage` and the PDF through Slack's upload flow.

The message: the title, the window, failed checks first, the "What changed" list, then every
query's total with its change, and a line on the checks that passed. It holds no links (values
from the data are escaped, so `<https://x|click>` in a property value stays text) and keeps to
Slack's limits: at most 50 blocks, 3000 characters in a section's text, 150 in a header, 2000 in
a field, 10 fields in a section.

Upload (the retired `files.upload` replaced, as Slack documents it):
1. `files.getUploadURLExternal` (form: filename, length) answers `upload_url` and `file_id`;
2. the PDF's bytes are POSTed to `upload_url`, without the token (it is another host);
3. `files.completeUploadExternal` (form: files=[{"id", "title"}] as JSON, channel_id,
   thread_ts) shares it in the message's thread.

`REPORTKIT_SLACK_API_URL` (default https://slack.com/api) points the Web API elsewhere, e.g. at
a stand-in server in tests. Webhook URL and token come from the environment and never appear in
output or errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from reportkit.deliver.http import post_with_retries
from reportkit.deliver.record import Delivery, numbers_digest, record_sent, skip_reason
from reportkit.errors import DeliveryError, InvalidInput
from reportkit.language.model import SlackSpec
from reportkit.results import ReportResult
from reportkit.results.checks import in_reading_order
from reportkit.text import inert_text

API_URL = "https://slack.com/api"
API_URL_ENV = "REPORTKIT_SLACK_API_URL"
MAX_BLOCKS = 50
MAX_TEXT = 3000  # a section's text
MAX_HEADER = 150  # a header's plain text
MAX_FIELD = 2000  # one field of a section
MAX_FIELDS = 10  # fields in one section


def escape(text: str) -> str:
    """Text from a definition or the data as Slack mrkdwn that stays text: `&`, `<`, `>`
    escaped as Slack asks (so no link, mention or channel ping can be made), control characters
    made inert, whitespace folded."""
    text = " ".join(inert_text(str(text)).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _change(pct: float | None) -> str:
    if pct is None:
        return ""
    arrow = "▲" if pct > 0 else "▼" if pct < 0 else "="
    return f" ({arrow} {pct:+.1f}%)"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_TEXT)}}


def _lines_sections(title: str, lines: Sequence[str]) -> list[dict[str, Any]]:
    """A titled bullet list in as few sections as the 3000-character limit allows."""
    sections: list[dict[str, Any]] = []
    current = title
    for line in lines:
        line = _clip(line, MAX_TEXT - len(title) - 2)
        if len(current) + 1 + len(line) > MAX_TEXT:
            sections.append(_section(current))
            current = line
        else:
            current = f"{current}\n{line}"
    sections.append(_section(current))
    return sections


def _window(result: ReportResult) -> str:
    from reportkit.render.labels import format_window_short
    from reportkit.results.context import report_span

    return format_window_short(report_span(result))


def build_message(result: ReportResult) -> dict[str, Any]:
    """The Block Kit message for a report: `text` (the notification line) and `blocks`."""
    from reportkit.deliver.webhook import query_totals

    checks = in_reading_order(result.checks)
    failed = [c for c in checks if not c.passed]
    window = _window(result)
    title = _clip(" ".join(inert_text(result.title).split()), MAX_HEADER)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"{escape(window)} · as of {result.as_of.isoformat()} · "
                        f"{escape(result.source)}"
                        + (" · *demo data*, not real analytics" if result.demo else ""),
                        MAX_TEXT,
                    ),
                }
            ],
        },
    ]
    if failed:
        lines = [
            f"{':x: *FAILED*' if c.severity == 'fail' else ':warning: *WARNING*'} "
            f"{escape(c.message)}"
            for c in failed
        ]
        blocks += _lines_sections(f"*{len(failed)} of {len(checks)} checks failed*", lines)
    if result.highlights:
        lines = [f"• {escape(h.text)}" for h in result.highlights]
        blocks += _lines_sections("*What changed*", lines)
    fields = []
    for totals in query_totals(result).values():
        name = escape(totals["title"])
        value = _number(totals["total"]) + _change(totals["total_pct_change"])
        fields.append({"type": "mrkdwn", "text": _clip(f"*{name}*\n{value}", MAX_FIELD)})
    if fields:
        blocks.append({"type": "divider"})
    room = MAX_BLOCKS - len(blocks) - 1  # one block kept for the closing context
    chunks = [fields[i : i + MAX_FIELDS] for i in range(0, len(fields), MAX_FIELDS)]
    for chunk in chunks[:room]:
        blocks.append({"type": "section", "fields": chunk})
    closing = []
    if len(chunks) > room:
        left = sum(len(c) for c in chunks[room:])
        closing.append(f"{left} more totals are in the report")
    passed = len(checks) - len(failed)
    if passed:
        closing.append(f":white_check_mark: {passed} check{'s' if passed != 1 else ''} passed")
    closing.append(f"reportkit {result.reportkit_version}".strip())
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(closing)}]}
    )
    summary = f"{escape(result.title)}, {escape(window)}"
    if failed:
        summary += f": {len(failed)} check{'s' if len(failed) != 1 else ''} failed"
    return {"text": _clip(" ".join(summary.split()), MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}


def _env(name: str | None, what: str) -> str:
    value = os.environ.get(name or "", "")
    if not value:
        raise InvalidInput(f"slack: the {what} variable ${name} is not set")
    return value


def check_settings(spec: SlackSpec) -> None:
    """Raise InvalidInput (exit 2, before any query) for a missing webhook URL or token."""
    if spec.webhook_url_env:
        _env(spec.webhook_url_env, "webhook URL")
    else:
        _env(spec.token_env, "bot token")


def _slack_retry(status: int) -> bool:
    return status >= 500 or status == 429


def _post_webhook(url: str, message: Mapping[str, Any], timeout: float, backoff: float) -> None:
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    reply = post_with_retries(
        url,
        body,
        {"Content-Type": "application/json"},
        name="the Slack webhook",
        timeout=timeout,
        backoff=backoff,
        retry_statuses=_slack_retry,
    )
    if reply.status != 200:
        said = " ".join(inert_text(reply.body[:200].decode("utf-8", "replace")).split())
        raise DeliveryError(f"the Slack webhook answered {reply.status}: {said or 'no reason'}")


class _WebApi:
    """Slack Web API calls with a bot token (which goes to the API host only)."""

    def __init__(self, token: str, base: str, timeout: float, backoff: float) -> None:
        self._token, self.base = token, base.rstrip("/")
        self.timeout, self.backoff = timeout, backoff

    def call(
        self,
        method: str,
        *,
        form: Mapping[str, str] | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"}
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        else:
            body = urlencode(form or {}).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        reply = post_with_retries(
            f"{self.base}/{method}",
            body,
            headers,
            name=f"Slack {method}",
            timeout=self.timeout,
            backoff=self.backoff,
            retry_statuses=_slack_retry,
        )
        try:
            answer = json.loads(reply.body)
        except ValueError:
            answer = None
        if reply.status != 200 or not isinstance(answer, dict):
            raise DeliveryError(f"Slack {method} answered {reply.status} without a JSON answer")
        if answer.get("ok") is not True:
            error = " ".join(inert_text(str(answer.get("error", "no reason")))[:100].split())
            raise DeliveryError(f"Slack {method} refused: {error}")
        return answer

    def upload(self, path: Path, *, channel_id: str, thread_ts: str | None) -> str:
        data = path.read_bytes()
        got = self.call(
            "files.getUploadURLExternal", form={"filename": path.name, "length": str(len(data))}
        )
        upload_url, file_id = got.get("upload_url"), got.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise DeliveryError("Slack files.getUploadURLExternal gave no upload_url and file_id")
        if not upload_url.startswith(("https://", "http://")):
            raise DeliveryError(
                "Slack files.getUploadURLExternal gave an upload_url that is not http(s)"
            )
        # the upload URL is another host: no token goes there
        reply = post_with_retries(
            upload_url,
            data,
            {"Content-Type": "application/octet-stream"},
            name="the Slack upload URL",
            timeout=self.timeout,
            backoff=self.backoff,
            retry_statuses=_slack_retry,
        )
        if reply.status != 200:
            raise DeliveryError(f"the Slack upload URL answered {reply.status}")
        form = {
            "files": json.dumps([{"id": file_id, "title": path.name}]),
            "channel_id": channel_id,
        }
        if thread_ts:
            form["thread_ts"] = thread_ts
        self.call("files.completeUploadExternal", form=form)
        return file_id


def deliver_slack(
    folder: Path,
    result: ReportResult,
    spec: SlackSpec,
    *,
    state_dir: Path,
    outbox: Path,
    dry_run: bool = False,
    timeout: float = 60.0,
    backoff: float = 1.0,
) -> Delivery:
    """Post the report in `folder` to Slack (or with `dry_run` write the message to the outbox)."""
    from reportkit.deliver.outbox import write_json

    where = f"slack {spec.channel}" if spec.channel else "slack"
    digest = numbers_digest(result)
    reason = skip_reason(
        spec.send_if,
        result,
        state_dir=state_dir,
        channel="slack",
        folder=folder,
        digest=digest,
        dry_run=dry_run,
    )
    if reason is not None:
        return Delivery(result.report_id, "skipped", (where,), reason, channel="slack")
    message = build_message(result)
    pdf = folder / "report.pdf"
    upload = bool(spec.token_env) and spec.upload_pdf
    if upload and not pdf.is_file():
        raise DeliveryError(
            f"{folder}: cannot upload report.pdf to Slack: the run did not write it"
        )
    if dry_run:
        shown = dict(message, channel=spec.channel) if spec.channel else message
        body = json.dumps(shown, ensure_ascii=False, indent=1).encode("utf-8")
        path = write_json(outbox, result.report_id, folder.name, "slack", body)
        return Delivery(result.report_id, "written", (where,), str(path), channel="slack")
    if spec.webhook_url_env:
        _post_webhook(_env(spec.webhook_url_env, "webhook URL"), message, timeout, backoff)
    else:
        api = _WebApi(
            _env(spec.token_env, "bot token"),
            os.environ.get(API_URL_ENV) or API_URL,
            timeout,
            backoff,
        )
        posted = api.call("chat.postMessage", payload=dict(message, channel=spec.channel))
        if upload:
            channel_id = str(posted.get("channel") or spec.channel)
            ts = posted.get("ts")
            api.upload(pdf, channel_id=channel_id, thread_ts=str(ts) if ts else None)
    record_sent(state_dir, result.report_id, "slack", digest=digest, folder=folder)
    return Delivery(result.report_id, "sent", (where,), channel="slack")
