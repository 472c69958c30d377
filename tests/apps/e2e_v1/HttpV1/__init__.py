import azure.functions as func

from .helper import greeting


def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(greeting(req.route_params["who"]))
