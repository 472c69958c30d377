"""OpenAIChatModel: the real openai SDK over HTTP against the loopback fake server."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

from funchost_assistants.chat import ChatError, ChatReply, ChatRequest, OpenAIChatModel, open_chat_model
from funchost_assistants.chat.openai import AzureIdentityTokens, resolve_endpoint
from funchost_assistants.models import ToolCall
from tests.fake_openai import FakeOpenAIServer

KEY = "sk-secret-key-123"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "AddTodo",
            "description": "Create a todo",
            "parameters": {"type": "object", "properties": {"task": {"type": "string"}}},
        },
    }
]
MESSAGES = [
    {"role": "system", "content": "You help with todos."},
    {"role": "user", "content": "Remind me to buy milk"},
]


def settings_of(values: dict[str, str]) -> Callable[[str], str | None]:
    """A settings lookup like the host's: case-insensitive, ``:`` and ``__`` alike."""

    def lookup(name: str) -> str | None:
        wanted = name.replace(":", "__").lower()
        for key, value in values.items():
            if key.replace(":", "__").lower() == wanted:
                return value
        return None

    return lookup


def request(**overrides: object) -> ChatRequest:
    fields: dict[str, object] = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "tools": TOOLS,
        "temperature": 0.5,
        "max_tokens": 100,
        "connection": "AzureOpenAI",
    }
    fields.update(overrides)
    return ChatRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


async def test_azure_connection_section_sends_deployment_url_api_key_and_body(
    server: FakeOpenAIServer,
) -> None:
    model = OpenAIChatModel(settings_of({"AzureOpenAI:endpoint": server.url, "azureopenai__KEY": KEY}))
    server.reply(
        None, tool_calls=[("call_abc", "AddTodo", '{"task": "milk"}')], prompt_tokens=30, completion_tokens=7
    )

    reply = await model.complete(request())
    await model.close()

    assert reply == ChatReply(
        content="",
        tool_calls=[ToolCall(id="call_abc", function_name="AddTodo", function_arguments='{"task": "milk"}')],
        total_tokens=37,
    )
    [seen] = server.requests
    assert seen.path == "/openai/deployments/gpt-4o/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}
    assert seen.headers["api-key"] == KEY
    assert "authorization" not in seen.headers
    assert seen.json == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "tools": TOOLS,
        "temperature": 0.5,
        "max_tokens": 100,
    }


async def test_azure_environment_fallback_and_api_version_setting(server: FakeOpenAIServer) -> None:
    values = {
        "AZURE_OPENAI_ENDPOINT": server.url + "/",
        "AZURE_OPENAI_KEY": KEY,
        "OPENAI_API_VERSION": "2025-01-01",
    }
    model = OpenAIChatModel(settings_of(values))
    server.reply("Done!", prompt_tokens=3, completion_tokens=2)

    reply = await model.complete(request(connection="", tools=None, top_p=0.9))
    await model.close()

    assert reply == ChatReply(content="Done!", tool_calls=[], total_tokens=5)
    [seen] = server.requests
    assert seen.path == "/openai/deployments/gpt-4o/chat/completions"
    assert seen.query == {"api-version": "2025-01-01"}
    assert seen.json == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 100,
    }


async def test_connection_key_falls_back_to_environment_key_per_value(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(settings_of({"AzureOpenAI__Endpoint": server.url, "AZURE_OPENAI_KEY": KEY}))
    server.reply("ok")

    assert (await model.complete(request())).content == "ok"
    await model.close()
    assert server.requests[0].headers["api-key"] == KEY


async def test_openai_key_wins_and_base_url_points_at_compatible_server(server: FakeOpenAIServer) -> None:
    values = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": server.openai_base_url,
        "AzureOpenAI__Endpoint": "http://127.0.0.1:9/never-used",
        "AzureOpenAI__Key": "azure-key",
    }
    model = OpenAIChatModel(settings_of(values))
    server.reply("Hello from llama", usage=False)

    reply = await model.complete(request(model="llama3"))
    await model.close()

    assert reply == ChatReply(content="Hello from llama", tool_calls=[], total_tokens=0)
    [seen] = server.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert "api-key" not in seen.headers
    assert seen.json["model"] == "llama3"


async def test_reasoning_model_gets_no_max_tokens_or_temperature(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(settings_of({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.openai_base_url}))
    server.reply("thought hard")

    await model.complete(request(model="o3-mini", is_reasoning_model=True, top_p=1.0))
    await model.close()

    assert server.requests[0].json == {"model": "o3-mini", "messages": MESSAGES, "tools": TOOLS, "top_p": 1.0}


async def test_rate_limit_is_retried_by_the_sdk(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(settings_of({"AzureOpenAI__Endpoint": server.url, "AzureOpenAI__Key": KEY}))
    server.error(429, "Rate limit reached").reply("after the wait")

    reply = await model.complete(request())
    await model.close()

    assert reply.content == "after the wait"
    assert len(server.requests) == 2
    assert server.requests[0].json == server.requests[1].json


async def test_persistent_server_error_becomes_chat_error_without_the_key(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(settings_of({"AzureOpenAI__Endpoint": server.url, "AzureOpenAI__Key": KEY}))
    for _ in range(3):
        server.error(500, f"The server had an error (key {KEY})")

    with pytest.raises(ChatError) as caught:
        await model.complete(request())
    await model.close()

    host = server.url.removeprefix("http://")
    assert str(caught.value) == (
        "The chat model call failed with HTTP 500 (deployment 'gpt-4o', connection 'AzureOpenAI' at "
        f"Azure OpenAI endpoint {host} (from AzureOpenAI__Endpoint, key from AzureOpenAI__Key)): "
        "The server had an error (key ***); the server failed (still after 2 retries); try again later."
    )
    assert len(server.requests) == 3


async def test_wrong_key_names_the_key_setting(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(settings_of({"AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_KEY": "wrong"}))

    with pytest.raises(ChatError) as caught:
        await model.complete(request(connection=""))
    await model.close()

    message = str(caught.value)
    assert message.startswith("The chat model call failed with HTTP 401 (deployment 'gpt-4o' at Azure OpenAI")
    assert message.endswith(
        "Access denied due to invalid subscription key.; check the key in AZURE_OPENAI_KEY."
    )
    assert "wrong" not in message


async def test_unsupported_max_tokens_suggests_is_reasoning_model(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(settings_of({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.openai_base_url}))
    server.error(400, "Unsupported parameter: 'max_tokens' is not supported with this model.")

    with pytest.raises(ChatError) as caught:
        await model.complete(request(model="gpt-5", connection=""))
    await model.close()

    host = server.url.removeprefix("http://")
    assert str(caught.value) == (
        f"The chat model call failed with HTTP 400 (model 'gpt-5' at OpenAI-compatible server at {host} "
        "(OPENAI_BASE_URL)): Unsupported parameter: 'max_tokens' is not supported with this model.; "
        "for a reasoning model set isReasoningModel=true so max_tokens/temperature are not sent."
    )


async def test_unreachable_server_names_the_endpoint_setting() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = OpenAIChatModel(
        settings_of({"AzureOpenAI__Endpoint": f"http://127.0.0.1:{port}", "AzureOpenAI__Key": KEY})
    )

    with pytest.raises(ChatError) as caught:
        await model.complete(request())
    await model.close()

    message = str(caught.value)
    assert message.startswith(
        "Could not reach the chat model (deployment 'gpt-4o', connection 'AzureOpenAI' at Azure OpenAI "
        f"endpoint 127.0.0.1:{port} (from AzureOpenAI__Endpoint, key from AzureOpenAI__Key)): "
    )
    assert message.endswith("; check AzureOpenAI__Endpoint and that the server is running.")


async def test_no_configuration_lists_every_setting() -> None:
    model = OpenAIChatModel(settings_of({}))

    with pytest.raises(ChatError) as caught:
        await model.complete(request())

    assert str(caught.value) == (
        "No chat model is configured for connection 'AzureOpenAI'. Set one of: OPENAI_API_KEY (plus "
        "OPENAI_BASE_URL for an OpenAI-compatible server such as Ollama, llama.cpp or vLLM); "
        "AzureOpenAI__Endpoint (with AzureOpenAI__Key, or without it for Entra ID), "
        "AZURE_OPENAI_ENDPOINT (with AZURE_OPENAI_KEY, or without it for Entra ID). "
        "Put them in local.settings.json Values or the environment, or replay a recorded cassette."
    )


def test_base_url_without_key_and_key_without_endpoint_say_what_is_missing() -> None:
    with pytest.raises(
        ChatError, match=r"OPENAI_BASE_URL is set but OPENAI_API_KEY is not: set OPENAI_API_KEY"
    ):
        resolve_endpoint(settings_of({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}), "")
    with pytest.raises(
        ChatError, match=r"the default connection \(aiConnectionName is empty\)\. A key is set"
    ):
        resolve_endpoint(settings_of({"AZURE_OPENAI_KEY": KEY}), "")


def test_endpoint_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(ChatError) as caught:
        resolve_endpoint(
            settings_of({"AzureOpenAI__Endpoint": "myresource", "AzureOpenAI__Key": KEY}), "AzureOpenAI"
        )
    assert str(caught.value) == (
        "The Azure OpenAI endpoint in AzureOpenAI__Endpoint is not an http(s) URL: 'myresource'. "
        "Set it to the resource URL, e.g. https://<resource>.openai.azure.com/."
    )


async def test_settings_are_resolved_per_request_not_first_call_wins(server: FakeOpenAIServer) -> None:
    values = {"AzureOpenAI__Endpoint": server.url, "AzureOpenAI__Key": "old-key"}
    model = OpenAIChatModel(settings_of(values))
    server.api_key = None
    server.reply("one").reply("two").reply("three")

    await model.complete(request())
    values["AzureOpenAI__Key"] = KEY
    await model.complete(request())
    await model.complete(request(model="gpt-35"))
    await model.close()

    assert [seen.headers["api-key"] for seen in server.requests] == ["old-key", KEY, KEY]
    assert [seen.path for seen in server.requests] == [
        "/openai/deployments/gpt-4o/chat/completions",
        "/openai/deployments/gpt-4o/chat/completions",
        "/openai/deployments/gpt-35/chat/completions",
    ]


async def test_endpoint_without_key_uses_a_bearer_token(server: FakeOpenAIServer) -> None:
    class StaticTokens:
        closed = False

        async def token(self) -> str:
            return KEY

        async def close(self) -> None:
            StaticTokens.closed = True

    asked: list[str] = []

    def tokens(settings: Callable[[str], str | None], connection: str) -> StaticTokens:
        asked.append(connection)
        return StaticTokens()

    model = OpenAIChatModel(settings_of({"AzureOpenAI__Endpoint": server.url}), token_source=tokens)
    server.reply("with a token")

    assert (await model.complete(request())).content == "with a token"
    await model.close()

    assert asked == ["AzureOpenAI"]
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "api-key" not in server.requests[0].headers
    assert StaticTokens.closed


async def test_azure_identity_credential_follows_connection_settings() -> None:
    managed = AzureIdentityTokens(
        settings_of({"AzureOpenAI__credential": "managedidentity", "AzureOpenAI__clientId": "abc"}),
        "AzureOpenAI",
    )
    default = AzureIdentityTokens(settings_of({}), "AzureOpenAI")
    try:
        assert isinstance(managed.credential, ManagedIdentityCredential)
        assert isinstance(default.credential, DefaultAzureCredential)
    finally:
        await managed.close()
        await default.close()

    both = {"X__credential": "managedidentity", "X__clientId": "a", "X__managedIdentityResourceId": "b"}
    with pytest.raises(
        ChatError, match=r"Both X__clientId and X__managedIdentityResourceId are set; keep only one"
    ):
        AzureIdentityTokens(settings_of(both), "X")


async def test_invalid_timeout_setting_is_refused(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel(
        settings_of(
            {
                "OPENAI_API_KEY": KEY,
                "OPENAI_BASE_URL": server.openai_base_url,
                "FUNCHOST_CHAT_TIMEOUT": "soon",
            }
        )
    )

    with pytest.raises(ChatError) as caught:
        await model.complete(request())

    assert str(caught.value) == (
        "FUNCHOST_CHAT_TIMEOUT is 'soon', not a positive number of seconds; "
        "fix it or remove it (default 120)."
    )
    assert server.requests == []


def test_describe_names_the_endpoint_kind_without_secrets() -> None:
    openai_model = OpenAIChatModel(settings_of({"OPENAI_API_KEY": KEY}))
    local = OpenAIChatModel(
        settings_of({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    )
    azure = OpenAIChatModel(settings_of({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/"}))

    assert openai_model.describe() == "chat model: OpenAI API at api.openai.com (OPENAI_API_KEY)"
    assert local.describe() == "chat model: OpenAI-compatible server at 127.0.0.1:11434 (OPENAI_BASE_URL)"
    assert azure.describe() == (
        "chat model: Azure OpenAI endpoint res.openai.azure.com (from AZURE_OPENAI_ENDPOINT, Entra ID token)"
    )
    assert OpenAIChatModel(settings_of({})).describe() == (
        "chat model: not configured for the default connection (connections resolve per binding)"
    )
    assert KEY not in repr(resolve_endpoint(settings_of({"OPENAI_API_KEY": KEY}), ""))


async def test_open_chat_model_records_openai_replies(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cassette = tmp_path / "chat.jsonl"
    model = open_chat_model(
        settings_of({"AzureOpenAI__Endpoint": server.url, "AzureOpenAI__Key": KEY}), record=cassette
    )
    server.reply("recorded", prompt_tokens=1, completion_tokens=1)

    await model.complete(request())
    await model.close()

    text = cassette.read_text()
    assert json.loads(text)["response"] == {"content": "recorded", "tool_calls": [], "total_tokens": 2}
    assert KEY not in text
    assert server.url not in text
