"""Built-in sample data: the seed form's three projects (区委宣传部, 2022), for demo and tests."""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib import resources
from pathlib import Path


def sample_roster_path() -> AbstractContextManager[Path]:
    """A context manager giving a real file path of the built-in sample roster (CSV)."""
    return resources.as_file(resources.files(__name__).joinpath("seed_roster.csv"))


def seed_projects() -> list[dict]:
    """The seed form's three projects as filled on paper, by contract name without `pe_`
    (indicators as a list of dicts); labels exactly as the paper form has them."""
    import json

    text = resources.files(__name__).joinpath("seed_projects.json").read_text(encoding="utf-8")
    return json.loads(text)["projects"]
