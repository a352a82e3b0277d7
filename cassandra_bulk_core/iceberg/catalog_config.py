"""Which catalog properties a run uses: pyiceberg's own configuration, then explicit properties.

pyiceberg users configure catalogs once, in ``.pyiceberg.yaml`` (found in ``$PYICEBERG_HOME``, the
home directory, or the working directory) or in ``PYICEBERG_CATALOG__<NAME>__<PROP>`` variables
(which override the file). The CLI (``--catalog NAME``), the Dagster resource and the Airflow
operators all name a catalog and may add properties; the rule lives here so all three agree:

1. the named catalog's pyiceberg configuration (read when the catalog is opened, not at import);
   the name ``default`` means the file's ``default-catalog`` when it sets one;
2. explicit properties (``--catalog-prop``, ``catalog_properties=``) override it key by key;
3. nothing at all for ``default``: the embedded SQLite catalog under the warehouse directory. A
   catalog named otherwise that is configured nowhere is an error, not a silent fallback.

Secret values (tokens, credentials, passwords, secret keys) are never logged or written anywhere
by cassandra-bulk; :func:`redact` removes them from error text that might echo them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

DEFAULT_NAME = "default"
_SECRET_MARKERS = (
    "secret",
    "token",
    "credential",
    "password",
    "passwd",
    "private",
    "sas",
    "signature",
    "api-key",
    "account-key",
    "connection-string",
)


def is_secret(key: str) -> bool:
    """Whether a catalog property's value must never be shown (``token``, ``s3.secret-access-key``, ...)."""
    k = key.lower()
    return any(m in k for m in _SECRET_MARKERS)


def redact(text: str, props: Mapping[str, Any]) -> str:
    """``text`` with every secret property value in ``props`` replaced by ``***``."""
    for key, value in props.items():
        if is_secret(key) and isinstance(value, str) and len(value) >= 3:
            text = text.replace(value, "***")
    return text


def pyiceberg_configuration(name: str) -> tuple[str, dict[str, str]]:
    """(resolved catalog name, its properties) from pyiceberg's yaml file and environment, read now.

    pyiceberg reads its configuration once, when ``pyiceberg.catalog`` is imported; reading it again
    here means a changed ``PYICEBERG_HOME`` or variable is seen by the next catalog opened.

    :param name: the catalog name; ``default`` follows the file's ``default-catalog`` key.
    :raises ConfigError: the yaml cannot be parsed or is not shaped like pyiceberg's.
    """
    from pyiceberg.utils.config import Config

    try:
        config = Config()
        if name == DEFAULT_NAME:
            name = config.get_default_catalog_name()
        found = config.get_catalog_config(name) or {}
    except Exception as exc:  # strictyaml's YAMLError or pyiceberg's ValueError for a malformed file
        where = _config_file() or "PYICEBERG_* environment variables"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"pyiceberg configuration ({where}): {first}") from None
    return name, {str(k): str(v) for k, v in found.items() if not isinstance(v, dict)}


def _config_file() -> str | None:
    """The ``.pyiceberg.yaml`` pyiceberg would read (its search order), for error messages."""
    import os

    for directory in (os.environ.get("PYICEBERG_HOME"), os.path.expanduser("~"), os.getcwd()):
        if directory and (Path(directory) / ".pyiceberg.yaml").is_file():
            return str(Path(directory) / ".pyiceberg.yaml")
    return None


def resolve_catalog(name: str, explicit: Mapping[str, str], warehouse: str) -> tuple[str, dict[str, str]]:
    """(catalog name, properties) for a run, by the rule in this module's docstring.

    :param name: catalog name as given (``--catalog``, ``catalog_name=``).
    :param explicit: properties given with the run; they override the configured ones key by key.
    :param warehouse: the embedded catalog's directory, used only when nothing else is configured.
    :raises ConfigError: a non-default catalog name that no configuration defines.
    """
    resolved, configured = pyiceberg_configuration(name)
    props = {**configured, **{str(k): str(v) for k, v in explicit.items()}}
    if props:
        return resolved, props
    if resolved != DEFAULT_NAME:
        raise ConfigError(
            f"Iceberg catalog {resolved!r} is not configured: define it in .pyiceberg.yaml (in $PYICEBERG_HOME "
            f"or the home directory) or with PYICEBERG_CATALOG__{resolved.upper()}__<PROP> variables, or give "
            "its properties (--catalog-prop KEY=VALUE); without a name the embedded catalog under --warehouse is used"
        )
    directory = Path(warehouse).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    return resolved, {"type": "sql", "uri": f"sqlite:///{directory / 'catalog.db'}", "warehouse": directory.as_uri()}
