"""``funchost assistants list | show | export | delete`` on any store."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from funchost.dotnet import datetime_roundtrip
from funchost.plugin import add_app_argument, read_app_settings
from funchost_assistants.models import ChatMessage, message_entity, state_entity
from funchost_assistants.stores import STORE_KINDS, AssistantStore, Collection, StoreError, open_store


def main(argv: Sequence[str]) -> int:
    """``funchost assistants ...``."""
    parser = argparse.ArgumentParser(prog="funchost assistants", description="Stored assistants of an app.")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("list", "list the assistants in a collection"),
        ("show", "print an assistant's transcript"),
        ("export", "print an assistant's rows as JSON (the Azure Tables entity layout)"),
        ("delete", "delete an assistant and its history"),
    ):
        p = actions.add_parser(name, help=help_text)
        add_app_argument(p)
        if name != "list":
            p.add_argument("id", help="the assistant id")
        p.add_argument("--store", choices=STORE_KINDS, help="default: FUNCHOST_STORE, else sqlite")
        p.add_argument("--collection", default="ChatState", help="table name (default ChatState)")
        p.add_argument("--connection", default="AzureWebJobsStorage", help="connection setting name")
    args = parser.parse_args(argv)
    root = Path(args.script_root)
    if not root.is_dir():
        print(f'"{args.script_root}" doesn\'t exist.', file=sys.stderr)
        return 1
    return asyncio.run(_run(args, root.resolve()))


async def _run(args: argparse.Namespace, root: Path) -> int:
    config = read_app_settings(root)
    kind = args.store or config.setting("FUNCHOST_STORE") or "sqlite"
    where = Collection(args.connection, args.collection)
    try:
        store = open_store(kind, script_root=root, settings=config.setting)
    except StoreError as exc:
        print(f"funchost assistants: {exc}", file=sys.stderr)
        return 1
    try:
        return await _act(args, store, where)
    except StoreError as exc:  # e.g. Azurite down, a damaged SQLite file: one line, no traceback
        print(f"funchost assistants {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()


async def _act(args: argparse.Namespace, store: AssistantStore, where: Collection) -> int:
    if args.action == "list":
        states = await store.list(where)
        if not states:
            print(f"No assistants in '{where.table}' ({store.describe()}).")
        for s in states:
            print(
                f"{s.id}\tmessages={s.total_messages}\ttokens={s.total_tokens}\t"
                f"updated={datetime_roundtrip(s.last_updated_at)}"
            )
        return 0
    if args.action == "delete":
        if await store.delete(where, args.id):
            print(f"Deleted assistant '{args.id}'.")
            return 0
        print(f"No assistant '{args.id}' in '{where.table}' ({store.describe()}).")
        return 1
    loaded = await store.load(where, args.id)
    if loaded is None:
        print(f"No assistant '{args.id}' in '{where.table}' ({store.describe()}).")
        return 1
    state, messages = loaded
    if args.action == "export":
        rows = [state_entity(state)] + [message_entity(state.id, m) for m in messages]
        print(json.dumps(rows, default=str, indent=2, ensure_ascii=False))
        return 0
    print(
        f"Assistant '{state.id}': {state.total_messages} messages, {state.total_tokens} tokens (last call), "
        f"created {datetime_roundtrip(state.created_at)}, updated {datetime_roundtrip(state.last_updated_at)}"
    )
    for m in messages:
        print(_transcript_line(m))
    return 0


def _transcript_line(m: ChatMessage) -> str:
    head = f"[{m.row_key}] {m.role}:"
    if m.tool_calls:
        calls = json.loads(m.tool_calls)
        text = ", ".join(f"{c['functionName']}({c['functionArguments']})" for c in calls)
        return f"{head} (calls {text}) {m.content}".rstrip()
    return f"{head} {m.content}"
