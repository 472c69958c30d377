def whoami() -> str:
    return "app-bindings"
