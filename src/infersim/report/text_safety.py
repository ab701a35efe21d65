"""Text from names (files, scenarios, catalog entries) made inert where it is shown.

A name is data, never markup: in a CSV a cell starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is a formula to a spreadsheet (OWASP's "CSV injection"), so it gets a leading
`'`; in Markdown (a pull-request comment) HTML (`<`, `&`; a lone `>` opens no tag),
backticks, pipes and `@mentions` are escaped so a
file named `<img src=x onerror=...>.yaml` or `@org/team.yaml` shows as text and pings nobody.
"""

from __future__ import annotations

import re
from typing import Any

#: What a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d[\d,]*\.?\d*|\.\d+)([eE][+-]?\d+)?%?")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as written: text that would start a formula is
    prefixed with `'`; numbers (and text that is just a number, `-3.5`, or a dash) stay."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if value == "-" or _NUMBER.fullmatch(value):
        return value
    return "'" + value


_MARKDOWN = {
    "\\": "\\\\",
    "`": "\\`",
    "|": "\\|",
    "&": "&amp;",
    "<": "&lt;",
    "@": "&#64;",  # no @mention, no notification
    "\n": " ",
    "\r": " ",
}
_MARKDOWN_RE = re.compile("|".join(re.escape(c) for c in _MARKDOWN))


def markdown_text(text: str) -> str:
    """`text` shown as itself in GitHub-flavoured Markdown, in a table cell or a paragraph."""
    return _MARKDOWN_RE.sub(lambda m: _MARKDOWN[m.group(0)], text)


def markdown_code(text: str) -> str:
    """`text` as an inline code span, or as escaped text when it cannot be one (a backtick
    or a line break in it)."""
    if "`" in text or "\n" in text or "\r" in text or not text:
        return markdown_text(text)
    return f"`{text}`"
