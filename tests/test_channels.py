"""Slack and webhook delivery against real HTTP stand-ins on 127.0.0.1, which check what a real
receiver checks: the JSON, the HMAC signature, Slack's block limits and its two-step upload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reportkit.cli import cli
from reportkit.deliver.http import post_with_retries
from reportkit.deliver.slack import build_message
from reportkit.deliver.webhook import deliver_webhook, sign
from reportkit.errors import DeliveryError
from reportkit.language.model import WebhookSpec
from reportkit.publish.folders import load_results
from reportkit.results import CheckResult, Highlight
from tests.conftest import AS_OF
from tests.http_standins import (
    TOKEN,
    check_blocks,
    serve,
    slack_route,
    verify_signature,
    webhook_receiver,
)
from tests.report_fixtures import HOSTILE, make_report, top_query

SECRET = "hook-secret-Zq9"
END = "2026-11-29"


def definition(tmp: Path, deliver: str, checks: str = "") -> Path:
    path = tmp / "r.yaml"
    path.write_text(
        "version: 1\ntitle: Orders\nwindow: last_week\ncompare: previous_period\n"
        "queries:\n  - {id: orders, event: Charged, kind: count}\n"
        + checks
        + "deliver:\n"
        + deliver
    )
    return path


def run(
    demo_store: Path, tmp: Path, path: Path, *extra: str, env: dict[str, str] | None = None
) -> Result:
    args = [
        "run", str(path), "--as-of", AS_OF, "--source", f"local:{demo_store}",
        "--out", str(tmp / "out"), "--state-dir", str(tmp / "state"), "--format", "md",
        "--deliver", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, env={"REPORTKIT_SMTP_URL": "", **(env or {})})


FAILING = "checks:\n  - {id: many, expect: queries.orders.total > 10**9, message: Too few orders}\n"


# --------------------------------------------------------------------------- webhook


def test_the_webhook_gets_signed_facts_and_a_rerun_sends_nothing(
    demo_store: Path, tmp_path: Path
) -> None:
    with serve(webhook_receiver(SECRET)) as hook:
        path = definition(
            tmp_path, f"  webhook: {{url: '{hook.url}/in', secret_env: HOOK_SECRET}}\n", FAILING
        )
        first = run(demo_store, tmp_path, path, env={"HOOK_SECRET": SECRET})
        second = run(demo_store, tmp_path, path, env={"HOOK_SECRET": SECRET})
    assert first.exit_code == 3, first.output  # written and delivered, but a check failed
    assert "sent    r to webhook" in first.stdout
    assert "CHECK   r: many: Too few orders" in first.stderr
    assert second.exit_code == 3
    assert "skipped r on webhook (already sent)" in second.stdout
    (got,) = hook.received  # the receiver answered 200: the signature verified
    assert verify_signature(got.body, got.headers["X-Reportkit-Signature"], SECRET)
    folder = tmp_path / "out" / "r" / END
    manifest = json.loads((folder / "manifest.json").read_text())
    results = json.loads((folder / "results.json").read_text())
    body = got.json()
    assert body["report"] == {"id": "r", "title": "Orders"}
    assert body["window"] == {"from": "2026-11-23", "to": END}
    assert body["as_of"] == AS_OF and body["source"] == f"local:{demo_store}"
    assert [f["path"] for f in body["files"]] == [
        *(f["path"] for f in manifest["files"]),
        "manifest.json",
    ]
    orders = results["queries"]["orders"]
    assert body["queries"]["orders"]["total"] == orders["count"] > 0
    assert body["queries"]["orders"]["previous_total"] == orders["previous_count"]
    assert (
        body["checks"]
        == results["checks"]
        == [{"id": "many", "severity": "fail", "passed": False, "message": "Too few orders"}]
    )
    for output in (first.output, second.output):
        assert SECRET not in output and hook.url.split("//")[1] not in output


def test_a_4xx_is_final_and_the_other_channels_still_go(demo_store: Path, tmp_path: Path) -> None:
    with serve(webhook_receiver(SECRET)) as hook, serve(slack_route) as slack:
        path = definition(
            tmp_path,
            f"  webhook: {{url: '{hook.url}/in', secret_env: HOOK_SECRET}}\n"
            "  slack: {webhook_url_env: SLACK_URL}\n",
        )
        result = run(
            demo_store,
            tmp_path,
            path,
            env={"HOOK_SECRET": "not-the-receivers", "SLACK_URL": f"{slack.url}/hook"},
        )
    assert result.exit_code == 1
    assert "FAILED  r: delivery: webhook: the webhook answered 401: bad signature" in result.stderr
    assert len(hook.received) == 1  # a 4xx is not tried again
    assert "sent    r to slack" in result.stdout
    assert [r.path for r in slack.received] == ["/hook"]
    assert slack.url.split("//")[1] not in result.output


def test_5xx_is_tried_again_with_the_same_signed_body(tmp_path: Path) -> None:
    result = make_report(queries=(top_query(),))
    folder = tmp_path / "r" / END
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"files": []}')
    with serve(webhook_receiver(SECRET)) as hook:
        hook.script += [(503, {}, b"busy"), (502, {}, b"")]
        spec = WebhookSpec(url=f"{hook.url}/in", secret_env="HOOK_SECRET")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HOOK_SECRET", SECRET)
            delivery = deliver_webhook(
                folder, result, spec, state_dir=tmp_path, outbox=tmp_path, backoff=0.01
            )
    assert delivery.action == "sent"
    assert len(hook.received) == 3
    assert len({r.body for r in hook.received}) == 1
    assert all(r.headers["X-Reportkit-Signature"] == sign(r.body, SECRET) for r in hook.received)


def test_a_redirect_is_refused_and_the_body_goes_nowhere_else() -> None:
    with serve(webhook_receiver(None)) as elsewhere:
        target = f"{elsewhere.url}/stolen"
        with (
            serve(lambda s, g: (307, {"Location": target}, b"")) as hook,
            pytest.raises(DeliveryError) as info,
        ):
            post_with_retries(
                f"{hook.url}/in", b"{}", {"Authorization": "Bearer x"}, name="the webhook"
            )
    assert str(info.value) == (
        "the webhook: answered a redirect (307); reportkit does not follow it"
    )
    assert elsewhere.received == []


# --------------------------------------------------------------------------- Slack


def test_the_slack_message_keeps_to_slacks_limits_and_shows_failures_first() -> None:
    queries = tuple(top_query(f"q{i}", seed=i) for i in range(620))  # 62 sections of totals
    result = make_report(queries=queries, hostile=True)
    from dataclasses import replace

    result = replace(
        result,
        checks=(
            CheckResult("ok", "fail", True, "fine"),
            CheckResult("w", "warn", False, "a warning " + "x" * 4000),
            CheckResult("f", "fail", False, f"broken <https://evil.example|click> {HOSTILE}"),
        ),
        highlights=(Highlight("Shoes rose 50.0% to 150 (from 100).", "q1", 150, 100, 50.0),),
    )
    message = build_message(result)
    assert check_blocks(message) == []
    blocks = message["blocks"]
    assert len(blocks) == 50
    assert blocks[0]["type"] == "header"
    failed = blocks[2]["text"]["text"]
    assert failed.startswith("*2 of 3 checks failed*\n:x: *FAILED* broken &lt;https://evil")
    # a line too long for the section's 3,000 characters goes on in the next one, clipped
    warned = blocks[3]["text"]["text"]
    assert warned.startswith(":warning: *WARNING* a warning xxx") and len(warned) <= 3000
    assert "What changed" in blocks[4]["text"]["text"]
    assert blocks[-1]["elements"][0]["text"].startswith("190 more totals are in the report")
    # mrkdwn (and the notification text) can make links and mentions from `<...>`: none here;
    # the header is plain_text, which Slack shows as it is
    mrkdwn = [message["text"]]
    for block in blocks:
        mrkdwn += [block["text"]["text"]] if block.get("text", {}).get("type") == "mrkdwn" else []
        mrkdwn += [f["text"] for f in block.get("fields", []) + block.get("elements", [])]
    assert len(mrkdwn) > 50 and not any("<" in t or ">" in t for t in mrkdwn)
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": f"Weekly {HOSTILE} {{{{ 7*7 }}}}",
        "emoji": False,
    }
    assert message["text"].endswith(": 2 checks failed")


def test_a_bot_posts_the_message_then_uploads_the_pdf_in_two_steps(
    demo_store: Path, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    with serve(slack_route) as slack:
        path = definition(
            tmp_path, "  slack: {token_env: SLACK_TOKEN, channel: reports}\n", FAILING
        )
        env = {"SLACK_TOKEN": TOKEN, "REPORTKIT_SLACK_API_URL": f"{slack.url}/api"}
        result = run(demo_store, tmp_path, path, "--format", "pdf", env=env)
    assert result.exit_code == 3, result.output
    assert "sent    r to slack reports" in result.stdout
    post, get_url, upload, complete = slack.received
    assert [post.path, get_url.path, upload.path, complete.path] == [
        "/api/chat.postMessage",
        "/api/files.getUploadURLExternal",
        "/upload/F0001",
        "/api/files.completeUploadExternal",
    ]
    assert post.json()["channel"] == "reports"
    pdf = tmp_path / "out" / "r" / END / "report.pdf"
    assert get_url.form() == {"filename": "report.pdf", "length": str(pdf.stat().st_size)}
    assert upload.body == pdf.read_bytes()
    assert "Authorization" not in upload.headers  # the token never goes to the upload host
    assert complete.form()["thread_ts"] == "1700000000.000100"
    assert TOKEN not in result.output
    # the failed check is the first thing on the PDF's first page
    first_page = PdfReader(pdf).pages[0].extract_text()
    assert first_page.index("1 of 1 checks failed") < first_page.index("FAILED")
    assert first_page.index("Too few orders") < first_page.index("Orders\n")


def test_a_slack_refusal_is_named_and_a_rerun_sends_only_what_did_not_go(
    demo_store: Path, tmp_path: Path
) -> None:
    with serve(webhook_receiver(None)) as hook, serve(slack_route) as slack:
        path = definition(
            tmp_path,
            f"  webhook: {{url: '{hook.url}/in'}}\n  slack: {{webhook_url_env: SLACK_URL}}\n",
        )
        slack.script.append((404, {}, b"no_service"))
        env = {"SLACK_URL": f"{slack.url}/hook"}
        first = run(demo_store, tmp_path, path, env=env)
        second = run(demo_store, tmp_path, path, env=env)
    assert first.exit_code == 1
    assert "FAILED  r: delivery: slack: the Slack webhook answered 404: no_service" in first.stderr
    assert second.exit_code == 0, second.output
    assert "sent    r to slack" in second.stdout
    assert "skipped r on webhook (already sent)" in second.stdout
    assert len(hook.received) == 1 and len(slack.received) == 2


# --------------------------------------------------------------------------- the run


def test_dry_run_writes_each_message_as_json_without_any_secret(
    demo_store: Path, tmp_path: Path
) -> None:
    path = definition(
        tmp_path,
        "  webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}\n"
        "  slack: {webhook_url_env: SLACK_URL}\n",
        FAILING,
    )
    result = run(demo_store, tmp_path, path, "--dry-run", "--no-fail-on-checks")
    assert result.exit_code == 0, result.output
    outbox = tmp_path / "out" / "outbox"
    assert sorted(p.name for p in outbox.iterdir()) == [
        f"r-{END}-slack.json",
        f"r-{END}-webhook.json",
    ]
    hook = json.loads((outbox / f"r-{END}-webhook.json").read_text())
    assert hook["checks"][0]["passed"] is False
    slack = json.loads((outbox / f"r-{END}-slack.json").read_text())
    assert check_blocks(slack) == []


def test_a_missing_variable_is_exit_2_before_any_query(tmp_path: Path) -> None:
    path = definition(tmp_path, "  slack: {webhook_url_env: NO_SUCH_VAR_123}\n")
    result = CliRunner().invoke(
        cli, ["run", str(path), "--out", str(tmp_path / "out"), "--deliver"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: report 'r': deliver.slack: the webhook URL variable $NO_SUCH_VAR_123 is not set\n"
    )
    assert not (tmp_path / "out").exists()


def test_send_if_checks_failed_makes_an_alert(demo_store: Path, tmp_path: Path) -> None:
    passing = "checks:\n  - {id: some, expect: queries.orders.total > 0}\n"
    with serve(webhook_receiver(None)) as hook:
        deliver = f"  webhook: {{url: '{hook.url}/in', send_if: checks_failed}}\n"
        quiet = run(demo_store, tmp_path, definition(tmp_path, deliver, passing))
        assert quiet.exit_code == 0
        assert "skipped r on webhook (no check failed)" in quiet.stdout
        loud = run(demo_store, tmp_path / "2", definition(tmp_path, deliver, FAILING))
    assert loud.exit_code == 3
    assert len(hook.received) == 1
    assert load_results(tmp_path / "2" / "out" / "r" / END / "results.json").checks[0].id == "many"


def test_send_delivers_a_built_folder_on_its_channels(demo_store: Path, tmp_path: Path) -> None:
    path = definition(tmp_path, "  slack: {webhook_url_env: SLACK_URL}\n")
    built = CliRunner().invoke(
        cli,
        ["run", str(path), "--as-of", AS_OF, "--source", f"local:{demo_store}",
         "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state"), "--format", "md"],
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    with serve(slack_route) as slack:
        sent = CliRunner().invoke(
            cli,
            ["send", str(tmp_path / "out" / "r" / END), "--reports", str(path),
             "--state-dir", str(tmp_path / "state")],
            env={"SLACK_URL": f"{slack.url}/hook"},
        )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    assert sent.stdout == "sent    r to slack\n"
    (message,) = slack.received
    assert message.json()["blocks"][0]["text"]["text"] == "Orders"


def test_a_slack_rate_limit_waits_as_asked_then_goes_through() -> None:
    waits: list[float] = []
    with serve(slack_route) as slack:
        slack.script.append((429, {"Retry-After": "3"}, b"rate_limited"))
        reply = post_with_retries(
            f"{slack.url}/hook",
            json.dumps({"text": "hi", "blocks": []}).encode(),
            {"Content-Type": "application/json"},
            name="the Slack webhook",
            backoff=0.01,
            retry_statuses=lambda status: status == 429 or status >= 500,
            sleep=waits.append,
        )
    assert (reply.status, waits, len(slack.received)) == (200, [3.0], 2)


def test_the_documented_verification_accepts_our_signature_and_nothing_else() -> None:
    import re

    docs = (Path(__file__).resolve().parent.parent / "docs" / "delivery.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", docs, flags=re.S)
    scope: dict[str, object] = {}
    exec(snippet, scope)
    verified = scope["verified"]
    body = b'{"report":{"id":"r"}}'
    assert verified(body, sign(body, SECRET), SECRET)  # type: ignore[operator]
    assert not verified(body + b" ", sign(body, SECRET), SECRET)  # type: ignore[operator]
    assert not verified(body, sign(body, "other"), SECRET)  # type: ignore[operator]
    assert "X-Reportkit-Signature: sha256=<hex" in docs
