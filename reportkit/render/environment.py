"""The one Jinja environment: the user's template folder first, ours behind it.

Autoescape is on for HTML and Markdown templates (`*.html*`, `*.md*`): a value is always text,
never markup. In Markdown, HTML entities render as the characters they stand for, so escaping keeps
a hostile value inert without changing what a reader sees; table cells also go through `cell`,
which escapes `|` and folds newlines. Values are only ever *data*: nothing here compiles a value
as a template, so `{{ 7*7 }}` in a property value stays those eight characters.

Jinja's exceptions become `RenderError` in `render_template`, naming the template and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from reportkit.assets import templates_dir
from reportkit.errors import RenderError
from reportkit.render import labels

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def markdown_cell(value: Any) -> Markup:
    """A value made safe for one GitHub table cell: HTML-escaped, `|` and emphasis escaped,
    newlines folded into spaces."""
    text = _NEWLINES.sub(" ", str(value))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return Markup(escape(text))


def css_string(value: Any) -> Markup:
    """A quoted CSS string (for `content:` in margin boxes) that cannot end the rule or the
    `<style>` element it sits in."""
    text = _NEWLINES.sub(" ", str(value))
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("<", "\\3C "), (">", "\\3E ")):
        text = text.replace(raw, escaped)
    return Markup(f'"{text}"')


def _autoescape(name: str | None) -> bool:
    if name is None:
        return True
    parts = Path(name).name.split(".")
    return any(part in ("html", "htm", "md", "xml", "svg") for part in parts[1:])


def template_dirs(user_dir: Path | None) -> tuple[Path, ...]:
    """The folders templates (and the files they reference) may come from, in lookup order."""
    ours = templates_dir().resolve()
    if user_dir is None:
        return (ours,)
    user = Path(user_dir).expanduser().resolve()
    if not user.is_dir():
        raise RenderError(f"template folder {user_dir} does not exist")
    return (user, ours) if user != ours else (ours,)


FILTERS: dict[str, Any] = {
    "number": labels.format_number,
    "percent": labels.format_percent,
    "delta": labels.format_delta,
    "daterange": labels.format_daterange,
    "value_label": labels.value_label,
    "period": labels.period_label,
    "days": labels.window_days_label,
}


@lru_cache(maxsize=1)
def text_environment() -> jinja2.Environment:
    """A sandboxed environment for one-off text templates written in report definitions
    (email subjects and bodies): no files, no autoescape, the same formatting filters."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=8)
def _build(dirs: tuple[Path, ...]) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in dirs])
    env = jinja2.Environment(
        loader=loader,
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS, cell=markdown_cell, css_string=css_string)
    return env


def build_environment(user_dir: Path | None = None) -> jinja2.Environment:
    """The environment for a report whose output names `user_dir` (or none)."""
    return _build(template_dirs(user_dir))


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found in {_search_path(env)}") from exc
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}:{exc.lineno}"
        raise RenderError(f"template error at {where}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name} could not be rendered: {exc}") from exc


def _search_path(env: jinja2.Environment) -> str:
    loader = env.loader
    folders: Sequence[str] = []
    if isinstance(loader, jinja2.ChoiceLoader):
        folders = [
            p
            for sub in loader.loaders
            if isinstance(sub, jinja2.FileSystemLoader)
            for p in sub.searchpath
        ]
    return ", ".join(folders) or "(no folders)"
