"""The assistants plugin object: the store, the chat model and the skills shared by its bindings."""

from __future__ import annotations

from typing import Any

from funchost.plugin import BindingError, HostApi, Plugin
from funchost_assistants.bindings import (
    AssistantCreate,
    AssistantPost,
    AssistantQuery,
    AssistantSkillTrigger,
    TextCompletion,
    invoke_skill,
)
from funchost_assistants.chat import ChatModel, UnavailableChatModel, app_chat_model
from funchost_assistants.chat.connections import connection_lines, used_connections
from funchost_assistants.keys import ASSISTANTS, CHAT, STORE
from funchost_assistants.service import AssistantService, Coordination, Skill
from funchost_assistants.stores import AssistantStore, open_store, sqlite_path

__all__ = ["AssistantsPlugin"]


class AssistantsPlugin(Plugin):
    def __init__(self, host: HostApi) -> None:
        super().__init__("assistants", host)
        self.bindings = [
            AssistantCreate(self),
            AssistantPost(self),
            AssistantQuery(self),
            AssistantSkillTrigger(self),
            TextCompletion(self),
        ]
        self.skills: dict[str, Skill] = {}
        self.store_kind = (host.setting("FUNCHOST_STORE") or "sqlite").strip().lower()
        self._service: AssistantService | None = None
        self._broken: str | None = None

    async def start(self) -> None:
        """Open the store and the chat model (the host starts this plugin only for apps using its bindings)."""
        try:
            store = self.host.provided(STORE) or self.host.keep(
                f"assistants.store|{self.store_kind}", self._open_store
            )
        except Exception as exc:  # a broken store fails the bindings, not the host
            self._broken = f"the assistant store could not be opened: {exc}"
            self.host.log.error("Assistant bindings: %s", self._broken)
            return
        try:
            chat: ChatModel = self.host.provided(CHAT) or app_chat_model(self.host)
        except Exception as exc:  # creates and queries still work; posts say why the model is missing
            self.host.log.error("Assistant bindings: the chat model could not be set up: %s", exc)
            chat = UnavailableChatModel(str(exc))
        # Locks, clock and warn-once flags outlive this host version: a reload's old and new versions share them.
        coordination = (
            None  # a test harness's store: the coordination follows that store object
            if self.host.provided(STORE) is not None
            else self.host.keep(f"assistants.coordination|{self.store_kind}", Coordination)
        )
        self._service = AssistantService(store, chat, self.host.log, coordination)
        self.provide(STORE, store)
        self.provide(CHAT, chat)
        self.provide(ASSISTANTS, self._service)

    @property
    def service(self) -> AssistantService:
        if self._service is None:
            raise BindingError(self._broken or "the assistant plugin has not started")
        return self._service

    def _open_store(self) -> AssistantStore:
        return open_store(self.store_kind, script_root=self.host.script_root, settings=self.host.setting)

    def skill_list(self) -> list[Skill]:
        return list(self.skills.values())

    async def invoke_skill(self, skill: Skill, arguments: str) -> Any:
        return await invoke_skill(self, skill, arguments)

    def describe(self) -> list[str]:
        if self._service is None:
            return []
        store, chat = self.services["store"], self.services["chat"]
        where = {
            "sqlite": f"sqlite ({sqlite_path(self.host.script_root)})",
            "memory": "memory (kept while this process runs, across reloads; gone on restart)",
        }.get(self.store_kind, store.describe())
        if self.host.provided(STORE) is not None:
            where = store.describe()
        return [f"Assistant store: {where}", *self._describe_chat(chat)]

    def _describe_chat(self, chat: ChatModel) -> list[str]:
        """Per AI connection the bindings use, what a call would reach; the mode when no model is called."""
        setting = self.host.setting
        mode = (setting("FUNCHOST_CHAT") or "").strip().lower()
        if self.host.provided(CHAT) is None and mode == "echo":
            return ["Chat model: echo (FUNCHOST_CHAT=echo: the model repeats each user message, no network)"]
        if (
            self.host.provided(CHAT) is not None
            or mode not in ("", "openai")
            or setting("FUNCHOST_CHAT_REPLAY")
            or isinstance(chat, UnavailableChatModel)
        ):
            return [f"Chat model: {chat.describe().removeprefix('chat model: ')}"]
        record = setting("FUNCHOST_CHAT_RECORD")
        suffix = f", recording to {record}" if record else ""
        used = used_connections(self.host.functions, ("assistantPost", "textCompletion"), setting)
        return connection_lines("Chat model", setting, used, suffix)
