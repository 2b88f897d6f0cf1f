"""User-Agent -> client: every string of ../shared/corpus/user-agents, and the cases the rules lean on."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mailbeacon.classify.clients import Client, Kind, Rule, client_of, load_rules, match_client
from mailbeacon.errors import ConfigError
from tests.support import corpus

TSV = corpus.ROOT / "user-agents" / "user-agents.tsv"

# expected_class -> (kind, name). A None name: the name varies by row (checked below).
EXPECTED: dict[str, tuple[Kind, str | None]] = {
    # An Android app's WebView: a browser by the Kind definition, not proof of a mail app (corpus notes).
    "android-webview": (Kind.BROWSER, "Android WebView"),
    # Includes the macOS 10_15_7 stripped WebKit UA that an Outlook or Apple privacy fetcher may also
    # send (warmbly/warmbly#569): we say Apple Mail, a person; timing after delivery is for the rules.
    "apple-mail": (Kind.MAIL_CLIENT, "Apple Mail"),
    "apple-mpp-proxy": (Kind.APPLE_MPP, "Apple Mail"),
    # Includes the Safari UA of Apple Mail's link hover preview (gophish/gophish#499): the UA alone is a browser.
    "browser": (Kind.BROWSER, None),
    "fastmail-proxy": (Kind.IMAGE_PROXY, "Fastmail"),
    "generic-bot": (Kind.BOT, None),
    "gmail-image-proxy": (Kind.IMAGE_PROXY, "Gmail"),
    "gmail-prefetch": (Kind.PREFETCH, "Gmail"),
    "headless-browser": (Kind.HEADLESS, "HeadlessChrome"),
    "http-library": (Kind.HTTP_LIBRARY, None),
    # Any app's WKWebView has the same shape; iOS Mail is by far the common one on a pixel.
    "iphone-mail": (Kind.MAIL_CLIENT, "iPhone Mail"),
    "link-preview": (Kind.LINK_PREVIEW, None),
    "other-mail-client": (Kind.MAIL_CLIENT, None),
    # Includes the bare "ms-office; MSOffice 16", which a Safe Links scan may also send on a click:
    # we say Outlook desktop; Microsoft's networks and click timing are for the rules.
    "outlook-desktop": (Kind.MAIL_CLIENT, "Outlook desktop"),
    "outlook-mac": (Kind.MAIL_CLIENT, "Outlook for Mac"),
    "outlook-mobile": (Kind.MAIL_CLIENT, "Outlook mobile"),
    "security-scanner": (Kind.SCANNER, None),
    "thunderbird": (Kind.MAIL_CLIENT, "Thunderbird"),
    # The empty UA: unknown, not automated by itself (a Safe Links scan or a privacy tool; the rules decide).
    "unknown": (Kind.UNKNOWN, None),
    "windows-live-mail": (Kind.MAIL_CLIENT, "Windows Live Mail"),
    "yahoo-mail-app": (Kind.MAIL_CLIENT, "Yahoo Mail"),
    # Also fetches for scanning (corpus notes); counted as a proxied human open, like Gmail's proxy.
    "yahoo-proxy": (Kind.IMAGE_PROXY, "Yahoo Mail"),
}
# The reason each kind gives; headless browsers go under http_library, as the spec files them.
REASONS: dict[Kind, str | None] = {
    Kind.MAIL_CLIENT: None,
    Kind.BROWSER: None,
    Kind.UNKNOWN: None,
    Kind.IMAGE_PROXY: "image_proxy",
    Kind.APPLE_MPP: "apple_mpp",
    Kind.PREFETCH: "prefetch",
    Kind.HTTP_LIBRARY: "http_library",
    Kind.HEADLESS: "http_library",
    Kind.LINK_PREVIEW: "link_preview",
    Kind.SCANNER: "known_scanner_net",
    Kind.BOT: "bot",
}
NAMED_CLIENTS = {name for kind, name in EXPECTED.values() if kind is Kind.MAIL_CLIENT and name}


def _rows() -> list[dict[str, str]]:
    with TSV.open(encoding="utf-8", newline="") as f:
        header, *rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _params() -> list[object]:
    if not TSV.is_file():
        return [pytest.param(None, id="user-agents-absent", marks=pytest.mark.skip(reason=corpus.ABSENT))]
    return [pytest.param(row, id=f"{n:02}-{row['expected_class']}") for n, row in enumerate(_rows(), 2)]


@pytest.mark.corpus
@pytest.mark.parametrize("row", _params())
def test_corpus_user_agent_gets_its_expected_class(row: dict[str, str]) -> None:
    ua, expected = row["user_agent"], row["expected_class"]
    client = client_of(ua)
    kind, name = EXPECTED[expected]
    assert client.kind is kind, f"{ua!r}: {client} for {expected}"
    if name is not None:
        assert client.name == name, f"{ua!r}: {client} for {expected}"
    elif kind is Kind.MAIL_CLIENT:  # other-mail-client: its own name, the one the notes give
        assert client.name and client.name not in NAMED_CLIENTS and client.name in row["notes"], f"{ua!r}: {client}"
    elif kind is not Kind.UNKNOWN:
        assert client.name, f"{ua!r}: {client} has no name"
    assert client.reason == REASONS[kind], f"{ua!r}: {client}"
    if row["automated"] != "ambiguous":
        assert client.automated is (row["automated"] == "yes"), f"{ua!r}: {client} for automated={row['automated']}"


@pytest.mark.corpus
@pytest.mark.skipif(not TSV.is_file(), reason=corpus.ABSENT)
def test_every_corpus_class_has_an_expectation() -> None:
    assert {row["expected_class"] for row in _rows()} == set(EXPECTED)


def test_bare_mozilla_is_apple_privacy_protection() -> None:
    client = client_of("Mozilla/5.0")
    assert (client.kind, client.reason, client.automated) == (Kind.APPLE_MPP, "apple_mpp", True)
    assert client.label == "Apple Mail (Privacy Protection)"


@pytest.mark.parametrize(
    ("ua", "name"),
    [("python-requests/2.31.0", "python-requests"), ("curl/8.5.0", "curl"), ("Go-http-client/2.0", "Go-http-client")],
)
def test_http_libraries_are_automated(ua: str, name: str) -> None:
    assert client_of(ua) == Client(Kind.HTTP_LIBRARY, name, None, "http_library")
    assert client_of(ua).automated


def test_headless_chrome_is_automated_as_http_library() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36"
    client = client_of(ua)
    assert (client.kind, client.reason, client.automated) == (Kind.HEADLESS, "http_library", True)


@pytest.mark.parametrize(
    ("ua", "name"),
    [
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Facebook"),
        ("Twitterbot/1.0", "Twitter"),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com", "Skype/Teams"),
        ("MicrosoftPreview/2.0 +https://aka.ms/MicrosoftPreview", "Microsoft Preview"),
    ],
)
def test_chat_and_social_unfurlers_are_link_previews(ua: str, name: str) -> None:
    assert client_of(ua) == Client(Kind.LINK_PREVIEW, name, None, "link_preview")


def test_in_app_browser_of_a_preview_app_is_a_person() -> None:
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]"
    assert client_of(ua).kind is Kind.BROWSER


def test_google_image_proxy_is_gmail_through_a_proxy() -> None:
    client = client_of("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)")
    assert client == Client(Kind.IMAGE_PROXY, "Gmail", None, "image_proxy")
    assert not client.automated
    assert client.label == "Gmail (image proxy)"


def test_outlook_desktop_is_a_mail_client_on_windows() -> None:
    client = client_of("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)")
    assert client == Client(Kind.MAIL_CLIENT, "Outlook desktop", "Windows", None)
    assert client.label == "Outlook desktop (Windows)"


@pytest.mark.parametrize(
    ("ua", "label"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome (Windows)"),
        ("Mozilla/5.0 (Linux; Android 11; GM1917) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.4896.127 Mobile Safari/537.36", "Chrome (Android)"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Safari (iPhone)"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:24.0) Gecko/20100101 Thunderbird/24.2.0", "Thunderbird (Linux)"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "iPhone Mail (iPhone)"),
    ],
)
def test_people_get_a_client_and_a_device(ua: str, label: str) -> None:
    client = client_of(ua)
    assert client.kind in (Kind.BROWSER, Kind.MAIL_CLIENT) and not client.automated
    assert client.label == label


def test_crawlers_ua_parser_knows_are_bots() -> None:
    assert client_of("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").kind is Kind.BOT
    assert client_of("AhrefsBot").kind is Kind.BOT  # no rule of ours: uap-core's crawler list


@pytest.mark.parametrize("ua", ["", "   ", "\t"])
def test_empty_user_agent_is_unknown(ua: str) -> None:
    assert client_of(ua) == Client(Kind.UNKNOWN, None, None, None)
    assert client_of(ua).label == "unknown"
    assert not client_of(ua).automated


def test_unrecognisable_user_agent_is_unknown() -> None:
    assert client_of("zq9-x").kind is Kind.UNKNOWN


def test_extra_rules_come_first_and_extend(tmp_path: Path) -> None:
    extra = tmp_path / "ours.tsv"
    extra.write_text(
        "# our monitoring and our own app\n"
        "pattern\tkind\tname\treason\n"
        "^curl/\tscanner\tUptime monitor\tknown_scanner_net\n"
        "^AcmeMail/\tmail_client\tAcme Mail\t-\n",
        encoding="utf-8",
    )
    rules = load_rules(extra)
    assert len(rules) == len(load_rules()) + 2
    assert match_client("curl/8.5.0", rules) == Client(Kind.SCANNER, "Uptime monitor", None, "known_scanner_net")
    assert match_client("AcmeMail/2.1", rules).name == "Acme Mail"
    assert client_of("AcmeMail/2.1").kind is Kind.UNKNOWN  # the default rules are untouched
    assert match_client("Mozilla/5.0", rules).kind is Kind.APPLE_MPP  # the shipped rules still apply


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("^x\tbot\t-\tbot\n", "expected the header"),
        ("pattern\tkind\tname\treason\n^x\trobot\t-\tbot\n", "unknown kind 'robot'"),
        ("pattern\tkind\tname\treason\n(x\tbot\t-\tbot\n", "bad pattern"),
        ("pattern\tkind\tname\treason\n^x\tbot\n", "expected 4 tab-separated fields"),
    ],
)
def test_a_broken_rules_file_names_its_line(tmp_path: Path, text: str, message: str) -> None:
    extra = tmp_path / "bad.tsv"
    extra.write_text("# comment\n" + text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        load_rules(extra)
    assert str(extra) in str(raised.value)


@pytest.mark.parametrize("rule", load_rules(), ids=lambda rule: rule.origin)
def test_shipped_rules_give_each_kind_its_reason(rule: Rule) -> None:
    assert rule.reason == REASONS[rule.kind]
