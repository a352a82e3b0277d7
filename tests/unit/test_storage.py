"""Storage: every method on local disk and on S3 (moto server on loopback), atomicity, errors, secrets."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.io import MIB, Storage, StorageError, StorageOptions
from tests.s3_server import S3Server, moto_s3  # noqa: F401

MakeStorage = Callable[..., Storage]


@pytest.fixture(params=["local", "s3"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStorage:
    """A factory of fresh, empty Storages of one backend; keyword arguments become StorageOptions fields."""
    counter = iter(range(1000))

    def make(**opts: Any) -> Storage:
        n = next(counter)
        if request.param == "local":
            return Storage(str(tmp_path / f"dest{n}"))
        server: S3Server = request.getfixturevalue("moto_s3")
        return Storage(server.uri(), dataclasses.replace(server.options, **opts))

    return make


def _raw_names(storage: Storage) -> list[str]:
    """Every name physically under the root, temp files included (bypasses Storage.list's filter)."""
    if storage.kind == "local":
        root = Path(storage.root)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []
    server_client = _client_for(storage)
    prefix = storage.root.split("/", 1)[1] + "/"
    resp = server_client.list_objects_v2(Bucket=storage.root.split("/", 1)[0], Prefix=prefix)
    return sorted(obj["Key"][len(prefix) :] for obj in resp.get("Contents", []))


def _open_uploads(storage: Storage) -> list[dict]:
    bucket, prefix = storage.root.split("/", 1)
    return _client_for(storage).list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])


def _client_for(storage: Storage) -> Any:
    return storage._s3_client()


class Boom(Exception):
    pass


# -- basic methods, both backends -------------------------------------------------------------------


def test_write_read_exists_size_open_input(make_storage: MakeStorage) -> None:
    st = make_storage()
    assert not st.exists("a/b.bin")
    st.write_bytes("a/b.bin", b"hello world")
    assert st.exists("a/b.bin")
    assert not st.exists("a")  # a directory/prefix is not a file
    assert st.read_bytes("a/b.bin") == b"hello world"
    assert st.size("a/b.bin") == 11
    with st.open_input("a/b.bin") as f:
        f.seek(6)
        assert f.read() == b"world"
    st.write_bytes("a/b.bin", b"replaced")
    assert st.read_bytes("a/b.bin") == b"replaced"
    st.write_bytes("empty", b"")
    assert st.read_bytes("empty") == b"" and st.size("empty") == 0


def test_missing_files(make_storage: MakeStorage) -> None:
    st = make_storage()
    assert st.read_bytes("nope.json") is None
    assert not st.exists("nope.json")
    with pytest.raises(FileNotFoundError):
        st.size("nope.json")
    with pytest.raises(FileNotFoundError):
        st.open_input("nope.json")
    assert st.list() == []
    assert st.list("no/such/dir") == []
    st.delete("nope.json")  # idempotent
    st.delete_prefix("no/such/dir")


def test_list_recursive_sorted_relative(make_storage: MakeStorage) -> None:
    st = make_storage()
    for name in ["z.parquet", "_ranges/r2.json", "_ranges/r1.json", "a/b/c.csv", "_manifest.json"]:
        st.write_bytes(name, b"x")
    assert st.list() == ["_manifest.json", "_ranges/r1.json", "_ranges/r2.json", "a/b/c.csv", "z.parquet"]
    assert st.list("_ranges") == ["_ranges/r1.json", "_ranges/r2.json"]
    assert st.list("_ranges/") == ["_ranges/r1.json", "_ranges/r2.json"]
    assert st.list("a") == ["a/b/c.csv"]


def test_list_hides_temp_files(make_storage: MakeStorage) -> None:
    st = make_storage()
    st.write_bytes("d/part.csv", b"x")
    tmp_name = "d/.part.csv.tmp-" + "0" * 32  # what a crashed local/copy-publish write leaves behind
    if st.kind == "local":
        Path(st.root, tmp_name).write_bytes(b"partial")
    else:
        bucket, prefix = st.root.split("/", 1)
        _client_for(st).put_object(Bucket=bucket, Key=f"{prefix}/{tmp_name}", Body=b"partial")
    assert tmp_name in _raw_names(st)
    assert st.list() == ["d/part.csv"]


def test_delete_and_delete_prefix(make_storage: MakeStorage) -> None:
    st = make_storage()
    for name in ["keep.txt", "gone/1.txt", "gone/sub/2.txt", "gone2/3.txt"]:
        st.write_bytes(name, b"x")
    st.delete("keep.txt")
    st.delete("keep.txt")
    assert not st.exists("keep.txt")
    st.delete_prefix("gone")
    assert st.list() == ["gone2/3.txt"]  # a sibling sharing the string prefix survives
    st.delete_prefix("")
    assert st.list() == []
    if st.kind == "s3":
        assert _raw_names(st) == []  # no directory-marker objects left behind


def test_uri_of_and_paths(make_storage: MakeStorage) -> None:
    st = make_storage()
    assert st.uri_of("a/b.parquet") == f"{st.uri}/a/b.parquet"
    assert st.uri_of("") == st.uri
    with pytest.raises(ValueError):
        st.write_bytes("../escape", b"x")
    with pytest.raises(ValueError):
        st.read_bytes("a/../../escape")
    with pytest.raises(ValueError):
        st.write_bytes("", b"x")


def test_parquet_through_open_atomic(make_storage: MakeStorage) -> None:
    st = make_storage()
    table = pa.table({"id": pa.array(range(50_000), pa.int64()), "s": [f"row-{i}" for i in range(50_000)]})
    with st.open_atomic("p/part-00000.parquet") as f:
        writer = pq.ParquetWriter(f, table.schema, compression="zstd")
        for batch in table.to_batches(max_chunksize=7_000):
            writer.write_batch(batch)
        writer.close()
    assert pq.read_table(st.open_input("p/part-00000.parquet")).equals(table)
    # and through the fs/root attributes, as other pyarrow readers would use them
    assert pq.read_table(f"{st.root}/p/part-00000.parquet", filesystem=st.fs).num_rows == 50_000


@pytest.mark.parametrize("codec", ["gzip", "zstd", "bz2"])
def test_compression_round_trip(make_storage: MakeStorage, codec: str) -> None:
    st = make_storage()
    payload = b"".join(f"{i},value-{i}\n".encode() for i in range(20_000))
    with st.open_atomic("c/data.csv", compression=codec) as f:
        for i in range(0, len(payload), 4096):
            f.write(payload[i : i + 4096])
    raw = st.read_bytes("c/data.csv")
    assert raw is not None and len(raw) < len(payload)
    magic = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd", "bz2": b"BZh"}[codec]
    assert raw.startswith(magic)
    with pa.CompressedInputStream(st.open_input("c/data.csv"), codec) as f:
        assert f.read() == payload


def test_compression_unknown(make_storage: MakeStorage) -> None:
    st = make_storage()
    with pytest.raises(ConfigError), st.open_atomic("x", compression="rar"):
        pass
    with st.open_atomic("x", compression="none") as f:  # "none" is no compression, as the sinks pass it
        f.write(b"plain")
    assert st.read_bytes("x") == b"plain"


# -- atomicity ---------------------------------------------------------------------------------------


def test_exception_leaves_no_file_and_no_temp(make_storage: MakeStorage) -> None:
    st = make_storage()
    with pytest.raises(Boom), st.open_atomic("r/part.csv") as f:
        f.write(b"half a file")
        raise Boom
    assert not st.exists("r/part.csv")
    assert st.list() == []
    assert _raw_names(st) == []
    if st.kind == "s3":
        assert _open_uploads(st) == []


def test_exception_keeps_previous_version(make_storage: MakeStorage) -> None:
    st = make_storage()
    st.write_bytes("r/part.csv", b"complete v1")
    with pytest.raises(Boom), st.open_atomic("r/part.csv", compression="gzip") as f:
        f.write(b"v2 that never finishes" * 1000)
        raise Boom
    assert st.read_bytes("r/part.csv") == b"complete v1"
    assert _raw_names(st) == ["r/part.csv"]


def test_manual_exit_with_exception_aborts(make_storage: MakeStorage) -> None:
    """The sinks drive the context manager by hand (``__enter__``/``__exit__``); both outcomes work."""
    st = make_storage()
    cm = st.open_atomic("m/ok.bin")
    cm.__enter__().write(b"ok")
    cm.__exit__(None, None, None)
    assert st.read_bytes("m/ok.bin") == b"ok"
    cm = st.open_atomic("m/bad.bin")
    cm.__enter__().write(b"bad")
    err = Boom("abort")
    with contextlib.suppress(Boom):
        cm.__exit__(Boom, err, None)
    assert not st.exists("m/bad.bin")
    assert _raw_names(st) == ["m/ok.bin"]


def test_concurrent_atomic_writes_leave_one_complete_file(make_storage: MakeStorage) -> None:
    st = make_storage()
    payloads = [bytes([65 + i]) * (50_000 + 7_919 * i) for i in range(8)]
    barrier = threading.Barrier(len(payloads))
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            barrier.wait()
            with st.open_atomic("same/part.bin") as f:
                for i in range(0, len(data), 10_000):
                    f.write(data[i : i + 10_000])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert st.read_bytes("same/part.bin") in payloads
    assert _raw_names(st) == ["same/part.bin"]


# -- S3 specifics ------------------------------------------------------------------------------------


@pytest.fixture
def s3(moto_s3: S3Server) -> Iterator[Callable[..., Storage]]:  # noqa: F811
    def make(**opts: Any) -> Storage:
        return Storage(moto_s3.uri(), dataclasses.replace(moto_s3.options, **opts))

    yield make


def test_s3_large_write_streams_as_multipart(s3: Callable[..., Storage]) -> None:
    st = s3(s3_part_size=5 * MIB)
    chunk = os.urandom(MIB)
    total = 20
    with st.open_atomic("big/part.bin") as f:
        for i in range(total):
            f.write(chunk[i:] + chunk[:i])
            if i == 12:
                # Streaming, not buffering: parts are already on the server while writing goes on,
                # and nothing is visible at the key yet.
                uploads = _open_uploads(st)
                assert len(uploads) == 1
                bucket, upload = st.root.split("/", 1)[0], uploads[0]
                deadline = time.monotonic() + 20  # parts go up in the background
                while time.monotonic() < deadline:
                    listed = _client_for(st).list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    if listed.get("Parts"):
                        break
                    time.sleep(0.05)
                assert listed.get("Parts"), "no part uploaded while the file was still being written"
                assert not st.exists("big/part.bin")
    assert st.size("big/part.bin") == total * MIB
    expected = b"".join(chunk[i:] + chunk[:i] for i in range(total))
    assert st.read_bytes("big/part.bin") == expected
    bucket, prefix = st.root.split("/", 1)
    etag = _client_for(st).head_object(Bucket=bucket, Key=f"{prefix}/big/part.bin")["ETag"]
    assert etag.strip('"').endswith("-4")  # 4 parts of 5 MiB: a completed multipart upload
    assert _open_uploads(st) == []


def test_s3_exception_after_parts_uploaded_aborts_upload(s3: Callable[..., Storage]) -> None:
    st = s3(s3_part_size=5 * MIB)
    with pytest.raises(Boom), st.open_atomic("big/part.bin") as f:
        for _ in range(12):
            f.write(b"\0" * MIB)
        assert len(_open_uploads(st)) == 1
        raise Boom
    assert _open_uploads(st) == []
    assert _raw_names(st) == []


def test_s3_flexible_checksums_complete(s3: Callable[..., Storage]) -> None:
    """Against AWS proper boto3 sends CRC32 per part; completing must repeat them (moto checks)."""
    st = s3(s3_part_size=5 * MIB)
    st._flexible_checksums = True
    data = os.urandom(11 * MIB)
    with st.open_atomic("ck/part.bin") as f:
        f.write(data)
    assert st.read_bytes("ck/part.bin") == data


def test_s3_copy_publish_fallback(s3: Callable[..., Storage]) -> None:
    """The temp-object + move path (used without boto3, and for gs:// / abfs://) is atomic too."""
    st = s3()
    st._publish = "copy"
    st.write_bytes("f/a.bin", b"one")
    assert st.read_bytes("f/a.bin") == b"one"
    with pytest.raises(Boom), st.open_atomic("f/a.bin") as f:
        f.write(b"partial")
        raise Boom
    with pytest.raises(Boom), st.open_atomic("f/b.bin") as f:
        f.write(b"partial")
        raise Boom
    assert st.read_bytes("f/a.bin") == b"one"
    assert [n for n in _raw_names(st) if not n.endswith("/")] == ["f/a.bin"]
    assert st.list() == ["f/a.bin"]


def test_s3_sse_is_requested(s3: Callable[..., Storage], moto_s3: S3Server) -> None:  # noqa: F811
    st = s3(s3_sse="AES256")
    st.write_bytes("enc/small.bin", b"secret data")
    with st.open_atomic("enc/big.bin") as f:
        f.write(b"\1" * (6 * MIB))
    bucket, prefix = st.root.split("/", 1)
    client = moto_s3.client()
    for key in ("small.bin", "big.bin"):
        assert client.head_object(Bucket=bucket, Key=f"{prefix}/enc/{key}")["ServerSideEncryption"] == "AES256"


def test_s3_default_credential_chain_from_environment(moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """No keys in the options: both clients find them the standard AWS way (here: AWS_* variables)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.secret_access_key)
    monkeypatch.setenv("AWS_REGION", moto_s3.region)
    st = Storage(moto_s3.uri(), StorageOptions(s3_endpoint_url=moto_s3.endpoint_url))
    st.write_bytes("env/a.txt", b"via env")
    assert st.read_bytes("env/a.txt") == b"via env"
    assert st.list() == ["env/a.txt"]


def test_s3_named_profile(moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: F811
    creds = tmp_path / "credentials"
    creds.write_text(
        "[exporter]\n"
        f"aws_access_key_id = {moto_s3.access_key_id}\n"
        f"aws_secret_access_key = {moto_s3.secret_access_key}\n"
    )
    config = tmp_path / "config"
    config.write_text(f"[profile exporter]\nregion = {moto_s3.region}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    st = Storage(moto_s3.uri(), StorageOptions(s3_endpoint_url=moto_s3.endpoint_url, s3_profile="exporter"))
    st.write_bytes("prof/a.txt", b"via profile")
    assert st.read_bytes("prof/a.txt") == b"via profile"  # pyarrow got the profile's keys too
    with pytest.raises(ConfigError):
        Storage(moto_s3.uri(), StorageOptions(s3_endpoint_url=moto_s3.endpoint_url, s3_profile="missing"))


# -- errors ------------------------------------------------------------------------------------------


def _assert_one_line(err: StorageError, *needles: str) -> None:
    msg = str(err)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


def test_missing_bucket_raises_storage_error(moto_s3: S3Server) -> None:  # noqa: F811
    st = Storage("s3://no-such-bucket-here/exports", moto_s3.options)
    with pytest.raises(StorageError) as info:
        st.write_bytes("_manifest.json", b"{}")
    _assert_one_line(info.value, "s3://no-such-bucket-here/exports/_manifest.json", "does not exist")
    with pytest.raises(StorageError) as info, st.open_atomic("big.bin") as f:
        for _ in range(20):  # the first full part fails inside write(): still a StorageError
            f.write(b"\0" * MIB)
    _assert_one_line(info.value, "s3://no-such-bucket-here/exports/big.bin", "does not exist")
    with pytest.raises(StorageError) as info:
        st.check_writable()
    _assert_one_line(info.value, "no-such-bucket-here")


def test_unreachable_endpoint_raises_storage_error(moto_s3: S3Server) -> None:  # noqa: F811
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: connection refused
    opts = StorageOptions(
        s3_endpoint_url=f"http://127.0.0.1:{port}",
        s3_region="us-east-1",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
        s3_max_attempts=1,
    )
    st = Storage("s3://test-bucket/x", opts)
    with pytest.raises(StorageError) as info:
        st.write_bytes("a.json", b"{}")
    _assert_one_line(info.value, "s3://test-bucket/x/a.json", "cannot reach")


def test_local_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"")
    st = Storage(str(tmp_path / "blocker" / "dest"))
    with pytest.raises(StorageError) as info:
        st.write_bytes("part.csv", b"x")
    _assert_one_line(info.value, str(tmp_path / "blocker" / "dest" / "part.csv"))


@contextlib.contextmanager
def _read_only_dir(path: Path) -> Iterator[None]:
    """chmod is enough for a normal user; root ignores it, so use the immutable attribute there."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    try:
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("running as root and this filesystem has no immutable attribute")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_local_read_only_dir_raises_storage_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    with _read_only_dir(ro):
        st = Storage(str(ro))
        with pytest.raises(StorageError) as info:
            st.write_bytes("part.csv", b"x")
        _assert_one_line(info.value, f"cannot write {ro / 'part.csv'}")
        assert "not permitted" in str(info.value) or "permission denied" in str(info.value)
        with pytest.raises(StorageError):
            st.check_writable()
        assert os.listdir(ro) == []


def test_check_writable_ok(make_storage: MakeStorage) -> None:
    st = make_storage()
    st.check_writable()
    assert _raw_names(st) == []


# -- options and resolution --------------------------------------------------------------------------


def test_secrets_never_shown() -> None:
    opts = StorageOptions(
        s3_access_key_id="AKIAEXAMPLE",
        s3_secret_access_key="very-secret-key",
        s3_session_token="very-secret-token",
        s3_region="us-east-1",
    )
    for text in (repr(opts), str(opts.safe_dict()), repr(Storage("s3://b-u-c/k", opts))):
        assert "very-secret" not in text
    safe = opts.safe_dict()
    assert safe["s3_secret_access_key"] == "***" and safe["s3_session_token"] == "***"
    assert safe["s3_access_key_id"] == "AKIAEXAMPLE"
    assert StorageOptions().safe_dict()["s3_secret_access_key"] is None


def test_from_env() -> None:
    env = {
        "CASSANDRA_BULK_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "CASSANDRA_BULK_S3_REGION": "eu-west-1",
        "CASSANDRA_BULK_S3_ACCESS_KEY_ID": "ak",
        "CASSANDRA_BULK_S3_SECRET_ACCESS_KEY": "sk",
        "CASSANDRA_BULK_S3_SSE": "aws:kms",
        "CASSANDRA_BULK_S3_SSE_KMS_KEY_ID": "alias/x",
        "CASSANDRA_BULK_S3_ALLOW_HTTP": "yes",
        "CASSANDRA_BULK_S3_PART_SIZE": str(8 * MIB),
    }
    opts = StorageOptions.from_env(env, s3_endpoint_url=None, s3_region="us-west-2")
    assert opts.s3_endpoint_url == "http://127.0.0.1:9000"  # None override = not given
    assert opts.s3_region == "us-west-2"
    assert opts.s3_secret_access_key == "sk" and opts.s3_sse == "aws:kms" and opts.s3_sse_kms_key_id == "alias/x"
    assert opts.s3_allow_http is True and opts.s3_part_size == 8 * MIB
    assert StorageOptions.from_env({}) == StorageOptions()
    with pytest.raises(ConfigError):
        StorageOptions.from_env({"CASSANDRA_BULK_S3_ALLOW_HTTP": "maybe"})
    with pytest.raises(TypeError):
        StorageOptions.from_env({}, s3_nonsense=1)


def test_options_validation() -> None:
    with pytest.raises(ConfigError):
        StorageOptions(s3_sse="rot13")
    with pytest.raises(ConfigError):
        StorageOptions(s3_sse="AES256", s3_sse_kms_key_id="k")
    with pytest.raises(ConfigError):
        StorageOptions(s3_access_key_id="only-the-id")
    with pytest.raises(ConfigError):
        StorageOptions(s3_part_size=MIB)
    with pytest.raises(ConfigError):
        Storage("s3://bkt/x", StorageOptions(s3_endpoint_url="http://127.0.0.1:1", s3_allow_http=False))


def test_resolution_local_and_file_uri(tmp_path: Path) -> None:
    st = Storage(str(tmp_path / "out"))
    assert st.kind == "local" and st.root == (tmp_path / "out").as_posix() and st.uri == st.root
    assert st.fs.type_name == "local"
    st2 = Storage((tmp_path / "out").as_uri())
    assert st2.root == st.root
    rel = Storage("relative/dir")
    assert Path(rel.root).is_absolute()
    assert not (tmp_path / "out").exists()  # nothing created until the first write


def test_resolution_s3(moto_s3: S3Server) -> None:  # noqa: F811
    st = Storage("s3://test-bucket/a/b/", moto_s3.options)
    assert (st.kind, st.root, st.uri) == ("s3", "test-bucket/a/b", "s3://test-bucket/a/b")
    assert st.fs.type_name == "s3"
    whole = Storage("s3a://test-bucket", moto_s3.options)
    assert whole.root == "test-bucket" and whole.uri == "s3://test-bucket"
    with pytest.raises(ConfigError):
        Storage("s3:///no-bucket")


def test_resolution_gcs_and_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only resolution: no GCS or Azure service is reachable here."""
    try:
        gs = Storage("gs://some-bucket/exports/t1")
    except StorageError as exc:
        pytest.skip(f"no GCS filesystem available: {exc}")
    assert gs.root == "some-bucket/exports/t1" and gs.kind == "gcs"
    assert isinstance(gs.fs, __import__("pyarrow.fs").fs.FileSystem)
    pytest.importorskip("adlfs")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "devaccount")
    try:
        az = Storage("abfs://container/exports/t1")
    except StorageError as exc:
        pytest.skip(f"adlfs could not be set up offline: {exc}")
    assert az.root == "container/exports/t1" and az.kind == "azure"


# -- review fixes ------------------------------------------------------------------------------------


def test_bytes_written_is_the_stored_size(make_storage: MakeStorage) -> None:
    """open_atomic's context manager reports the published size, so no size()/HEAD request is needed."""
    st = make_storage(s3_part_size=5 * MIB)
    payload = os.urandom(6 * MIB) + b"x" * 100_000  # over one S3 part: a multipart upload
    for name, data, codec in [("a.bin", payload, None), ("b.csv.gz", b"1,2\n" * 50_000, "gzip"), ("e", b"", None)]:
        cm = st.open_atomic(name, compression=codec)
        assert cm.bytes_written is None
        with cm as f:
            f.write(data)
        assert cm.bytes_written == st.size(name)
    assert st.size("a.bin") == len(payload) and st.size("e") == 0
    cm = st.open_atomic("failed.bin")
    with pytest.raises(Boom), cm as f:
        f.write(b"x")
        raise Boom
    assert cm.bytes_written is None


def test_s3_copy_publish_reports_bytes_written(s3: Callable[..., Storage]) -> None:
    st = s3()
    st._publish = "copy"
    cm = st.open_atomic("c/a.bin")
    with cm as f:
        f.write(b"12345")
    assert cm.bytes_written == 5 == st.size("c/a.bin")


def test_compression_stream_failure_leaves_nothing(make_storage: MakeStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    """pa.CompressedOutputStream raising (e.g. a codec missing from the pyarrow build) used to leave
    the local temp file open and on disk."""
    st = make_storage()

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise pa.ArrowNotImplementedError("Support for codec 'zstd' not built")

    monkeypatch.setattr(pa, "CompressedOutputStream", unavailable)
    with pytest.raises(pa.ArrowNotImplementedError), st.open_atomic("z/part.csv", compression="zstd"):
        pass  # pragma: no cover - never entered
    assert _raw_names(st) == []
    if st.kind == "s3":
        assert _open_uploads(st) == []


class _SlowPartsClient:
    """A boto3 S3 client stand-in whose UploadPart blocks until released; records the call order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.release = threading.Event()

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        return {"UploadId": "u-1"}

    def upload_part(self, PartNumber: int, **kwargs: Any) -> dict[str, str]:
        self.events.append(f"start {PartNumber}")
        self.release.wait(10)
        self.events.append(f"end {PartNumber}")
        return {"ETag": f'"{PartNumber}"'}

    def abort_multipart_upload(self, **kwargs: Any) -> None:
        self.events.append("abort")


class Interrupted(BaseException):
    """Like KeyboardInterrupt: arrives while the writer waits for a part."""


def test_s3_abort_waits_for_parts_still_uploading() -> None:
    """AbortMultipartUpload must come after every part upload has ended: a part landing after it is
    kept by S3, invisible and billed. The writer used to drop a future from its queue before waiting
    on it, so an interrupted wait left that part running behind abort's back."""
    from cassandra_bulk_core.io import _S3Upload

    client = _SlowPartsClient()
    upload = _S3Upload(client, "s3://b/k", "b", "k", {}, 5 * MIB, max_in_flight=1)
    upload.write(b"\0" * (5 * MIB))  # part 1 starts uploading (and blocks)
    oldest = upload._pending[0]

    def interrupted_wait(timeout: float | None = None) -> Any:
        raise Interrupted

    oldest.result = interrupted_wait  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        upload.write(b"\0" * (5 * MIB))  # part 2 waits for part 1: interrupted
    threading.Timer(0.3, client.release.set).start()
    upload.abort(upload.stream)
    assert client.events == ["start 1", "end 1", "abort"]


def test_s3_delete_prefix_aborts_incomplete_uploads(s3: Callable[..., Storage]) -> None:
    st = s3()
    bucket, prefix = st.root.split("/", 1)
    client = _client_for(st)
    for key in ("gone/crashed.bin", "gone/sub/crashed.bin", "gone2/keep.bin"):
        client.create_multipart_upload(Bucket=bucket, Key=f"{prefix}/{key}")
    st.write_bytes("gone/done.bin", b"x")
    st.delete_prefix("gone")
    assert [u["Key"] for u in _open_uploads(st)] == [f"{prefix}/gone2/keep.bin"]
    assert st.list() == []
    st.delete_prefix("")
    assert _open_uploads(st) == []


def test_s3_uri_with_credentials_is_refused_without_echoing_them(moto_s3: S3Server) -> None:  # noqa: F811
    for uri in ("s3://AKIAEXAMPLE:very-secret@test-bucket/x", "s3a://very-secret@test-bucket", "s3://:very-secret@b/"):
        with pytest.raises(ConfigError) as info:
            Storage(uri, moto_s3.options)
        assert "very-secret" not in str(info.value) and "AKIAEXAMPLE" not in str(info.value)
        assert "***@" in str(info.value) and "s3_access_key_id" in str(info.value)


def test_credentials_in_other_uris_are_redacted() -> None:
    from cassandra_bulk_core.io import _redact_uri

    st = Storage("memory://bkt/exports/?token=very-secret&sig=a%2Bvery-secret")
    assert st.uri == "memory://bkt/exports?token=***&sig=***"
    assert st.uri_of("p/part.csv") == "memory://bkt/exports/p/part.csv?token=***&sig=***"
    assert "very-secret" not in repr(st) + st.root  # nor written into object names
    st.write_bytes("p/part.csv", b"x")
    assert st.read_bytes("p/part.csv") == b"x"
    with pytest.raises(StorageError) as info:
        Storage("nosuchfs://user:very-secret@host/p?account_key=very-secret2")
    assert "very-secret" not in str(info.value) and "nosuchfs://***@host/p?account_key=***" in str(info.value)
    assert _redact_uri("gs://bkt/p?access_token=t0ken-value#frag") == (
        "gs://bkt/p?access_token=***#***",
        ["t0ken-value", "frag"],
    )
    # Azure names the container as the user: kept, only a password is masked.
    assert _redact_uri("abfs://cont@acct.dfs.core.windows.net/p", keep_user=True)[0] == (
        "abfs://cont@acct.dfs.core.windows.net/p"
    )
    assert _redact_uri("abfs://cont:k3y-value@acct/p?sv=1", keep_user=True)[0] == "abfs://cont:***@acct/p?sv=***"
    assert _redact_uri("gs://bkt/plain/path") == ("gs://bkt/plain/path", [])


def test_endpoint_credentials_never_shown() -> None:
    opts = StorageOptions(s3_endpoint_url="https://user:very-secret@minio:9000")
    assert opts.safe_dict()["s3_endpoint_url"] == "https://***@minio:9000"
    assert "very-secret" not in repr(opts)
    assert StorageOptions(s3_endpoint_url="user:very-secret@minio:9000").safe_dict()["s3_endpoint_url"] == (
        "***@minio:9000"
    )
    assert StorageOptions(s3_endpoint_url="http://minio:9000").safe_dict()["s3_endpoint_url"] == "http://minio:9000"
    for url in ("https://user:very-secret@minio:9000", "user:very-secret@minio:9000"):
        with pytest.raises(ConfigError) as info:
            Storage("s3://bkt/x", StorageOptions(s3_endpoint_url=url, s3_region="us-east-1"))
        assert "very-secret" not in str(info.value) and "***@minio:9000" in str(info.value)
