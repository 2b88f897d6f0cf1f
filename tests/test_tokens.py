"""Tracking tokens: what the pixel and click handlers rely on, checked from the outside."""

from __future__ import annotations

import base64
import os
import stat
import string
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbeacon.errors import ConfigError, TokenInvalid
from mailbeacon.tokens import ClickToken, Keyring, OpenToken, UnsubscribeToken

ALPHABET = string.ascii_letters + string.digits + "-_"
_B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"  # in value order
DELIVERY = bytes.fromhex("8f3a0c11d2e45b6790aabbcc")
URL = "https://shop.example.com/offers?id=42&utm_source=newsletter"
RING = Keyring({0: b"k" * 32}, active=0)


def test_open_token_round_trips() -> None:
    token = RING.sign_open(DELIVERY)
    assert RING.verify_open(token) == OpenToken(DELIVERY)


@pytest.mark.parametrize(
    ("link", "url"),
    [
        (0, URL),
        (65535, URL),
        (7, "https://exämple.com/ünïcode/日本語?q=€"),
        (1, "https://example.com/" + "a" * 1980),
        (2, ""),
    ],
    ids=["link-0", "link-65535", "non-ascii-url", "2000-char-url", "empty-url"],
)
def test_click_token_round_trips(link: int, url: str) -> None:
    token = RING.sign_click(DELIVERY, link, url)
    assert RING.verify_click(token) == ClickToken(DELIVERY, link, url)


def test_tokens_use_only_url_safe_characters_and_are_stable() -> None:
    token = RING.sign_click(DELIVERY, 3, URL)
    assert set(token) <= set(ALPHABET)
    assert RING.sign_click(DELIVERY, 3, URL) == token


def signed(kind: str) -> tuple[str, Callable[[str], object]]:
    """A token of each kind with its verifier."""
    if kind == "open":
        return RING.sign_open(DELIVERY), RING.verify_open
    if kind == "click":
        return RING.sign_click(DELIVERY, 3, URL), RING.verify_click
    return RING.sign_unsubscribe(41, 7), RING.verify_unsubscribe


@pytest.mark.parametrize("kind", ["open", "click", "unsubscribe"])
def test_changing_any_single_character_is_rejected(kind: str) -> None:
    token, verify = signed(kind)
    for i, original in enumerate(token):
        for replacement in ALPHABET.replace(original, ""):
            with pytest.raises(TokenInvalid):
                verify(token[:i] + replacement + token[i + 1 :])


@pytest.mark.parametrize("kind", ["open", "click", "unsubscribe"])
def test_truncating_a_token_at_any_length_is_rejected(kind: str) -> None:
    token, verify = signed(kind)
    for length in range(len(token)):
        with pytest.raises(TokenInvalid):
            verify(token[:length])


def test_click_token_is_not_an_open_token_and_vice_versa() -> None:
    with pytest.raises(TokenInvalid):
        RING.verify_open(RING.sign_click(DELIVERY, 0, URL))
    with pytest.raises(TokenInvalid):
        RING.verify_click(RING.sign_open(DELIVERY))


@pytest.mark.parametrize(("contact", "campaign"), [(1, 0), (41, 7), (2**63 - 1, 2**63 - 1)])
def test_unsubscribe_token_round_trips(contact: int, campaign: int) -> None:
    token = RING.sign_unsubscribe(contact, campaign)
    assert set(token) <= set(ALPHABET)
    assert RING.verify_unsubscribe(token) == UnsubscribeToken(contact, campaign)


def test_unsubscribe_token_is_no_tracking_token_and_no_tracking_token_unsubscribes() -> None:
    unsubscribe = RING.sign_unsubscribe(41, 7)
    with pytest.raises(TokenInvalid, match="wrong token kind"):
        RING.verify_click(unsubscribe)
    with pytest.raises(TokenInvalid, match="wrong token kind"):
        RING.verify_open(unsubscribe)
    for other in (RING.sign_open(DELIVERY), RING.sign_click(DELIVERY, 0, URL)):
        with pytest.raises(TokenInvalid, match="wrong token kind"):
            RING.verify_unsubscribe(other)
    with pytest.raises(ValueError):
        RING.sign_unsubscribe(-1, 0)


def test_token_from_another_installation_is_rejected(tmp_path: Path) -> None:
    ours = Keyring.load_or_create(tmp_path / "ours")
    theirs = Keyring.load_or_create(tmp_path / "theirs")
    assert ours.active_kid == theirs.active_kid == 0
    with pytest.raises(TokenInvalid):
        ours.verify_open(theirs.sign_open(DELIVERY))
    with pytest.raises(TokenInvalid):
        ours.verify_click(theirs.sign_click(DELIVERY, 0, URL))


def test_rotation_signs_with_the_new_key_and_old_tokens_still_verify(tmp_path: Path) -> None:
    before = Keyring.load_or_create(tmp_path)
    old_open, old_click = before.sign_open(DELIVERY), before.sign_click(DELIVERY, 1, URL)

    assert Keyring.rotate(tmp_path) == 1
    after = Keyring.load_or_create(tmp_path)

    assert after.active_kid == 1
    new_open = after.sign_open(DELIVERY)
    assert new_open != old_open
    assert base64.urlsafe_b64decode(new_open + "==")[1] == 1  # the kid byte
    assert after.verify_open(old_open) == OpenToken(DELIVERY)
    assert after.verify_click(old_click) == ClickToken(DELIVERY, 1, URL)
    assert after.verify_open(new_open) == OpenToken(DELIVERY)
    assert Keyring.rotate(tmp_path) == 2


def test_rotation_stops_after_key_id_255(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text(f"255 {'ab' * 32}\n")
    (tmp_path / "keys").chmod(0o600)
    with pytest.raises(ConfigError, match="255"):
        Keyring.rotate(tmp_path)


def test_keys_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-yet" / "there"
    first = Keyring.load_or_create(data_dir)
    keys = data_dir / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["keys"]  # no temp file left behind
    contents = keys.read_bytes()

    second = Keyring.load_or_create(data_dir)
    assert keys.read_bytes() == contents
    assert second.verify_open(first.sign_open(DELIVERY)) == OpenToken(DELIVERY)
    assert second.verify_click(first.sign_click(DELIVERY, 9, URL)) == ClickToken(DELIVERY, 9, URL)


def test_keys_file_made_by_a_concurrent_creator_is_used(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    fd = os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, f"4 {'cd' * 32}\n".encode())
    os.close(fd)
    assert Keyring.load_or_create(tmp_path).active_kid == 4


@pytest.mark.parametrize(
    ("contents", "line"),
    [
        ("0 nothex\n", 1),
        (f"0 {'ab' * 32}\nzero {'ab' * 32}\n", 2),
        (f"0 {'ab' * 32} extra\n", 1),
        (f"256 {'ab' * 32}\n", 1),
        (f"0 {'ab' * 16}\n", 1),  # 16-byte secret: too short
        (f"0 {'ab' * 32}\n0 {'cd' * 32}\n", 2),  # duplicate kid
    ],
    ids=["not-hex", "bad-kid", "extra-field", "kid-256", "short-secret", "duplicate-kid"],
)
def test_malformed_keys_file_is_a_config_error_naming_file_and_line(tmp_path: Path, contents: str, line: int) -> None:
    keys = tmp_path / "keys"
    keys.write_text(contents)
    keys.chmod(0o600)
    with pytest.raises(ConfigError) as raised:
        Keyring.load_or_create(tmp_path)
    assert str(keys) in str(raised.value)
    assert f"line {line}" in str(raised.value)
    assert "abab" not in str(raised.value)  # the secret is never echoed


def test_empty_keys_file_is_a_config_error(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("\n")
    keys.chmod(0o600)
    with pytest.raises(ConfigError, match="no key"):
        Keyring.load_or_create(tmp_path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_keys_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    Keyring.load_or_create(tmp_path)
    (tmp_path / "keys").chmod(mode)
    with pytest.raises(ConfigError, match="group or other"):
        Keyring.load_or_create(tmp_path)
    with pytest.raises(ConfigError, match="group or other"):
        Keyring.rotate(tmp_path)


def test_keyring_rejects_bad_keys() -> None:
    with pytest.raises(ConfigError):
        Keyring({0: b"short"}, active=0)
    with pytest.raises(ConfigError):
        Keyring({0: b"k" * 32}, active=1)
    with pytest.raises(ConfigError):
        Keyring({256: b"k" * 32}, active=256)


def test_bad_arguments_to_sign_raise_value_error() -> None:
    for delivery in (b"", b"x" * 65):
        with pytest.raises(ValueError):
            RING.sign_open(delivery)
    with pytest.raises(ValueError):
        RING.sign_click(DELIVERY, 65536, URL)
    with pytest.raises(ValueError):
        RING.sign_click(DELIVERY, -1, URL)
    with pytest.raises(ValueError):
        RING.sign_click(DELIVERY, 0, "https://example.com/" + "a" * 4000)  # would exceed 4096 chars


def _b64_spellings(data: bytes) -> set[str]:
    """Plain base64 and base64url of `data` at each of the three byte alignments it could have in a token.

    Only the characters made entirely of `data` bits are kept, so each string must appear in any
    token that carries `data` in clear.
    """
    found = set()
    for shift in range(3):
        first, end = -(-8 * shift // 6), 8 * (shift + len(data)) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            found.add(encode(b"\0" * shift + data).decode()[first:end])
    return found


def test_delivery_id_and_url_do_not_appear_in_clear() -> None:
    url = "https://private.example.com/reset-password?user=alice@example.org"
    click, pixel = RING.sign_click(DELIVERY, 0, url), RING.sign_open(DELIVERY)
    for token in (click, pixel):
        assert DELIVERY.hex() not in token.lower()
        for spelling in _b64_spellings(DELIVERY):
            assert spelling not in token
    for spelling in _b64_spellings(url.encode()):
        assert spelling not in click
    for text in ("alice", "private", "example", "reset", "https"):
        assert text not in click


def test_b64_spellings_would_catch_a_payload_in_clear() -> None:
    """Guard for the test above: a token that did embed the url would be caught."""
    url = "https://private.example.com/"
    for prefix in (b"", b"\x01", b"\x01\x02"):
        leaky = base64.urlsafe_b64encode(prefix + url.encode() + b"tail").decode()
        assert any(spelling in leaky for spelling in _b64_spellings(url.encode()))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "%27",
        "'",
        "x" * 10_000,
        "A" * 4097,
        "ÄÖÜ" * 20,
        "ａ" * 40,  # full-width letters: not ASCII
        "٣" * 40,  # Arabic-Indic digits: str.isdigit() but not [0-9]
        "A" * 40 + "\n",
        "A" * 40 + " ",
        "A" * 40 + "\0",
        "A" * 38 + "==",
        "+" * 40,
        "/" * 40,
        "A" * 40,
        "A" * 41,
    ],
)
def test_garbage_is_rejected_with_token_invalid(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        RING.verify_open(garbage)
    with pytest.raises(TokenInvalid):
        RING.verify_click(garbage)


def test_padding_and_standard_alphabet_spellings_are_rejected() -> None:
    for token, verify in ((RING.sign_open(DELIVERY), RING.verify_open), (RING.sign_click(DELIVERY, 0, URL), RING.verify_click)):
        verify(token)  # the canonical spelling is accepted
        for suffix in ("=", "==", "==="):
            with pytest.raises(TokenInvalid):
                verify(token + suffix)
        standard = token.replace("-", "+").replace("_", "/")
        if standard != token:
            with pytest.raises(TokenInvalid):
                verify(standard)


def test_non_canonical_base64_is_rejected() -> None:
    """Setting the unused low bits of the last character decodes to the same bytes: must still be refused."""
    for delivery in (DELIVERY, DELIVERY + b"x", DELIVERY + b"xy"):  # all three length remainders
        token = RING.sign_open(delivery)
        if len(token) % 4 == 0:
            continue
        spare = 4 if len(token) % 4 == 2 else 2
        value = _B64.index(token[-1])
        for low in range(1, 1 << spare):
            twin = token[:-1] + _B64[value | low]
            assert base64.urlsafe_b64decode(twin + "=" * (-len(twin) % 4)) == base64.urlsafe_b64decode(
                token + "=" * (-len(token) % 4)
            )
            with pytest.raises(TokenInvalid):
                RING.verify_open(twin)


def test_unknown_key_id_is_rejected() -> None:
    other = Keyring({7: b"k" * 32}, active=7)  # same secret, different kid
    with pytest.raises(TokenInvalid):
        RING.verify_open(other.sign_open(DELIVERY))


@settings(max_examples=300, deadline=None, database=None)
@given(
    delivery=st.binary(min_size=1, max_size=64),
    link=st.integers(min_value=0, max_value=65535),
    url=st.text(max_size=600),
)
def test_any_payload_round_trips(delivery: bytes, link: int, url: str) -> None:
    click = RING.sign_click(delivery, link, url)
    assert RING.verify_click(click) == ClickToken(delivery, link, url)
    assert RING.verify_open(RING.sign_open(delivery)) == OpenToken(delivery)
    with pytest.raises(TokenInvalid):
        RING.verify_open(click)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(), st.text(alphabet=ALPHABET + "=+/%. \n", min_size=20, max_size=300)))
def test_any_random_string_is_rejected_with_token_invalid_only(garbage: str) -> None:
    for verify in (RING.verify_open, RING.verify_click):
        with pytest.raises(TokenInvalid):
            verify(garbage)


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    with ThreadPoolExecutor(max_workers=8) as pool:
        rings = list(pool.map(lambda _: Keyring.load_or_create(data_dir), range(16)))
    token = rings[0].sign_open(DELIVERY)
    assert all(ring.verify_open(token) == OpenToken(DELIVERY) for ring in rings)
    assert [p.name for p in data_dir.iterdir()] == ["keys"]


def test_tag_is_hmac_sha256_as_documented() -> None:
    import hmac as std_hmac
    import os as std_os

    from mailbeacon.tokens import _Hmac

    for key in (b"k" * 32, std_os.urandom(32)):
        for msg in (b"", b"x", std_os.urandom(200)):
            assert _Hmac(key).digest(msg) == std_hmac.digest(key, msg, "sha256")
