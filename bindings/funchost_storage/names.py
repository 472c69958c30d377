"""Azure Storage naming rules for containers, blobs and queues, checked before anything is written."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
SPECIAL_CONTAINERS = frozenset({"$root", "$web", "$logs"})
MAX_BLOB_NAME = 1024
MAX_MESSAGE_BYTES = 64 * 1024
"""A queue message's stored text (after base64 encoding) may be at most 64 KiB."""


class InvalidName(ValueError):
    """A container, blob or queue name Azure Storage would refuse."""


def check_container(name: str) -> str:
    """The container name if Azure accepts it; raises InvalidName saying why not."""
    if name in SPECIAL_CONTAINERS or _NAME.fullmatch(name):
        return name
    raise InvalidName(
        f"invalid container name '{name}': container names are 3-63 characters of lower-case letters, digits "
        "and single hyphens, starting and ending with a letter or digit"
    )


def check_queue(name: str) -> str:
    """The queue name if Azure accepts it; raises InvalidName saying why not."""
    if _NAME.fullmatch(name):
        return name
    raise InvalidName(
        f"invalid queue name '{name}': queue names are 3-63 characters of lower-case letters, digits and "
        "single hyphens, starting and ending with a letter or digit"
    )


def check_blob(name: str) -> str:
    """The blob name if Azure accepts it; raises InvalidName saying why not."""
    if not name:
        raise InvalidName("empty blob name: give a path after the container, as in 'container/name.txt'")
    if len(name) > MAX_BLOB_NAME:
        raise InvalidName(f"blob name is {len(name)} characters long; Azure allows at most {MAX_BLOB_NAME}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidName(f"blob name {name!r} contains control characters, which Azure Storage refuses")
    if name.endswith((".", "/")):
        raise InvalidName(f"blob name '{name}' ends with '{name[-1]}', which Azure Storage trims or refuses")
    return name


def split_path(path: str) -> tuple[str, str]:
    """``container/blob/name`` -> (container, blob name), both checked."""
    container, sep, blob = path.strip().lstrip("/").partition("/")
    if not sep:
        raise InvalidName(f"blob path '{path}' has no container: write it as 'container/name'")
    return check_container(container), check_blob(blob)
