"""Password authentication and client-to-node TLS against a node the harness configures itself
(127.0.0.54: PasswordAuthenticator, TLS with a throw-away CA, mutual TLS required), then a scan of
every artefact for the secrets (issue "Faults and security": security harness and tests).

Every CLI run has stdin closed: a prompt (``Enter PEM pass phrase:``) would read EOF and fail
instead of hanging, and the tests would see it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.faults.conftest import (
    TLS_ADDRESS,
    TLS_ROWS,
    cli,
    secret_leaks,
    start_tls,
    tls_admin_session,
    tls_cluster,
)

ADDRESS = TLS_ADDRESS
ROWS = TLS_ROWS


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CASSANDRA_")}
    full_env.update(env or {})
    return subprocess.run(
        cli(*args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=full_env
    )


def _tls(
    node: dict[str, Any], *, ca: Path | None = None, key: Path | None = None, cert: Path | None = None
) -> list[str]:
    files = node["files"]
    return [
        "-h", ADDRESS, "--ssl", "--ssl-ca", str(ca or files.ca),
        "--ssl-cert", str(cert or files.client_cert), "--ssl-key", str(key or files.client_key),
    ]  # fmt: skip


def _count(node: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _run("count", "-t", "sec.kv", "--splits", "4", *args, env=env)


def _one_line_failure(out: subprocess.CompletedProcess[str], code: int) -> str:
    assert out.returncode == code, f"exit {out.returncode}: {out.stderr[-1500:]}"
    assert "Traceback" not in out.stderr and "PEM pass phrase" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_mutual_tls_with_a_hostname_check_and_the_password_by_flag_env_and_file(
    tls_node: dict[str, Any], tmp_path: Path
) -> None:
    pw = tls_node["password"]
    by_flag = _count(tls_node, *_tls(tls_node), "-u", tls_node["user"], "-p", pw)
    assert by_flag.returncode == 0, by_flag.stderr[-1500:]
    assert by_flag.stdout.strip().splitlines()[-1] == str(ROWS)
    by_env = _count(tls_node, *_tls(tls_node), env={"CASSANDRA_USERNAME": tls_node["user"], "CASSANDRA_PASSWORD": pw})
    assert by_env.returncode == 0 and by_env.stdout.strip().splitlines()[-1] == str(ROWS), by_env.stderr[-1500:]
    pw_file = tmp_path / "pw"
    pw_file.write_text(pw + "\n")
    by_file = _count(tls_node, *_tls(tls_node), "-u", tls_node["user"], "--password-file", str(pw_file))
    assert by_file.returncode == 0 and by_file.stdout.strip().splitlines()[-1] == str(ROWS), by_file.stderr[-1500:]
    line = _one_line_failure(_count(tls_node, *_tls(tls_node), "-u", tls_node["user"], "-p", pw + "x"), 3)
    assert pw not in line


def test_an_encrypted_client_key_with_its_password_by_flag_or_env_and_never_a_prompt(tls_node: dict[str, Any]) -> None:
    files, pw, key_pw = tls_node["files"], tls_node["password"], tls_node["key_password"]
    auth = ["-u", tls_node["user"], "-p", pw]
    args = _tls(tls_node, key=files.client_key_encrypted)
    by_flag = _count(tls_node, *args, *auth, "--ssl-key-password", key_pw)
    assert by_flag.returncode == 0 and by_flag.stdout.strip().splitlines()[-1] == str(ROWS), by_flag.stderr[-1500:]
    by_env = _count(tls_node, *args, *auth, env={"CASSANDRA_SSL_KEY_PASSWORD": key_pw})
    assert by_env.returncode == 0 and by_env.stdout.strip().splitlines()[-1] == str(ROWS), by_env.stderr[-1500:]
    missing = _one_line_failure(_count(tls_node, *args, *auth), 2)
    assert "--ssl-key-password" in missing
    wrong = _one_line_failure(_count(tls_node, *args, *auth, "--ssl-key-password", "not-it"), 2)
    assert "not-it" not in wrong and key_pw not in wrong


def test_the_node_and_the_client_refuse_what_they_cannot_verify(tls_node: dict[str, Any]) -> None:
    files, pw = tls_node["files"], tls_node["password"]
    auth = ["-u", tls_node["user"], "-p", pw]
    # Mutual TLS: without a client certificate, or with one of another CA, the node refuses.
    no_cert = _count(tls_node, "-h", ADDRESS, "--ssl", "--ssl-ca", str(files.ca), *auth)
    _one_line_failure(no_cert, 3)
    stranger = _tls(tls_node, cert=files.other_client_cert, key=files.other_client_key)
    _one_line_failure(_count(tls_node, *stranger, *auth), 3)
    # The client: a node certificate its CA did not sign is refused, hostname check or not.
    _one_line_failure(_count(tls_node, *_tls(tls_node, ca=files.other_ca), *auth), 3)
    _one_line_failure(_count(tls_node, *_tls(tls_node, ca=files.other_ca), "--no-ssl-verify-hostname", *auth), 3)
    # A plain client at a TLS node is told about TLS.
    plain = _one_line_failure(_count(tls_node, "-h", ADDRESS, *auth), 3)
    assert "TLS" in plain or "ssl" in plain.lower()


def test_no_password_or_key_material_in_any_artefact(tls_node: dict[str, Any], tmp_path: Path) -> None:
    """An export (Parquet and CSV) and a load with every artefact on: JSON logs, progress file,
    Prometheus text file, checkpoint, rejects, summary; the password from the environment and the
    key pass phrase by flag. None of them, nor what the runs printed, holds a secret."""
    files, pw, key_pw = tls_node["files"], tls_node["password"], tls_node["key_password"]
    tls = _tls(tls_node, key=files.client_key_encrypted)
    env = {"CASSANDRA_USERNAME": tls_node["user"], "CASSANDRA_PASSWORD": pw}
    extras = ["--ssl-key-password", key_pw, "--log-json", "--no-progress"]
    outputs: list[str] = []
    for fmt in ("parquet", "csv"):
        out = _run(
            "export", "-t", "sec.kv", *tls, *extras, "--url", str(tmp_path / f"out-{fmt}"), "--format", fmt,
            "--splits", "4", "--progress-file", str(tmp_path / f"progress-{fmt}.json"),
            "--metrics-textfile", str(tmp_path / f"metrics-{fmt}.prom"), env=env,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-1500:]
        outputs += [out.stdout, out.stderr]
    cluster, session = tls_admin_session(tls_node["local"], tls_node["user"], pw)
    try:
        session.execute("DROP TABLE IF EXISTS sec.copy")
        session.execute("CREATE TABLE sec.copy (k int PRIMARY KEY, v text)")
    finally:
        cluster.shutdown()
    (tmp_path / "bad.csv").write_text("k,v\n1,one\nnot-a-number,two\n")  # a reject file too
    for source in (tmp_path / "out-csv", tmp_path / "bad.csv"):
        out = _run(
            "load", "-t", "sec.copy", *tls, *extras, "--url", str(source), "--log-dir", str(tmp_path / "logs"),
            "--metrics-textfile", str(tmp_path / "metrics-load.prom"), env=env,
        )  # fmt: skip
        assert out.returncode in (0, 1), out.stderr[-1500:]
        outputs += [out.stdout, out.stderr]
    artefacts = [p for p in tmp_path.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in artefacts} | {p.name for p in artefacts}
    assert {".parquet", ".csv", ".prom", "checkpoint.json", "summary.json", "errors.log"} <= kinds, kinds
    assert not secret_leaks(tls_node, [p for p in artefacts if p.name != "pw"], outputs)


def test_a_certificate_not_naming_the_node_fails_the_hostname_check_but_not_the_chain_check(
    tls_node: dict[str, Any],
) -> None:
    """Last in this module: restarts the node with a certificate for another name (the ``tls_node``
    fixture puts the right one back for the next case that uses the node)."""
    start_tls(tls_cluster(san=("DNS:elsewhere.invalid",)))
    files, pw = tls_node["files"], tls_node["password"]
    auth = ["-u", tls_node["user"], "-p", pw]
    _one_line_failure(_count(tls_node, *_tls(tls_node), *auth), 3)
    unchecked = _count(tls_node, *_tls(tls_node), "--no-ssl-verify-hostname", *auth)
    assert unchecked.returncode == 0 and unchecked.stdout.strip().splitlines()[-1] == str(ROWS), unchecked.stderr
    # Not checking the name still checks the chain (issue item 3).
    _one_line_failure(_count(tls_node, *_tls(tls_node, ca=files.other_ca), "--no-ssl-verify-hostname", *auth), 3)
