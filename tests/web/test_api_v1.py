"""The read API (messages, feed, contacts, OpenAPI) against a real `mailbeacon serve`.

Users are made with the CLI; A and B send through POST /api/v1/messages; pixels and clicks are
loaded over HTTP from a reader's address (X-Forwarded-For, believed from loopback); the tests
wait until the pipeline has judged everything, then read as a program would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from mailbeacon.tokens import Keyring
from tests.support.servers import Server, running_server
from tests.web.test_api import add_user

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
READER_IP = "93.184.216.34"
HOSTILE_UA = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)> =HYPERLINK(\"http://x\")"
HOSTILE_URL = "https://example.com/?q=<script>alert(1)</script>&x=\"'><b>"


@dataclass(frozen=True)
class World:
    server: Server
    keys: dict[str, str]
    """admin, a, b -> API key."""
    messages: dict[str, int]
    """a1 (to bob and Carol), a2 (to Bob, spelt so), a3 (to dave), b1 (to bob) -> message id."""
    deliveries: dict[tuple[str, str], bytes]
    """(message name, recipient as sent) -> delivery key."""


def send(client: httpx.Client, key: str, to: list[str], subject: str) -> tuple[int, dict[str, bytes]]:
    html = '<p>Hello</p><p><a href="https://example.com/pricing">Pricing</a></p>'
    response = client.post(
        "/api/v1/messages", json={"to": to, "subject": subject, "html": html},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    return body["message_id"], {c["recipient"]: bytes.fromhex(c["delivery"]) for c in body["copies"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("api_v1") / "data"
    keys = {
        "admin": add_user(data_dir, "admin@example.com", "--admin")["api_key"],
        "a": add_user(data_dir, "a@example.com", "--seat", "sales")["api_key"],
        "b": add_user(data_dir, "b@example.com")["api_key"],
    }
    with running_server(data_dir) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        messages: dict[str, int] = {}
        deliveries: dict[tuple[str, str], bytes] = {}
        for name, key, to in [
            ("a1", "a", ["bob@example.org", "Carol@Example.org"]),
            ("a2", "a", ["Bob@Example.org"]),
            ("a3", "a", ["dave@example.org"]),
            ("b1", "b", ["bob@example.org"]),
        ]:
            messages[name], sent = send(client, keys[key], to, f"subject {name}")
            deliveries.update({(name, r): k for r, k in sent.items()})
        keyring = Keyring.load_or_create(data_dir)
        reader = {"User-Agent": THUNDERBIRD, "X-Forwarded-For": READER_IP}
        loads = [
            f"/o/{keyring.sign_open(deliveries['a1', 'bob@example.org'])}.gif",
            f"/o/{keyring.sign_open(deliveries['a2', 'Bob@Example.org'])}.gif",
            f"/o/{keyring.sign_open(deliveries['b1', 'bob@example.org'])}.gif",
        ]
        for path in loads:
            assert client.get(path, headers=reader).status_code == 200
        hostile = {"User-Agent": HOSTILE_UA, "X-Forwarded-For": READER_IP}
        # A HEAD request is a machine's (head_request), so dave's message has no human open.
        assert client.head(f"/o/{keyring.sign_open(deliveries['a3', 'dave@example.org'])}.gif",
                           headers=hostile).status_code == 200
        click = client.get(f"/c/{keyring.sign_click(deliveries['a3', 'dave@example.org'], 0, HOSTILE_URL)}",
                           headers=hostile)
        assert click.status_code == 302
        world = World(server, keys, messages, deliveries)
        settled(world, events=5)
        yield world


def settled(world: World, events: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = get(world, "admin", "/api/v1/events", limit=1000).json()["events"]
        if len(found) >= events and all(e["class"] is not None for e in found):
            return
        time.sleep(0.05)
    raise AssertionError("the pipeline did not judge every event")


def get(world: World, who: str | None, path: str, **params: Any) -> httpx.Response:
    headers = {} if who is None else {"Authorization": f"Bearer {world.keys[who]}"}
    return httpx.get(world.server.url + path, params=params, headers=headers, timeout=10)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def feed(world: World, who: str, **params: Any) -> list[dict[str, Any]]:
    return list(ok(get(world, who, "/api/v1/feed", limit=500, **params))["items"])


# --- authentication and who sees what -------------------------------------------------------------------

READ_PATHS = ["/api/v1/messages", "/api/v1/messages/1", "/api/v1/feed", "/api/v1/contacts",
              "/api/v1/contacts/bob@example.org"]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("auth", [None, "Bearer mb_not-a-key"], ids=["no key", "wrong key"])
def test_without_a_valid_key_every_read_endpoint_answers_401_json(world: World, path: str, auth: str | None) -> None:
    response = httpx.get(world.server.url + path, headers={"Authorization": auth} if auth else {}, timeout=10)
    assert response.status_code == 401
    assert list(response.json()) == ["error"] and response.json()["error"]


def test_another_users_ids_are_404_and_never_data(world: World) -> None:
    a1, b1 = world.messages["a1"], world.messages["b1"]
    for path, params in [
        (f"/api/v1/messages/{a1}", {}),
        ("/api/v1/feed", {"message_id": a1}),
        ("/api/v1/contacts/dave@example.org", {}),  # only A sent to dave
        ("/api/v1/contacts/carol@example.org", {}),
    ]:
        response = get(world, "b", path, **params)
        assert response.status_code == 404, (path, response.text)
        assert list(response.json()) == ["error"]
        assert "subject" not in response.text and "carol" not in response.text.lower()
    assert get(world, "a", f"/api/v1/messages/{b1}").status_code == 404
    assert get(world, "a", "/api/v1/feed", message_id=b1).status_code == 404
    # Lists hold only B's own: one message, one contact, one event.
    assert [m["id"] for m in ok(get(world, "b", "/api/v1/messages"))["messages"]] == [b1]
    assert [c["email"] for c in ok(get(world, "b", "/api/v1/contacts"))["contacts"]] == ["bob@example.org"]
    assert {i["message_id"] for i in feed(world, "b")} == {b1}
    bob_for_b = ok(get(world, "b", "/api/v1/contacts/bob@example.org"))
    assert bob_for_b["contact"]["messages"] == 1 and {i["message_id"] for i in bob_for_b["timeline"]} == {b1}


def test_ids_that_cannot_exist_are_404_not_errors(world: World) -> None:
    for path in ["/api/v1/messages/0", "/api/v1/messages/abc", f"/api/v1/messages/{2**64}", "/api/v1/messages/-1",
                 "/api/v1/contacts/not-an-address", "/api/v1/contacts/nobody@example.org"]:
        response = get(world, "admin", path)
        assert response.status_code == 404 and list(response.json()) == ["error"], path
    assert get(world, "admin", "/api/v1/feed", message_id=10**12).status_code == 404


def test_an_admin_sees_everyones_messages_events_and_contacts(world: World) -> None:
    listed = {m["id"] for m in ok(get(world, "admin", "/api/v1/messages"))["messages"]}
    assert listed == set(world.messages.values())
    assert {i["message_id"] for i in feed(world, "admin")} >= {world.messages["a1"], world.messages["b1"]}
    bob = ok(get(world, "admin", "/api/v1/contacts/BOB@example.org"))
    assert bob["contact"]["messages"] == 3
    assert ok(get(world, "admin", f"/api/v1/messages/{world.messages['a3']}"))["subject"] == "subject a3"


# --- messages -------------------------------------------------------------------------------------------


def test_the_messages_list_has_counts_rates_and_recipients(world: World) -> None:
    messages = {m["subject"]: m for m in ok(get(world, "a", "/api/v1/messages"))["messages"]}
    assert list(messages) == ["subject a3", "subject a2", "subject a1"]  # newest first
    a1 = messages["subject a1"]
    assert (a1["recipients"], a1["source"], a1["sender"]) == (2, "api", "a@example.com")
    assert a1["opens"]["unique_human"] == 1 and a1["rates"]["open"] == 0.5
    assert messages["subject a2"]["rates"]["open"] == 1.0


def test_the_messages_list_filters(world: World) -> None:
    def ids(**params: Any) -> list[int]:
        return [m["id"] for m in ok(get(world, "a", "/api/v1/messages", **params))["messages"]]

    a1, a2, a3 = world.messages["a1"], world.messages["a2"], world.messages["a3"]
    assert ids(recipient="BOB@example.org") == [a2, a1]
    assert ids(recipient="carol@example.org") == [a1]
    assert ids(opened="true") == [a2, a1]
    assert ids(opened="false") == [a3]
    assert ids(sort="open_rate") == [a2, a1, a3]
    assert ids(sort="created_at", order="asc") == [a1, a2, a3]
    assert ids(since="2000-01-01T00:00:00Z", until=str(time.time() + 3600)) == [a3, a2, a1]
    assert ids(until="2000-01-01") == []
    assert ids(recipient="bob@example.org", opened="true", clicked="false") == [a2, a1]


@pytest.mark.parametrize("sort", ["created_at", "open_rate", "click_rate"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_message_pages_hold_each_message_once(world: World, sort: str, order: str) -> None:
    whole = [m["id"] for m in ok(get(world, "admin", "/api/v1/messages", sort=sort, order=order))["messages"]]
    paged: list[int] = []
    cursor = None
    for _ in range(10):
        params = {"sort": sort, "order": order, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = ok(get(world, "admin", "/api/v1/messages", **params))
        paged += [m["id"] for m in body["messages"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert paged == whole and sorted(paged) == sorted(world.messages.values())


def test_message_detail_has_clients_per_recipient_and_its_timeline(world: World) -> None:
    detail = ok(get(world, "a", f"/api/v1/messages/{world.messages['a1']}"))
    bob = next(r for r in detail["recipients"] if r["recipient"] == "bob@example.org")
    assert bob["clients"] == [
        {"client": "Thunderbird (Windows)", "events": 1, "human": 1, "last_seen_at": pytest.approx(time.time(), abs=300)}
    ]
    assert next(r for r in detail["recipients"] if r["recipient"] == "Carol@Example.org")["clients"] == []
    (item,) = detail["timeline"]
    assert (item["type"], item["recipient"], item["class"], item["notice"]) == (
        "open", "bob@example.org", "human", "first_open"
    )
    assert detail["timeline_next"] is None and detail["links"][0]["url"] == "https://example.com/pricing"
    assert ok(get(world, "a", f"/api/v1/messages/{world.messages['a3']}", timeline=1))["timeline_next"] is not None


def test_message_detail_pages_its_recipients(world: World) -> None:
    path = f"/api/v1/messages/{world.messages['a1']}"
    first = ok(get(world, "a", path, recipients_limit=1))
    second = ok(get(world, "a", path, recipients_limit=1, recipients_offset=first["recipients_next"]))
    assert [r["recipient"] for r in first["recipients"] + second["recipients"]] == [
        "bob@example.org", "Carol@Example.org"
    ]
    assert (first["recipients_total"], first["recipients_next"], second["recipients_next"]) == (2, 1, None)
    assert first["recipients"][0]["clients"] and first["opens"] == second["opens"]


# --- feed -----------------------------------------------------------------------------------------------


def test_the_feed_is_newest_first_with_both_times(world: World) -> None:
    items = feed(world, "a")
    assert len(items) == 4
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    for item in items:
        assert isinstance(item["occurred_at"], float)
        assert item["occurred_at_iso"].endswith("+00:00")
        assert item["ip"] == READER_IP


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_feed_pages_have_no_duplicates_and_no_gaps(world: World, limit: int) -> None:
    whole = [i["id"] for i in feed(world, "admin")]
    paged: list[int] = []
    before = None
    for _ in range(20):
        body = ok(get(world, "admin", "/api/v1/feed", limit=limit, **({"before": before} if before else {})))
        paged += [i["id"] for i in body["items"]]
        before = body["next"]
        if before is None:
            break
    assert paged == whole


def test_feed_filters(world: World) -> None:
    a3 = world.messages["a3"]
    assert {i["message_id"] for i in feed(world, "a", message_id=a3)} == {a3}
    assert [i["type"] for i in feed(world, "a", type="click")] == ["click"]
    assert {i["recipient"] for i in feed(world, "a", recipient="bob@EXAMPLE.org")} == {
        "bob@example.org", "Bob@Example.org"
    }
    human = feed(world, "a", human="true")
    assert human and all(i["notice"] is not None for i in human)
    assert all(i["notice"] is None for i in feed(world, "a", human="false"))


def test_the_feed_shows_a_hostile_user_agent_and_url_as_data(world: World) -> None:
    items = feed(world, "a", message_id=world.messages["a3"])
    assert {i["user_agent"] for i in items} == {HOSTILE_UA}
    (click,) = [i for i in items if i["type"] == "click"]
    assert click["url"] == HOSTILE_URL
    raw = get(world, "a", "/api/v1/feed", message_id=world.messages["a3"]).text
    assert "<script>" in raw, "JSON keeps the text; the dashboard escapes it where it renders"


# --- contacts -------------------------------------------------------------------------------------------


def test_contacts_are_grouped_in_any_case_with_counts(world: World) -> None:
    body = ok(get(world, "a", "/api/v1/contacts", sort="email", order="asc"))
    assert [c["email"] for c in body["contacts"]] == ["bob@example.org", "carol@example.org", "dave@example.org"]
    bob = body["contacts"][0]
    assert (bob["messages"], bob["opens"]["human"]) == (2, 2)
    assert bob["last_activity_at"] is not None


def test_contact_pages_and_timeline(world: World) -> None:
    first = ok(get(world, "a", "/api/v1/contacts", sort="email", order="asc", limit=2))
    second = ok(get(world, "a", "/api/v1/contacts", sort="email", order="asc", limit=2, cursor=first["next"]))
    assert [c["email"] for c in first["contacts"] + second["contacts"]] == [
        "bob@example.org", "carol@example.org", "dave@example.org"
    ]
    assert second["next"] is None
    bob = ok(get(world, "a", "/api/v1/contacts/Bob@example.org"))
    assert {i["message_id"] for i in bob["timeline"]} == {world.messages["a1"], world.messages["a2"]}
    page = ok(get(world, "a", "/api/v1/contacts/bob@example.org", limit=1))
    rest = ok(get(world, "a", "/api/v1/contacts/bob@example.org", before=page["next"]))
    assert page["timeline"] + rest["timeline"] == bob["timeline"]


# --- bad parameters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/v1/feed", {"limit": "0"}, "limit"),
        ("/api/v1/feed", {"limit": "501"}, "limit"),
        ("/api/v1/feed", {"before": "x"}, "before"),
        ("/api/v1/feed", {"before": str(2**63)}, "before"),
        ("/api/v1/feed", {"type": "view"}, "type"),
        ("/api/v1/feed", {"human": "yes"}, "human"),
        ("/api/v1/feed", {"message_id": "1.5"}, "message_id"),
        ("/api/v1/feed", {"recipent": "bob@example.org"}, "recipent"),
        ("/api/v1/feed", {"recipient": "x" * 400 + "@example.org"}, "recipient"),
        ("/api/v1/messages", {"sort": "subject"}, "sort"),
        ("/api/v1/messages", {"order": "up"}, "order"),
        ("/api/v1/messages", {"since": "yesterday"}, "since"),
        ("/api/v1/messages", {"until": "nan"}, "until"),
        ("/api/v1/messages", {"opened": "1"}, "opened"),
        ("/api/v1/messages", {"cursor": "not-a-cursor"}, "cursor"),
        ("/api/v1/messages", {"campaign": "spring"}, "campaign"),
        ("/api/v1/messages", {"limit": ["1", "2"]}, "limit"),
        ("/api/v1/messages/1", {"timeline": "-1"}, "timeline"),
        ("/api/v1/messages/1", {"recipients_limit": "0"}, "recipients_limit"),
        ("/api/v1/messages/1", {"recipients_offset": "-5"}, "recipients_offset"),
        ("/api/v1/contacts", {"sort": "name"}, "sort"),
        ("/api/v1/contacts", {"cursor": "eyJ4IjoxfQ"}, "cursor"),
        ("/api/v1/contacts/bob@example.org", {"before": "0"}, "before"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_parameters_answer_400_json_naming_the_parameter(
    world: World, path: str, params: dict[str, Any], named: str
) -> None:
    response = get(world, "a", path, **params)
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["error"]
    assert named in response.json()["error"]


def test_a_cursor_of_another_sort_is_refused(world: World) -> None:
    cursor = ok(get(world, "admin", "/api/v1/messages", limit=1))["next"]
    response = get(world, "admin", "/api/v1/messages", limit=1, cursor=cursor, sort="open_rate")
    assert response.status_code == 400 and "cursor" in response.json()["error"]
    contacts = ok(get(world, "admin", "/api/v1/contacts", limit=1))["next"]
    assert get(world, "admin", "/api/v1/messages", cursor=contacts).status_code == 400


# --- the OpenAPI document -------------------------------------------------------------------------------


def test_the_openapi_document_is_served_without_a_key_and_is_valid(world: World) -> None:
    document = ok(get(world, None, "/api/v1/openapi.json"))
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "An API key (mailbeacon user add)."
    }
    for path in ["/api/v1/messages", "/api/v1/messages/{message_id}", "/api/v1/feed", "/api/v1/contacts",
                 "/api/v1/contacts/{email}", "/api/v1/events", "/api/v1/openapi.json"]:
        assert "get" in document["paths"][path], path


def conforms(document: dict[str, Any], schema: dict[str, Any], body: Any) -> None:
    """`body` is valid against an OpenAPI schema of `document` (3.1 schemas are JSON Schema 2020-12)."""
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def test_answers_match_the_documented_schemas(world: World) -> None:
    document = ok(get(world, None, "/api/v1/openapi.json"))
    a1 = world.messages["a1"]
    for path, template, params in [
        ("/api/v1/messages", "/api/v1/messages", {}),
        (f"/api/v1/messages/{a1}", "/api/v1/messages/{message_id}", {}),
        ("/api/v1/feed", "/api/v1/feed", {}),
        ("/api/v1/contacts", "/api/v1/contacts", {}),
        ("/api/v1/contacts/bob@example.org", "/api/v1/contacts/{email}", {}),
        ("/api/v1/events", "/api/v1/events", {}),
        ("/api/v1/webhooks", "/api/v1/webhooks", {}),
    ]:
        operation = document["paths"][template]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        conforms(document, schema, ok(get(world, "a", path, **params)))
        error_schema = operation["responses"]["401"]["content"]["application/json"]["schema"]
        conforms(document, error_schema, get(world, None, path).json())
