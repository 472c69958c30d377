"""Issue 11 item 8: editing local.settings.json while the host runs applies it as a restart would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from funchost.settings import export_environment, host_environment
from tests.cli import running
from tests.waiting import wait_until

APP = Path(__file__).parent / "apps" / "fidelity_settings_reload"


def _write_values(app: Path, values: dict[str, str]) -> None:
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", **values}}
    (app / "local.settings.json").write_text(json.dumps(settings, indent=2))


@pytest.mark.slow
def test_changed_added_and_deleted_keys_apply_on_reload(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__", ".funchost"))
    with running(app, env={"FROM_ENV": "from the environment"}, reload=True) as host:
        assert host.json("GET", "/api/settings") == {
            "GREETING": "hello",
            "DOOMED": "present",
            "ADDED": None,
            "FROM_ENV": "from the environment",  # a real environment variable wins, with Core Tools' warning
        }
        skipped_env = "Skipping 'FROM_ENV' from local settings as it's already defined in current environment"
        assert host.output.count(skipped_env) == 1

        _write_values(app, {"GREETING": "bonjour", "ADDED": "new", "FROM_ENV": "still the file"})
        wait_until(
            lambda: host.json("GET", "/api/settings")
            == {"GREETING": "bonjour", "DOOMED": None, "ADDED": "new", "FROM_ENV": "from the environment"},
            message=lambda: f"the new settings were not applied:\n{host.output}",
        )
        output = host.wait_for_output("Reloaded in")
        wait_until(lambda: host.output.count(skipped_env) == 2, message=lambda: host.output)
        assert "Skipping 'GREETING'" not in output  # the host's own export is not "the environment"
        assert "Skipping 'ADDED'" not in output
        assert "Skipping 'DOOMED'" not in output  # the real variable above still wins after the reload

        _write_values(app, {"GREETING": "hello again"})  # and back: a key deleted then re-added
        wait_until(
            lambda: host.json("GET", "/api/settings")
            == {"GREETING": "hello again", "DOOMED": None, "ADDED": None, "FROM_ENV": "from the environment"},
            message=lambda: f"the second edit was not applied:\n{host.output}",
        )


def test_a_deleted_key_gets_back_the_value_it_had_before_the_host(tmp_path: Path) -> None:
    environ = {"EMPTY": "", "REAL": "real"}
    export_environment(tmp_path, {"EMPTY": "from file", "OURS": "x"}, environ)
    assert environ == {"EMPTY": "from file", "REAL": "real", "OURS": "x"}
    assert host_environment(tmp_path, environ) == {"EMPTY": "", "REAL": "real"}

    environ["OURS"] = "changed by the app"  # no longer what the host set: treated as the environment's
    export_environment(tmp_path, {}, environ)
    assert environ == {"EMPTY": "", "REAL": "real", "OURS": "changed by the app"}
    assert host_environment(tmp_path, environ) == environ
