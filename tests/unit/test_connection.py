import pytest

from cassandra_bulk_core import ConfigError, ConnectionConfig


def test_password_never_in_repr_or_safe_dict() -> None:
    cfg = ConnectionConfig(contact_points="a, b", username="u", password="s3cret-value")
    assert cfg.contact_points == ("a", "b")
    assert "s3cret-value" not in repr(cfg)
    safe = cfg.safe_dict()
    assert safe["password"] == "***" and "s3cret-value" not in str(safe)
    assert ConnectionConfig().safe_dict()["password"] is None


def test_from_env_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", "10.0.0.1,10.0.0.2")
    monkeypatch.setenv("CASSANDRA_PORT", "19042")
    monkeypatch.setenv("CASSANDRA_USERNAME", "alice")
    monkeypatch.setenv("CASSANDRA_PASSWORD", "pw")
    cfg = ConnectionConfig.from_env(local_dc="dc2", consistency=None)
    assert cfg.contact_points == ("10.0.0.1", "10.0.0.2")
    assert (cfg.port, cfg.username, cfg.password, cfg.local_dc) == (19042, "alice", "pw", "dc2")


def test_unknown_consistency_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown consistency level 'QUORAM'"):
        ConnectionConfig(consistency="QUORAM")
    assert ConnectionConfig(consistency="local_quorum").consistency == "LOCAL_QUORUM"


def test_build_cluster_uses_token_and_dc_aware_routing() -> None:
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    cluster = ConnectionConfig(contact_points="127.0.0.9", local_dc="dc1", username="u", password="p").build_cluster()
    policy = cluster.profile_manager.default.load_balancing_policy
    assert isinstance(policy, TokenAwarePolicy)
    assert isinstance(policy._child_policy, DCAwareRoundRobinPolicy)
    assert policy._child_policy.local_dc == "dc1"
    assert cluster.auth_provider is not None


def test_not_checking_the_host_name_still_checks_the_chain() -> None:
    """Issue "Faults", item 3: --no-ssl-verify-hostname without --ssl-ca turned off every
    certificate check. It now only skips the host name; the chain is still verified (system CAs);
    only the loudly named ssl_insecure_skip_verify accepts any certificate."""
    import ssl

    from cassandra_bulk_core import ConnectionConfig

    ctx = ConnectionConfig(ssl_enabled=True, ssl_verify_hostname=False).ssl_context()
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED and not ctx.check_hostname
    strict = ConnectionConfig(ssl_enabled=True).ssl_context()
    assert strict is not None and strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    insecure = ConnectionConfig(ssl_enabled=True, ssl_insecure_skip_verify=True).ssl_context()
    assert insecure is not None and insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
