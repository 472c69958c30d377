import azure.functions as func
import notfound  # noqa: F401


def main(req: func.HttpRequest) -> str:
    return "unreachable"
