"""assistantCreate, assistantPost, assistantQuery, assistantSkillTrigger and textCompletion as host bindings."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from funchost.plugin import (
    BindingError,
    BindingSpec,
    BindingUnavailable,
    CallContext,
    FunctionSpec,
    InputBinding,
    OutputBinding,
    Trigger,
    TriggerData,
)
from funchost_assistants.chat.base import ChatError
from funchost_assistants.models import CreateRequest, InvalidRequest, parse_create_request
from funchost_assistants.options import (
    AssistantCreateOptions,
    AssistantPostOptions,
    AssistantQueryOptions,
    AssistantSkillTriggerOptions,
    ChatModelOptions,
    TextCompletionOptions,
)
from funchost_assistants.service import ChatOptions, Skill
from funchost_assistants.stores.base import Collection, Conflict, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from funchost_assistants.plugin import AssistantsPlugin


class _Bound:
    def __init__(self, plugin: AssistantsPlugin) -> None:
        self.plugin = plugin


def _collection(setting: str | None, table: str) -> Collection:
    return Collection(connection=setting or "AzureWebJobsStorage", table=table)


def _chat_options(options: ChatModelOptions) -> ChatOptions:
    return ChatOptions(
        model=options.chat_model or "gpt-3.5-turbo",
        connection=options.ai_connection_name,
        temperature=options.temperature,
        top_p=options.top_p,
        max_tokens=options.max_tokens,
        is_reasoning_model=options.is_reasoning_model,
    )


GUARDED = (InvalidRequest, ValueError, ChatError, StoreError)


@contextmanager
def service_errors() -> Iterator[None]:
    """Service, store and model errors as the host's binding errors (503 when a backend is down)."""
    try:
        yield
    except GUARDED as exc:
        if isinstance(exc, StoreUnavailable):
            raise BindingUnavailable(str(exc)) from exc
        if isinstance(exc, Conflict):
            raise AssistantConflict(str(exc)) from exc
        raise BindingError(str(exc)) from exc


class AssistantConflict(BindingError):
    """Another writer changed the assistant first (409); nothing was written, the call can be sent again."""

    status = 409


class AssistantCreate(_Bound, OutputBinding[AssistantCreateOptions]):
    type = "assistantCreate"
    options = AssistantCreateOptions

    def parse(self, item: Any, options: AssistantCreateOptions, call: CallContext) -> CreateRequest:
        try:
            return parse_create_request(item)
        except InvalidRequest as exc:
            raise BindingError(f"{exc} Nothing was created.") from None

    async def write(self, items: Sequence[Any], options: AssistantCreateOptions, call: CallContext) -> None:
        for request in items:
            with service_errors():
                await self.plugin.service.create(
                    _collection(request.chat_storage_connection_setting, request.collection_name), request
                )


class AssistantPost(_Bound, InputBinding[AssistantPostOptions]):
    type = "assistantPost"
    options = AssistantPostOptions

    async def read(self, options: AssistantPostOptions, call: CallContext) -> str:
        with service_errors():
            return await self.plugin.service.post(
                _collection(options.chat_storage_connection_setting, options.collection_name),
                options.id,
                options.user_message,
                _chat_options(options),
                self.plugin.skill_list(),
                self.plugin.invoke_skill,
            )


class AssistantQuery(_Bound, InputBinding[AssistantQueryOptions]):
    type = "assistantQuery"
    options = AssistantQueryOptions

    async def read(self, options: AssistantQueryOptions, call: CallContext) -> str:
        with service_errors():
            return await self.plugin.service.query(
                _collection(options.chat_storage_connection_setting, options.collection_name),
                options.id,
                options.timestamp_utc,
            )


class TextCompletion(_Bound, InputBinding[TextCompletionOptions]):
    type = "textCompletion"
    options = TextCompletionOptions

    async def read(self, options: TextCompletionOptions, call: CallContext) -> str:
        with service_errors():
            return await self.plugin.service.complete_text(options.prompt, _chat_options(options))


class AssistantSkillTrigger(_Bound, Trigger[AssistantSkillTriggerOptions]):
    """Skills are tools every assistantPost offers the model; the return value goes back to the model."""

    type = "assistantSkillTrigger"
    options = AssistantSkillTriggerOptions
    returns_to_caller: ClassVar[bool] = True

    def check(
        self, function: FunctionSpec, binding: BindingSpec, options: AssistantSkillTriggerOptions
    ) -> None:
        if options.parameter_description_json is not None:
            try:
                schema = json.loads(options.parameter_description_json)
            except ValueError as exc:
                raise BindingError(
                    f"property 'parameterDescriptionJson' is not valid JSON ({exc}); give a JSON schema object "
                    'such as {"type": "object", "properties": {...}}.'
                ) from None
            if not isinstance(schema, dict):
                raise BindingError(
                    "property 'parameterDescriptionJson' must be a JSON object (a JSON schema)."
                )

    def admin_input(
        self, function: FunctionSpec, options: AssistantSkillTriggerOptions, value: Any
    ) -> TriggerData:
        text = value if isinstance(value, str) else json.dumps(value)
        return skill_trigger_data(function.trigger.name, text)

    async def start(self, functions: Sequence[FunctionSpec]) -> None:
        for fn in functions:
            options = self.plugin.host.binding_options(fn, fn.trigger.name)
            assert isinstance(options, AssistantSkillTriggerOptions)
            name = options.function_name or fn.name
            if name.lower() in self.plugin.skills:
                other = self.plugin.skills[name.lower()].target
                self.plugin.host.log.error(
                    "Skill '%s' of function '%s' is already registered by function '%s'; skill names must be "
                    "unique (case-insensitive). Set function_name on one of them.",
                    name,
                    fn.name,
                    other.name,
                )
                continue
            if options.parameter_description_json is not None:
                schema = json.loads(options.parameter_description_json)
            else:
                schema = {"type": "object", "properties": {fn.trigger.name: {"type": "string"}}}
            self.plugin.skills[name.lower()] = Skill(name, options.function_description, schema, fn)


def skill_trigger_data(arg_name: str, arguments: str) -> TriggerData:
    """The model's arguments JSON -> the one argument named like the trigger parameter (§5.2)."""
    if not arguments.strip():
        return TriggerData(value=None)
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise BindingError(
            f"the tool-call arguments are not valid JSON ({exc}): {arguments[:200]!r}"
        ) from None
    if not isinstance(parsed, dict):
        return TriggerData(value=arguments)
    value = parsed.get(arg_name)
    if isinstance(value, dict | list):
        raise BindingError(
            f"argument '{arg_name}' is a JSON {type(value).__name__}, which cannot be passed as a string; "
            "describe it as a string in parameterDescriptionJson."
        )
    if value is not None and not isinstance(value, str):
        value = json.dumps(value)
    return TriggerData(value=value, binding_data=parsed)


async def invoke_skill(plugin: AssistantsPlugin, skill: Skill, arguments: str) -> Any:
    fn: FunctionSpec = skill.target
    trigger = skill_trigger_data(fn.trigger.name, arguments)
    result = await plugin.host.invoke(fn, trigger)
    return result.return_value
