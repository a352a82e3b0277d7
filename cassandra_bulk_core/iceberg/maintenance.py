"""Housekeeping for an exported table: compact small files per range, expire old snapshots, remove
files no snapshot references (data files, temp files of killed writes, and metadata files), and a
redone range's leftovers. :func:`run_maintenance` is the one call the CLI and both adapters make."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs

from ..io import Storage, StorageOptions

# A hidden temp file of an atomic write (``.<name>.tmp-<uuid>``): never referenced by a snapshot.
_TEMP_RE = re.compile(r"(^|/)\.[^/]+\.tmp-[0-9a-f]{32}$")
# A range attempt's files: ``<attempt>-part-00000.parquet`` and their temps (see commit.write_range_files).
_ATTEMPT_RE = re.compile(r"(?:^|/)\.?([0-9a-f]{12})-part-\d+\.parquet")


def referenced_files(table: Any) -> set[str]:
    """Every data file live in any snapshot still kept (time travel must keep working)."""
    # Read the manifests directly: pyiceberg's inspect.all_data_files() cannot build its metrics
    # table for uuid columns (ArrowNotImplementedError: extension).
    paths: set[str] = set()
    seen: set[str] = set()
    for snapshot in table.snapshots():
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            # Live entries only: a DELETED entry records that the snapshot dropped the file (a range
            # replaced, files compacted); once the snapshots that had it live expire, it is garbage.
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                paths.add(entry.data_file.file_path)
    return paths


def referenced_metadata(table: Any) -> set[str]:
    """Every file under ``metadata/`` the table still needs: the current and logged metadata
    files, every snapshot's manifest list and manifests, statistics files."""
    meta = table.metadata
    keep = {table.metadata_location, *(entry.metadata_file for entry in meta.metadata_log)}
    for snapshot in table.snapshots():
        keep.add(snapshot.manifest_list)
        keep.update(m.manifest_path for m in snapshot.manifests(table.io))
    keep.update(s.statistics_path for s in getattr(meta, "statistics", []) or [])
    keep.update(s.statistics_path for s in getattr(meta, "partition_statistics", []) or [])
    return {_normalize(p) for p in keep if p}


def list_with_mtimes(storage: Storage, prefix: str = "") -> list[tuple[str, dt.datetime | None]]:
    """Files under ``prefix`` (relative paths) with their modification times, temp files included
    (``Storage.list`` leaves those out, as in-progress writes)."""
    base = storage.root.rstrip("/") + ("/" + prefix.strip("/") if prefix else "")
    infos = storage.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    cut = len(storage.root.rstrip("/")) + 1
    return [(i.path[cut:], _utc(i.mtime)) for i in infos if i.type == pafs.FileType.File]


def remove_orphan_files(
    table: Any,
    storage_options: StorageOptions | None = None,
    older_than: dt.timedelta = dt.timedelta(hours=1),
    dry_run: bool = False,
) -> list[str]:
    """Delete files under the table's ``data/`` and ``metadata/`` that nothing references and that
    are older than ``older_than`` (so a range still writing, or a commit in flight, is left alone):
    data files of crashed or lost attempts, temp files of killed writes, and metadata files
    (manifests, manifest lists, metadata JSON) of commits that never landed. Returns their URIs."""
    cutoff = dt.datetime.now(dt.timezone.utc) - older_than
    removed = []
    for sub, keep in (("data", {_normalize(p) for p in referenced_files(table)}), ("metadata", None)):
        storage = Storage(table.location().rstrip("/") + "/" + sub, storage_options)
        if keep is None:
            keep = referenced_metadata(table)
        for rel, mtime in list_with_mtimes(storage):
            uri = storage.uri_of(rel)
            if _normalize(uri) in keep or (mtime is not None and mtime > cutoff):
                continue
            if sub == "data" and not (rel.endswith(".parquet") or _TEMP_RE.search(rel)):
                continue  # not ours to judge
            if not dry_run:
                storage.delete(rel)
            removed.append(uri)
    return removed


def remove_range_leftovers(
    table: Any,
    range_dir: str,
    own_attempt: str,
    stale_after: dt.timedelta,
    storage_options: StorageOptions | None = None,
) -> list[str]:
    """After a range committed: delete what earlier attempts of it left in its directory (temp
    files and Parquet files of a killed or failed write) that no snapshot references.

    Another process may be exporting the same range right now, and its files look the same until
    it commits; so only attempts whose newest file is older than ``stale_after`` count as dead
    (a live write keeps touching its temp file). Our own unreferenced files (an empty part) go too."""
    storage = Storage(range_dir, storage_options)
    now = dt.datetime.now(dt.timezone.utc)
    newest: dict[str, dt.datetime] = {}
    files = list_with_mtimes(storage)
    for rel, mtime in files:
        m = _ATTEMPT_RE.search(rel)
        key = m.group(1) if m else rel
        if mtime is not None and (key not in newest or mtime > newest[key]):
            newest[key] = mtime
    candidates = []
    for rel, _ in files:
        m = _ATTEMPT_RE.search(rel)
        key = m.group(1) if m else rel
        if not (m or _TEMP_RE.search(rel)):
            continue
        if key == own_attempt or (key in newest and now - newest[key] > stale_after):
            candidates.append(rel)
    if not candidates:
        return []
    keep = {_normalize(p) for p in referenced_files(table)}
    removed = []
    for rel in candidates:
        uri = storage.uri_of(rel)
        if _normalize(uri) not in keep:
            storage.delete(rel)
            removed.append(uri)
    return removed


def expire_snapshots(table: Any, older_than: dt.timedelta) -> int:
    """Expire snapshots older than ``older_than`` (the current one always stays); returns how many."""
    cutoff_ms = int((dt.datetime.now(dt.timezone.utc) - older_than).timestamp() * 1000)
    current = table.current_snapshot()
    old = [
        s
        for s in table.snapshots()
        if s.timestamp_ms < cutoff_ms and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in old]).commit()
    return len(old)


@dataclass(frozen=True)
class MaintenanceOptions:
    """What one maintenance run does, in this order: compact, expire, remove orphans (so the small
    files a compaction replaced go once their snapshots expire and the grace period passed)."""

    rewrite_small_files: bool = False
    target_file_size: int | str = 128 * 1024 * 1024
    """Bytes, or text such as ``128MB`` (see :func:`.compaction.parse_size`)."""
    ranges: tuple[str, ...] | None = None
    """Compact only these range ids (default: all)."""
    expire_older_than: dt.timedelta | None = None
    remove_orphans_older_than: dt.timedelta | None = None
    dry_run: bool = False
    """Orphans: list them without deleting."""
    commit_attempts: int = 60


@dataclass
class MaintenanceResult:
    table: str
    rewrite: Any = None
    """A :class:`.compaction.RewriteResult`, when compaction ran."""
    expired_snapshots: int | None = None
    orphan_files: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table}
        if self.rewrite is not None:
            out["rewrite_small_files"] = self.rewrite.to_dict()
        if self.expired_snapshots is not None:
            out["expired_snapshots"] = self.expired_snapshots
        if self.orphan_files is not None:
            out["orphan_files"] = self.orphan_files
        return {**out, **self.extra}


def run_maintenance(
    catalog: Any,
    identifier: str,
    options: MaintenanceOptions,
    catalog_properties: Mapping[str, str] | None = None,
    storage_options: StorageOptions | None = None,
) -> MaintenanceResult:
    """One maintenance pass over an exported Iceberg table (what a nightly job runs after the export).

    :param catalog: the pyiceberg catalog (:func:`..iceberg.load_catalog`).
    :param identifier: ``namespace.table``.
    :param options: which steps run, with their thresholds.
    :param catalog_properties: the catalog's properties, for the storage options of new and
        deleted files (``s3.*``), when ``storage_options`` is not given.
    :param storage_options: explicit storage options for data files.
    """
    from .catalog import storage_options_from_catalog
    from .compaction import parse_size, rewrite_small_files

    storage = storage_options or storage_options_from_catalog(dict(catalog_properties or {}))
    target = parse_size(options.target_file_size)  # refused before anything runs
    result = MaintenanceResult(identifier)
    table = _load(catalog, identifier)
    if options.rewrite_small_files:
        result.rewrite = rewrite_small_files(
            catalog,
            identifier,
            target,
            ranges=options.ranges,
            storage_options=storage,
            commit_attempts=options.commit_attempts,
        )
        table = catalog.load_table(identifier)
    if options.expire_older_than is not None:
        result.expired_snapshots = expire_snapshots(table, options.expire_older_than)
        table = catalog.load_table(identifier)
    if options.remove_orphans_older_than is not None:
        result.orphan_files = remove_orphan_files(table, storage, options.remove_orphans_older_than, options.dry_run)
    return result


def _load(catalog: Any, identifier: str) -> Any:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    from ..errors import ConfigError

    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        raise ConfigError(f"Iceberg table {identifier} does not exist in the catalog") from None


def _utc(mtime: dt.datetime | None) -> dt.datetime | None:
    return None if mtime is None else mtime.replace(tzinfo=mtime.tzinfo or dt.timezone.utc)


def _normalize(uri: str) -> str:
    return uri.removeprefix("file://")
