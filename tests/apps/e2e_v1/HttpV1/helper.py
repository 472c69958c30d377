def greeting(who: str) -> str:
    return f"v1 says hello to {who}"
