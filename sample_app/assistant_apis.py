"""HTTP APIs: create an assistant, talk to it, read its history."""

import json
import logging

import azure.functions as func

apis = func.Blueprint()

INSTRUCTIONS = (
    "Don't make assumptions about what values to plug into functions. "
    "Ask for clarification if a user request is ambiguous. "
    "You help people keep a todo list: add tasks with AddTodo and read them with GetTodos."
)


@apis.function_name("CreateAssistant")
@apis.route(route="assistants/{assistantId}", methods=["PUT"])
@apis.assistant_create_output(arg_name="requests")
def create_assistant(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    assistant_id = req.route_params.get("assistantId")
    request = {
        "id": assistant_id,
        "instructions": INSTRUCTIONS,
        "chatStorageConnectionSetting": "AzureWebJobsStorage",
        "collectionName": "ChatState",
    }
    requests.set(json.dumps(request))
    logging.info("Creating assistant %s", assistant_id)
    return func.HttpResponse(
        json.dumps({"assistantId": assistant_id}), status_code=202, mimetype="application/json"
    )


@apis.function_name("PostUserQuery")
@apis.route(route="assistants/{assistantId}", methods=["POST"])
@apis.assistant_post_input(
    arg_name="state",
    id="{assistantId}",
    user_message="{Query.message}",
    chat_model="%CHAT_MODEL_DEPLOYMENT_NAME%",
    chat_storage_connection_setting="AzureWebJobsStorage",
    collection_name="ChatState",
)
def post_user_response(req: func.HttpRequest, state: str) -> func.HttpResponse:
    data = json.loads(state)
    if not data["exists"]:
        return func.HttpResponse(f"No assistant '{data['id']}'. Create it with PUT first.", status_code=404)
    # The last message is the model's final answer (earlier ones may only carry tool calls).
    recent = data["recentMessages"]
    content = recent[-1]["content"] if recent else ""
    return func.HttpResponse(content, status_code=200, mimetype="text/plain")


@apis.function_name("GetChatState")
@apis.route(route="assistants/{assistantId}", methods=["GET"])
@apis.assistant_query_input(
    arg_name="state",
    id="{assistantId}",
    timestamp_utc="{Query.timestampUTC}",
    chat_storage_connection_setting="AzureWebJobsStorage",
    collection_name="ChatState",
)
def get_chat_state(req: func.HttpRequest, state: str) -> func.HttpResponse:
    return func.HttpResponse(state, status_code=200, mimetype="application/json")
