"""Login throttling that rotating addresses cannot get round (#26 item 4): a per-account budget
that slows every answer for a name under attack, from any address, without refusing its owner; and
X-Forwarded-For believed only from the configured proxies."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dialectid.errors import ConfigError
from dialectid.web import WebSettings, create_app
from webapp import PASSWORD, world_of


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_bundle, toy_corpus):
    with world_of(tmp_path_factory.mktemp("budget"), stats_bundle, toy_corpus) as made:
        yield made


def guarded(world, **settings):
    """An app of its own, whose login waits are counted instead of slept."""
    app = create_app(world.store, world.bundle, WebSettings(**settings))
    waits: list[float] = []
    app.state.web.guards.logins.sleep = waits.append
    return app, waits


def guess(app, address: str, password: str = "a guess", forwarded: str | None = None) -> int:
    client = TestClient(app, client=(address, 40000), follow_redirects=False)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/api/session", json={"name": "colin", "password": password}, headers=headers).status_code


def test_guesses_from_ever_new_addresses_are_slowed_per_account_and_the_owner_still_gets_in(world):
    app, waits = guarded(world, login_failures_per_account=5, account_interval_s=2.0)
    statuses = [guess(app, f"127.0.{i // 250}.{i % 250 + 2}") for i in range(60)]  # 60 loopback addresses
    assert set(statuses) == {400}  # never refused: each new address has no failures of its own
    assert len(waits) >= 50 and waits[10] > waits[0] + 15  # serial slots 2 s apart: each later guess waits longer
    assert max(waits) <= 30.0  # a wait never grows past the cap
    assert guess(app, "198.51.100.9", PASSWORD) == 200  # the owner, slowed too, but let in
    assert len(waits) >= 55


def test_forwarded_addresses_are_believed_only_from_a_trusted_proxy(world):
    app, _ = guarded(world, behind_proxy=True, login_failures_per_address=3, login_failures_per_client=100)
    # straight to the port from 127.0.0.2, not the proxy: rotating X-Forwarded-For changes nothing
    statuses = [guess(app, "127.0.0.2", forwarded=f"203.0.113.{i}") for i in range(5)]
    assert statuses[-1] == 429
    # through the proxy (127.0.0.1), each forwarded address is a client of its own
    assert [guess(app, "127.0.0.1", forwarded=f"198.51.100.{i}") for i in range(5)] == [400] * 5
    proxy_elsewhere, _ = guarded(world, behind_proxy=True, trusted_proxies=("10.0.0.0/8",),
                                 login_failures_per_address=3, login_failures_per_client=100)  # fmt: skip
    assert [guess(proxy_elsewhere, "10.1.2.3", forwarded=f"198.51.100.{i}") for i in range(5)] == [400] * 5
    assert [guess(proxy_elsewhere, "127.0.0.1", forwarded=f"192.0.2.{i}") for i in range(5)][-1] == 429


def test_a_trusted_proxy_that_is_no_address_is_refused():
    with pytest.raises(ConfigError, match="not an address or network"):
        WebSettings(trusted_proxies=("proxy.example",))
