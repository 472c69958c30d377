def whoami() -> str:
    return "app-assistants"
