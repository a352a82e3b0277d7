"""Issue "Faults and security", items 10-13: one clear line (and a documented exit code) instead of a
traceback, a terminal prompt or a silently accepted conflict. No node needed: every case fails
before the command connects, or uses a stub cluster."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core.cli import main
from cassandra_bulk_core.connection import ConnectionConfig
from cassandra_bulk_core.errors import ConfigError, ConnectionFailed

HOST = ["-h", "127.0.0.1", "--port", "1"]  # nothing listens: a case that connected would fail differently


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return int(exit_info.value.code or 0), err


def _one_line(code: int, err: str, expected_code: int, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code, err
    assert len(lines) <= 3 and all(f in err for f in fragments), err  # click: usage line + hint + error


# -- item 13: conflicts refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["count", "-k", "a", "-t", "b.t"], "name two keyspaces"),
        (["export", "-t", "ks.t", "--url", "out", "--mode", "daily"], "--mode daily is for --to iceberg"),
        (["export", "-t", "ks.t", "--url", "out", "--export-date", "2025-01-01"], "--export-date is for --to iceberg"),
        (["load", "-t", "ks.t", "--timestamp", "1", "--timestamp-field", "ts"], "--timestamp and --timestamp-field"),
        (["load", "-t", "ks.t", "--range", "r01-of-16", "--start-token", "5"], "--range and --start-token"),
        (["count", "-t", "ks.t", "--request-timeout", "-1"], "--request-timeout"),
        (["count", "-t", "ks.t", "--connect-timeout", "0"], "--connect-timeout"),
    ],
)
def test_conflicting_options_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    code, err = _run(capsys, *args, *HOST)
    _one_line(code, err, 2, fragment)


def test_the_same_keyspace_twice_is_fine() -> None:
    from cassandra_bulk_core.cli.values import qualified

    assert qualified("ks.t", "ks") == ("ks", "t")


# -- item 12: the cause and the knob -----------------------------------------------------------


def test_unwritable_destination_exits_2_without_suggesting_resume(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _run(capsys, "export", "-t", "ks.t", "--url", str(blocker / "sub"), *HOST)
    _one_line(code, err, 2, str(blocker), "--url")
    assert "--resume" not in err


def test_unknown_range_id_with_iceberg_creates_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    args = ["export", "-t", "ks.t", "--to", "iceberg", "--warehouse", str(warehouse), "--ranges", "r99-of-16"]
    code, err = _run(capsys, *args, *HOST)
    _one_line(code, err, 2, "unknown range id(s) r99-of-16")
    assert not warehouse.exists()


def _auth_error() -> Any:
    from cassandra import AuthenticationFailed

    return AuthenticationFailed("Remote end requires authentication")


def test_authentication_messages_name_the_options() -> None:
    no_user = ConnectionConfig()._no_host_message({"h:9042": _auth_error()})
    assert "None" not in no_user and "-u/--username" in no_user and "requires authentication" in no_user
    wrong = ConnectionConfig(username="bob", password="s3cr3t")._no_host_message({"h:9042": _auth_error()})
    assert "authentication failed as 'bob'" in wrong and "s3cr3t" not in wrong


def test_a_plain_client_at_a_tls_node_is_told_about_tls() -> None:
    reset = ConnectionResetError(104, "Connection reset by peer")
    message = ConnectionConfig()._no_host_message({"h:9042": reset})
    assert "Connection reset by peer" in message and "--ssl" in message
    wrong_way = ConnectionConfig(ssl_enabled=True)._no_host_message(
        {"h:9042": OSError("[SSL: WRONG_VERSION_NUMBER] wrong version number")}
    )
    assert "drop --ssl" in wrong_way


class _TimingOutCluster:
    def connect(self, keyspace: str | None = None) -> Any:
        from cassandra import OperationTimedOut

        raise OperationTimedOut()

    def shutdown(self) -> None:
        pass


def test_connect_timeout_names_the_hosts_and_the_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ConnectionConfig(contact_points="10.1.2.3", connect_timeout=2)
    monkeypatch.setattr(ConnectionConfig, "build_cluster", lambda self: _TimingOutCluster())
    with pytest.raises(ConnectionFailed) as info:
        cfg.connect()
    text = str(info.value)
    assert "10.1.2.3 port 9042 within 2s" in text and "errors=None" not in text and "--host" in text


# -- item 10: no tracebacks --------------------------------------------------------------------


def test_unresolvable_host_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "count", "-t", "ks.t", "-h", "no-such-host.invalid")
    _one_line(code, err, 3, "cannot resolve", "no-such-host.invalid", "-h/--host")


def test_unwritable_warehouse_and_log_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _run(capsys, "export", "-t", "ks.t", "--to", "iceberg", "--warehouse", str(blocker / "w"), *HOST)
    _one_line(code, err, 2, "--warehouse", str(blocker))
    code, err = _run(capsys, "load", "-t", "ks.t", "--log-dir", str(blocker / "logs"), *HOST)
    _one_line(code, err, 2, "--log-dir", str(blocker))


def test_missing_checkpoint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "checkpoint.json"
    code, err = _run(capsys, "load", "-t", "ks.t", "--log-dir", str(tmp_path), "--checkpoint", str(missing), *HOST)
    _one_line(code, err, 2, "--checkpoint", str(missing), "no such file")


def test_verify_and_maintenance_on_a_missing_iceberg_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wh = str(tmp_path / "wh")
    code, err = _run(capsys, "iceberg-maintenance", "--iceberg-table", "ns.nope", "--warehouse", wh)
    _one_line(code, err, 2, "Iceberg table ns.nope does not exist")
    code, err = _run(capsys, "verify", "-t", "ks.nope", "--warehouse", wh, *HOST)
    _one_line(code, err, 2, "Iceberg table ks.nope does not exist")


def test_missing_bundle_and_bad_ca(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _run(capsys, "count", "-t", "ks.t", "-b", str(tmp_path / "nope.zip"))
    _one_line(code, err, 2, "--secure-connect-bundle", "no such file")
    not_a_zip = tmp_path / "bundle.zip"
    not_a_zip.write_text("not a zip")
    code, err = _run(capsys, "count", "-t", "ks.t", "-b", str(not_a_zip))
    _one_line(code, err, 2, "not a usable secure connect bundle")
    code, err = _run(capsys, "count", "-t", "ks.t", "--ssl-ca", str(tmp_path / "ca.pem"), *HOST)
    _one_line(code, err, 2, "--ssl-ca", "No such file")
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    code, err = _run(capsys, "count", "-t", "ks.t", "--ssl-ca", str(not_pem), *HOST)
    _one_line(code, err, 2, "--ssl-ca", "cannot load it as PEM")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")

    def sh(*args: str) -> None:
        subprocess.run(args, cwd=d, check=True, capture_output=True)

    for n in ("1", "2"):
        sh(
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={n}",
            "-keyout",
            f"k{n}.pem",
            "-out",
            f"c{n}.pem",
        )
    sh("openssl", "pkey", "-in", "k1.pem", "-aes256", "-passout", "pass:right-phrase", "-out", "k1enc.pem")
    return d


def test_client_key_missing_or_mismatched(capsys: pytest.CaptureFixture[str], pki: Path) -> None:
    base = ["count", "-t", "ks.t", *HOST, "--ssl-cert", str(pki / "c1.pem")]
    code, err = _run(capsys, *base, "--ssl-key", str(pki / "k2.pem"))
    _one_line(code, err, 2, "the key does not belong to the certificate")
    code, err = _run(capsys, *base)
    _one_line(code, err, 2, "no private key", "--ssl-key")
    code, err = _run(capsys, *base, "--ssl-key", str(pki / "nope.pem"))
    _one_line(code, err, 2, "--ssl-key", "no such file")


# -- item 11: an encrypted key never prompts ---------------------------------------------------


def test_encrypted_key_without_a_password_is_an_error_not_a_prompt(pki: Path) -> None:
    cfg = ConnectionConfig(ssl_cert_file=str(pki / "c1.pem"), ssl_key_file=str(pki / "k1enc.pem"))
    with pytest.raises(ConfigError, match="the client key is encrypted; give its pass phrase with --ssl-key-password"):
        cfg.ssl_context()
    with pytest.raises(ConfigError, match="wrong --ssl-key-password"):
        cfg.with_overrides(ssl_key_password="wrong").ssl_context()
    assert cfg.with_overrides(ssl_key_password="right-phrase").ssl_context() is not None


def test_encrypted_key_from_the_cli_and_the_environment(
    capsys: pytest.CaptureFixture[str], pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["count", "-t", "ks.t", *HOST, "--ssl-cert", str(pki / "c1.pem"), "--ssl-key", str(pki / "k1enc.pem")]
    code, err = _run(capsys, *base)
    _one_line(code, err, 2, "--ssl-key-password", "CASSANDRA_SSL_KEY_PASSWORD")
    monkeypatch.setenv("CASSANDRA_SSL_KEY_PASSWORD", "right-phrase")
    code, err = _run(capsys, *base)  # the key loads; the connection then fails (nothing on port 1)
    assert code == 3 and "no Cassandra host answered" in err and "right-phrase" not in err


def test_password_file_is_read_and_a_missing_one_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = _run(capsys, "count", "-t", "ks.t", *HOST, "-u", "u", "--password-file", str(tmp_path / "pw"))
    _one_line(code, err, 2, "--password-file", "No such file")


def test_json_logs_keep_driver_messages_but_not_their_tracebacks() -> None:
    from cassandra_bulk_core.cli.values import _NoDriverTracebacks

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("cassandra.cluster", logging.ERROR, __file__, 1, "failed", None, exc_info)
    assert _NoDriverTracebacks().filter(record) and record.exc_info is None and record.getMessage() == "failed"
    ours = logging.LogRecord("cassandra_bulk", logging.ERROR, __file__, 1, "x", None, exc_info)
    assert _NoDriverTracebacks().filter(ours) and ours.exc_info is not None
