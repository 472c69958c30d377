"""Chat model over the official ``openai`` SDK: OpenAI, OpenAI-compatible servers and Azure OpenAI."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from funchost_assistants.chat.base import ChatError, ChatReply, ChatRequest
from funchost_assistants.models import ToolCall

if TYPE_CHECKING:  # the SDK is imported on first use: it costs ~0.4 s, too much for every host start
    import openai
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_RETRIES",
    "EmbeddingsRequest",
    "Endpoint",
    "OpenAIChatModel",
    "TokenSource",
    "resolve_endpoint",
]

Settings = Callable[[str], str | None]

DEFAULT_AZURE_API_VERSION = "2024-10-21"
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT_SECONDS = 120.0
MAX_RETRIES = 2
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass(frozen=True)
class EmbeddingsRequest:
    """One embeddings call, in the OpenAI wire vocabulary."""

    model: str
    """Model name (OpenAI) or deployment name (Azure OpenAI)."""
    input: list[str] | str
    """The chunks (a list), or one string (semanticSearch's query)."""
    connection: str = ""
    """The binding's ``aiConnectionName``."""
    encoding_format: str = "base64"
    """What the extension asks for: base64 of little-endian float32."""

    def wire(self) -> dict[str, Any]:
        """The body as sent (no credentials)."""
        return {"input": self.input, "model": self.model, "encoding_format": self.encoding_format}


class _Call(Protocol):
    @property
    def model(self) -> str: ...
    @property
    def connection(self) -> str: ...


class TokenSource(Protocol):
    """Bearer tokens for Azure OpenAI when no key is configured."""

    async def token(self) -> str: ...

    async def close(self) -> None: ...


TokenSourceFactory = Callable[[Settings, str], TokenSource]


@dataclass(frozen=True)
class Endpoint:
    """Where a request goes and how it authenticates; ``key`` never appears in repr or messages."""

    kind: str
    """``openai``, ``openai-compatible``, ``azure-key`` or ``azure-token``."""
    url: str
    endpoint_setting: str
    key_setting: str | None
    key: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else self.url

    @property
    def is_azure(self) -> bool:
        return self.kind.startswith("azure")

    def identity(self) -> tuple[str, str, str]:
        """Cache identity: kind, url and a digest of the key."""
        digest = hashlib.sha256((self.key or "").encode()).hexdigest()
        return (self.kind, self.url, digest)

    def label(self) -> str:
        if self.kind == "openai":
            return f"OpenAI API at {self.host} (OPENAI_API_KEY)"
        if self.kind == "openai-compatible":
            return f"OpenAI-compatible server at {self.host} (OPENAI_BASE_URL)"
        auth = f"key from {self.key_setting}" if self.kind == "azure-key" else "Entra ID token"
        return f"Azure OpenAI endpoint {self.host} (from {self.endpoint_setting}, {auth})"


def _setting(settings: Settings, name: str) -> str | None:
    value = settings(name)
    return value.strip() or None if value is not None else None


def _not_configured(connection: str, settings: Settings) -> ChatError:
    section = (
        f"{connection}__Endpoint (with {connection}__Key, or without it for Entra ID), " if connection else ""
    )
    hint = ""
    if _setting(settings, "OPENAI_BASE_URL"):
        hint = " OPENAI_BASE_URL is set but OPENAI_API_KEY is not: set OPENAI_API_KEY too"
        hint += " (any value for servers that need no key)."
    elif _setting(settings, "AZURE_OPENAI_KEY") or (connection and _setting(settings, f"{connection}__Key")):
        hint = " A key is set but no endpoint: add the endpoint setting."
    where = (
        f"connection '{connection}'" if connection else "the default connection (aiConnectionName is empty)"
    )
    return ChatError(
        f"No chat model is configured for {where}.{hint} Set one of: OPENAI_API_KEY "
        f"(plus OPENAI_BASE_URL for an OpenAI-compatible server such as Ollama, llama.cpp or vLLM); {section}"
        "AZURE_OPENAI_ENDPOINT (with AZURE_OPENAI_KEY, or without it for Entra ID). "
        "Put them in local.settings.json Values or the environment, or replay a recorded cassette."
    )


def resolve_endpoint(settings: Settings, connection: str) -> Endpoint:
    """The endpoint for one request: OPENAI_API_KEY wins, then the connection section, then AZURE_OPENAI_*."""
    api_key = _setting(settings, "OPENAI_API_KEY")
    if api_key:
        base_url = _setting(settings, "OPENAI_BASE_URL")
        kind = "openai-compatible" if base_url else "openai"
        return Endpoint(
            kind, base_url or DEFAULT_OPENAI_BASE_URL, "OPENAI_BASE_URL", "OPENAI_API_KEY", api_key
        )
    endpoint = key = None
    endpoint_setting, key_setting = "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_KEY"
    if connection:
        endpoint = _setting(settings, f"{connection}__Endpoint")
        key = _setting(settings, f"{connection}__Key")
        if endpoint:
            endpoint_setting = f"{connection}__Endpoint"
        if key:
            key_setting = f"{connection}__Key"
    endpoint = endpoint or _setting(settings, "AZURE_OPENAI_ENDPOINT")
    key = key or _setting(settings, "AZURE_OPENAI_KEY")
    if not endpoint:
        raise _not_configured(connection, settings)
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChatError(
            f"The Azure OpenAI endpoint in {endpoint_setting} is not an http(s) URL: '{endpoint}'. "
            "Set it to the resource URL, e.g. https://<resource>.openai.azure.com/."
        )
    if key:
        return Endpoint("azure-key", endpoint, endpoint_setting, key_setting, key)
    return Endpoint("azure-token", endpoint, endpoint_setting, None)


class AzureIdentityTokens:
    """Entra ID tokens from azure-identity: managed identity or the default credential chain."""

    def __init__(self, settings: Settings, connection: str) -> None:
        try:
            from azure.identity.aio import (
                DefaultAzureCredential,
                ManagedIdentityCredential,
                get_bearer_token_provider,
            )
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ChatError(
                "The Azure OpenAI endpoint has no key, so an Entra ID token is needed, but azure-identity "
                "is not installed: pip install 'funchost[azure]', or set the key setting."
            ) from error
        kind = _setting(settings, f"{connection}__credential") if connection else None
        client_id = _setting(settings, f"{connection}__clientId") if connection else None
        resource_id = _setting(settings, f"{connection}__managedIdentityResourceId") if connection else None
        if client_id and resource_id:
            raise ChatError(
                f"Both {connection}__clientId and {connection}__managedIdentityResourceId are set; "
                "keep only one of them."
            )
        credential: Any
        if kind and kind.lower() == "managedidentity":
            if resource_id:
                credential = ManagedIdentityCredential(identity_config={"resource_id": resource_id})
            else:
                credential = ManagedIdentityCredential(client_id=client_id)
        else:
            credential = DefaultAzureCredential(managed_identity_client_id=client_id)
        self.credential = credential
        self._provider = get_bearer_token_provider(credential, COGNITIVE_SERVICES_SCOPE)

    async def token(self) -> str:
        return str(await self._provider())

    async def close(self) -> None:
        await self.credential.close()


@dataclass
class _Client:
    sdk: AsyncOpenAI
    tokens: TokenSource | None = None


class OpenAIChatModel:
    """Chat completions through the openai SDK, configured from app settings per request."""

    name = "openai"

    def __init__(self, settings: Settings, *, token_source: TokenSourceFactory | None = None) -> None:
        self._settings = settings
        self._token_source: TokenSourceFactory = token_source or AzureIdentityTokens
        self._clients: dict[tuple[str, tuple[str, str, str], str], _Client] = {}

    def describe(self) -> str:
        try:
            endpoint = resolve_endpoint(self._settings, "")
        except ChatError:
            return "chat model: not configured for the default connection (connections resolve per binding)"
        return f"chat model: {endpoint.label()}"

    def _timeout(self) -> float:
        raw = _setting(self._settings, "FUNCHOST_CHAT_TIMEOUT")
        if raw is None:
            return DEFAULT_TIMEOUT_SECONDS
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if not value > 0:
            raise ChatError(
                f"FUNCHOST_CHAT_TIMEOUT is '{raw}', not a positive number of seconds; "
                f"fix it or remove it (default {DEFAULT_TIMEOUT_SECONDS:g})."
            )
        return value

    def _client(self, endpoint: Endpoint, request: _Call) -> _Client:
        cache_key = (request.connection, endpoint.identity(), request.model)
        client = self._clients.get(cache_key)
        if client is not None:
            return client
        from openai import AsyncAzureOpenAI, AsyncOpenAI

        if not endpoint.is_azure:
            client = _Client(
                AsyncOpenAI(api_key=endpoint.key, base_url=endpoint.url, max_retries=MAX_RETRIES)
            )
        else:
            version = _setting(self._settings, "OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION
            tokens = None if endpoint.key else self._token_source(self._settings, request.connection)
            client = _Client(
                AsyncAzureOpenAI(
                    azure_endpoint=endpoint.url,
                    api_key=endpoint.key,
                    azure_ad_token_provider=tokens.token if tokens else None,
                    api_version=version,
                    max_retries=MAX_RETRIES,
                ),
                tokens,
            )
        self._clients[cache_key] = client
        return client

    async def complete(self, request: ChatRequest) -> ChatReply:
        reply, _ = await self.complete_raw(request)
        return reply

    async def complete_raw(self, request: ChatRequest) -> tuple[ChatReply, dict[str, Any]]:
        """The reply and the completion as the service sent it (semanticSearch hands it to the function)."""
        endpoint = resolve_endpoint(self._settings, request.connection)
        timeout = self._timeout()
        client = self._client(endpoint, request)
        import openai

        try:
            completion = await client.sdk.chat.completions.create(**request.wire(), timeout=timeout)
        except openai.OpenAIError as error:
            raise _failure(error, endpoint, request, timeout) from None
        return _reply(completion, endpoint, request), completion.model_dump(mode="json", exclude_unset=True)

    async def embed(self, request: EmbeddingsRequest) -> dict[str, Any]:
        """One embeddings call, resolved like chat (same settings, same client cache); the response JSON as the
        service sent it (``data[i].embedding`` a base64 string when ``encoding_format`` is base64)."""
        endpoint = resolve_endpoint(self._settings, request.connection)
        timeout = self._timeout()
        client = self._client(endpoint, request)
        import openai

        try:
            raw = await client.sdk.embeddings.with_raw_response.create(
                input=request.input,
                model=request.model,
                encoding_format=request.encoding_format,  # type: ignore[arg-type]
                timeout=timeout,
            )
            body = raw.http_response.json()
        except openai.OpenAIError as error:
            raise _failure(error, endpoint, request, timeout, what="embeddings model") from None
        except ValueError as error:
            raise ChatError(
                f"The embeddings model answered with invalid JSON ({_target(endpoint, request)}): {error}."
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ChatError(
                f"The embeddings model answered without a 'data' list ({_target(endpoint, request)}); "
                "check that the server implements /embeddings."
            )
        return body

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.sdk.close()
            if client.tokens is not None:
                await client.tokens.close()


def _target(endpoint: Endpoint, request: _Call) -> str:
    noun = "deployment" if endpoint.is_azure else "model"
    where = f"{noun} '{request.model}'"
    if request.connection:
        where += f", connection '{request.connection}'"
    return f"{where} at {endpoint.label()}"


def _detail(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return error.message


def _hint(status: int, detail: str, endpoint: Endpoint, request: _Call) -> str:
    prop = "embeddingsModel" if isinstance(request, EmbeddingsRequest) else "chatModel"
    if status in (401, 403):
        if endpoint.key_setting:
            return f"check the key in {endpoint.key_setting}"
        return "check that the identity has the 'Cognitive Services OpenAI User' role on the resource"
    if status == 404:
        if endpoint.is_azure:
            return f"check that a deployment named '{request.model}' exists ({prop} is the deployment name)"
        return f"check the model name '{request.model}' (the binding's {prop}) and the base URL"
    if status == 400 and ("max_tokens" in detail or "temperature" in detail):
        return "for a reasoning model set isReasoningModel=true so max_tokens/temperature are not sent"
    if status == 400 and isinstance(request, EmbeddingsRequest):
        return "check the binding's embeddingsModel and the input (empty or too long chunks are refused)"
    if status == 400:
        return "check the binding's chatModel, temperature, topP and maxTokens"
    if status == 429:
        return f"the endpoint is rate limiting (still after {MAX_RETRIES} retries); wait, or raise the quota"
    if status >= 500:
        return f"the server failed (still after {MAX_RETRIES} retries); try again later"
    return "check the endpoint settings and the binding"


def _scrub(text: str, endpoint: Endpoint) -> str:
    return text.replace(endpoint.key, "***") if endpoint.key else text


def _failure(
    error: openai.OpenAIError, endpoint: Endpoint, request: _Call, timeout: float, what: str = "chat model"
) -> ChatError:
    import openai

    target = _target(endpoint, request)
    if isinstance(error, openai.APITimeoutError):
        text = (
            f"The {what} did not answer within {timeout:g} s ({target}, {MAX_RETRIES} retries); "
            "raise FUNCHOST_CHAT_TIMEOUT (seconds) or check the server."
        )
    elif isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error
        text = (
            f"Could not reach the {what} ({target}): {cause}; "
            f"check {endpoint.endpoint_setting} and that the server is running."
        )
    elif isinstance(error, openai.APIStatusError):
        detail = _detail(error)
        hint = _hint(error.status_code, detail, endpoint, request)
        text = f"The {what} call failed with HTTP {error.status_code} ({target}): {detail}; {hint}."
    else:
        text = f"The {what} call failed ({target}): {error}."
    return ChatError(_scrub(text, endpoint))


def _reply(completion: ChatCompletion, endpoint: Endpoint, request: ChatRequest) -> ChatReply:
    from openai.types.chat import ChatCompletionMessageFunctionToolCall

    if not completion.choices:
        raise ChatError(
            f"The chat model returned no choices ({_target(endpoint, request)}); check the server's response."
        )
    message = completion.choices[0].message
    calls = [
        ToolCall(id=call.id, function_name=call.function.name, function_arguments=call.function.arguments)
        for call in message.tool_calls or []
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]
    tokens = completion.usage.total_tokens if completion.usage is not None else 0
    return ChatReply(content=message.content or "", tool_calls=calls, total_tokens=tokens)
