"""Catalog properties the pyiceberg way: ``.pyiceberg.yaml``, ``PYICEBERG_CATALOG__*``, explicit ones.

Real pyiceberg configuration reading and real (SQLite) catalogs; the REST server path is covered by
tests/integration/test_rest_catalog.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.iceberg import IcebergOptions, catalog_properties, load_catalog
from cassandra_bulk_core.iceberg.catalog_config import is_secret, redact, resolve_catalog


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PYICEBERG_HOME of our own, no PYICEBERG_* variables, and a home and cwd without a yaml."""
    for key in list(os.environ):
        if key.upper().startswith("PYICEBERG_"):
            monkeypatch.delenv(key)
    directory = tmp_path / "pyiceberg-home"
    directory.mkdir()
    monkeypatch.setenv("PYICEBERG_HOME", str(directory))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.chdir(tmp_path)
    return directory


def _yaml(home: Path, text: str) -> None:
    (home / ".pyiceberg.yaml").write_text(text)


def test_yaml_defines_the_named_catalog(home: Path, tmp_path: Path) -> None:
    _yaml(home, "catalog:\n  lake:\n    type: rest\n    uri: http://yaml:8181\n    warehouse: s3://w\n")
    assert resolve_catalog("lake", {}, str(tmp_path / "wh")) == (
        "lake",
        {"type": "rest", "uri": "http://yaml:8181", "warehouse": "s3://w"},
    )
    assert not (tmp_path / "wh").exists()  # the embedded default is not involved


def test_environment_overrides_yaml_and_explicit_overrides_both(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _yaml(home, "catalog:\n  lake:\n    type: rest\n    uri: http://yaml:8181\n    warehouse: s3://w\n")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__URI", "http://env:8181")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__S3__ENDPOINT", "http://minio:9000")
    name, props = resolve_catalog("lake", {"warehouse": "s3://explicit"}, str(tmp_path))
    assert name == "lake"
    assert props == {
        "type": "rest",
        "uri": "http://env:8181",  # env over yaml
        "warehouse": "s3://explicit",  # explicit over yaml
        "s3.endpoint": "http://minio:9000",  # pyiceberg's S3__ENDPOINT -> s3.endpoint
    }
    name, props = resolve_catalog("lake", {"uri": "http://explicit:1"}, str(tmp_path))
    assert props["uri"] == "http://explicit:1"  # explicit over env


def test_environment_alone_defines_a_catalog(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYICEBERG_CATALOG__ENVONLY__TYPE", "sql")
    monkeypatch.setenv("PYICEBERG_CATALOG__ENVONLY__URI", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__ENVONLY__WAREHOUSE", (tmp_path / "envwh").as_uri())
    catalog = load_catalog(IcebergOptions(catalog_name="envonly", warehouse=str(tmp_path / "embedded")))
    catalog.create_namespace("ns")
    assert catalog.name == "envonly" and (tmp_path / "env.db").exists()
    assert not (tmp_path / "embedded").exists()


def test_default_catalog_key_and_embedded_fallback(home: Path, tmp_path: Path) -> None:
    # Nothing configured: the embedded SQLite catalog under the warehouse directory.
    name, props = resolve_catalog("default", {}, str(tmp_path / "wh"))
    assert name == "default" and props["type"] == "sql" and props["uri"].endswith("/wh/catalog.db")
    assert (tmp_path / "wh").is_dir()
    # default-catalog in the yaml: the name "default" means that catalog.
    _yaml(home, "default-catalog: prod\ncatalog:\n  prod:\n    type: rest\n    uri: http://prod:8181\n")
    assert resolve_catalog("default", {}, str(tmp_path / "wh2")) == (
        "prod",
        {"type": "rest", "uri": "http://prod:8181"},
    )
    assert not (tmp_path / "wh2").exists()


def test_a_named_catalog_configured_nowhere_is_one_clear_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Iceberg catalog 'lake' is not configured: .*PYICEBERG_CATALOG__LAKE__"):
        load_catalog(IcebergOptions(catalog_name="lake", warehouse=str(tmp_path / "wh")))
    assert not (tmp_path / "wh").exists()  # no silent fallback to the embedded catalog


def test_a_broken_yaml_is_one_line_naming_the_file(home: Path, tmp_path: Path) -> None:
    _yaml(home, "catalog: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        resolve_catalog("lake", {}, str(tmp_path))
    assert str(home / ".pyiceberg.yaml") in str(err.value) and "\n" not in str(err.value)


class EchoingCatalog:
    """A catalog implementation whose error repeats its credential, as some client errors do."""

    def __init__(self, name: str, **props: str) -> None:
        raise ValueError(f"login refused for credential {props['credential']} and token {props['token']}")


def test_open_failures_are_one_line_without_secrets(home: Path, tmp_path: Path) -> None:
    _yaml(home, "catalog:\n  echo:\n    py-catalog-impl: tests.unit.test_catalog_config.EchoingCatalog\n")
    props = {"credential": "client-id:very-secret-1", "token": "tok-very-secret-2"}
    with pytest.raises(ConfigError) as err:
        load_catalog(IcebergOptions(catalog_name="echo", catalog_properties=props))
    text = str(err.value)
    assert "login refused for credential *** and token ***" in text and "very-secret" not in text
    assert text.startswith("cannot open Iceberg catalog 'echo'")


def test_secret_keys() -> None:
    for key in (
        "credential",
        "token",
        "s3.secret-access-key",
        "s3.session-token",
        "adls.sas-token.acct",
        "jdbc.password",
        "adls.account-key",
        "adls.connection-string",
    ):
        assert is_secret(key), key
    for key in ("uri", "warehouse", "s3.endpoint", "s3.access-key-id", "type", "s3.region"):
        assert not is_secret(key), key
    assert redact("a=abc123 b=xyz", {"token": "abc123", "uri": "xyz"}) == "a=*** b=xyz"


def test_catalog_properties_feed_storage_options(home: Path, tmp_path: Path) -> None:
    """The export writes data files with the catalog's S3 settings, wherever they were configured."""
    from cassandra_bulk_core.iceberg import storage_options_from_catalog

    _yaml(
        home,
        "catalog:\n  lake:\n    type: rest\n    uri: http://x\n    s3.endpoint: http://minio:9000\n"
        "    s3.secret-access-key: from-yaml\n",
    )
    options = IcebergOptions(catalog_name="lake", catalog_properties={"s3.access-key-id": "explicit-id"})
    storage = storage_options_from_catalog(catalog_properties(options))
    assert storage is not None
    assert (storage.s3_endpoint_url, storage.s3_access_key_id, storage.s3_secret_access_key) == (
        "http://minio:9000",
        "explicit-id",
        "from-yaml",
    )


def test_both_adapters_resolve_through_the_engine(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dagster resource and the Airflow operators name a catalog the same way the CLI does."""
    from airflow_provider_cassandra_bulk.operators.base import IcebergTargetMixin
    from dagster_cassandra_bulk.resources import IcebergCatalogResource

    _yaml(home, f"catalog:\n  lake:\n    type: sql\n    uri: sqlite:///{tmp_path / 'lake.db'}\n")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__WAREHOUSE", (tmp_path / "lakewh").as_uri())
    catalog: Any = IcebergCatalogResource(catalog_name="lake", warehouse=str(tmp_path / "unused")).load_catalog()
    catalog.create_namespace("from_dagster")
    assert catalog.properties["warehouse"] == (tmp_path / "lakewh").as_uri()

    target = IcebergTargetMixin()
    target.iceberg_table, target.catalog_name, target.catalog_properties = None, "lake", None
    target.warehouse, target.mode = str(tmp_path / "unused"), "mirror"
    again = load_catalog(target._iceberg_options(None))
    assert ("from_dagster",) in again.list_namespaces()
    assert not (tmp_path / "unused").exists()
