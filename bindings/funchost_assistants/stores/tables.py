"""Azure Tables store: the real extension's tables, through ``azure.data.tables.aio`` (Azurite or Azure)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from funchost_assistants.models import (
    STATE_ROW_KEY,
    AssistantState,
    ChatMessage,
    entity_size,
    is_message_row,
    message_entity,
    message_from_entity,
    state_entity,
    state_from_entity,
)
from funchost_assistants.stores.base import (
    Collection,
    Conflict,
    StoreError,
    StoreUnavailable,
    state_changed,
    with_etag,
)
from funchost_assistants.stores.memory import missing_table_error

T = TypeVar("T")
Settings = Callable[[str], str | None]
Operation = tuple[Any, ...]

MAX_BATCH = 100
"""Azure Tables: at most 100 operations per transaction."""
MAX_BATCH_BYTES = 3 * 1024 * 1024
"""Stay well under the 4 MiB transaction payload limit."""
_MESSAGE_RANGE = "RowKey ge 'msg-' and RowKey lt 'msg.'"
_SERVER_SLACK = timedelta(milliseconds=1)
"""Azurite compares datetimes at millisecond precision: filter coarsely there, exactly here."""


CREATE_ROUNDS = 12
"""How often a create or delete starts over when another process writes the same partition meanwhile."""
_RACE_CODES = ("UpdateConditionNotSatisfied", "EntityAlreadyExists", "ResourceNotFound", "EntityNotFound")


class _Raced(Exception):
    """Another writer changed the partition between our read and our write."""


def _etag(entity: Any) -> str | None:
    metadata = getattr(entity, "metadata", None) or {}
    return metadata.get("etag")


def _if_unchanged(entity: Any) -> dict[str, Any]:
    etag = _etag(entity)
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}


def odata_string(value: str) -> str:
    """``value`` as an OData string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def odata_datetime(dt: datetime) -> str:
    """``dt`` as an OData datetime literal (UTC)."""
    return "datetime'" + dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def partition_filter(assistant_id: str) -> str:
    """The OData filter selecting exactly one assistant's partition."""
    return f"PartitionKey eq {odata_string(assistant_id)}"


@dataclass
class _Service:
    setting: str
    endpoint: str
    client: TableServiceClient
    credential: Any = None
    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)


def _safe_endpoint(url: str) -> str:
    """The endpoint without query string (a SAS token is a secret)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ServiceRequestError):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code == 503


def _transient_read(exc: BaseException) -> bool:
    return _transient(exc) or isinstance(exc, ServiceResponseError)


def _code(exc: HttpResponseError) -> str:
    return str(getattr(exc, "error_code", "") or "")


class TablesStore:
    """Assistants in Azure Tables with the extension's exact layout; the connection is resolved per call
    from the collection's connection setting (``<name>__tableServiceUri`` or a connection string).

    Several processes may share a table: ``create`` and ``delete`` remove exactly the rows they read (If-Match)
    and start over when another writer got in between, and ``append(if_match=...)`` puts If-Match on the state
    row in the same transaction as the new rows.
    """

    name = "tables"

    def __init__(self, settings: Settings, *, attempts: int = 4, backoff_seconds: float = 0.1) -> None:
        self._settings = settings
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._services: dict[tuple[str, str], _Service] = {}

    def describe(self) -> str:
        """Where the data lives."""
        return "Azure Tables (account from each collection's chatStorageConnectionSetting)"

    # -- connection ---------------------------------------------------------------------------------------

    def _service(self, setting: str) -> _Service:
        uri = self._settings(f"{setting}__tableServiceUri") if setting else None
        if uri:
            kind = (self._settings(f"{setting}__credential") or "").strip().lower()
            client_id = self._settings(f"{setting}__clientId") or None
            key = (setting, f"uri={uri};credential={kind};clientId={client_id}")
            if key not in self._services:
                credential = self._credential(setting, kind, client_id)
                client = TableServiceClient(endpoint=uri, credential=credential, retry_total=0)
                self._services[key] = _Service(setting, _safe_endpoint(uri), client, credential)
            return self._services[key]
        value = self._settings(setting) if setting else None
        if not value:
            raise StoreError(
                f"chat storage connection setting '{setting}' is not set: add \"{setting}\": "
                '"UseDevelopmentStorage=true" (Azurite) or a storage account connection string to the Values '
                f"of local.settings.json, or set {setting}__tableServiceUri for identity-based access."
            )
        key = (setting, value)
        if key not in self._services:
            try:
                client = TableServiceClient.from_connection_string(value, retry_total=0)
            except (ValueError, TypeError) as exc:
                raise StoreError(
                    f"app setting '{setting}' is not a valid storage connection string "
                    f"({type(exc).__name__}): use UseDevelopmentStorage=true or "
                    "DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;TableEndpoint=..."
                ) from None
            self._services[key] = _Service(setting, _safe_endpoint(client.url), client)
        return self._services[key]

    @staticmethod
    def _credential(setting: str, kind: str, client_id: str | None) -> Any:
        try:
            from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential
        except ImportError:
            raise StoreError(
                f"app setting '{setting}__tableServiceUri' needs azure-identity: "
                "pip install 'funchost[azure]'"
            ) from None
        if kind == "managedidentity":
            return (
                ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
            )
        return DefaultAzureCredential()

    async def _call(self, svc: _Service, op: Callable[[], Awaitable[T]], *, read: bool, table: str) -> T:
        """Run ``op`` with bounded retries of transient failures, mapping SDK errors to store errors."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=2.0),
            retry=retry_if_exception(_transient_read if read else _transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await op()
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StoreUnavailable(
                f"cannot reach the table endpoint {svc.endpoint} (connection setting '{svc.setting}', "
                f"table '{table}') after {self._attempts} attempts: {type(exc).__name__}. Start Azurite "
                "or fix the setting, then retry."
            ) from None
        except ClientAuthenticationError as exc:
            raise StoreError(
                f"the table endpoint {svc.endpoint} refused the credentials of connection setting "
                f"'{svc.setting}' (HTTP {exc.status_code}): check the account key or identity."
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _http_error(self, svc: _Service, table: str, exc: HttpResponseError) -> StoreError:
        return StoreError(
            f"table '{table}' at {svc.endpoint} (connection setting '{svc.setting}') failed with HTTP "
            f"{exc.status_code} {_code(exc) or exc.reason}."
        )

    # -- helpers ------------------------------------------------------------------------------------------

    async def _query(self, svc: _Service, table: TableClient, query: str) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            return [e async for e in table.query_entities(query)]  # TableEntity: a dict with its ETag

        return await self._call(svc, run, read=True, table=table.table_name)

    @staticmethod
    def _chunks(ops: Sequence[Operation]) -> list[list[Operation]]:
        """``ops`` split into transactions of at most 100 operations / ~3 MiB, in order."""
        chunks: list[list[Operation]] = []
        size = 0
        for op in ops:
            op_size = entity_size(op[1])
            if not chunks or len(chunks[-1]) >= MAX_BATCH or size + op_size > MAX_BATCH_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(op)
            size += op_size
        return chunks

    async def _submit(
        self, svc: _Service, table: TableClient, ops: Sequence[Operation], done: list[Operation] | None = None
    ) -> None:
        """Submit ``ops`` as consecutive transactions; ``done`` collects the operations committed."""
        for chunk in self._chunks(ops):
            await self._call(
                svc, partial(table.submit_transaction, chunk), read=False, table=table.table_name
            )
            if done is not None:
                done.extend(chunk)

    def _lock(self, svc: _Service, where: Collection, assistant_id: str) -> asyncio.Lock:
        return svc.locks.setdefault((where.table, assistant_id), asyncio.Lock())

    # -- the protocol -------------------------------------------------------------------------------------

    async def _clear(self, svc: _Service, table: TableClient, assistant_id: str) -> int:
        """Delete exactly the partition's rows as read, the state row first (so the assistant is gone at once
        and no post can add to it), each only if unchanged since read; raises _Raced when another writer
        touched the partition meanwhile. The number of rows deleted."""
        rows = await self._query(svc, table, partition_filter(assistant_id))
        rows.sort(key=lambda r: r.get("RowKey") != STATE_ROW_KEY)
        ops: list[Operation] = [("delete", r, _if_unchanged(r)) for r in rows]
        try:
            if ops and ops[0][1].get("RowKey") == STATE_ROW_KEY:
                await self._submit(svc, table, ops[:1])
                ops = ops[1:]
            await self._submit(svc, table, ops)
        except HttpResponseError as exc:
            if _code(exc) in _RACE_CODES or isinstance(exc, ResourceNotFoundError):
                if _code(exc) == "TableNotFound":
                    raise
                raise _Raced from None
            raise
        return len(rows)

    async def _replace_at_once(
        self, svc: _Service, table: TableClient, assistant_id: str, adds: Sequence[Operation]
    ) -> bool:
        """Replace the partition in ONE transaction when it fits (old rows deleted or overwritten, each only if
        unchanged since read), so even a killed process leaves the old or the new assistant, never neither.
        False when the partition is too big for one transaction."""
        rows = await self._query(svc, table, partition_filter(assistant_id))
        old = {str(r["RowKey"]): r for r in rows}
        ops: list[Operation] = []
        for op in adds:
            previous = old.pop(str(op[1]["RowKey"]), None)
            if previous is None:
                ops.append(op)
            else:
                ops.append(("update", op[1], {"mode": UpdateMode.REPLACE, **_if_unchanged(previous)}))
        ops.extend(("delete", r, _if_unchanged(r)) for r in old.values())
        if len(self._chunks(ops)) > 1:
            return False
        try:
            await self._submit(svc, table, ops)
        except HttpResponseError as exc:
            if _code(exc) != "TableNotFound" and (
                _code(exc) in _RACE_CODES or isinstance(exc, ResourceNotFoundError | ResourceExistsError)
            ):
                raise _Raced from None
            raise
        return True

    async def create(self, where: Collection, state: AssistantState, messages: Sequence[ChatMessage]) -> None:
        """Create the table if missing, then replace the partition by messages + state: in one transaction
        when the old partition fits in one (up to ~98 messages), else delete it (state row first) and add.

        Other processes may write the same partition meanwhile: the deletes are conditional on the rows read
        and the adds fail if a row exists, so a race starts the round over; the last create wins, whole."""
        svc = self._service(where.connection)
        async with self._lock(svc, where, state.id):
            try:
                await self._call(
                    svc,
                    lambda: svc.client.create_table_if_not_exists(where.table),
                    read=False,
                    table=where.table,
                )
            except ResourceExistsError:
                pass
            except HttpResponseError as exc:
                raise self._http_error(svc, where.table, exc) from None
            table = svc.client.get_table_client(where.table)
            adds: list[Operation] = [("create", message_entity(state.id, m)) for m in messages]
            adds.append(("create", state_entity(state)))
            for round_ in range(CREATE_ROUNDS):
                try:
                    if await self._replace_at_once(svc, table, state.id, adds):
                        return
                    await self._clear(svc, table, state.id)
                    await self._submit(svc, table, adds)
                    return
                except _Raced:
                    pass
                except HttpResponseError as exc:
                    if not (isinstance(exc, ResourceExistsError) or _code(exc) in _RACE_CODES):
                        raise self._http_error(svc, where.table, exc) from None
                await asyncio.sleep(random.uniform(0.005, 0.02) * (round_ + 1))
            raise Conflict(
                f"assistant '{state.id}' in table '{where.table}' kept being written by other processes "
                f"while it was being created ({CREATE_ROUNDS} attempts); its old history may already be "
                "deleted: create it again."
            )

    async def load(
        self, where: Collection, assistant_id: str, *, after: datetime | None = None
    ) -> tuple[AssistantState, list[ChatMessage]] | None:
        """State (with its ETag) and messages (``CreatedAt > after``) in RowKey order, one query; None
        without state/table."""
        svc = self._service(where.connection)
        table = svc.client.get_table_client(where.table)
        if after is None:
            query = partition_filter(assistant_id)
        else:
            query = (
                f"{partition_filter(assistant_id)} and (RowKey eq '{STATE_ROW_KEY}' or "
                f"({_MESSAGE_RANGE} and CreatedAt gt {odata_datetime(after - _SERVER_SLACK)}))"
            )
        try:
            rows = await self._query(svc, table, query)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise self._http_error(svc, where.table, exc) from None
        state = next((r for r in rows if r.get("RowKey") == STATE_ROW_KEY), None)
        if state is None:
            return None
        found = sorted(
            (r for r in rows if is_message_row(str(r.get("RowKey", "")))), key=lambda r: r["RowKey"]
        )
        messages = [message_from_entity(r) for r in found]
        if after is not None:
            messages = [m for m in messages if m.created_at > after]
        return with_etag(state_from_entity(state), _etag(state)), messages

    async def append(
        self,
        where: Collection,
        state: AssistantState,
        messages: Sequence[ChatMessage],
        *,
        if_match: str | None = None,
    ) -> None:
        """Add message rows and merge the state row (If-Match ``if_match`` when given) in one transaction
        (rolled back by hand past 100 rows)."""
        svc = self._service(where.connection)
        table = svc.client.get_table_client(where.table)
        ops: list[Operation] = [("create", message_entity(state.id, m)) for m in messages]
        if if_match is None:
            ops.append(("upsert", state_entity(state), {"mode": UpdateMode.MERGE}))
        else:
            condition = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
            ops.append(("update", state_entity(state), {"mode": UpdateMode.MERGE, **condition}))
        written: list[Operation] = []
        try:
            if len(self._chunks(ops)) == 1:
                await self._submit(svc, table, ops)
            else:  # too big for one transaction: messages first, state last, undone by hand on failure
                await self._submit(svc, table, ops[:-1], written)
                await self._submit(svc, table, ops[-1:])
        except HttpResponseError as exc:
            if written:
                await self._undo(svc, table, written)
            code = _code(exc)
            if code == "TableNotFound":
                raise missing_table_error(where) from None
            exists = isinstance(exc, ResourceExistsError) or code == "EntityAlreadyExists"
            if if_match is not None and (
                code in ("UpdateConditionNotSatisfied", "ResourceNotFound", "EntityNotFound")
                or exc.status_code in (404, 412)
                or (exists and await self._state_etag(svc, table, state.id) != if_match)
            ):
                raise state_changed(where, state.id) from None
            if exists:
                raise Conflict(
                    f"assistant '{state.id}' in table '{where.table}': a message row of "
                    f"{messages[0].row_key}..{messages[-1].row_key} already exists (another post wrote "
                    "it first); reload the assistant and retry."
                ) from None
            raise self._http_error(svc, where.table, exc) from None

    async def _state_etag(self, svc: _Service, table: TableClient, assistant_id: str) -> str | None:
        """The state row's current ETag (None when it is gone)."""
        query = f"{partition_filter(assistant_id)} and RowKey eq '{STATE_ROW_KEY}'"
        rows = await self._query(svc, table, query)
        return _etag(rows[0]) if rows else None

    async def _undo(self, svc: _Service, table: TableClient, written: Sequence[Operation]) -> None:
        """Delete rows this call inserted (each only if unchanged; a row already gone is fine)."""
        for op in written:
            with contextlib.suppress(ResourceNotFoundError):
                await self._call(
                    svc,
                    partial(table.delete_entity, op[1]["PartitionKey"], op[1]["RowKey"]),
                    read=False,
                    table=table.table_name,
                )

    async def list(self, where: Collection) -> list[AssistantState]:
        """Every assistant's state row, by id."""
        svc = self._service(where.connection)
        table = svc.client.get_table_client(where.table)
        try:
            rows = await self._query(svc, table, f"RowKey eq '{STATE_ROW_KEY}'")
        except ResourceNotFoundError:
            return []
        except HttpResponseError as exc:
            raise self._http_error(svc, where.table, exc) from None
        return [state_from_entity(r) for r in sorted(rows, key=lambda r: str(r["PartitionKey"]))]

    async def delete(self, where: Collection, assistant_id: str) -> bool:
        """Remove the partition (state row first, each row only if unchanged since read; a race with another
        writer starts over); False when there was nothing."""
        svc = self._service(where.connection)
        table = svc.client.get_table_client(where.table)
        async with self._lock(svc, where, assistant_id):
            for round_ in range(CREATE_ROUNDS):
                try:
                    return await self._clear(svc, table, assistant_id) > 0
                except _Raced:
                    await asyncio.sleep(random.uniform(0.005, 0.02) * (round_ + 1))
                except ResourceNotFoundError:
                    return False
                except HttpResponseError as exc:
                    raise self._http_error(svc, where.table, exc) from None
        raise Conflict(
            f"assistant '{assistant_id}' in table '{where.table}' kept being written by other processes "
            f"while it was being deleted ({CREATE_ROUNDS} attempts): delete it again."
        )

    async def close(self) -> None:
        """Close every cached client and credential."""
        services, self._services = list(self._services.values()), {}
        for svc in services:
            await svc.client.close()
            if svc.credential is not None:
                await svc.credential.close()
