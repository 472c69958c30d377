async def main(item: str, msg: str) -> None:
    return None
