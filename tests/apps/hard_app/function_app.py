"""Hardening test app: assistant create/query/post, get_json, typed routes, timeouts, hanging skills."""

import asyncio
import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name("CreateRaw")
@app.route(route="raw/create", methods=["POST"])
@app.assistant_create_output(arg_name="requests")
def create_raw(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    requests.set(req.get_body().decode("utf-8"))
    return func.HttpResponse("accepted", status_code=202)


@app.function_name("CreateAssistant")
@app.route(route="assistants/{assistantId}", methods=["PUT"])
@app.assistant_create_output(arg_name="requests")
def create_assistant(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    assistant_id = req.route_params.get("assistantId")
    requests.set(json.dumps({"id": assistant_id, "instructions": req.params.get("instructions", "Be brief.")}))
    return func.HttpResponse(json.dumps({"assistantId": assistant_id}), status_code=202,
                             mimetype="application/json")


@app.function_name("CreateById")
@app.route(route="create", methods=["POST"])
@app.assistant_create_output(arg_name="requests")
def create_by_id(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    assistant_id = req.params["id"]
    requests.set(json.dumps({"id": assistant_id, "instructions": "Be brief."}))
    return func.HttpResponse(json.dumps({"assistantId": assistant_id}), status_code=202,
                             mimetype="application/json")


@app.function_name("GetChatState")
@app.route(route="assistants/{assistantId}", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="{assistantId}", timestamp_utc="{Query.timestampUTC}")
def get_chat_state(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return func.HttpResponse(state, status_code=200, mimetype="application/json")


@app.function_name("QueryById")
@app.route(route="query", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="{Query.id}", timestamp_utc="{Query.timestampUTC}")
def query_by_id(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return func.HttpResponse(state, status_code=200, mimetype="application/json")


@app.function_name("PostUserQuery")
@app.route(route="assistants/{assistantId}", methods=["POST"])
@app.assistant_post_input(arg_name="state", id="{assistantId}", user_message="{Query.message}",
                          chat_model="%CHAT_MODEL_DEPLOYMENT_NAME%")
def post_user_query(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return func.HttpResponse(state, status_code=200, mimetype="application/json")


@app.function_name("MissingSetting")
@app.route(route="missing-setting/{assistantId}", methods=["GET"])
@app.assistant_query_input(arg_name="state", id="%HARD_MISSING_SETTING%", timestamp_utc="{Query.timestampUTC}")
def missing_setting(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return func.HttpResponse(state)


@app.route(route="json", methods=["POST"])
def parse_json(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_json()
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="items/{id:int}", methods=["GET"])
def typed_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"item {req.route_params['id']}")


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"Hello, {req.params.get('name', 'world')}!")


@app.route(route="slow", methods=["GET"])
async def slow(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(60)
    return func.HttpResponse("too late")


@app.function_name("HangSkill")
@app.assistant_skill_trigger(arg_name="task", function_description="A skill that never returns")
async def hang_skill(task: str) -> str:
    await asyncio.sleep(60)
    return "never"


@app.function_name("EchoSkill")
@app.assistant_skill_trigger(arg_name="text", function_description="Echo the text back")
def echo_skill(text: str) -> str:
    return f"echo:{text}"


@app.route(route="leak", methods=["GET"])
def leak(req: func.HttpRequest) -> func.HttpResponse:
    import logging
    import os

    storage = os.environ.get("AzureWebJobsStorage", "")
    logging.info("connecting with %s and key %s", storage, os.environ.get("AZURE_OPENAI_KEY"))
    raise RuntimeError(f"could not connect with {storage}")
