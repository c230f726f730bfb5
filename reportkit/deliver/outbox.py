"""--dry-run: messages written to OUT/outbox/ instead of sent, one file each."""

from __future__ import annotations

from pathlib import Path

from reportkit.errors import DeliveryError


def outbox_name(report_id: str, folder_name: str, channel: str, suffix: str) -> str:
    """A file name for the outbox: the id comes from results.json, which anyone may edit."""
    from reportkit.publish.folders import safe_id

    return f"{safe_id(report_id)}-{safe_id(folder_name)}-{channel}.{suffix}"


def write_json(outbox: Path, report_id: str, folder_name: str, channel: str, body: bytes) -> Path:
    """Write a message body as OUTBOX/<report>-<date>-<channel>.json, atomically; never through
    a symlinked outbox folder."""
    from reportkit.publish.files import write_atomic

    outbox = Path(outbox)
    if outbox.is_symlink():
        raise DeliveryError(f"refusing to write through the symlink {outbox}")
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / outbox_name(report_id, folder_name, channel, "json")
    write_atomic(path, body)
    return path
