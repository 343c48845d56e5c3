"""How wide a text shows: a CJK (wide) character takes two columns, in a terminal as in a
spreadsheet column. Used by the terminal report and by the summary's column widths alike, so it
lives below both (it was the summary's one reason to import the report)."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal or a spreadsheet column: a CJK (wide) character 2."""
    if text.isascii():
        return len(text)
    return len(text.translate(_DOUBLED))


class _Doubled(dict):
    """Code point -> itself, or itself twice when it is wide (East Asian W or F): for
    `str.translate`, which measures a text in C, where a Python loop over its characters was
    most of the time spent fitting a big summary's columns. Filled as characters are met."""

    def __missing__(self, code: int) -> int | str:
        ch = chr(code)
        got: int | str = ch + ch if unicodedata.east_asian_width(ch) in "WF" else code
        if len(self) < 65_536:  # a text of every character there is stays bounded
            self[code] = got
        return got


_DOUBLED = _Doubled()
