"""The sandbox for templates written inside report definitions (email subjects and bodies),
with limits on the work one render may do.

Jinja's sandbox stops a template from reaching Python internals, but not from asking for
gigabytes: `{{ ("x" * 500000000)|length }}`, `{{ "x"|center(10**9) }}` or two nested
`range(100000)` loops. Here every render is bounded, and a template that goes past a bound
fails at once with `TemplateLimitError` (one line, naming the limit), before the work is done:

- strings and lists: an operator (`*`, `+`, `%`, `**`) or a call (filter or method) whose result
  would hold more than `MAX_TEXT` items is refused before it is computed when the size follows
  from its operands (a repeat count, a padding width), else as soon as it exists; a variable
  that grows past it (`{% set s = s ~ s %}` in a loop) is refused on the next step;
- `range()` holds at most `MAX_RANGE` numbers;
- the template runs at most `MAX_STEPS` steps (lines of template code, loop bodies counted
  every time round), so nested loops over small ranges end too;
- the rendered text holds at most `MAX_TEXT` characters.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

import jinja2
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEXT = 100_000  # characters of any string, items of any list, characters of the output
MAX_RANGE = 10_000
MAX_STEPS = 200_000
MAX_INT_BITS = 4096  # `2 ** 100000000` is a number nobody needs in a subject
_TEMPLATE_FILE = "<template>"
_WIDE_FORMAT = re.compile(r"%[-#0 +]*(?:\*|\d{6,})|\{[^{}]*:[^{}]*\d{6,}")


class TemplateLimitError(jinja2.TemplateError):
    """A template asked for more work than one render may do."""


def _too_big(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what}: more than a template may make (limit {MAX_TEXT:,})")


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, range)) else 0


def _listed(value: Any) -> Any:
    """A generator as a list (what `join` does anyway), so that its size can be checked."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, range)) or not hasattr(
        value, "__iter__"
    ):
        return value
    items = []
    for item in value:
        items.append(item)
        if len(items) > MAX_TEXT:
            raise _too_big("a sequence")
    return items


def _check_result(value: Any, what: str) -> Any:
    if _sized(value) > MAX_TEXT:
        raise _too_big(what)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"{what}: a number too large for a template")
    return value


def _check_args(args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str) -> None:
    """An int argument larger than MAX_TEXT would ask for that many characters (a width)."""
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_TEXT:
            raise _too_big(f"{what} with {arg}")
        if isinstance(arg, str) and _WIDE_FORMAT.search(arg):
            raise _too_big(f"{what} with a width of a million characters or more")


def _check_growth(name: str, target: Any, args: tuple[Any, ...], what: str) -> None:
    """Refuse the calls whose result can be far larger than their inputs, from their sizes:
    `replace` (every match), `join` (every separator), `expandtabs`, `indent` (every line)."""
    estimate = 0
    if name == "replace" and isinstance(target, str) and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        matches = target.count(old) if old else len(target) + 1
        estimate = len(target) + matches * max(0, len(new) - len(old))
    elif name == "join" and isinstance(target, str) and args and _sized(args[0]):
        estimate = len(target) * len(args[0])  # str.join: target is the separator
    elif name == "join" and _sized(target) and args and isinstance(args[0], str):
        estimate = len(args[0]) * len(target)  # the join filter: the list comes first
    elif name in ("expandtabs", "indent") and isinstance(target, str):
        width = next((a for a in args if isinstance(a, int)), 8 if name == "expandtabs" else 4)
        lines = target.count("\t" if name == "expandtabs" else "\n") + 1
        estimate = len(target) + lines * abs(width)
    if estimate > MAX_TEXT:
        raise _too_big(what)


def limited_range(*args: int) -> range:
    """`range` holding at most MAX_RANGE numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitError(
            f"range of {len(numbers):,} numbers: more than a template may loop over"
            f" (limit {MAX_RANGE:,})"
        )
    return numbers


def _limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if name == "join":
            lead = 1 if getattr(func, "jinja_pass_arg", None) else 0
            args = (*args[:lead], _listed(args[lead]), *args[lead + 1 :])
        values = args[1:] if getattr(func, "jinja_pass_arg", None) else args
        _check_args(values[1:], kwargs, f"filter {name}")
        if values:
            _check_growth(name, values[0], values[1:], f"filter {name}")
        return _check_result(func(*args, **kwargs), f"filter {name}")

    # keep Jinja's pass_context/pass_environment markers
    for marker in ("jinja_pass_arg",):
        if hasattr(func, marker):
            setattr(call, marker, getattr(func, marker))
    return call


def limited_concat(parts: Any) -> str:
    """`"".join` for a block's output (macros, filter blocks), stopping at MAX_TEXT."""
    joined: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_TEXT:
            raise _too_big("a block of the template")
        joined.append(part)
    return "".join(joined)


class _LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with the `~` operator checked like the others."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


def _binop_size(operator: str, left: Any, right: Any) -> int:
    """The size of a binary operator's result when it follows from its operands, else 0."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if _sized(seq) and isinstance(count, int):
                return _sized(seq) * count
    if operator == "+":
        return _sized(left) + _sized(right)
    if operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
        return MAX_TEXT + 1
    return 0


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with the bounds of this module."""

    intercepted_binops = frozenset(["*", "+", "%", "**", "//"])
    code_generator_class = _LimitedCodeGenerator
    concat = staticmethod(limited_concat)

    @staticmethod
    def checked_concat(value: Any) -> Any:
        return _check_result(value, "the ~ operator")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = limited_range

    def limit_filters(self) -> None:
        """Wrap every filter registered so far (call after adding your own)."""
        self.filters = {n: _limited_filter(n, f) for n, f in self.filters.items()}

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        what = f"the {operator} operator"
        if _binop_size(operator, left, right) > MAX_TEXT:
            raise _too_big(what)
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, (int, float))
            and abs(left) > 1
            and right * math.log2(abs(left)) > MAX_INT_BITS
        ):
            raise TemplateLimitError(f"{what}: a number too large for a template")
        return _check_result(super().call_binop(context, operator, left, right), what)

    def call(
        __self,  # Jinja's own spelling, so that keyword arguments named self pass
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        what = getattr(__obj, "__name__", "a call")
        if __obj is not limited_range:
            _check_args(args, kwargs, what)
            bound = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
            if isinstance(bound, str):  # "{:>1000000000}".format(1)
                if what == "join" and args:
                    args = (_listed(args[0]), *args[1:])
                _check_args((bound,), {}, what)
                _check_growth(what, bound, args, what)
        return _check_result(super().call(__context, __obj, *args, **kwargs), what)


class _Steps:
    """A trace function counting the lines template code runs."""

    def __init__(self) -> None:
        self.steps = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_code.co_filename == _TEMPLATE_FILE:
            return self._line
        return None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise TemplateLimitError(
                    f"the template ran more than {MAX_STEPS:,} steps (loops inside loops?)"
                )
        return self._line


def render_limited(env: jinja2.Environment, source: str, context: Mapping[str, Any]) -> str:
    """Render `source` in `env` within this module's bounds; TemplateLimitError past them."""
    template = env.from_string(source)
    steps = _Steps()
    previous = sys.gettrace()
    sys.settrace(steps)
    try:
        parts: list[str] = []
        size = 0
        for part in template.generate(**context):
            size += len(part)
            if size > MAX_TEXT:
                raise TemplateLimitError(
                    f"the rendered text is longer than {MAX_TEXT:,} characters"
                )
            parts.append(part)
        return "".join(parts)
    finally:
        sys.settrace(previous)
