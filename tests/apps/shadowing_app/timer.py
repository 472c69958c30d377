def whoami() -> str:
    return "app-timer"
