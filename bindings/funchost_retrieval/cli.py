"""``funchost vectors list | show COLLECTION | delete COLLECTION`` on the app's local vector store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from funchost.plugin import add_app_argument
from funchost_retrieval.stores import LocalVectorStore, VectorStoreError, vectors_path


def main(argv: Sequence[str]) -> int:
    """``funchost vectors ...``."""
    parser = argparse.ArgumentParser(
        prog="funchost vectors",
        description="Collections of the app's local vector store (<app>/.funchost/vectors).",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("list", "list the collections with their chunk counts"),
        ("show", "list a collection's documents (titles) with their chunk counts"),
        ("delete", "delete a collection"),
    ):
        p = actions.add_parser(name, help=help_text)
        add_app_argument(p)
        if name != "list":
            p.add_argument("collection", help="the collection (the binding's 'collection')")
    args = parser.parse_args(argv)
    root = Path(args.script_root)
    if not root.is_dir():
        print(f'"{args.script_root}" doesn\'t exist.', file=sys.stderr)
        return 1
    folder = vectors_path(root.resolve())
    if not (folder / "index.db").exists():
        if args.action == "list":
            print(f"No collections ({folder} does not exist yet).")
            return 0
        print(
            f"Collection '{args.collection}' does not exist (no vector store in {folder}).", file=sys.stderr
        )
        return 1
    try:
        store = LocalVectorStore(folder)
    except VectorStoreError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    try:
        return _act(args, store)
    finally:
        store.close()


def _act(args: argparse.Namespace, store: LocalVectorStore) -> int:
    if args.action == "list":
        infos = store.collections()
        if not infos:
            print(f"No collections in {store.root}.")
        for each in infos:
            print(
                f"{each.name}\tdocuments={len(each.titles)}\tchunks={each.chunks}\tdimensions={each.dimensions}"
            )
        return 0
    info = store.collection(args.collection)
    if info is None:
        known = ", ".join(i.name for i in store.collections()) or "none"
        print(f"Collection '{args.collection}' does not exist (collections: {known}).", file=sys.stderr)
        return 1
    if args.action == "show":
        print(f"{info.name}: {info.chunks} chunks of {info.dimensions} dimensions")
        for title, count in info.titles.items():
            print(f"  {title or '(no title)'}\tchunks={count}")
        return 0
    store.delete(args.collection)
    print(f"Deleted collection '{args.collection}' ({len(info.titles)} documents, {info.chunks} chunks).")
    return 0
