"""semanticSearch's chat request and the JSON the function receives (§5.2-5.4)."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from funchost_retrieval.stores.base import Hit

__all__ = ["NEWLINE", "search_context", "synthesized_completion", "system_message"]

NEWLINE = "\n"
"""Environment.NewLine of a Linux host (Azure Functions on Linux, Core Tools on macOS/Linux)."""
_LINE_BREAKS = re.compile(r"\r\n|\n|\r")
_ids = itertools.count(1)


def system_message(system_prompt: str, hits: list[Hit]) -> str:
    """The prompt, then ``<title>: <chunk>`` per hit in rank order, each line break in them made a space."""
    lines = [system_prompt + NEWLINE]
    for hit in hits:
        title = _LINE_BREAKS.sub(" ", hit.title)
        text = _LINE_BREAKS.sub(" ", hit.text)
        lines.append(f"{title}: {text}{NEWLINE}")
    return "".join(lines)


def synthesized_completion(model: str, content: str, total_tokens: int) -> dict[str, Any]:
    """A chat.completion in the service's shape, for models that give only the text (scripted, replayed)."""
    return {
        "id": f"chatcmpl-funchost-{next(_ids)}",
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {"content": content, "refusal": None, "role": "assistant"},
                "logprobs": None,
            }
        ],
        "created": int(time.time()),
        "model": model,
        "object": "chat.completion",
        "usage": {"completion_tokens": 0, "prompt_tokens": 0, "total_tokens": total_tokens},
    }


def search_context(query: str, completion: dict[str, Any], response: str) -> dict[str, Any]:
    """``SemanticSearchContext`` serialized with PascalCase keys; ``Embeddings`` echoes only the query."""
    return {"Embeddings": {"request": [query], "count": 0}, "Chat": completion, "Response": response}
