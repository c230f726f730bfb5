"""`emulate` and `preview`: servers on loopback that run until Ctrl-C."""

from __future__ import annotations

import contextlib
import sys
import threading
from datetime import datetime
from pathlib import Path

import click

from reportkit.cli.common import (
    AS_OF,
    STATE_DIR,
)


@click.command()
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The DuckDB store to answer from (reportkit demo or import builds one).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free."
)
@click.option("--account-id", help="Accept only this X-CleverTap-Account-Id (default: any).")
@click.option("--passcode", help="Accept only this X-CleverTap-Passcode (default: any).")
@click.option(
    "--partial-polls",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="Answer `partial` this many times (the POST included) before `success`; 0 answers at"
    " once (rare on the real service).",
)
@click.option(
    "--in-progress",
    type=click.Choice(["partial", "code2", "202", "text"]),
    default="partial",
    show_default=True,
    help="How a poll says `not yet`: a partial body, a fail body with code 2, HTTP 202, or the"
    " plain text `still in progress`.",
)
@click.option(
    "--string-req-ids", is_flag=True, help="Hand out req_ids as strings (r123...), not integers."
)
@click.option(
    "--fail-form",
    type=click.Choice(["200", "400"]),
    default="200",
    show_default=True,
    help="Ordinary failures as recorded (HTTP 200, error '[\"Invalid event : X\"]') or"
    " as HTTP 400.",
)
@click.option(
    "--overfill",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Answer top.json with this many values more than top_n per type, as the service may.",
)
@click.option(
    "--latency",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds every request takes.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Requests in flight before 429 Too many concurrent requests.",
)
@click.option(
    "--faults",
    default="",
    metavar="SPEC",
    help="Inject faults, e.g. 500:0.1,429:0.05,reset:0.02,slow:0.05,garbage:0.02,fail200:0.02"
    " (also expire: a poll's req_id is forgotten; 405: a POST is refused, to be asked by GET).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault draws.")
@click.option(
    "--req-ttl",
    type=click.FloatRange(0),
    default=600.0,
    show_default=True,
    help="Seconds a req_id stays pollable; a later poll is told it is unknown or expired.",
)
@click.option(
    "--slow-seconds",
    type=click.FloatRange(0),
    default=3.0,
    show_default=True,
    help="Extra seconds a `slow` fault adds.",
)
def emulate(
    db: Path,
    host: str,
    port: int,
    account_id: str | None,
    passcode: str | None,
    partial_polls: int,
    in_progress: str,
    string_req_ids: bool,
    fail_form: str,
    overfill: int,
    latency: float,
    concurrency: int,
    faults: str,
    seed: int,
    req_ttl: float,
    slow_seconds: float,
) -> None:
    """Serve the CleverTap query API from a local store, for offline development and tests.

    Serves POST /1/counts/top.json, events.json, profiles.json and trends.json as the real service
    does: auth headers, `partial` answers polled by GET ?req_id=, failures as HTTP 200 fail bodies,
    the concurrency limit, the trend limits (one year, 5 groups), and faults injected with a seed.
    Logs one line per request; Ctrl-C stops it. The modes are described in docs/emulator.md.

    \b
    Example:
      reportkit emulate --db .reportkit/demo.duckdb --port 8765 --partial-polls 2
      CLEVERTAP_BASE_URL=http://127.0.0.1:8765 CLEVERTAP_ACCOUNT_ID=x CLEVERTAP_PASSCODE=y \\
        reportkit run reports/ --source clevertap --poll-interval 1
    """
    import logging
    import threading

    from reportkit.app import serving_emulator
    from reportkit.sources.emulator import parse_faults

    try:
        fault_rates = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("reportkit.emulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with serving_emulator(
            db,
            host,
            port,
            account_id=account_id,
            passcode=passcode,
            partial_polls=partial_polls,
            in_progress=in_progress,
            string_req_ids=string_req_ids,
            fail_form=fail_form,
            overfill=overfill,
            latency=latency,
            concurrency=concurrency,
            faults=fault_rates,
            seed=seed,
            req_ttl=req_ttl,
            slow_seconds=slow_seconds,
        ) as emulator:
            click.echo(f"emulating CleverTap at {emulator.url} from {db} (Ctrl-C stops)", err=True)
            click.echo(f"export CLEVERTAP_BASE_URL={emulator.url}")
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        logger.removeHandler(handler)
    click.echo("emulator stopped", err=True)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free."
)
@AS_OF
@click.option(
    "--source",
    "source_text",
    default="demo",
    show_default=True,
    help="demo (built-in demo data), local:PATH (a DuckDB store) or clevertap (your account).",
)
@STATE_DIR
@click.option("--no-cache", is_flag=True, help="Ask the source again on every redraw.")
def preview(
    path: Path,
    host: str,
    port: int,
    as_of: datetime | None,
    source_text: str,
    state_dir: Path,
    no_cache: bool,
) -> None:
    """Serve a report (or a folder of reports) and redraw it in the browser on every save.

    The page redraws when the definition or a file of its template folder changes; answers come
    through the cache, so only changed queries are asked again. A definition with errors shows
    them in the page. Ctrl-C stops the server.

    \b
    Example:
      reportkit preview reports/weekly-ecommerce.yaml --as-of 2026-11-30
      reportkit preview reports/ --source local:events.duckdb --port 8001
    """
    from reportkit.app import serving_preview

    with serving_preview(
        path,
        host,
        port,
        as_of=as_of.date() if as_of else None,
        source=source_text,
        state_dir=state_dir,
        use_cache=not no_cache,
    ) as server:
        click.echo(f"previewing {path} at {server.url} (Ctrl-C stops)", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    click.echo("preview stopped", err=True)
