"""Binding properties of httpTrigger and http."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from funchost.plugin import BindingOptions

AuthLevel = Literal["anonymous", "function", "admin", "system"]


class HttpTriggerOptions(BindingOptions):
    route: str | None = None
    methods: list[str] | None = None
    auth_level: AuthLevel = "function"
    web_hook_type: str | None = None

    @field_validator("auth_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("methods", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        if isinstance(value, list):
            return [str(m).upper() for m in value]
        return value


class HttpOutputOptions(BindingOptions):
    pass
