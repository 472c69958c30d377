def whoami() -> str:
    return "app-retrieval"
