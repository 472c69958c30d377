"""Tests for funchost.settings: host.json + local.settings.json as Core Tools and the host read them."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from funchost.dotnet import parse_timespan
from funchost.settings import (
    AppConfig,
    ConfigError,
    ConnectionString,
    environment_updates,
    functions_override,
    is_secret,
    load_settings,
    mask,
    redact,
)

HOST_MIN = {"version": "2.0"}


def make_app(
    root: Path,
    host: dict[str, Any] | str | None = None,
    local: dict[str, Any] | str | None = None,
) -> Path:
    """Write an app folder; a str is written verbatim, None leaves the file out."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in (("host.json", host), ("local.settings.json", local)):
        if content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            (root / name).write_text(text, encoding="utf-8")
    return root


def load(
    tmp_path: Path, host: Any = HOST_MIN, local: Any = None, env: dict[str, str] | None = None
) -> AppConfig:
    return load_settings(make_app(tmp_path / "app", host, local), env or {})


# --- host.json defaults and fields


def test_minimal_app_has_host_defaults(tmp_path: Path) -> None:
    config = load(tmp_path)
    host = config.host
    assert host.version == "2.0"
    assert host.route_prefix == "api"
    assert host.function_timeout == timedelta(minutes=30)
    assert host.functions is None
    assert host.log_level_default is None
    assert host.log_levels == {}
    assert host.custom_headers == {}
    assert host.watch_directories == ["node_modules"]
    assert host.watch_files == ["host.json", "function.json", "proxies.json"]
    assert config.warnings == []
    assert config.local.exists is False
    assert config.local.values == {}


def test_host_json_fields_are_read(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        host={
            "version": "2.0",
            "functionTimeout": "00:10:00",
            "functions": ["CreateAssistant", "GetChatState"],
            "logging": {
                "logLevel": {"default": "warning", "Function.AddTodo": "Debug", "Host.Results": "None"}
            },
            "extensions": {
                "http": {
                    "routePrefix": "v1",
                    "customHeaders": {"X-Frame-Options": "DENY", "X-Count": 3},
                    "maxConcurrentRequests": 10,
                }
            },
            "watchDirectories": ["shared"],
            "watchFiles": ["function_app.py", "host.json"],
            "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
        },
    )
    host = config.host
    assert host.route_prefix == "v1"
    assert host.function_timeout == timedelta(minutes=10)
    assert host.functions == ["CreateAssistant", "GetChatState"]
    assert host.log_level_default == "Warning"
    assert host.log_levels == {"default": "Warning", "Function.AddTodo": "Debug", "Host.Results": "None"}
    assert host.custom_headers == {"X-Frame-Options": "DENY", "X-Count": "3"}
    assert host.http["maxConcurrentRequests"] == 10
    assert host.watch_directories == ["node_modules", "shared"]
    assert host.watch_files == ["host.json", "function.json", "proxies.json", "function_app.py"]


def test_host_json_keys_match_case_insensitively(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        host={"version": "2.0", "FunctionTimeout": "00:02:00", "Extensions": {"HTTP": {"RoutePrefix": ""}}},
    )
    assert config.host.function_timeout == timedelta(minutes=2)
    assert config.host.route_prefix == ""


def test_host_json_comments_and_trailing_commas_are_accepted(tmp_path: Path) -> None:
    text = '{\n  // the schema version\n  "version": "2.0", /* block */\n  "functions": ["a", "b",],\n}\n'
    config = load(tmp_path, host=text)
    assert config.host.functions == ["a", "b"]


def test_comment_markers_inside_strings_are_kept(tmp_path: Path) -> None:
    text = '{"version": "2.0", "extensions": {"http": {"customHeaders": {"Link": "<http://x/*y*/>, //z"}}}}'
    config = load(tmp_path, host=text)
    assert config.host.custom_headers == {"Link": "<http://x/*y*/>, //z"}


def test_missing_host_json_uses_default_with_warning_and_writes_nothing(tmp_path: Path) -> None:
    config = load(tmp_path, host=None)
    path = tmp_path / "app" / "host.json"
    assert config.host.exists is False
    assert config.host.version == "2.0"
    assert config.warnings == [
        f'Cannot find host configuration at \'{path}\'. Using the default {{"version": "2.0"}}; '
        "create host.json in the app folder to configure the host."
    ]
    assert not path.exists()


def test_empty_host_json_object_uses_default_with_warning(tmp_path: Path) -> None:
    config = load(tmp_path, host="{}")
    path = tmp_path / "app" / "host.json"
    assert config.host.version == "2.0"
    assert config.warnings == [
        f'Host configuration is empty. Using the default {{"version": "2.0"}}; add "version": "2.0" '
        f"to '{path}'."
    ]
    assert path.read_text() == "{}"


def test_invalid_host_json_names_file_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host='{\n  "version": "2.0"\n  "functions": []\n}')
    path = tmp_path / "app" / "host.json"
    assert info.value.message == (
        f"Unable to parse host configuration file '{path}'. Expecting ',' delimiter at line 3, column 3."
    )
    assert info.value.path == str(path)
    assert str(info.value) == (
        f"{info.value.message}\n  file: {path}\n"
        "  fix: Fix the JSON syntax of host.json (a missing comma, quote or brace is typical)."
    )


def test_host_json_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host="[]")
    path = tmp_path / "app" / "host.json"
    assert info.value.message == (
        f"Unable to parse host configuration file '{path}'. "
        "The file must hold a JSON object, found an array at line 1, column 1."
    )


def test_missing_version_gives_the_host_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host={"functionTimeout": "00:05:00"})
    assert info.value.message == (
        "The host.json file is missing the required 'version' property. "
        "See https://aka.ms/functions-hostjson for steps to migrate the configuration file."
    )
    assert info.value.hint == 'Add "version": "2.0" at the top level of host.json.'


def test_wrong_version_gives_the_host_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host={"version": "4.0"})
    assert info.value.message == (
        "'4.0' is an invalid value for host.json 'version' property. We recommend you set the 'version' "
        "property to '2.0'. See https://aka.ms/functions-hostjson for more information on this configuration "
        "file."
    )


def test_version_3_explains_it_is_not_the_runtime_version(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host={"version": "3.0"})
    assert info.value.message == (
        "'3.0' is an invalid value for host.json 'version' property. We recommend you set the 'version' "
        "property to '2.0'. This does not correspond to the function runtime version, only to the schema "
        "version of the host.json file. See https://aka.ms/functions-hostjson for more information on this "
        "configuration file."
    )


def test_numeric_version_is_read_as_dotnet_renders_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host='{"version": 2.0}')
    assert info.value.message.startswith("'2' is an invalid value for host.json 'version' property.")
    assert info.value.hint == 'Set "version": "2.0" (a JSON string) in host.json.'


# --- functionTimeout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:01", timedelta(seconds=1)),
        ("01:30:00", timedelta(hours=1, minutes=30)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("00:00:05.25", timedelta(seconds=5, microseconds=250000)),
        ("-1", None),
        ("-1.00:00:00", None),
    ],
)
def test_function_timeout_formats(tmp_path: Path, text: str, expected: timedelta | None) -> None:
    config = load(tmp_path, host={"version": "2.0", "functionTimeout": text})
    assert config.host.function_timeout == expected


@pytest.mark.parametrize("text", ["00:00:00", "00:00:00.5", "-00:05:00"])
def test_function_timeout_below_one_second_gives_the_host_message(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host={"version": "2.0", "functionTimeout": text})
    assert info.value.message == (
        "FunctionTimeout must be greater than 00:00:01 and less than 10675199.02:48:05.4775807."
    )
    assert info.value.hint == (
        f"host.json 'functionTimeout' is '{text}'; use at least \"00:00:01\", or \"-1\" for no timeout."
    )


@pytest.mark.parametrize("text", ["5 minutes", "00:60:00", "24:00:00", "1:2:3:4", ""])
def test_function_timeout_not_a_timespan(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host={"version": "2.0", "functionTimeout": text})
    assert info.value.message == f"host.json 'functionTimeout' value '{text}' is not a valid TimeSpan."
    assert info.value.hint == 'Use "hh:mm:ss" (e.g. "00:10:00"), "d.hh:mm:ss", or "-1" for no timeout.'


def test_function_timeout_bare_number_means_days_with_warning(tmp_path: Path) -> None:
    config = load(tmp_path, host={"version": "2.0", "functionTimeout": 300})
    assert config.host.function_timeout == timedelta(days=300)
    assert config.warnings == [
        "host.json 'functionTimeout' value '300' is read as 300 day(s): a bare number means days. "
        'Write "hh:mm:ss" (e.g. "00:05:00") for minutes or seconds.'
    ]


def test_parse_timespan_rejects_garbage() -> None:
    assert parse_timespan(" 2 ") == timedelta(days=2)
    assert parse_timespan("10:30") == timedelta(hours=10, minutes=30)
    with pytest.raises(ValueError):
        parse_timespan("1:xx")


# --- logging


def test_invalid_log_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, host={"version": "2.0", "logging": {"logLevel": {"default": "Verbose"}}})
    assert info.value.message == (
        "Configuration value 'Verbose' for host.json 'logging.logLevel.default' is not a supported log level."
    )
    assert info.value.hint == "Use one of Trace, Debug, Information, Warning, Error, Critical, None."


# --- AzureFunctionsJobHost__ overrides


def test_environment_overrides_host_json_keys(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        host={
            "version": "2.0",
            "functionTimeout": "00:05:00",
            "logging": {"logLevel": {"default": "Warning"}},
        },
        env={
            "AzureFunctionsJobHost__functionTimeout": "-1",
            "AzureFunctionsJobHost__logging__logLevel__default": "Debug",
            "AzureFunctionsJobHost__extensions__http__routePrefix": "",
            "AzureFunctionsJobHost__functions__0": "GetChatState",
        },
    )
    assert config.host.function_timeout is None
    assert config.host.log_level_default == "Debug"
    assert config.host.route_prefix == ""
    assert config.host.functions == ["GetChatState"]


def test_override_names_are_case_insensitive_and_accept_colons(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        host={"version": "2.0", "extensions": {"http": {"routePrefix": "api"}}},
        env={
            "AZUREFUNCTIONSJOBHOST__EXTENSIONS__HTTP__ROUTEPREFIX": "v2",
            "AzureFunctionsJobHost:functionTimeout": "00:00:09",
        },
    )
    assert config.host.route_prefix == "v2"
    assert config.host.http == {"routePrefix": "v2"}
    assert config.host.function_timeout == timedelta(seconds=9)


def test_function_overrides_merge_index_by_index_like_dotnet_configuration(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        host={"version": "2.0", "functions": ["a", "b", "c"]},
        env=functions_override(["x"]),
    )
    assert config.host.functions == ["x", "b", "c"]


def test_functions_override_sets_indexed_settings() -> None:
    assert functions_override(["f1", "f2"]) == {
        "AzureFunctionsJobHost__functions__0": "f1",
        "AzureFunctionsJobHost__functions__1": "f2",
    }


def test_local_values_override_host_json_too(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={
            "IsEncrypted": False,
            "Values": {"AzureFunctionsJobHost__logging__logLevel__default": "Trace"},
        },
    )
    assert config.host.log_level_default == "Trace"


def test_override_error_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env={"AzureFunctionsJobHost__functionTimeout": "0"})
    assert info.value.hint == (
        "host.json 'functionTimeout' is '0' (set by the setting 'AzureFunctionsJobHost__functionTimeout'); "
        'use at least "00:00:01", or "-1" for no timeout.'
    )


# --- local.settings.json


def test_local_settings_values_connection_strings_and_host(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={
            "IsEncrypted": False,
            "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "CHAT_MODEL_DEPLOYMENT_NAME": "gpt-4o"},
            "ConnectionStrings": {
                "Sql": "Server=db;Database=x",
                "Other": {"ConnectionString": "Endpoint=sb://x", "ProviderName": "Custom"},
            },
            "Host": {
                "LocalHttpPort": 7168,
                "CORS": "http://localhost:3000,https://app.example",
                "CORSCredentials": True,
            },
        },
    )
    local = config.local
    assert local.exists and not local.is_encrypted
    assert local.values == {"FUNCTIONS_WORKER_RUNTIME": "python", "CHAT_MODEL_DEPLOYMENT_NAME": "gpt-4o"}
    assert local.connection_strings == {
        "Sql": ConnectionString(value="Server=db;Database=x", provider_name="System.Data.SqlClient"),
        "Other": ConnectionString(value="Endpoint=sb://x", provider_name="Custom"),
    }
    assert local.local_http_port == 7168
    assert local.cors == ["http://localhost:3000", "https://app.example"]
    assert local.cors_credentials is True
    assert config.settings["ConnectionStrings:Sql"] == "Server=db;Database=x"
    assert config.settings["ConnectionStrings:Other"] == "Endpoint=sb://x"
    assert config.warnings == []


def test_host_section_keys_are_case_insensitive_and_port_may_be_a_string(tmp_path: Path) -> None:
    config = load(tmp_path, local={"IsEncrypted": False, "Host": {"localHttpPort": "7080", "cors": "*"}})
    assert config.local.local_http_port == 7080
    assert config.local.cors == ["*"]
    assert config.local.cors_credentials is False


def test_invalid_local_http_port_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, local={"IsEncrypted": False, "Host": {"LocalHttpPort": "seven"}})
    assert (
        info.value.message == "local.settings.json 'Host.LocalHttpPort' must be a port number, found 'seven'."
    )
    assert info.value.path == str(tmp_path / "app" / "local.settings.json")


def test_invalid_local_settings_json_warns_and_loads_nothing(tmp_path: Path) -> None:
    config = load(tmp_path, local='{"IsEncrypted": false, "Values": {"A": "1",,}}')
    path = tmp_path / "app" / "local.settings.json"
    assert config.warnings == [
        f"Failed to read app settings file at '{path}'. Ensure it is a valid JSON file. "
        "Expecting property name enclosed in double quotes at line 1, column 44."
    ]
    assert config.local.values == {}
    assert config.setting("A") is None


def test_explicitly_encrypted_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, local={"IsEncrypted": True, "Values": {"A": "Q2lwaGVy"}})
    assert info.value.message == (
        'local.settings.json has "IsEncrypted": true; encrypted settings are not supported by funchost.'
    )
    assert info.value.hint == (
        'Run `func settings decrypt` in the app folder, or set "IsEncrypted": false and write the values in '
        "plain text."
    )


def test_encrypted_flag_with_only_empty_values_is_harmless(tmp_path: Path) -> None:
    config = load(tmp_path, local={"IsEncrypted": True, "Values": {"A": ""}})
    assert config.local.is_encrypted is True
    assert config.setting("A") == ""


def test_missing_is_encrypted_means_plain_text(tmp_path: Path) -> None:
    config = load(tmp_path, local={"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}})
    assert config.local.is_encrypted is False
    assert config.setting("AzureWebJobsStorage") == "UseDevelopmentStorage=true"


def test_values_are_coerced_to_strings_like_core_tools(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={
            "IsEncrypted": False,
            "Values": {"Flag": True, "Off": "FALSE", "Count": 5, "Ratio": 1.5, "Whole": 2.0, "Nothing": None},
        },
    )
    assert config.local.values == {"Flag": "true", "Off": "false", "Count": "5", "Ratio": "1.5", "Whole": "2"}
    assert config.warnings == ["Skipping 'Nothing' because value is null"]


def test_object_value_is_skipped_with_a_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path, local={"IsEncrypted": False, "Values": {"AzureOpenAI": {"endpoint": "x"}, "B": "1"}}
    )
    assert config.local.values == {"B": "1"}
    assert config.warnings == [
        "Skipping 'AzureOpenAI' from local settings: its value is an object, but Values entries must be "
        "strings. Use flat names for nested settings, e.g. 'AzureOpenAI__child'."
    ]


def test_wrongly_cased_top_level_key_is_reported(tmp_path: Path) -> None:
    config = load(tmp_path, local={"IsEncrypted": False, "values": {"A": "1"}})
    assert config.local.values == {}
    assert config.warnings == [
        "local.settings.json has 'values', which is ignored: names are case-sensitive, use 'Values'."
    ]


# --- effective settings


def test_environment_wins_over_values_with_the_core_tools_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={"IsEncrypted": False, "Values": {"A": "local", "B": "local", "C": "local"}},
        env={"A": "env", "B": ""},
    )
    assert config.warnings == [
        "Skipping 'A' from local settings as it's already defined in current environment variables."
    ]
    assert config.settings["A"] == "env"
    assert config.settings["B"] == "local"
    assert config.settings["C"] == "local"
    assert config.injected == {"B": "local", "C": "local"}


def test_environment_wins_over_connection_strings(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={"IsEncrypted": False, "ConnectionStrings": {"db": "local"}},
        env={"ConnectionStrings:db": "env"},
    )
    assert config.connection("db") == "env"
    assert config.warnings == [
        "Skipping 'ConnectionStrings:db' from local settings as it's already defined in current environment "
        "variables."
    ]


def test_setting_lookup_is_case_insensitive_and_treats_colon_as_double_underscore(tmp_path: Path) -> None:
    config = load(tmp_path, local={"IsEncrypted": False, "Values": {"AzureOpenAI__endpoint": "https://x"}})
    assert config.setting("AzureOpenAI:Endpoint") == "https://x"
    assert config.setting("azureopenai__ENDPOINT") == "https://x"
    assert config.setting("AzureOpenAI") is None


def test_environment_wins_in_lookup_when_names_differ_only_in_form(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={"IsEncrypted": False, "Values": {"AzureOpenAI:endpoint": "local"}},
        env={"AZUREOPENAI__ENDPOINT": "env"},
    )
    assert config.setting("AzureOpenAI__endpoint") == "env"


def test_connection_lookup_prefers_connection_strings(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={
            "IsEncrypted": False,
            "Values": {"Storage": "plain", "OnlyPlain": "p"},
            "ConnectionStrings": {"Storage": {"ConnectionString": "from-cs"}},
        },
    )
    assert config.connection("storage") == "from-cs"
    assert config.connection("OnlyPlain") == "p"
    assert config.connection("Missing") is None


def test_environment_variables_are_settings(tmp_path: Path) -> None:
    config = load(tmp_path, env={"CHAT_MODEL_DEPLOYMENT_NAME": "gpt-4o"})
    assert config.setting("chat_model_deployment_name") == "gpt-4o"
    assert config.setting("AZURE_FUNCTIONS_ENVIRONMENT") == "Development"
    assert config.setting("AzureWebJobsScriptRoot") == str(tmp_path / "app")


def test_azure_functions_environment_is_forced_with_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, env={"AZURE_FUNCTIONS_ENVIRONMENT": "Production"})
    assert config.settings["AZURE_FUNCTIONS_ENVIRONMENT"] == "Development"
    assert config.warnings == [
        "AZURE_FUNCTIONS_ENVIRONMENT already exists with value 'Production', overriding to 'Development'."
    ]


def test_environment_updates_are_what_core_tools_injects(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        local={
            "IsEncrypted": False,
            "Values": {"A": "1", "Skip": "local"},
            "ConnectionStrings": {"db": "cs"},
        },
        env={"Skip": "env"},
    )
    assert environment_updates(config, 7072) == {
        "A": "1",
        "ConnectionStrings:db": "cs",
        "WEBSITE_HOSTNAME": "localhost:7072",
        "AzureWebJobsScriptRoot": str(tmp_path / "app"),
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "FUNCTIONS_WORKER_RUNTIME": "python",
    }


def test_environment_updates_keep_a_configured_worker_runtime(tmp_path: Path) -> None:
    config = load(tmp_path, env={"FUNCTIONS_WORKER_RUNTIME": "node"})
    assert environment_updates(config, 7071)["FUNCTIONS_WORKER_RUNTIME"] == "node"


def test_reserved_container_name_is_reported(tmp_path: Path) -> None:
    config = load(tmp_path, local={"IsEncrypted": False, "Values": {"CONTAINER_NAME": "x"}})
    assert config.warnings == [
        "'CONTAINER_NAME' is a reserved setting name used by the hosting platform; remove it from "
        "local.settings.json."
    ]


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.host.route_prefix = "x"


# --- secrets

DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def test_is_secret_by_name_and_by_value() -> None:
    assert is_secret("AzureOpenAI__key", "abc")
    assert is_secret("CLIENT_SECRET", "abc")
    assert is_secret("DbPassword", "abc")
    assert is_secret("ConnectionStrings:db", "abc")
    assert is_secret("GITHUB_TOKEN", "abc")
    assert is_secret("Storage", f"AccountName=a;AccountKey={DEV_KEY}")
    assert is_secret("Bus", "Endpoint=sb://x/;SharedAccessKeyName=n;SharedAccessKey=abc")
    assert not is_secret("CHAT_MODEL_DEPLOYMENT_NAME", "gpt-4o")


def test_mask() -> None:
    assert mask("hunter2") == "***"
    assert mask("") == ""


def test_redact_replaces_secret_values_in_text(tmp_path: Path) -> None:
    storage = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY}"
    config = load(
        tmp_path,
        local={
            "IsEncrypted": False,
            "Values": {
                "OPENAI_API_KEY": "sk-abcdef123456",
                "MyStorage": storage,
                "CHAT_MODEL_DEPLOYMENT_NAME": "gpt-4o",
                "USE_KEY_VAULT": "true",
            },
        },
    )
    text = f"calling with sk-abcdef123456 on {storage} model gpt-4o, true"
    assert redact(text, config) == "calling with *** on *** model gpt-4o, true"


def test_redact_masks_key_fragments_of_unknown_connection_strings() -> None:
    text = f"failed: AccountName=a;AccountKey={DEV_KEY};TableEndpoint=http://127.0.0.1:10002/a"
    assert redact(text, {}) == "failed: AccountName=a;AccountKey=***;TableEndpoint=http://127.0.0.1:10002/a"
    assert redact("Server=db;Password=s3cr3t!;", {}) == "Server=db;Password=***;"
