"""funchost: run Azure Functions Python apps locally, the way ``func start`` does."""

__version__ = "0.1.0"

__all__ = ["__version__"]
