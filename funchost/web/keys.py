"""Function keys for ``--enable-auth``: the master key and a host function key, kept in .funchost/keys.json."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS_FILE = "keys.json"


class KeysFileError(Exception):
    """keys.json exists but cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class KeyRing:
    master: str
    function: str
    path: Path

    @classmethod
    def load_or_create(cls, state_dir: Path) -> KeyRing:
        """Read the keys, or create them (random, file mode 0600) on first use."""
        path = state_dir / KEYS_FILE
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                master, function = data["masterKey"], data["functionKeys"]["default"]
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, KeyError) else f"no {exc} key"
                raise KeysFileError(
                    f"The keys file {path} cannot be used ({reason}). It must hold "
                    '{"masterKey": "...", "functionKeys": {"default": "..."}}: fix it, or delete it to get new '
                    "keys at the next start."
                ) from None
            if not isinstance(master, str) or not isinstance(function, str) or not master or not function:
                raise KeysFileError(
                    f"The keys file {path} cannot be used: masterKey and functionKeys.default must be non-empty "
                    "strings. Fix it, or delete it to get new keys at the next start."
                )
            return cls(master=master, function=function, path=path)
        state_dir.mkdir(parents=True, exist_ok=True)
        ring = cls(master=_new_key(), function=_new_key(), path=path)
        payload = json.dumps({"masterKey": ring.master, "functionKeys": {"default": ring.function}}, indent=2)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload + "\n")
        return ring

    def presented(self, request: Any) -> str | None:
        """The key a request carries: header ``x-functions-key`` wins over query ``code`` (any case: ASP.NET's
        query keys are case-insensitive, so ``?CODE=`` and ``?Code=`` work too)."""
        key = request.headers.get("x-functions-key")
        if key:
            return str(key)
        code = next((v for k, v in request.query.items() if k.lower() == "code" and v), None)
        return str(code) if code else None

    def allows(self, request: Any, level: str) -> bool:
        if level == "anonymous":
            return True
        key = self.presented(request)
        if key is None:
            return False
        if _same(key, self.master):
            return True
        return level == "function" and _same(key, self.function)

    def is_admin(self, request: Any) -> bool:
        return self.allows(request, "admin")


def _new_key() -> str:
    return secrets.token_urlsafe(40)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
