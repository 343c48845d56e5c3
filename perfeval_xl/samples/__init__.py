"""Built-in sample data: the seed form's three projects (区委宣传部, 2022), for demo and tests."""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib import resources
from pathlib import Path


def sample_roster_path() -> AbstractContextManager[Path]:
    """A context manager giving a real file path of the built-in sample roster (CSV)."""
    return resources.as_file(resources.files(__name__).joinpath("seed_roster.csv"))
