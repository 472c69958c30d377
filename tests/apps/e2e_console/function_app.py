"""Console output: the Functions: block, invocation lines, user logs, failures."""

import logging

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="items/{id}", methods=["GET", "POST"])
def zeta(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(context.invocation_id)


@app.route(route="hello")
def Alpha(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hi")


@app.route(route="logs", methods=["GET"])
def beta(req: func.HttpRequest) -> func.HttpResponse:
    logging.info("user info line %s", req.params.get("n"))
    logging.debug("user debug line")
    print("printed line")
    return func.HttpResponse("logged")


@app.route(route="boom", methods=["GET"])
def Boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("kaboom from user code")


@app.route(route="retired")
def Retired(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("retired")


@app.event_hub_message_trigger(arg_name="msg", event_hub_name="work", connection="EventHubConnection")
def gamma_queue(msg: str) -> None:
    logging.info("queue got %s", msg)
