"""The Markdown report: GitHub-flavoured, with chart PNGs beside it under `charts/`."""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from reportkit.language.model import OutputSpec
from reportkit.render.environment import build_environment, render_template
from reportkit.render.view import ReportView, template_context

TEMPLATE = "report.md.j2"
CHART_DIR = "charts"


def chart_path(chart_id: str) -> str:
    """Where a chart's PNG sits, relative to report.md."""
    return f"{CHART_DIR}/{chart_id}.png"


def render_markdown(view: ReportView, output: OutputSpec, chart_ids: Mapping[str, str]) -> str:
    """`chart_ids` maps each chart id to its relative PNG path (see `chart_path`)."""
    env = build_environment(output.template, markdown=True)
    context = template_context(view)
    # chart paths are ours (charts/<slug>.png): markup, so they are not Markdown-escaped
    context.update(charts={k: Markup(v) for k, v in chart_ids.items()}, page_size="")
    text = render_template(env, TEMPLATE, context)
    # Templates may leave runs of blank lines behind optional blocks; two newlines are enough.
    # split("\n"), not splitlines(): only a newline ends a Markdown line.
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip() == "" and lines and lines[-1] == "":
            continue
        lines.append(line.rstrip() if line.strip() == "" else line)
    return "\n".join(lines).strip() + "\n"
