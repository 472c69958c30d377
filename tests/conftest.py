"""Shared fixtures: real Azurite services (session-wide, started on a free loopback port when first asked for)."""

from __future__ import annotations

from tests.azurite import azurite, azurite_storage

__all__ = ["azurite", "azurite_storage"]
