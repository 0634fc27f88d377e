"""The toolkit's version, as installed (recorded in every bundle and analysis)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dialectid")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
