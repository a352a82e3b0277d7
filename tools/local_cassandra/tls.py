"""Throw-away TLS material for test nodes: a CA, node certificates, client certificates.

Generated with ``cryptography`` (locked in uv.lock) into the cluster's state directory, once, and
reused while the files are there: nothing to hand-edit, nothing kept outside the cache. The node
side uses Cassandra 5's ``PEMBasedSslContextFactory`` (a PEM key + certificate file and a PEM
trust file), so no Java keystore is involved.

Files (under ``<cluster dir>/tls/``):

- ``ca.pem`` — the CA that signed everything below (the client's ``--ssl-ca``);
- ``other-ca.pem`` — an unrelated CA (a client trusting only it must fail; a client certificate
  signed by it must be refused by the node);
- ``node-<address>.pem`` — the node's key and certificate (SAN: the node's IP, or ``san`` when
  given: a certificate that does not name the address fails a host name check);
- ``client.crt`` / ``client.key`` — a client certificate and its key (plain);
- ``client-encrypted.key`` — the same key encrypted with ``key_password`` (PKCS#8);
- ``other-client.crt`` / ``other-client.key`` — a client certificate signed by ``other-ca``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TlsFiles:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def other_ca(self) -> Path:
        return self.directory / "other-ca.pem"

    def node(self, address: str) -> Path:
        return self.directory / f"node-{address}.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    @property
    def client_key_encrypted(self) -> Path:
        return self.directory / "client-encrypted.key"

    @property
    def other_client_cert(self) -> Path:
        return self.directory / "other-client.crt"

    @property
    def other_client_key(self) -> Path:
        return self.directory / "other-client.key"

    @property
    def key_password_file(self) -> Path:
        return self.directory / "client-key-password.txt"


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: Any, issuer: tuple[str, Any] | None, *, ca: bool, san: Sequence[str] = ()) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.timezone.utc)
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    if san:
        names: list[Any] = []
        for entry in san:
            kind, _, value = entry.partition(":")
            names.append(x509.IPAddress(ipaddress.ip_address(value)) if kind == "IP" else x509.DNSName(value))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key: Any, password: str | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    encryption: Any = (
        serialization.BestAvailableEncryption(password.encode())
        if password is not None
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    if private:
        tmp.chmod(0o600)
    tmp.replace(path)


def ensure_tls(
    directory: Path, addresses: Sequence[str], key_password: str, san: Sequence[str] | None = None
) -> TlsFiles:
    """Make the CA, node and client material under ``directory`` (what is missing, or every node
    certificate again when ``san`` differs from the one it was made with)."""
    files = TlsFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key_path = directory / "ca.key"
    if not files.ca.exists() or not ca_key_path.exists():
        ca_key = _key()
        ca_cert = _certificate("cassandra-bulk test CA", ca_key, None, ca=True)
        _write(ca_key_path, _pem_key(ca_key), private=True)
        _write(files.ca, _pem_cert(ca_cert))
        for stale in directory.glob("node-*.pem"):
            stale.unlink()
        files.client_cert.unlink(missing_ok=True)
    from cryptography.hazmat.primitives import serialization

    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    issuer = ("cassandra-bulk test CA", ca_key)
    for address in addresses:
        names = list(san) if san is not None else [f"IP:{address}"]
        marker = directory / f"node-{address}.san"
        if files.node(address).exists() and marker.exists() and marker.read_text() == ",".join(names):
            continue
        node_key = _key()
        cert = _certificate(f"cassandra node {address}", node_key, issuer, ca=False, san=names)
        _write(files.node(address), _pem_key(node_key) + _pem_cert(cert), private=True)
        marker.write_text(",".join(names))
    if not files.client_cert.exists() or not files.key_password_file.exists():
        client_key = _key()
        _write(files.client_cert, _pem_cert(_certificate("cassandra-bulk client", client_key, issuer, ca=False)))
        _write(files.client_key, _pem_key(client_key), private=True)
        _write(files.client_key_encrypted, _pem_key(client_key, key_password), private=True)
        _write(files.key_password_file, key_password.encode(), private=True)
    if not files.other_ca.exists():
        other_key = _key()
        other_cert = _certificate("unrelated CA", other_key, None, ca=True)
        _write(files.other_ca, _pem_cert(other_cert))
        stranger = _key()
        cert = _certificate("stranger", stranger, ("unrelated CA", other_key), ca=False)
        _write(files.other_client_cert, _pem_cert(cert))
        _write(files.other_client_key, _pem_key(stranger), private=True)
    return files


def client_encryption_options(node_pem: Path, ca: Path, require_client_auth: bool) -> dict[str, Any]:
    """cassandra.yaml ``client_encryption_options`` for a PEM key/certificate and a PEM CA.

    ``require_client_auth``: mutual TLS, a client certificate signed by ``ca`` is required (a
    boolean in Cassandra 5.0; ``optional`` came later)."""
    return {
        "enabled": True,
        "optional": False,
        "ssl_context_factory": {"class_name": "org.apache.cassandra.security.PEMBasedSslContextFactory"},
        "keystore": str(node_pem),
        "truststore": str(ca),
        "require_client_auth": require_client_auth,
    }
