def whoami() -> str:
    return "app-storage"
