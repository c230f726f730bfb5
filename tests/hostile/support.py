"""What the hostile tests share: a CleverTap source aimed at a stand-in, and a plain request."""

from __future__ import annotations

from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, CleverTapConfig, CleverTapSource, Secret
from reportkit.sources.protocol import Policy

PASSCODE = "Hostile-Passc0de-42"
ACCOUNT = "HOSTILE-ACC"
COUNTS = "/1/counts/events.json"
REQUEST = Request(COUNTS, {"event_name": "Charged", "from": 20261101, "to": 20261130})
SUCCESS = b'{"status": "success", "count": 7}'


def source(url: str, *, query_timeout: float = 2.0, attempts: int = 2) -> CleverTapSource:
    """A CleverTap source for `url`: short waits, few retries, its own limiter."""
    policy = Policy(
        poll_interval=0.05,
        query_timeout=query_timeout,
        max_attempts=attempts,
        backoff_base=0.05,
        backoff_max=0.1,
        rate_limit_backoff=0.05,
    )
    config = CleverTapConfig(ACCOUNT, Secret(PASSCODE), url, None)
    return CleverTapSource(config, policy=policy, limiter=AccountLimiter(3))
