"""Text from the data made safe to show anywhere: a page, a chart, a mail or a terminal.

Pure and dependency-free, so every stage can use it without reaching into another: the renderer,
the importer's error reasons and the CLI's error lines.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
ELLIPSIS = "\u2026"

# Characters that never reach a page, a chart, a mail or a terminal as themselves: C0 and C1
# controls but tab and newlines (NUL, ESC sequences), DEL, the bidi embeddings, overrides and
# isolates that reorder the text around a value (U+202E), the line and paragraph separators that
# split a Markdown row, lone surrogates and the XML non-characters U+FFFE/U+FFFF (vl-convert
# aborts the process on anything that XML does not allow).
_UNSAFE_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]"
)


def inert_text(text: str) -> str:
    """`text` with every unsafe character (see `_UNSAFE_CHARS`) replaced by U+FFFD."""
    return _UNSAFE_CHARS.sub(REPLACEMENT, text)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, the last an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS
