# Fixture in the shape of the official "rag-cosmosdb" Python sample (Azure/azure-functions-openai-extension,
# samples/rag-cosmosdb/python): same function names, routes, decorator arguments and result handling.
import json
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.function_name("IngestFile")
@app.route(methods=["POST"])
@app.embeddings_store_output(
    arg_name="requests",
    input="{url}",
    input_type="url",
    store_connection_name="CosmosDBMongoVCoreConnectionString",
    collection="openai-index",
    embeddings_model="%EMBEDDING_MODEL_DEPLOYMENT_NAME%",
)
def ingest(req: func.HttpRequest, requests: func.Out[str]) -> func.HttpResponse:
    body = req.get_json()
    if not body:
        return func.HttpResponse(json.dumps({"message": "No message provided"}), status_code=400, mimetype="application/json")
    title = os.path.splitext(os.path.basename(body["url"]))[0]
    requests.set(json.dumps({"title": title}))
    return func.HttpResponse(json.dumps({"status": "success", "title": title}), status_code=200, mimetype="application/json")


@app.function_name("PromptFile")
@app.route(methods=["POST"])
@app.semantic_search_input(
    arg_name="result",
    search_connection_name="CosmosDBMongoVCoreConnectionString",
    collection="openai-index",
    query="{prompt}",
    embeddings_model="%EMBEDDING_MODEL_DEPLOYMENT_NAME%",
    chat_model="%CHAT_MODEL_DEPLOYMENT_NAME%",
)
def prompt(req: func.HttpRequest, result: str) -> func.HttpResponse:
    context = json.loads(result)
    answer = {"content": context.get("Response"), "content_type": "text/plain"}
    return func.HttpResponse(json.dumps(answer), status_code=200, mimetype="application/json")
