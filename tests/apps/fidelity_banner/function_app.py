"""The official assistant sample's connection naming: ai_connection_name="AzureOpenAI"."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="assistants/{assistantId}", methods=["POST"])
@app.assistant_post_input(
    arg_name="state",
    id="{assistantId}",
    user_message="{Query.message}",
    ai_connection_name="AzureOpenAI",
    chat_model="%CHAT_MODEL_DEPLOYMENT_NAME%",
    chat_storage_connection_setting="AzureWebJobsStorage",
    collection_name="ChatState",
)
def post_user_response(req: func.HttpRequest, state: str) -> func.HttpResponse:
    data = json.loads(state)
    return func.HttpResponse(data["recentMessages"][-1]["content"], status_code=200)


@app.route(route="embeddings", methods=["POST"])
@app.embeddings_input(
    arg_name="embeddings", input="{rawText}", input_type="RawText", ai_connection_name="AzureOpenAI"
)
def generate_embeddings(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    return func.HttpResponse(embeddings, mimetype="application/json")
