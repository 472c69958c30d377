import azure.functions as func

from ..shared import greet


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(greet(req.params.get("name", "world")))
