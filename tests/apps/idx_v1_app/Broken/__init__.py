import azure.functions as func

from ..shared import no_such_name


def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(no_such_name)
