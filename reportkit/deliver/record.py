"""What every channel shares: the decision to send (`send_if`) and the record of what went.

The record is one JSON file per report under `<state dir>/sent/`, one entry per channel
(`email`, `slack`, `webhook`): the digest of the numbers sent and the folder they came from. A
rerun skips a channel that already sent this folder with these numbers, so a run whose Slack post
failed can be run again without mailing everyone twice; `send_if: changed` compares with the last
numbers sent on that channel, whatever the folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal

from reportkit.results import ReportResult

Channel = Literal["email", "slack", "webhook"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What delivery did for one report on one channel."""

    report_id: str
    action: Literal["sent", "written", "skipped", "notice sent", "notice written"]
    recipients: tuple[str, ...] = ()
    detail: str = ""
    channel: Channel = "email"


def numbers_digest(result: ReportResult) -> str:
    """A hash of the report's numbers (not of when or where they were made)."""
    from reportkit.results.codec import results_to_dict

    numbers = results_to_dict(result)["queries"]
    return hashlib.sha256(json.dumps(numbers, sort_keys=True).encode()).hexdigest()


def has_results(result: ReportResult) -> bool:
    """Whether any query found anything (a count, a row or a trend point above zero)."""
    for query in result.queries:
        if query.total or query.unique:
            return True
        if any(row.count for group in query.groups for row in group.rows):
            return True
        if any(point.count for point in query.trend):
            return True
    return False


def record_path(state_dir: Path, report_id: str) -> Path:
    from reportkit.publish.folders import safe_id

    return Path(state_dir) / "sent" / f"{safe_id(report_id)}.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a nested record is as corrupt as any
        return {}  # never sent, or an unreadable record: as if nothing went
    return data if isinstance(data, dict) else {}


def last_sent(state_dir: Path, report_id: str, channel: Channel) -> Mapping[str, Any]:
    """The record of the last send of this report on `channel` ({} when none)."""
    data = _read(record_path(state_dir, report_id))
    channels = data.get("channels")
    entry = channels.get(channel) if isinstance(channels, dict) else None
    if entry is None and channel == "email" and "digest" in data:
        entry = data  # a record written before there were other channels
    return entry if isinstance(entry, dict) else {}


def record_sent(
    state_dir: Path, report_id: str, channel: Channel, *, digest: str, folder: Path
) -> None:
    """Note that `channel` sent these numbers from `folder` (atomically, other channels kept)."""
    from reportkit.publish.files import write_atomic

    path = record_path(state_dir, report_id)
    data = _read(path)
    channels = data.get("channels") if isinstance(data.get("channels"), dict) else {}
    assert isinstance(channels, dict)
    channels[channel] = {"digest": digest, "folder": str(folder), "sent": formatdate()}
    data["channels"] = channels
    if channel == "email":  # the old top-level form, for a reportkit that reads only that
        data.update(digest=digest, folder=str(folder), sent=channels[channel]["sent"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1).encode())


def skip_reason(
    send_if: str,
    result: ReportResult,
    *,
    state_dir: Path,
    channel: Channel,
    folder: Path,
    digest: str,
    dry_run: bool = False,
) -> str | None:
    """Why this report is not to be sent on `channel` now, or None to send it. A dry run is a
    preview: it shows the message even when this folder's numbers already went."""
    if send_if == "results" and not has_results(result):
        return "no results to send"
    if send_if == "checks_failed" and all(c.passed for c in result.checks):
        return "no check failed"
    last = last_sent(state_dir, result.report_id, channel)
    if send_if == "changed" and last.get("digest") == digest:
        return "the numbers equal the last ones sent"
    if not dry_run and last.get("digest") == digest and last.get("folder") == str(folder):
        return "already sent"
    return None
