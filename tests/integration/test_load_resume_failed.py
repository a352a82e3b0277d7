"""Issue "Faults", item 1: a load whose writes failed, resumed, lands every row exactly once.

The first run meets a coordinator that refuses some writes (Unavailable: certainly not applied) on
every attempt; those rows are reported as failed writes and must not be checkpointed as done. The
resume, on a healthy session, sends exactly those rows again: nothing missing, nothing twice (a
counter increment sent twice would show)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.load import LoadOptions, load_table
from tests.conftest import connection_config


class _Refused:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def add_callbacks(self, ok: Any, err: Any, callback_args: Any = (), errback_args: Any = ()) -> None:
        import threading

        threading.Thread(target=err, args=(self.exc, *errback_args)).start()


class _RefusesSomeKeys:
    """The session, except that writes of the keys in ``ids`` are refused before any replica
    applies them, every time (a coordinator that sees too few live replicas)."""

    def __init__(self, session: Any, ids: set[int]) -> None:
        self._session, self.ids = session, ids

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def _refusal(self, statement: Any) -> BaseException | None:
        from cassandra import ConsistencyLevel, Unavailable

        values = getattr(statement, "values", None) or []
        query = str(getattr(getattr(statement, "prepared_statement", None), "query_string", ""))
        # INSERT (id, v, ...) VALUES: the key is the first value; UPDATE ... WHERE id = ?: the last.
        key = (values[-1] if query.lstrip().upper().startswith("UPDATE") else values[0]) if values else None
        if isinstance(key, bytes) and int.from_bytes(key, "big", signed=True) in self.ids:
            return Unavailable("refused", consistency=ConsistencyLevel.ONE, required_replicas=1, alive_replicas=0)
        return None

    def execute_async(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        refusal = self._refusal(statement)
        if refusal is not None:
            return _Refused(refusal)
        return self._session.execute_async(statement, *args, **kwargs)

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        refusal = self._refusal(statement)
        if refusal is not None:
            raise refusal
        return self._session.execute(statement, *args, **kwargs)


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


@pytest.mark.parametrize("table", ["kv", "counters"])
def test_failed_writes_are_sent_again_by_resume_exactly_once(
    keyspace: str, session: Any, conn: Any, tmp_path: Path, table: str
) -> None:
    cluster, sess = conn
    if table == "kv":
        session.execute(f"CREATE TABLE {keyspace}.kv (id int PRIMARY KEY, v int)")
    else:
        session.execute(f"CREATE TABLE {keyspace}.counters (id int PRIMARY KEY, v counter)")
    n, refused = 300, {7, 8, 9, 150, 299}
    (tmp_path / "in.csv").write_text("id,v\n" + "".join(f"{i},{i + 1}\n" for i in range(n)))
    options = LoadOptions(
        source=str(tmp_path / "in.csv"),
        log_dir=str(tmp_path / "logs"),
        batch_mode="disabled",
        max_attempts=2,
        max_errors=50,
    )
    info = resolve_table(cluster, keyspace, table)
    first = load_table(cluster, _RefusesSomeKeys(sess, refused), info, options)
    assert first.failed_writes == len(refused) and first.rows_written == n - len(refused)
    landed = {r.id: r.v for r in session.execute(f"SELECT id, v FROM {keyspace}.{table}")}
    assert set(landed) == set(range(n)) - refused

    resumed = load_table(cluster, sess, info, LoadOptions(**{**options.__dict__, "resume": True}))
    assert (resumed.failed_writes, resumed.rows_written) == (0, len(refused))
    assert resumed.skipped_resumed == n - len(refused)
    # Every row exactly once: a counter sent twice would read 2 * (i + 1).
    assert {r.id: r.v for r in session.execute(f"SELECT id, v FROM {keyspace}.{table}")} == {i: i + 1 for i in range(n)}
