"""`reportkit preview`: a development server that reruns the flow when a definition changes.

A tool built on the flow, never inside it: it loads, plans, executes (through the answer cache, so
an edit to a title asks nothing again) and renders HTML exactly as `reportkit run` does, then
serves the page on a loopback address with a small script added to the *preview page only*: the
script listens to server-sent events (`/events`) and, when a watched file changes, fetches the
page again and swaps its head and body in place, without a reload. The report's own HTML (and
what `run` publishes) stays free of JavaScript.

    /                  the report (PATH is a file) or the list of reports (PATH is a folder)
    /r/<name>          one report of the folder; `?good` shows the last good build
    /pdf/<name>        its PDF, rendered on demand from the last good build
    /events            server-sent events: `data: <generation>` whenever a watched file changes

A definition with errors shows its located problem lines instead of the report, with the last
good report one click away; fixing the file brings the report back. Watching is a poll of file
sizes and modification times (the definitions and their template folders) every `poll` seconds:
no dependency, and it sees editors that save through a temp file and a rename.
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from reportkit.errors import InvalidInput, ReportkitError, SpecError
from reportkit.sources.execute import AnswerCache, Progress, ProgressEvent

if TYPE_CHECKING:
    from reportkit.language.model import OutputSpec
    from reportkit.results import ReportResult
    from reportkit.sources.base import Source

MAX_TEMPLATE_FILES = 500  # a template folder is a few files; never walk a whole disk
MAX_MEMO_CHARTS = 256  # SVGs kept for redraws: a few reports' charts


@dataclass(frozen=True, slots=True)
class Build:
    """One attempt at a report: its HTML, or the located problems that stopped it."""

    name: str  # the definition's name in URLs: its path relative to the previewed folder
    generation: int
    html: str | None = None
    problems: tuple[str, ...] = ()
    title: str = ""
    result: ReportResult | None = None
    output: OutputSpec | None = None
    asked: int = 0  # requests sent to the source
    cached: int = 0  # requests answered by the cache
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.html is not None


class Preview:
    """The previewed PATH (a definition or a folder of them) and the last build of each report.

    Safe to share between the server's threads: builds run one at a time.
    """

    def __init__(
        self,
        path: Path,
        source: Source,
        *,
        cache: AnswerCache | None = None,
        as_of: date | None = None,
        demo: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.source = source
        self.cache = cache
        self.as_of = as_of
        self.demo = demo
        self._clock = clock
        self._lock = threading.Lock()
        self._builds: dict[str, Build] = {}
        self._good: dict[str, Build] = {}
        self._templates: dict[str, Path] = {}
        self._svgs: dict[str, str] = {}  # chart spec -> SVG: an unchanged chart is not redrawn

    @property
    def is_folder(self) -> bool:
        return self.path.is_dir()

    def definitions(self) -> dict[str, Path]:
        """The definitions previewed, by their name in URLs."""
        from reportkit.language.spec import find_report_files

        if not self.is_folder:
            return {self.path.name: self.path}
        try:
            files = find_report_files([self.path])
        except InvalidInput:
            return {}
        return {file.relative_to(self.path).as_posix(): file for file in files}

    def watched(self) -> list[Path]:
        """Every file whose change redraws the page: the definitions and their template files."""
        files = list(self.definitions().values())
        for folder in sorted(set(self._templates.values())):
            found = 0
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    files.append(file)
                    found += 1
                    if found >= MAX_TEMPLATE_FILES:
                        break
        return files

    def last_good(self, name: str) -> Build | None:
        return self._good.get(name)

    def build(self, name: str, generation: int) -> Build:
        """The report `name` as of `generation`, built again only when the files changed."""
        with self._lock:
            known = self._builds.get(name)
            if known is not None and known.generation == generation:
                return known
            built = self._build(name, generation)
            self._builds[name] = built
            if built.ok:
                self._good[name] = built
            return built

    def _build(self, name: str, generation: int) -> Build:
        from reportkit import __version__
        from reportkit.language.spec import load_report
        from reportkit.plan import plan_requests
        from reportkit.render import render_report
        from reportkit.results import build_report_result
        from reportkit.runner import default_as_of
        from reportkit.sources.execute import execute

        started = time.monotonic()
        file = self.definitions().get(name)
        if file is None:
            return Build(name, generation, problems=(f"{name}: no such report definition",))
        counts = {"sent": 0, "cached": 0}

        def count(step: ProgressEvent) -> None:
            if isinstance(step, Progress) and step.state in counts:
                counts[step.state] += 1

        try:
            report = load_report(file)
            # replaced, never changed in place: the watcher thread reads it without the lock
            others = {k: v for k, v in self._templates.items() if k != name}
            template = report.output.template
            self._templates = others if template is None else {**others, name: template}
            now = self._clock()
            plan = plan_requests(report, self.as_of or default_as_of(report, now))
            answers = execute(plan.requests, self.source, cache=self.cache, on_progress=count)
            if answers.failures:
                by_key = {r.key: r for r in plan.requests}
                raise _Failed(
                    tuple(
                        f"{file}: query {', '.join(s.query_id for s in by_key[key].serves)}: "
                        f"{message}"
                        for key, message in answers.failures.items()
                    )
                )
            result = build_report_result(
                plan,
                answers.bodies,
                source=self.source.name,
                demo=self.demo,
                generated_at=now,
                version=__version__,
            )
            if len(self._svgs) > MAX_MEMO_CHARTS:
                self._svgs.clear()
            page = render_report(result, report.output, formats=("html",), svg_memo=self._svgs)[
                "report.html"
            ]
        except SpecError as exc:
            return Build(name, generation, problems=tuple(exc.problems))
        except _Failed as exc:
            return Build(name, generation, problems=exc.problems)
        except ReportkitError as exc:
            return Build(name, generation, problems=(f"{file}: {exc}",))
        except Exception as exc:  # a bug must show in the page, not stop the server
            return Build(name, generation, problems=(f"{file}: {type(exc).__name__}: {exc}",))
        return Build(
            name,
            generation,
            html=page.decode("utf-8"),
            title=report.title,
            result=result,
            output=report.output,
            asked=counts["sent"],
            cached=counts["cached"],
            seconds=time.monotonic() - started,
        )

    def pdf(self, name: str) -> bytes | None:
        """The PDF of the last good build of `name`, rendered now; None before any good build."""
        from reportkit.render import render_report

        good = self._good.get(name)
        if good is None or good.result is None or good.output is None:
            return None
        return render_report(good.result, good.output, formats=("pdf",))["report.pdf"]


class _Failed(Exception):
    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- pages

_SCRIPT = """<script id="reportkit-preview">
(() => {
  let shown = %(generation)d, busy = false, again = false;
  async function redraw() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(location.href, {cache: "no-store"});
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      page.querySelectorAll("script").forEach((s) => s.remove());
      document.head.replaceChildren(...page.head.childNodes);
      document.body.replaceChildren(...page.body.childNodes);
      document.body.className = page.body.className;
      document.documentElement.dataset.previewGeneration = String(shown);
    } finally {
      busy = false;
      if (again) { again = false; redraw(); }
    }
  }
  const events = new EventSource("/events");
  events.onmessage = (event) => {
    const generation = Number(event.data);
    if (generation !== shown) { shown = generation; redraw(); }
  };
})();
</script>"""

_BAR_STYLE = (
    "font:13px system-ui,sans-serif;background:#1f2933;color:#f5f7fa;padding:6px 12px;"
    "margin:0 0 12px 0"
)


def _bar(links: list[tuple[str, str]], note: str) -> str:
    anchors = " · ".join(
        f'<a style="color:#9fd3ff" href="{html.escape(href)}">{html.escape(text)}</a>'
        for href, text in links
    )
    return (
        f'<div id="reportkit-preview-bar" style="{_BAR_STYLE}">reportkit preview · {anchors}'
        f"{' · ' + html.escape(note) if note else ''}</div>"
    )


def decorate(page: str, generation: int, bar: str) -> str:
    """The preview page: `page` with the preview bar at the top of its body and the redraw
    script in its head. Only the preview adds these; the report's HTML has no script."""
    script = _SCRIPT % {"generation": generation}
    lower = page.lower()
    head_end = lower.find("</head>")
    page = page[:head_end] + script + page[head_end:] if head_end >= 0 else script + page
    lower = page.lower()
    body = lower.find("<body")
    if body >= 0:
        close = page.find(">", body)
        return page[: close + 1] + bar + page[close + 1 :]
    return bar + page


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f'<body style="font:15px system-ui,sans-serif;margin:0">\n{body}\n</body></html>\n'
    )


def error_page(build: Build, good: Build | None) -> str:
    """The located problems of a failed build, and a link to the last good report."""
    items = "\n".join(f"<li><code>{html.escape(problem)}</code></li>" for problem in build.problems)
    count = len(build.problems)
    noun = "problem" if count == 1 else "problems"
    back = (
        f'<p><a id="last-good" href="?good">Show the last good report ({html.escape(good.title)})'
        "</a></p>"
        if good is not None
        else "<p>No good build of this report yet.</p>"
    )
    body = (
        f'<main style="padding:0 16px"><h1 id="preview-error">{html.escape(build.name)}: '
        f"{count} {noun}</h1>\n"
        f'<ol class="problems" style="line-height:1.6">\n{items}\n</ol>\n{back}\n'
        "<p>Fix the file and save: this page redraws by itself.</p></main>"
    )
    return _document(f"{build.name}: {count} {noun}", body)


def list_page(folder: Path, names: list[str]) -> str:
    rows = "\n".join(
        f'<li><a href="/r/{quote(name)}">{html.escape(name)}</a></li>' for name in names
    )
    empty = "" if names else "<p>No .yaml or .yml report definitions here yet.</p>"
    body = (
        f'<main style="padding:0 16px"><h1>Reports in {html.escape(str(folder))}</h1>\n'
        f'<ul id="reports">\n{rows}\n</ul>{empty}</main>'
    )
    return _document(f"reports in {folder}", body)


# --------------------------------------------------------------------------- the server


class PreviewServer(ThreadingHTTPServer):
    """An HTTP server for one `Preview`, with a thread that watches its files."""

    daemon_threads = True

    def __init__(self, preview: Preview, host: str, port: int, *, poll: float = 0.2) -> None:
        super().__init__((host, port), _Handler)
        self.preview = preview
        self.poll = poll
        self.generation = 0
        self.stopping = False
        self._changed = threading.Condition()
        self._stamp = self._fingerprint()
        self._workers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        for file in self.preview.watched():
            try:
                stat = file.stat()
            except OSError:
                continue
            stamps.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def check(self) -> bool:
        """Look at the watched files once; True (and a new generation) when any changed."""
        stamp = self._fingerprint()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        with self._changed:
            self.generation += 1
            self._changed.notify_all()
        return True

    def wait_change(self, seen: int, timeout: float) -> int:
        """The generation once it differs from `seen`, or after `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.generation != seen or self.stopping, timeout=timeout
            )
            return self.generation

    def _watch(self) -> None:
        while not self.stopping:
            with contextlib.suppress(OSError):  # a folder vanished while walked: next time
                self.check()
            time.sleep(self.poll)

    def start(self) -> None:
        for target in (self.serve_forever, self._watch):
            thread = threading.Thread(target=target, name="reportkit-preview", daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._changed.notify_all()
        self.shutdown()
        self.server_close()
        for thread in self._workers:
            thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "reportkit-preview"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the CLI prints what matters

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = unquote(parts.path)
        preview = self.server.preview
        try:
            if route == "/events":
                self._events()
            elif route == "/status":
                self._status()
            elif route == "/" and preview.is_folder:
                names = sorted(preview.definitions())
                bar = _bar([], f"{len(names)} reports")
                page = list_page(preview.path, names)
                self._send_page(page, bar, self.server.generation)
            elif route == "/":
                self._report(preview.path.name, parts.query)
            elif route.startswith("/r/"):
                self._report(route[len("/r/") :], parts.query)
            elif route.startswith("/pdf/"):
                self._pdf(route[len("/pdf/") :])
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
        except (BrokenPipeError, ConnectionResetError):
            return

    def _report(self, name: str, query: str) -> None:
        preview = self.server.preview
        if name not in preview.definitions():
            self._send(404, "text/plain; charset=utf-8", b"no such report definition\n")
            return
        generation = self.server.generation
        build = preview.build(name, generation)
        good = preview.last_good(name)
        links = [(f"/pdf/{quote(name)}", "PDF")]
        if preview.is_folder:
            links.insert(0, ("/", "all reports"))
        if query == "good" and good is not None and good.html is not None:
            self._send_page(
                good.html, _bar([*links, ("?", "current")], "last good build"), generation
            )
        elif build.html is not None:
            note = f"{build.asked} asked, {build.cached} cached, {build.seconds:.2f} s"
            self._send_page(build.html, _bar(links, note), generation)
        else:
            self._send_page(error_page(build, good), _bar(links, "errors"), generation)

    def _pdf(self, name: str) -> None:
        preview = self.server.preview
        if name not in preview.definitions():
            self._send(404, "text/plain; charset=utf-8", b"no such report definition\n")
            return
        preview.build(name, self.server.generation)
        try:
            pdf = preview.pdf(name)
        except ReportkitError as exc:
            self._send(500, "text/plain; charset=utf-8", f"{exc}\n".encode())
            return
        if pdf is None:
            self._send(409, "text/plain; charset=utf-8", b"no good build of this report yet\n")
            return
        self._send(200, "application/pdf", pdf)

    def _status(self) -> None:
        preview = self.server.preview
        builds = {}
        for name in preview.definitions():
            build = preview.build(name, self.server.generation)
            builds[name] = {
                "ok": build.ok,
                "asked": build.asked,
                "cached": build.cached,
                "problems": list(build.problems),
            }
        body = {"generation": self.server.generation, "reports": builds}
        self._send(200, "application/json", json.dumps(body).encode())

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = self.server.generation
        self.wfile.write(f"retry: 500\ndata: {seen}\n\n".encode())
        self.wfile.flush()
        while not self.server.stopping:
            now = self.server.wait_change(seen, timeout=15)
            if now == seen:
                self.wfile.write(b": still here\n\n")
            else:
                seen = now
                self.wfile.write(f"data: {now}\n\n".encode())
            self.wfile.flush()

    def _send_page(self, page: str, bar: str, generation: int) -> None:
        text = decorate(page, generation, bar)
        self._send(200, "text/html; charset=utf-8", text.encode("utf-8"))

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def start_preview(
    preview: Preview, host: str = "127.0.0.1", port: int = 0, *, poll: float = 0.2
) -> PreviewServer:
    """Serve `preview` on host:port (0: any free port) from background threads; `stop()` ends it."""
    try:
        server = PreviewServer(preview, host, port, poll=poll)
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.start()
    return server
