"""The one version, read from the installed package's metadata (set in pyproject.toml)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perfeval-xl")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
    __version__ = "0+unknown"
