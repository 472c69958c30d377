"""funchost: run Azure Functions Python apps locally, the way ``func start`` does."""

__version__ = "0.1.0"

DEFAULT_PORT = 7071
DEFAULT_MAX_BODY = 104_857_600
"""Core Tools' default request-body limit (100 MiB)."""

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PORT", "__version__"]
