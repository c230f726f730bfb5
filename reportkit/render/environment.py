"""The Jinja environments: the user's template folder first, ours behind it.

Values are always text, never markup or template source:
- HTML: autoescape, and every printed value passes `inert_text` (control characters and bidi
  overrides become U+FFFD) through the environment's `finalize`.
- Markdown: the same, and every printed value is also Markdown-escaped and folded onto one line
  (`markdown_inline`), so `**bold**`, `[link](x)`, `|`, a leading `#` or a newline in a value
  cannot make emphasis, links, table cells or headings. HTML entities render as the characters
  they stand for, so escaping keeps a value inert without changing what a reader sees.
- Nothing compiles a value as a template, so `{{ 7*7 }}` in a property value stays those
  eight characters.

Templates load only from inside the template folders: a name with `..` is not found, and a file
that resolves elsewhere (a symlink out of the folder) is refused. Jinja's exceptions become
`RenderError` in `render_template`, naming the template and line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import pass_context
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from markupsafe import Markup, escape

from reportkit.assets import templates_dir
from reportkit.errors import RenderError
from reportkit.render import labels, words
from reportkit.text import inert_text

# `@` too, and the `:` of `scheme://`, `mailto:` and `xmpp:` and the dot of `www.`:
# GitHub-flavoured Markdown makes a live link of `https://...`, `www....` and `name@host` in
# plain text; escaped, they stay text (and read the same).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#@])")
_MD_WWW = re.compile(r"(?i)(www)\.")
_MD_SCHEME = re.compile(r"(?i)(?:(?<=[a-z0-9])(?=://)|(?<=mailto)|(?<=xmpp)):")
# a block marker a value could start a line with: list items, setext underlines, thematic breaks
_MD_LEADING = re.compile(r"^(?:[-+=](?=\s|$|[-=])|\d{1,9}(?=[.)](?:\s|$)))")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def markdown_inline(value: Any) -> Markup:
    """A value made inert in Markdown, in a table cell or anywhere in a line: unsafe characters
    replaced, newlines folded into spaces, `|` and emphasis, code, link and heading characters
    backslash-escaped, a leading list or underline marker escaped, then HTML-escaped."""
    if isinstance(value, Markup):
        return value
    text = _NEWLINES.sub(" ", inert_text(str(value))).strip()
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_WWW.sub(r"\1\\.", text)
    text = _MD_SCHEME.sub(r"\\:", text)
    match = _MD_LEADING.match(text)
    if match:  # `1. x` -> `1\. x`, `- x` -> `\- x`
        cut = match.end() if text[0].isdigit() else 0
        text = text[:cut] + "\\" + text[cut:]
    return Markup(escape(text))


markdown_cell = markdown_inline  # the `cell` filter: table cells were the first to need it


def css_string(value: Any) -> Markup:
    """A quoted CSS string (for `content:` in margin boxes) that cannot end the rule or the
    `<style>` element it sits in."""
    text = _NEWLINES.sub(" ", inert_text(str(value)))
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
        raise RenderError(f"template folder {user_dir} does not exist (looked for {user})")
    return (user, ours) if user != ours else (ours,)


FILTERS: dict[str, Any] = {
    "number": labels.format_number,
    "percent": labels.format_percent,
    "delta": labels.format_delta,
    "money": labels.format_money,
    "daterange": labels.format_daterange,
    "value_label": labels.value_label,
    "period": labels.period_label,
    "days": labels.window_days_label,
}


def _inert(value: Any) -> Any:
    """`finalize` for HTML: every printed string is made inert; markup we built passes as is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return inert_text(value)
    return value


def _one_line(value: Any) -> Any:
    """`finalize` for mail subjects: inert, and a value's line breaks fold into spaces."""
    if isinstance(value, str):
        return _NEWLINES.sub(" ", inert_text(value))
    return value


@lru_cache(maxsize=2)
def text_environment(one_line: bool = False) -> jinja2.Environment:
    """A sandboxed environment for one-off text templates and expressions written in report
    definitions (email subjects and bodies, checks): no files, no autoescape, the same
    formatting filters; printed values are inert, and with `one_line` (subjects) cannot break
    the line. Render with `sandbox.render_limited`, which bounds the work (see
    `reportkit.render.sandbox`); its operators are bounded however it is used."""
    from reportkit.render.sandbox import LimitedSandbox

    env = LimitedSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_one_line if one_line else _inert,
    )
    env.filters.update(FILTERS)
    env.limit_filters()
    return env


BUILTIN_PREFIX = "reportkit/"


class ConfinedLoader(jinja2.BaseLoader):
    """Jinja's FileSystemLoader over `folders`, in order, except that a template whose real path
    (symlinks followed) lies outside every folder is refused instead of read.

    A name starting with `reportkit/` is looked up in the last folder only (ours), so that an
    override can extend the built-in template of the same name:
    `{% extends "reportkit/report.html.j2" %}` in the user's `report.html.j2`."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(Path(f).resolve() for f in folders)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        folders = self.folders
        if template.startswith(BUILTIN_PREFIX):
            folders = self.folders[-1:]
            pieces = split_template_path(template[len(BUILTIN_PREFIX) :])
        else:
            pieces = split_template_path(template)  # TemplateNotFound for `..`
        for folder in folders:
            path = folder.joinpath(*pieces)
            if not path.is_file():
                continue
            real = path.resolve()
            if not any(real.is_relative_to(root) for root in self.folders):
                raise RenderError(
                    f"template {template} is {path}, which leads outside the template folders "
                    f"({', '.join(map(str, self.folders))}): refused"
                )
            try:
                source = real.read_text(encoding="utf-8")
                mtime = real.stat().st_mtime
            except (OSError, UnicodeDecodeError) as exc:
                raise RenderError(f"template {template} ({path}) cannot be read: {exc}") from exc
            return source, str(path), functools.partial(_unchanged, real, mtime)
        raise jinja2.TemplateNotFound(template)


def _unchanged(path: Path, mtime: float) -> bool:
    try:
        return path.stat().st_mtime == mtime
    except OSError:
        return False


def _fill(context: Context, text: str, variables: dict[str, Any]) -> Any:
    """The translated text with its `%(name)s` placeholders filled: each value printed as any
    value is (the environment's `finalize` makes it inert, Markdown-escapes it in Markdown),
    then, where the template escapes, HTML-escaped."""
    finalize = context.environment.finalize
    shown = {k: finalize(v) if finalize is not None else v for k, v in variables.items()}
    if context.eval_ctx.autoescape:
        return Markup(text) % shown if shown else Markup(text)
    return text % shown if shown else text


@pass_context
def template_gettext(context: Context, message: str, **variables: Any) -> Any:
    """`_("Window")`, `_("top %(n)s", n=g.top_n)` in a template."""
    return _fill(context, words.gettext(message), variables)


@pass_context
def template_ngettext(
    context: Context, singular: str, plural: str, count: int, **variables: Any
) -> Any:
    variables.setdefault("num", count)
    return _fill(context, words.ngettext(singular, plural, count), variables)


@lru_cache(maxsize=8)
def _build(dirs: tuple[Path, ...], markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        loader=ConfinedLoader(dirs),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=markdown_inline if markdown else _inert,
    )
    env.filters.update(FILTERS, cell=markdown_inline, css_string=css_string)
    # `_()` and `ngettext()` translate into the locale being rendered (reportkit.render.words)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        template_gettext, template_ngettext, newstyle=False
    )
    return env


def build_environment(
    user_dir: Path | None = None, *, markdown: bool = False
) -> jinja2.Environment:
    """The environment for a report whose output names `user_dir` (or none); `markdown` for the
    Markdown report, whose printed values are Markdown-escaped."""
    return _build(template_dirs(user_dir), markdown)


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
    except RecursionError:
        raise RenderError(
            f"template {name} extends or includes itself without end: to extend the built-in"
            f' template of the same name, write {{% extends "{BUILTIN_PREFIX}{name}" %}}'
        ) from None


def _search_path(env: jinja2.Environment) -> str:
    loader = env.loader
    folders = loader.folders if isinstance(loader, ConfinedLoader) else ()
    return ", ".join(map(str, folders)) or "(no folders)"
