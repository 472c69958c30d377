import azure.functions as func
import isodate


def main(req: func.HttpRequest) -> str:
    return isodate.__file__
