"""dialectid: spoken language and dialect identification you can audit.

Importing the package does nothing but define names: no models are loaded, no threads are
started, nothing is downloaded.
"""

from importlib.metadata import PackageNotFoundError, version

from dialectid.errors import ConfigError, DialectidError

try:
    __version__ = version("dialectid")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["ConfigError", "DialectidError", "__version__", "load_model"]


def __getattr__(name: str):
    """`dialectid.load_model` without importing torch and friends when the package is imported."""
    if name == "load_model":
        from dialectid.models.bundle import load_model

        return load_model
    raise AttributeError(f"module 'dialectid' has no attribute {name!r}")
