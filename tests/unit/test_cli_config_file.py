"""``cassandra-bulk -f job.toml``: option defaults from a TOML file, keyed by the options' own names.

No node needed: the connection settings are caught where the command would connect. The same file
against a real node with password authentication and mutual TLS is in
``tests/faults/test_security_adapters.py``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core.cli import main
from cassandra_bulk_core.connection import ConnectionConfig
from cassandra_bulk_core.errors import ConnectionFailed


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch) -> list[ConnectionConfig]:
    """Every ``ConnectionConfig`` a command connects with; the connection itself fails (exit 3)."""
    seen: list[ConnectionConfig] = []

    def connect(self: ConnectionConfig, keyspace: str | None = None) -> Any:
        seen.append(self)
        raise ConnectionFailed("stub: not connecting")

    monkeypatch.setattr(ConnectionConfig, "connect", connect)
    for name in [n for n in os.environ if n.startswith("CASSANDRA_")]:
        monkeypatch.delenv(name)
    return seen


def test_connection_and_tls_settings_by_their_option_names(
    connected: list[ConnectionConfig], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job = tmp_path / "job.toml"
    job.write_text(
        'host = "10.0.0.7,10.0.0.8"\nport = 9142\nusername = "etl"\npassword = "from-the-file"\n'
        'ssl = true\nssl-ca = "/tls/ca.pem"\nssl-cert = "/tls/client.crt"\nssl_key = "/tls/client.key"\n'
        'ssl-key-password = "phrase-from-the-file"\nconsistency = "local_quorum"\n'
        "[count]\nsplits = 4\nrequest-timeout = 7\n"
    )
    code, _, err = _run(capsys, "-f", str(job), "count", "-t", "ks.t")
    assert code == 3 and "stub: not connecting" in err
    (config,) = connected
    assert config.contact_points == ("10.0.0.7", "10.0.0.8") and config.port == 9142
    assert (config.username, config.password) == ("etl", "from-the-file")
    assert config.ssl_enabled is True
    assert (config.ssl_ca_file, config.ssl_cert_file, config.ssl_key_file) == (
        "/tls/ca.pem", "/tls/client.crt", "/tls/client.key",
    )  # fmt: skip
    assert config.ssl_key_password == "phrase-from-the-file"
    assert config.consistency == "LOCAL_QUORUM" and config.request_timeout == 7
    # Flags win over the file; the parameter names are accepted too.
    job.write_text('host = "10.0.0.7"\nssl_ca_file = "/tls/ca.pem"\npassword_file = "' + str(tmp_path / "pw") + '"\n')
    (tmp_path / "pw").write_text("from-a-password-file\n")
    code, _, _ = _run(capsys, "-f", str(job), "count", "-t", "ks.t", "-h", "10.0.0.9", "-u", "etl")
    assert code == 3
    assert connected[1].contact_points == ("10.0.0.9",) and connected[1].ssl_ca_file == "/tls/ca.pem"
    assert connected[1].password == "from-a-password-file"


def test_every_command_reads_its_table_and_the_shared_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('splits = 3\n[ranges]\njson = true\n[export]\nformat = "csv"\n')
    code, out, _ = _run(capsys, "-f", str(job), "ranges")
    assert code == 0 and out.count('"id"') == 3


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('ssl-cafile = "/tls/ca.pem"\n', "'ssl-cafile' is no command's option"),
        ('[export]\nhost = "h"\nsplitz = 4\n', "[export] 'splitz' is not an option of export"),
        ("[exprot]\nsplits = 4\n", "[exprot] is not a command"),
    ],
)
def test_a_key_no_option_has_is_an_error_not_ignored(
    connected: list[ConnectionConfig], capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, fragment: str
) -> None:
    job = tmp_path / "job.toml"
    job.write_text(text)
    code, _, err = _run(capsys, "-f", str(job), "count", "-t", "ks.t")
    assert code == 2 and fragment in err, err
    assert connected == []
