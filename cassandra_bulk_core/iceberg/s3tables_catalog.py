"""A pyiceberg catalog over the S3 Tables management API (see :mod:`.s3tables` for why and how).

The table's state in S3 Tables is (metadata location, version token). Loading reads the metadata
file the location names; committing writes a new metadata file under the table's warehouse location
and swaps the location only if the token is still the one read (``UpdateTableMetadataLocation``), so
a concurrent commit makes ours fail with :class:`CommitFailedException` and the caller retries on
the fresh state, like Glue's version id or a SQL catalog's row check.

Creating a table is two steps in S3 Tables: ``CreateTable`` (which assigns the warehouse location)
and the first metadata location. A table entry without metadata (a create that never committed, or
one still committing in another worker) is taken over by the next create: the version token decides
which of two concurrent creates wins, the loser sees :class:`CommitFailedException`.

Table buckets refuse ``DeleteObject`` (S3 Tables removes unreferenced files itself, as table
maintenance), so the tables' FileIO skips deletes (pyiceberg tries one for each manifest of a commit
that lost a race, and would log a traceback per file).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pyiceberg.catalog import MetastoreCatalog, PropertiesUpdateSummary
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io import FileIO, InputFile, OutputFile
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table import CommitTableResponse, CreateTableTransaction, Table
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties

from .s3tables import _call, _Conflict, _NotFound, _pages

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table.update import TableRequirement, TableUpdate
    from pyiceberg.view import View


class S3TablesCatalog(MetastoreCatalog):
    """Namespaces and tables of one S3 Tables table bucket (one namespace level, as S3 Tables has)."""

    lists_files = False
    """Table buckets refuse ListObjects: the export skips its leftover cleanup, which lists a range's
    directory (S3 Tables' own unreferenced-file removal covers what a dead attempt left)."""

    def __init__(self, name: str, client: Any, bucket_arn: str, **properties: str) -> None:
        """:param client: a boto3 ``s3tables`` client
        :param bucket_arn: the table bucket (it exists: see :func:`.s3tables.ensure_table_bucket`)"""
        super().__init__(name, **properties)
        self._client = client
        self.bucket_arn = bucket_arn

    # -- tables ------------------------------------------------------------------------------------

    def load_table(self, identifier: str | Identifier) -> Table:
        namespace, name = self.identifier_to_database_and_table(identifier, NoSuchTableError)
        location, _ = self._metadata_location(namespace, name)
        if location is None:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name} (no metadata committed yet)")
        return self._read_table(namespace, name, location)

    def create_table(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> Table:
        tx = self.create_table_transaction(identifier, schema, location, partition_spec, sort_order, properties)
        return tx.commit_transaction()

    def create_table_transaction(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> CreateTableTransaction:
        """The table's entry is created in S3 Tables first: its warehouse location is the table's."""
        namespace, name = self.identifier_to_database_and_table(identifier)
        what = f"table {namespace}.{name}"
        try:
            _call(
                self._client,
                "create_table",
                what,
                tableBucketARN=self.bucket_arn,
                namespace=namespace,
                name=name,
                format="ICEBERG",
            )
        except _NotFound:
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}") from None
        except _Conflict:
            if self._metadata_location(namespace, name)[0] is not None:
                raise TableAlreadyExistsError(f"Table already exists: {namespace}.{name}") from None
        warehouse = self._table_info(namespace, name)["warehouseLocation"]
        if location and location.rstrip("/") != warehouse.rstrip("/"):
            raise ValueError(f"S3 Tables chooses the location of {what} ({warehouse}), not {location}")
        staged = self._create_staged_table(identifier, schema, warehouse, partition_spec, sort_order, properties)
        return CreateTableTransaction(staged)

    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        namespace, name = self.identifier_to_database_and_table(table.name(), NoSuchTableError)
        location, token = self._metadata_location(namespace, name)
        current = self._read_table(namespace, name, location) if location else None
        staged = self._update_and_stage_table(current, (namespace, name), requirements, updates)
        if current is not None and staged.metadata == current.metadata:
            return _response(current.metadata, current.metadata_location)
        # table buckets refuse ListObjects, which pyiceberg's exists-check may use; the name is unique
        ToOutputFile.table_metadata(staged.metadata, staged.io.new_output(staged.metadata_location), overwrite=True)
        try:
            _call(
                self._client,
                "update_table_metadata_location",
                f"table {namespace}.{name}",
                tableBucketARN=self.bucket_arn,
                namespace=namespace,
                name=name,
                versionToken=token,
                metadataLocation=staged.metadata_location,
            )
        except _Conflict as exc:
            raise CommitFailedException(f"{namespace}.{name}: committed concurrently ({exc})") from None
        except _NotFound:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}") from None
        return _response(staged.metadata, staged.metadata_location)

    def drop_table(self, identifier: str | Identifier) -> None:
        namespace, name = self.identifier_to_database_and_table(identifier, NoSuchTableError)
        try:
            _call(self._client, "delete_table", f"table {namespace}.{name}", **self._key(namespace, name))
        except _NotFound:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}") from None

    def rename_table(self, from_identifier: str | Identifier, to_identifier: str | Identifier) -> Table:
        namespace, name = self.identifier_to_database_and_table(from_identifier, NoSuchTableError)
        to_namespace, to_name = self.identifier_to_database_and_table(to_identifier)
        what = f"table {namespace}.{name}"
        try:
            _call(
                self._client,
                "rename_table",
                what,
                **self._key(namespace, name),
                newNamespaceName=to_namespace,
                newName=to_name,
            )
        except _NotFound:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}") from None
        except _Conflict:
            raise TableAlreadyExistsError(f"Table already exists: {to_namespace}.{to_name}") from None
        return self.load_table((to_namespace, to_name))

    def register_table(self, identifier: str | Identifier, metadata_location: str, overwrite: bool = False) -> Table:
        raise NotImplementedError("S3 Tables: registering an existing metadata file is not supported")

    def list_tables(self, namespace: str | Identifier) -> list[Identifier]:
        ns = self._namespace_name(namespace)
        try:
            pages = list(_pages(self._client, "list_tables", "tables", f"namespace {ns}", **self._ns_key(ns)))
        except _NotFound:
            raise NoSuchNamespaceError(f"Namespace does not exist: {ns}") from None
        return [(ns, t["name"]) for t in pages]

    # -- namespaces --------------------------------------------------------------------------------

    def create_namespace(self, namespace: str | Identifier, properties: Properties = EMPTY_DICT) -> None:
        ns = self._namespace_name(namespace)
        try:
            _call(self._client, "create_namespace", f"namespace {ns}", tableBucketARN=self.bucket_arn, namespace=[ns])
        except _Conflict:
            raise NamespaceAlreadyExistsError(f"Namespace already exists: {ns}") from None

    def drop_namespace(self, namespace: str | Identifier) -> None:
        ns = self._namespace_name(namespace)
        try:
            _call(self._client, "delete_namespace", f"namespace {ns}", **self._ns_key(ns))
        except _NotFound:
            raise NoSuchNamespaceError(f"Namespace does not exist: {ns}") from None

    def list_namespaces(self, namespace: str | Identifier = ()) -> list[Identifier]:
        if namespace:
            return []  # one level only
        pages = _pages(self._client, "list_namespaces", "namespaces", "namespaces", tableBucketARN=self.bucket_arn)
        return [tuple(n["namespace"]) for n in pages]

    def load_namespace_properties(self, namespace: str | Identifier) -> Properties:
        ns = self._namespace_name(namespace)
        try:
            _call(self._client, "get_namespace", f"namespace {ns}", **self._ns_key(ns))
        except _NotFound:
            raise NoSuchNamespaceError(f"Namespace does not exist: {ns}") from None
        return {}  # S3 Tables namespaces carry no properties

    def update_namespace_properties(
        self, namespace: str | Identifier, removals: set[str] | None = None, updates: Properties = EMPTY_DICT
    ) -> PropertiesUpdateSummary:
        raise NotImplementedError("S3 Tables namespaces have no properties")

    # -- views: S3 Tables holds none ---------------------------------------------------------------

    def list_views(self, namespace: str | Identifier) -> list[Identifier]:
        return []

    def view_exists(self, identifier: str | Identifier) -> bool:
        return False

    def load_view(self, identifier: str | Identifier) -> View:
        raise NotImplementedError("S3 Tables holds no views")

    def register_view(self, identifier: str | Identifier, metadata_location: str) -> View:
        raise NotImplementedError("S3 Tables holds no views")

    def drop_view(self, identifier: str | Identifier) -> None:
        raise NotImplementedError("S3 Tables holds no views")

    # -- helpers -----------------------------------------------------------------------------------

    def _metadata_location(self, namespace: str, name: str) -> tuple[str | None, str]:
        """(current metadata location or None before the first commit, version token)."""
        try:
            got = _call(
                self._client, "get_table_metadata_location", f"table {namespace}.{name}", **self._key(namespace, name)
            )
        except _NotFound:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}") from None
        return got.get("metadataLocation"), str(got["versionToken"])

    def _table_info(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return dict(_call(self._client, "get_table", f"table {namespace}.{name}", **self._key(namespace, name)))
        except _NotFound:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}") from None

    def _read_table(self, namespace: str, name: str, location: str) -> Table:
        io = self._load_file_io(location=location)
        metadata = FromInputFile.table_metadata(io.new_input(location))
        return Table(
            identifier=(namespace, name),
            metadata=metadata,
            metadata_location=location,
            io=self._load_file_io(metadata.properties, location),
            catalog=self,
        )

    def _load_file_io(self, properties: Properties = EMPTY_DICT, location: str | None = None) -> FileIO:
        return _NoDeleteIO(super()._load_file_io(properties, location))

    def _key(self, namespace: str, name: str) -> dict[str, str]:
        return {"tableBucketARN": self.bucket_arn, "namespace": namespace, "name": name}

    def _ns_key(self, namespace: str) -> dict[str, str]:
        return {"tableBucketARN": self.bucket_arn, "namespace": namespace}

    def _namespace_name(self, namespace: str | Identifier) -> str:
        parts = self.identifier_to_tuple(namespace)
        if len(parts) != 1:
            raise NoSuchNamespaceError(f"S3 Tables namespaces have one level, not {'.'.join(parts)!r}")
        return parts[0]


def _response(metadata: Any, location: str) -> CommitTableResponse:
    return CommitTableResponse(**{"metadata": metadata, "metadata-location": location})


class _NoDeleteIO(FileIO):
    """The table's FileIO without deletes: table buckets refuse them (see the module docstring)."""

    def __init__(self, inner: FileIO) -> None:
        super().__init__(inner.properties)
        self._inner = inner

    def new_input(self, location: str) -> InputFile:
        return self._inner.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        return self._inner.new_output(location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        log.debug("S3 Tables: not deleting %s (table buckets remove unreferenced files themselves)", path)
