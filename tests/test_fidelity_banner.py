"""Issue 11 item 9: the start banner reports the model per AI connection the bindings use (reference §8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funchost_assistants.chat.connections import describe_connection, looks_like_placeholder
from tests.cli import running

APP = Path(__file__).parent / "apps" / "fidelity_banner"
NO_MODEL_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_KEY")


def settings_of(values: dict[str, str]):  # type: ignore[no-untyped-def]
    lowered = {k.lower().replace(":", "__"): v for k, v in values.items()}
    return lambda name: lowered.get(name.lower().replace(":", "__"))


def test_a_named_connection_resolves_from_its_own_section() -> None:
    settings = settings_of(
        {"AzureOpenAI__endpoint": "https://res1.openai.azure.com/", "AzureOpenAI__key": "k1"}
    )
    assert describe_connection(settings, "AzureOpenAI") == (
        "Azure OpenAI endpoint res1.openai.azure.com (from AzureOpenAI__Endpoint, key from AzureOpenAI__Key)"
    )
    assert describe_connection(settings, "").startswith("not configured: set AZURE_OPENAI_ENDPOINT")


def test_a_placeholder_in_the_section_is_reported_although_a_fallback_is_set() -> None:
    settings = settings_of(
        {
            "AzureOpenAI__Endpoint": "https://<your-resource>.openai.azure.com/",
            "AZURE_OPENAI_ENDPOINT": "https://real.openai.azure.com/",
            "AZURE_OPENAI_KEY": "k2",
        }
    )
    line = describe_connection(settings, "AzureOpenAI")
    assert "AzureOpenAI__Endpoint holds a placeholder: every call fails" in line
    assert "k2" not in line
    key_placeholder = settings_of(
        {"AzureOpenAI__Endpoint": "https://r.openai.azure.com/", "AzureOpenAI__Key": "YOUR_KEY"}
    )
    assert "AzureOpenAI__Key holds a placeholder" in describe_connection(key_placeholder, "AzureOpenAI")
    not_url = settings_of({"AzureOpenAI__Endpoint": "your endpoint here", "AzureOpenAI__Key": "k"})
    assert "is not an http(s) URL" in describe_connection(not_url, "AzureOpenAI")


def test_openai_api_key_wins_for_every_connection() -> None:
    settings = settings_of({"OPENAI_API_KEY": "sk-x", "AzureOpenAI__Endpoint": "https://r.openai.azure.com/"})
    assert describe_connection(settings, "AzureOpenAI") == "OpenAI API at api.openai.com (OPENAI_API_KEY)"


@pytest.mark.parametrize(
    "value", ["<endpoint>", "https://YOUR_RESOURCE.openai.azure.com", "{key}", "xxxxxxxx"]
)
def test_placeholders(value: str) -> None:
    assert looks_like_placeholder(value)


@pytest.mark.parametrize("value", ["https://contoso-ai.openai.azure.com/", "3f9a1c0b2d4e"])
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not looks_like_placeholder(value)


# ---------------------------------------------------------------- the banner of the real CLI


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in NO_MODEL_ENV:
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "fidelity_banner"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    return target


def banner(app: Path, env: dict[str, str]) -> list[str]:
    with running(app, "--store", "memory", env=env) as host:
        output = host.wait_for_output("Embeddings model")
    return [line.split("] ", 1)[-1] for line in output.splitlines() if "model" in line and "] " in line]


@pytest.mark.slow
def test_banner_reports_the_connection_the_sample_names(app: Path) -> None:
    lines = banner(
        app, {"AzureOpenAI__endpoint": "https://res1.openai.azure.com/", "AzureOpenAI__key": "secret1"}
    )
    expected = (
        "Azure OpenAI endpoint res1.openai.azure.com (from AzureOpenAI__Endpoint, key from AzureOpenAI__Key)"
    )
    assert f"Chat model (connection 'AzureOpenAI'): {expected}" in lines
    assert f"Embeddings model (connection 'AzureOpenAI'): {expected}" in lines
    assert not any("not configured" in line or "secret1" in line for line in lines)


@pytest.mark.slow
def test_banner_flags_a_placeholder_section_instead_of_showing_the_fallback(app: Path) -> None:
    lines = banner(
        app,
        {
            "AzureOpenAI__Endpoint": "https://<your-resource>.openai.azure.com/",
            "AZURE_OPENAI_ENDPOINT": "https://fallback.openai.azure.com/",
            "AZURE_OPENAI_KEY": "secret2",
        },
    )
    chat = next(line for line in lines if line.startswith("Chat model"))
    assert chat.startswith("Chat model (connection 'AzureOpenAI'): ")
    assert "AzureOpenAI__Endpoint holds a placeholder: every call fails" in chat
    assert "secret2" not in "\n".join(lines)


@pytest.mark.slow
def test_banner_says_echo_in_echo_mode_and_not_configured_without_settings(app: Path) -> None:
    lines = banner(app, {"FUNCHOST_CHAT": "echo"})
    assert "Chat model: echo (FUNCHOST_CHAT=echo: the model repeats each user message, no network)" in lines
    assert not any("scripted" in line for line in lines)
    lines = banner(app, {})
    assert (
        "Chat model (connection 'AzureOpenAI'): not configured: set AzureOpenAI__Endpoint and AzureOpenAI__Key, "
        "or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_KEY, or OPENAI_API_KEY"
    ) in lines
