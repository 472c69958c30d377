# Fixture in the shape of the official "embeddings" Python sample (Azure/azure-functions-openai-extension,
# samples/embeddings/python): same function names, routes and decorator arguments, including its `model=`.
import json
import logging

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.function_name("GenerateEmbeddingsHttpRequest")
@app.route(route="embeddings", methods=["POST"])
@app.embeddings_input(
    arg_name="embeddings", input="{rawText}", input_type="rawText", model="%EMBEDDING_MODEL_DEPLOYMENT_NAME%"
)
def generate_embeddings_http_request(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    body = req.get_json()
    result = json.loads(embeddings)
    logging.info(f"Received {result.get('count')} embedding(s) for input text containing {len(body.get('rawText'))} characters.")
    return func.HttpResponse(status_code=200)


@app.function_name("GetEmbeddingsHttpFilePath")
@app.route(route="embeddings-from-file", methods=["POST"])
@app.embeddings_input(
    arg_name="embeddings",
    input="{filePath}",
    input_type="filePath",
    max_chunk_length=512,
    model="%EMBEDDING_MODEL_DEPLOYMENT_NAME%",
)
def generate_embeddings_http_file_path(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    body = req.get_json()
    result = json.loads(embeddings)
    logging.info(f"Received {result.get('count')} embedding(s) for input file {body.get('filePath')}.")
    return func.HttpResponse(status_code=200)


@app.function_name("GetEmbeddingsHttpUrl")
@app.route(route="embeddings-from-url", methods=["POST"])
@app.embeddings_input(
    arg_name="embeddings",
    input="{url}",
    input_type="url",
    max_chunk_length=512,
    model="%EMBEDDING_MODEL_DEPLOYMENT_NAME%",
)
def generate_embeddings_http_url(req: func.HttpRequest, embeddings: str) -> func.HttpResponse:
    body = req.get_json()
    result = json.loads(embeddings)
    logging.info(f"Received {result.get('count')} embedding(s) for input url {body.get('url')}.")
    return func.HttpResponse(status_code=200)
