"""dialectid: spoken language and dialect identification you can audit.

Importing the package does nothing but define names: no models are loaded, no threads are
started, nothing is downloaded.
"""

from dialectid.errors import ConfigError, DialectidError
from dialectid.version import __version__

__all__ = ["ConfigError", "DialectidError", "__version__", "analyse", "load_model"]


def __getattr__(name: str):
    """`dialectid.load_model` and `dialectid.analyse`, imported only when first used."""
    if name == "load_model":
        from dialectid.models.bundle import load_model

        return load_model
    if name == "analyse":
        from dialectid.scoring import analyse

        return analyse
    raise AttributeError(f"module 'dialectid' has no attribute {name!r}")
