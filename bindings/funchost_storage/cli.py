"""``funchost storage blob put|get|ls|rm`` and ``funchost storage queue send|peek|ls`` on the app's storage."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from funchost.plugin import BindingError, add_app_argument, read_app_settings
from funchost_storage.backend import StorageBackend, StorageError
from funchost_storage.connections import DEFAULT_CONNECTION, resolve
from funchost_storage.embedded import EmbeddedStorage
from funchost_storage.names import InvalidName, check_container, check_queue, split_path
from funchost_storage.queues import QueuesConfig, decode_message, encode_message


def _common(p: argparse.ArgumentParser) -> None:
    add_app_argument(p)
    p.add_argument(
        "--connection", default=DEFAULT_CONNECTION, help="connection setting name (AzureWebJobsStorage)"
    )
    p.add_argument("--storage", help="embedded or azure (default: FUNCHOST_STORAGE, else embedded)")


def main(argv: Sequence[str]) -> int:
    """``funchost storage ...``."""
    parser = argparse.ArgumentParser(
        prog="funchost storage", description="Blobs and queue messages of an app."
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    blob = kinds.add_parser("blob", help="put, get, list or delete blobs").add_subparsers(
        dest="action", required=True
    )
    p = blob.add_parser("put", help="write a blob from a file, --text, or standard input ('-')")
    p.add_argument("path", help="container/name")
    p.add_argument("file", nargs="?", help="the file to upload ('-' = standard input)")
    p.add_argument("--text", help="the content, as text")
    p.add_argument("--content-type", help="the blob's content type")
    _common(p)
    p = blob.add_parser("get", help="print a blob, or save it with -o")
    p.add_argument("path", help="container/name")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    _common(p)
    p = blob.add_parser("ls", help="list the blobs of a container")
    p.add_argument("container", help="container, optionally container/prefix")
    _common(p)
    p = blob.add_parser("rm", help="delete a blob")
    p.add_argument("path", help="container/name")
    _common(p)
    queue = kinds.add_parser("queue", help="send or peek queue messages").add_subparsers(
        dest="action", required=True
    )
    p = queue.add_parser(
        "send", help="send a message (encoded as host.json messageEncoding says, base64 by default)"
    )
    p.add_argument("queue")
    p.add_argument("message", help="the message text ('-' = standard input)")
    p.add_argument("--count", type=int, default=1, help="send it this many times")
    _common(p)
    p = queue.add_parser("peek", help="show visible messages without taking them")
    p.add_argument("queue")
    p.add_argument("-n", "--max", type=int, default=32, help="how many (at most 32)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _common(p)
    p = queue.add_parser("ls", help="list the queues")
    _common(p)
    args = parser.parse_args(argv)
    root = Path(args.script_root)
    if not root.is_dir():
        print(f'"{args.script_root}" doesn\'t exist.', file=sys.stderr)
        return 1
    try:
        return asyncio.run(_run(args, root.resolve()))
    except (StorageError, BindingError, InvalidName, ValueError, OSError) as exc:
        print(f"funchost storage {args.kind} {args.action}: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, root: Path) -> int:
    config = read_app_settings(root)

    def lookup(name: str) -> str | None:
        if name.upper() == "FUNCHOST_STORAGE" and args.storage:
            return str(args.storage)
        return config.setting(name)

    conn = resolve(args.connection, lookup)
    backend: StorageBackend
    if conn.kind == "embedded":
        backend = EmbeddedStorage(root / ".funchost")
    else:
        from funchost_storage.azure_backend import AzureStorage  # the azure SDKs: ~0.3 s

        backend = AzureStorage(
            connection_string=conn.connection_string,
            blob_uri=conn.blob_uri,
            queue_uri=conn.queue_uri,
            setting=conn.name,
        )
    try:
        queues = QueuesConfig.read(dict(config.extension("queues")))
        return await _act(args, backend, queues)
    finally:
        await backend.close()


async def _act(args: argparse.Namespace, backend: StorageBackend, queues: QueuesConfig) -> int:
    out = sys.stdout
    if args.kind == "blob":
        if args.action == "put":
            container, name = split_path(args.path)
            data = _content(args)
            props = await backend.put_blob(container, name, data, content_type=args.content_type)
            print(f"{container}/{name}: {props.length} bytes, ETag {props.etag}", file=out)
        elif args.action == "get":
            container, name = split_path(args.path)
            got = await backend.get_blob(container, name)
            if got is None:
                print(f"funchost storage blob get: blob '{container}/{name}' does not exist", file=sys.stderr)
                return 1
            if args.output:
                Path(args.output).write_bytes(got[0])
            else:
                out.buffer.write(got[0])
                out.flush()
        elif args.action == "ls":
            container, _, prefix = args.container.partition("/")
            check_container(container)
            for b in await backend.list_blobs(container, prefix):
                print(f"{b.length:>10}  {b.last_modified:%Y-%m-%d %H:%M:%S}  {b.name}", file=out)
        elif args.action == "rm":
            container, name = split_path(args.path)
            if not await backend.delete_blob(container, name):
                print(f"funchost storage blob rm: blob '{container}/{name}' does not exist", file=sys.stderr)
                return 1
        return 0
    if args.action == "ls":
        for name in await backend.queue_names():
            print(name, file=out)
        return 0
    queue = check_queue(args.queue.strip().lower())
    if args.action == "send":
        text = sys.stdin.read() if args.message == "-" else args.message
        stored = encode_message(text.encode("utf-8"), queues.message_encoding)
        for _ in range(max(1, args.count)):
            sent = await backend.send_message(queue, stored)
            print(f"{queue}: message {sent.id}", file=out)
        return 0
    for m in await backend.peek_messages(queue, max(1, min(32, args.max))):
        try:
            body = decode_message(m.text, queues.message_encoding).decode("utf-8", "replace")
        except ValueError:
            body = m.text
        row: dict[str, Any] = {
            "id": m.id,
            "dequeueCount": m.dequeue_count,
            "insertionTime": m.insertion_time.isoformat(),
            "body": body,
        }
        print(json.dumps(row) if args.json else f"{m.id}  dequeued {m.dequeue_count}x  {body}", file=out)
    return 0


def _content(args: argparse.Namespace) -> bytes:
    if args.text is not None:
        return str(args.text).encode("utf-8")
    if args.file in (None, "-"):
        return sys.stdin.buffer.read()
    return Path(args.file).read_bytes()
