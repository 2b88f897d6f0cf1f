"""# issue #12: webhooks go to public addresses only; every spelling of this machine, its networks and
cloud metadata services is refused when an endpoint is saved and again when a message is delivered.

Saving goes through the API of a real `mailbeacon serve`; delivery runs the real worker against a
real receiver on 127.0.0.1, with endpoints written straight into the store (as an endpoint saved
before the upgrade, or a name whose DNS changed, would be) and names resolved by a resolver the
test gives (no /etc/hosts): `rebind.example` answers 127.0.0.1 at delivery.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailbeacon.store import Store, open_store
from mailbeacon.webhooks import Backoff, Destinations, WebhookWorker, send_test
from mailbeacon.webhooks.destinations import IPAddress, system_resolver
from mailbeacon.webhooks.guarded import GuardedTransport
from tests.support.dashboard import add_user
from tests.support.databases import sqlite_url
from tests.support.servers import Server, running_server
from tests.webhooks.receiver import Receiver, running_receiver

REFUSED_AT_SAVE = [
    "http://127.0.0.1/hook", "http://127.1/hook", "http://2130706433/hook", "http://0x7f000001/hook",
    "http://0x7f.1/hook", "http://[::ffff:127.0.0.1]/hook", "http://[::ffff:7f00:1]/hook", "http://[::1]/hook",
    "http://[::127.0.0.1]/hook", "http://[64:ff9b::7f00:1]/hook", "http://[2002:7f00:1::1]/hook",
    "http://0.0.0.0/hook", "http://0/hook", "http://[::]/hook", "http://localhost/hook", "http://LocalHost./hook",
    "http://api.localhost/hook", "http://10.0.0.1/hook", "http://172.16.5.4/hook", "http://192.168.1.1/hook",
    "http://100.64.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://100.100.100.200/latest/", "http://[fe80::1]/",
    "http://[fc00::1]/", "http://224.0.0.1/", "http://[ff02::1]/", "http://240.0.0.1/", "http://255.255.255.255/",
    "http://[::ffff:169.254.169.254]/", "http://192.0.2.1/",
]
ALWAYS_REFUSED = ["http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/",
                  "http://[fd00:ec2::254]/"]
"""Refused even where an operator allows every network."""
_people = itertools.count(1)


@dataclass
class Site:
    server: Server
    key: str


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("strict") / "data"
    key = add_user(data, "ann@example.com", password=None)["api_key"]
    with running_server(data) as server:
        yield Site(server, key)


@pytest.fixture(scope="module")
def permissive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("permissive") / "data"
    key = add_user(data, "ann@example.com", password=None)["api_key"]
    every = ("--webhook-allow-network", "0.0.0.0/0", "--webhook-allow-network", "::/0")
    with running_server(data, *every) as server:
        yield Site(server, key)


def save(site: Site, url: str) -> httpx.Response:
    return httpx.post(f"{site.server.url}/api/v1/webhooks", json={"url": url},
                      headers={"Authorization": f"Bearer {site.key}"}, timeout=10)


def endpoints(site: Site) -> list[str]:
    answer = httpx.get(f"{site.server.url}/api/v1/webhooks", headers={"Authorization": f"Bearer {site.key}"},
                       timeout=10)
    return [hook["url"] for hook in answer.json()["webhooks"]]


@pytest.mark.parametrize("url", REFUSED_AT_SAVE)
def test_every_spelling_of_a_non_public_destination_is_refused_when_saved(strict: Site, url: str) -> None:
    refused = save(strict, url)
    assert refused.status_code == 400, refused.text
    assert "public addresses only" in refused.json()["error"] and "--webhook-allow-network" in refused.json()["error"]
    assert url not in endpoints(strict)


def test_a_public_destination_is_saved_and_a_change_to_a_private_one_refused(strict: Site) -> None:
    made = save(strict, "https://hooks.example.com/in")
    assert made.status_code == 201, made.text
    one = f"{strict.server.url}/api/v1/webhooks/{made.json()['id']}"
    moved = httpx.patch(one, json={"url": "http://127.1:8080/"}, headers={"Authorization": f"Bearer {strict.key}"},
                        timeout=10)
    assert moved.status_code == 400 and "loopback" in moved.json()["error"]
    assert "https://hooks.example.com/in" in endpoints(strict)


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_metadata_services_stay_refused_in_an_allowed_network(permissive: Site, url: str) -> None:
    assert save(permissive, url).status_code == 400


def test_the_servers_own_address_stays_refused_in_an_allowed_network(permissive: Site) -> None:
    own = permissive.server.url  # http://127.0.0.1:PORT
    port = own.rsplit(":", 1)[1]
    for url in (f"{own}/api/v1/messages", f"http://127.1:{port}/api/v1/messages",
                f"http://[::ffff:127.0.0.1]:{port}/"):
        refused = save(permissive, url)
        assert refused.status_code == 400 and "own address" in refused.json()["error"], (url, refused.text)
    assert save(permissive, "http://127.0.0.1:9/elsewhere").status_code == 201  # another port: allowed here


# --- at delivery ----------------------------------------------------------------------------------------


def resolving(names: dict[str, list[str]], allowed: tuple[str, ...] = ()) -> Destinations:
    """Destinations allowing `allowed` that resolve `names` as given and everything else with the system."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host in names:
            return [ip_address(a) for a in names[host]]
        return await system_resolver(host, port)

    return Destinations(Destinations.of_server(allowed).allowed, resolver=resolve)


@pytest.fixture()
def local_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(sqlite_url(tmp_path)) as store:
        store.migrate()
        yield store


def stored_endpoint(store: Store, url: str) -> int:
    """An endpoint written past the save-time check, with a queued test message; its delivery's id."""
    name = f"user{next(_people)}"
    user_id = store.add_user(f"{name}@example.com", False, "basic", f"key:{name}", "unused")
    hook = store.create_webhook(user_id, url, "whsec_" + "a" * 44, (), False)
    return send_test(store, hook)


def deliver(store: Store, destinations: Destinations, delivery_ids: list[int], timeout: float = 20.0) -> None:
    """Run the worker until every delivery has an attempt."""

    async def run() -> None:
        worker = WebhookWorker(store, backoff=Backoff(first=3600), idle_poll=0.05, timeout=5, destinations=destinations)
        await worker.start()
        try:
            deadline = time.monotonic() + timeout
            while not all(store.webhook_delivery(d).log for d in delivery_ids):  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "not every delivery was attempted"
                await asyncio.sleep(0.05)
        finally:
            await worker.stop()

    asyncio.run(run())


def test_every_spelling_of_this_machine_is_refused_at_delivery_and_nothing_is_sent(local_store: Store) -> None:
    with running_receiver() as receiver:
        port = receiver.url().rsplit(":", 1)[1].split("/")[0]
        urls = [f"http://{host}:{port}/hook" for host in (
            "127.0.0.1", "127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "0.0.0.0", "localhost",
            "rebind.example", "twofaced.example",
        )]
        destinations = resolving({"rebind.example": ["127.0.0.1"],
                                      "twofaced.example": ["93.184.215.14", "127.0.0.1"]})
        ids = [stored_endpoint(local_store, url) for url in urls]
        deliver(local_store, destinations, ids)
        time.sleep(0.2)
        assert receiver.snapshot() == []  # not one request reached the receiver
    errors = {}
    for url, delivery_id in zip(urls, ids, strict=True):
        (attempt,) = local_store.webhook_delivery(delivery_id).log  # type: ignore[union-attr]
        assert attempt.status_code is None and (attempt.error or "").startswith("refused: "), (url, attempt)
        errors[url] = attempt.error
    assert "resolves to 127.0.0.1, a loopback address" in str(errors[urls[-2]])
    assert "resolves to 127.0.0.1" in str(errors[urls[-1]])  # one loopback answer among public ones refuses the name


def test_delivery_connects_to_the_address_that_was_checked(local_store: Store) -> None:
    """The system cannot resolve rebind.example: a delivery that arrives went to the checked address."""
    with running_receiver() as receiver:
        port = receiver.url().rsplit(":", 1)[1].split("/")[0]
        delivery_id = stored_endpoint(local_store, f"http://rebind.example:{port}/pinned")
        deliver(local_store, resolving({"rebind.example": ["127.0.0.1"]}, ("127.0.0.0/8",)), [delivery_id])
        (received,) = receiver.wait_for(lambda seen: len(seen) == 1, what="the pinned delivery")
    assert received.path == "/pinned" and received.headers["host"] == f"rebind.example:{port}"
    (attempt,) = local_store.webhook_delivery(delivery_id).log  # type: ignore[union-attr]
    assert attempt.status_code == 200 and attempt.error is None


def test_the_delivery_log_keeps_the_status_line_and_never_the_answers_body(local_store: Store) -> None:
    with running_receiver() as receiver:
        port = receiver.url().rsplit(":", 1)[1].split("/")[0]
        ids = [stored_endpoint(local_store, f"http://127.0.0.1:{port}/{name}") for name in ("ok", "broken")]
        receiver.defaults["/broken"] = 500
        deliver(local_store, Destinations.of_server(["127.0.0.0/8"]), ids)
        receiver.wait_for(lambda seen: len(seen) == 2, what="both deliveries")
    shown = [local_store.webhook_delivery(d).log[0].response for d in ids]  # type: ignore[union-attr]
    assert shown == ["200 OK", "500 Internal Server Error"]  # the receiver's bodies said "answered ..."
    assert "answered" not in json.dumps(shown)


def certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_to_a_pinned_address_sends_the_name_for_sni_and_checks_the_certificate_against_it(
    tmp_path: Path,
) -> None:
    cert, key = certificate_for("receiver.test", tmp_path)
    seen: list[str | None] = []
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server_side.sni_callback = lambda sock, name, context: seen.append(name)  # type: ignore[assignment]
    with running_receiver(tls=server_side) as receiver:
        port = int(receiver.url().rsplit(":", 1)[1].split("/")[0])
        trusted = ssl.create_default_context(cafile=str(cert))
        names = {"receiver.test": ["127.0.0.1"], "impostor.test": ["127.0.0.1"]}

        async def post(host: str) -> httpx.Response:
            transport = GuardedTransport(resolving(names, ("127.0.0.0/8",)), verify=trusted)
            async with httpx.AsyncClient(transport=transport) as client:
                return await client.post(f"https://{host}:{port}/tls", content=b"{}")

        assert asyncio.run(post("receiver.test")).status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|match"):
            asyncio.run(post("impostor.test"))  # the same address, another name: its certificate is not for it
    assert seen[:2] == ["receiver.test", "impostor.test"]
