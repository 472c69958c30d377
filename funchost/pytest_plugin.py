"""pytest fixtures for testing function apps (placeholder; see the developer-loop issue)."""
