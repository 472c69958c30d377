"""CI-sized load: 2,000 create/query/plain HTTP requests at concurrency 32 through the real CLI, zero errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end-to-end through the real CLI in a subprocess

LOAD = Path(__file__).resolve().parents[1] / "bench" / "load.py"


@pytest.mark.parametrize("store", ["sqlite", "memory"])
def test_quick_load_has_zero_errors(store: str) -> None:
    done = subprocess.run(
        [sys.executable, str(LOAD), "--quick", "--json", "--store", store],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert (result["requests"], result["concurrency"], result["errors"]) == (2000, 32, 0), result["failures"]
    assert result["by_kind"] == {"create": 667, "query": 667, "http": 666}
    assert result["rss_kib"] and min(result["rss_kib"]) > 0
