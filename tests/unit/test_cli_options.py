"""The CLI as a package: option groups, and connection settings declared once (issue "engine shape")."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest

from cassandra_bulk_core.cli import cli
from cassandra_bulk_core.cli.values import config
from cassandra_bulk_core.connection import ConnectionConfig
from cassandra_bulk_core.connection_fields import CONNECTION_FIELDS, SECRET_FIELDS


def _params(command: str) -> dict[str, click.Parameter]:
    cmd = cli.commands[command]
    return {p.name: p for p in cmd.params if p.name}


@pytest.mark.parametrize("command", ["count", "export", "load", "verify"])
def test_every_connection_field_with_a_flag_is_an_option_of_every_command(command: str) -> None:
    params = _params(command)
    for f in CONNECTION_FIELDS:
        if f.flags:
            assert f.param in params, (command, f.name)
            assert set(params[f.param].opts) | set(params[f.param].secondary_opts) >= {
                o for flag in f.flags for o in flag.split("/")
            }
    assert "password_file" in params


def test_the_table_covers_the_config_and_marks_the_secrets() -> None:
    import dataclasses

    names = {f.name for f in dataclasses.fields(ConnectionConfig)}
    assert {f.name for f in CONNECTION_FIELDS} <= names
    assert {"password", "ssl_key_password"} == SECRET_FIELDS
    cfg = ConnectionConfig(password="pw-1", ssl_key_password="kp-2")
    assert "pw-1" not in repr(cfg) and "kp-2" not in repr(cfg)
    assert cfg.safe_dict()["ssl_key_password"] == "***"


def test_cli_flags_and_env_become_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CASSANDRA_SSL_KEY_PASSWORD", "from-env")
    secret = tmp_path / "pw"
    secret.write_text("file-secret\nignored\n")
    kw: dict[str, Any] = {f.param: None for f in CONNECTION_FIELDS}
    kw.update(hosts="a,b", port=9043, consistency="quorum", connect_timeout=3.5, password_file=str(secret))
    cfg = config(**kw)
    assert cfg.contact_points == ("a", "b") and cfg.port == 9043 and cfg.consistency == "QUORUM"
    assert cfg.connect_timeout == 3.5 and cfg.password == "file-secret" and cfg.ssl_key_password == "from-env"
    kw["password"] = "flag-wins"
    assert config(**kw).password == "flag-wins"


def test_airflow_extras_are_derived_from_the_same_table() -> None:
    pytest.importorskip("airflow")
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import config_from_connection

    conn = SimpleNamespace(
        host="h1, h2",
        port=9044,
        login="u",
        password="p",
        extra_dejson={
            "local_dc": " dc1 ",
            "extra__cassandra_bulk__consistency": "local_quorum",
            "ssl": "true",
            "ssl_ca": "/ca.pem",
            "ssl_verify_hostname": "no",
            "protocol_version": "5",
            "request_timeout": "7",
            "connect_timeout": "",
            "ssl_key_password": "kp",
        },
    )
    cfg = config_from_connection(conn)
    assert cfg.contact_points == ("h1", "h2") and cfg.port == 9044 and (cfg.username, cfg.password) == ("u", "p")
    assert cfg.local_dc == "dc1" and cfg.consistency == "LOCAL_QUORUM" and cfg.ssl_enabled is True
    assert cfg.ssl_ca_file == "/ca.pem" and cfg.ssl_verify_hostname is False and cfg.protocol_version == 5
    assert cfg.request_timeout == 7.0 and cfg.connect_timeout == 10.0 and cfg.ssl_key_password == "kp"


def test_console_script_and_module_entry_points_still_resolve() -> None:
    import cassandra_bulk_core.cli as package
    from cassandra_bulk_core.cli import _mapping, main

    assert callable(main) and package.main is main
    assert _mapping("a=b, a=c") == {"a": ["b", "c"]}
    assert {"ranges", "count", "export", "load", "verify", "iceberg-maintenance"} <= set(cli.commands)
