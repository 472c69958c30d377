"""The text an embeddings binding embeds: raw text, a file under the app folder, or a URL (§3.1)."""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["FILE_ROOT_SETTING", "URL_ORIGINS_SETTING", "InputError", "InputReader"]

FILE_ROOT_SETTING = "OPENAI_EMBEDDINGS_FILE_PATH_ROOT"
URL_ORIGINS_SETTING = "OPENAI_EMBEDDINGS_URL_ALLOWED_ORIGINS"
MAX_URL_BYTES = 10 * 1024 * 1024
URL_TIMEOUT_SECONDS = 30.0
USER_AGENT = "Microsoft.Azure.WebJobs.Extensions.OpenAI/0.20.0.0 (funchost)"

Settings = Callable[[str], str | None]


class InputError(ValueError):
    """The input cannot be read; the message names it and what to do."""


def decode(data: bytes) -> str:
    """UTF-8 with BOM detection (UTF-8, UTF-16 LE/BE), as .NET's StreamReader reads it."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    return data.decode("utf-8", errors="replace")


class InputReader:
    """Reads inputs for one app; warnings are printed once per process, like the extension's notices."""

    def __init__(self, script_root: Path, settings: Settings, log: logging.Logger) -> None:
        self.script_root = Path(script_root).resolve()
        self.settings = settings
        self.log = log
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning(message, *args)

    async def read(self, input_type: str, value: str) -> str:
        if input_type == "RawText":
            return value
        if input_type == "FilePath":
            return await asyncio.to_thread(self.read_file, value)
        return await self.read_url(value)

    # -- files -------------------------------------------------------------------------------------------------
    def resolve_file(self, value: str) -> Path:
        """The file a ``filePath`` input names: relative to the app folder, inside the configured root if any."""
        root_setting = (self.settings(FILE_ROOT_SETTING) or "").strip()
        if not root_setting:
            self._warn_once(
                "file-root",
                "FilePath input is running without %s. Configure this setting to constrain relative paths "
                "(funchost reads relative paths from the app folder %s).",
                FILE_ROOT_SETTING,
                self.script_root,
            )
            return self.script_root / value
        root = (self.script_root / root_setting).resolve()
        if Path(value).is_absolute():
            raise InputError(
                f"the file path '{value}' must be relative when {FILE_ROOT_SETTING} is configured "
                f"(root {root})."
            )
        path = (root / value).resolve()
        if path != root and root not in path.parents:
            raise InputError(
                f"the file path '{value}' must remain within the directory configured by {FILE_ROOT_SETTING} "
                f"({root})."
            )
        return path

    def read_file(self, value: str) -> str:
        if not value.strip():
            raise InputError(
                "the file path is empty; pass the path of a text file relative to the app folder."
            )
        path = self.resolve_file(value)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(
                f"could not find file '{path}' (filePath '{value}', relative to the app folder {self.script_root})."
            ) from None
        except IsADirectoryError:
            raise InputError(f"'{path}' is a folder, not a file (filePath '{value}').") from None
        except OSError as error:
            raise InputError(f"could not read file '{path}': {error.strerror or error}.") from None
        return decode(data)

    # -- URLs --------------------------------------------------------------------------------------------------
    def _allowed_origins(self) -> set[str] | None:
        raw = (self.settings(URL_ORIGINS_SETTING) or "").strip()
        if not raw:
            return None
        origins: set[str] = set()
        for item in raw.split(","):
            origin = item.strip()
            if not origin:
                continue
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("https", "http")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.username
            ):
                raise InputError(f"{URL_ORIGINS_SETTING} contains an invalid origin: '{origin}'.")
            origins.add(f"{parts.scheme}://{parts.netloc}".lower())
        if not origins:
            raise InputError(f"{URL_ORIGINS_SETTING} must contain at least one https origin.")
        return origins

    def _limit(self, name: str, default: float) -> float:
        raw = self.settings(name)
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = 0
        if value <= 0:
            raise InputError(
                f"{name} is '{raw}', not a positive number; fix it or remove it (default {default:g})."
            )
        return value

    async def read_url(self, value: str) -> str:
        import aiohttp

        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
            raise InputError(f"Invalid Url: {value}. Ensure it is a valid https Url.")
        if parts.scheme.lower() == "http":
            self._warn_once(
                "http",
                "Url input '%s' is http: accepted locally, but Azure accepts only https URLs "
                "('Invalid Url: ... Ensure it is a valid https Url.').",
                value,
            )
        origins = self._allowed_origins()
        if origins is not None:
            if parts.username:
                raise InputError(
                    f"the Url cannot contain user information when {URL_ORIGINS_SETTING} is configured."
                )
            if f"{parts.scheme}://{parts.netloc}".lower() not in origins:
                raise InputError(f"the Url origin of '{value}' is not listed in {URL_ORIGINS_SETTING}.")
        else:
            self._warn_once(
                "origins",
                "Url input is running without %s. Configure this setting to constrain destinations.",
                URL_ORIGINS_SETTING,
            )
        max_bytes = int(self._limit("FUNCHOST_EMBEDDINGS_URL_MAX_BYTES", MAX_URL_BYTES))
        timeout = self._limit("FUNCHOST_EMBEDDINGS_URL_TIMEOUT", URL_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=timeout), headers={"User-Agent": USER_AGENT}
                ) as session,
                session.get(value, allow_redirects=origins is None) as response,
            ):
                if 300 <= response.status < 400:
                    raise InputError(
                        f"the Url '{value}' answered a redirect ({response.status}); redirects are not followed "
                        f"when {URL_ORIGINS_SETTING} is configured."
                    )
                if response.status >= 400:
                    raise InputError(
                        f"fetching the Url '{value}' failed: response status code does not indicate success: "
                        f"{response.status} ({response.reason})."
                    )
                if response.content_length is not None and response.content_length > max_bytes:
                    raise InputError(self._too_big(value, max_bytes))
                data = bytearray()
                async for block in response.content.iter_chunked(65536):
                    data += block
                    if len(data) > max_bytes:
                        raise InputError(self._too_big(value, max_bytes))
        except TimeoutError:
            raise InputError(
                f"the Url '{value}' did not answer within {timeout:g} s (FUNCHOST_EMBEDDINGS_URL_TIMEOUT)."
            ) from None
        except aiohttp.ClientError as error:
            raise InputError(f"could not fetch the Url '{value}': {error or type(error).__name__}.") from None
        return decode(bytes(data))

    @staticmethod
    def _too_big(value: str, max_bytes: int) -> str:
        return (
            f"the Url content of '{value}' exceeds the maximum supported size of {max_bytes} bytes "
            "(FUNCHOST_EMBEDDINGS_URL_MAX_BYTES)."
        )
