"""Exceptions that stop a run, by cause.

Findings about a unit's workbook are data (see later modules), never exceptions: only a failure of
the run itself raises. Every message exists in Chinese (the users' language) and English, because
the CLI chooses the language at the edge and the library must not guess it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Text:
    """A message in both languages the tool speaks."""

    zh: str
    en: str

    def __reduce__(self) -> tuple:
        # constructor arguments: see record.Field.__reduce__
        return (Text, (self.zh, self.en))

    def render(self, lang: str = "zh") -> str:
        """Return the message in `lang` ("zh" or "en"; anything else falls back to Chinese)."""
        return self.en if lang == "en" else self.zh


class PerfevalError(Exception):
    """Base class: a run cannot go on. `text` holds the bilingual message."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text

    def render(self, lang: str = "zh") -> str:
        """The message in `lang`, with the location the subclass knows."""
        return self.text.render(lang)


class SpecError(PerfevalError):
    """A form spec (TOML) is missing, unreadable or has a wrong key; names the file and the key."""

    def __init__(self, path: Path | str, key: str, text: Text) -> None:
        super().__init__(text)
        self.path = str(path)
        self.key = key

    def render(self, lang: str = "zh") -> str:
        where = f"{self.path}: {self.key}" if self.key else self.path
        return f"{where}: {self.text.render(lang)}"


class SpecErrors(SpecError):
    """Every mistake found in one spec, so the office fixes them all in one pass; each names
    its key. Caught as a SpecError (it is the first one, with the others behind it)."""

    def __init__(self, errors: list[SpecError]) -> None:
        first = errors[0]
        super().__init__(first.path, first.key, first.text)
        self.errors = errors

    def render(self, lang: str = "zh") -> str:
        return "\n".join(e.render(lang) for e in self.errors)


class RosterError(PerfevalError):
    """A roster is unusable; names the file, the row (as the user sees it) and the column."""

    def __init__(
        self, path: Path | str, text: Text, row: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(text)
        self.path = str(path)
        self.row = row
        self.column = column

    def render(self, lang: str = "zh") -> str:
        parts = [self.path]
        if self.row is not None:
            parts.append(f"第 {self.row} 行" if lang != "en" else f"row {self.row}")
        if self.column is not None:
            parts.append(f"列「{self.column}」" if lang != "en" else f"column '{self.column}'")
        return ", ".join(parts) + ": " + self.text.render(lang)


class OutputError(PerfevalError):
    """An output file or folder cannot be written."""

    def __init__(self, path: Path | str, text: Text) -> None:
        super().__init__(text)
        self.path = str(path)

    def render(self, lang: str = "zh") -> str:
        return f"{self.path}: {self.text.render(lang)}"


class RosterErrors(PerfevalError):
    """Several roster problems found in one pass, so the clerk can fix them all at once."""

    def __init__(self, errors: list[RosterError]) -> None:
        super().__init__(errors[0].text)
        self.errors = errors

    def render(self, lang: str = "zh") -> str:
        return "\n".join(e.render(lang) for e in self.errors)


class PublishError(PerfevalError):
    """A published annex (`publish`) cannot be made: projects with errors refused (`refused`
    names each), nothing to publish, or the PDF could not be printed."""

    def __init__(self, text: Text, refused: tuple = ()) -> None:
        super().__init__(text)
        self.refused = tuple(refused)
