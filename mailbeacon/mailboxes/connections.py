"""Connect, show, test and disconnect a user's mailbox (issue #14): what the CLI and the dashboard call.

Connecting tests both logins before anything is saved, and saves nothing when either
fails; the failure says which side and why. What is shown (`MailboxView`) never holds
a secret, sealed or not: the CLI, the dashboard and any later API print it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbeacon.mailboxes.probe import TIMEOUT, Check, Problem, check_imap, check_smtp
from mailbeacon.mailboxes.providers import appends_sent_copy, files_sent_mail
from mailbeacon.mailboxes.routes import endpoint_of
from mailbeacon.mailboxes.secretbox import SecretBox
from mailbeacon.mailboxes.settings import Endpoint, MailboxError, MailboxSettings, Secrets, SentCopy, check_secrets
from mailbeacon.store import Disconnected, EndpointRow, MailboxRecord, MailboxRow, Store


class ConnectFailed(MailboxError):
    """A login test failed; nothing was saved. `checks` has both sides' results."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        super().__init__("; ".join(check.text() for check in checks if not check.ok))


@dataclass(frozen=True, slots=True)
class MailboxView:
    """A connected mailbox as a user may see it: every setting, no secret."""

    id: int
    smtp: Endpoint
    imap: Endpoint
    sent_folder: str | None
    sent_folder_found: str | None
    sent_copy: SentCopy
    appends_sent_copy: bool
    """Whether mailbeacon files a copy in the Sent folder (not where the provider does: `provider_files`)."""
    provider_files: str | None
    """The provider whose SMTP server files sent mail itself (Gmail, ...), if it is one."""
    connected_at: float
    tested_at: float | None
    test_result: str | None

    def to_json(self) -> dict[str, object]:
        def side(where: Endpoint) -> dict[str, object]:
            return {"host": where.host, "port": where.port, "security": str(where.security),
                    "username": where.username, "trusted_certificate": where.pin}

        return {
            "id": self.id, "smtp": side(self.smtp), "imap": side(self.imap), "sent_folder": self.sent_folder,
            "sent_folder_found": self.sent_folder_found, "sent_copy": str(self.sent_copy),
            "appends_sent_copy": self.appends_sent_copy, "provider_files_sent_mail": self.provider_files,
            "connected_at": self.connected_at, "tested_at": self.tested_at, "test_result": self.test_result,
        }


def view_of(row: MailboxRow) -> MailboxView:
    return MailboxView(
        id=row.id, smtp=endpoint_of("smtp", row.smtp), imap=endpoint_of("imap", row.imap),
        sent_folder=row.sent_folder, sent_folder_found=row.sent_folder_found, sent_copy=SentCopy(row.sent_copy),
        appends_sent_copy=appends_sent_copy(row.sent_copy, row.smtp.host),
        provider_files=files_sent_mail(row.smtp.host), connected_at=row.created_at, tested_at=row.tested_at,
        test_result=row.test_result,
    )


class Mailboxes:
    """Blocking (each test connects out, up to `timeout` seconds a step): call from a thread in async code."""

    def __init__(self, store: Store, box: SecretBox, timeout: float = TIMEOUT) -> None:
        self.store = store
        self.box = box
        self.timeout = timeout

    def connect(self, user_id: int, settings: MailboxSettings, secrets: Secrets) -> MailboxView:
        """Test both logins, then save (replacing the user's earlier mailbox); ConnectFailed saves nothing."""
        check_secrets(secrets)
        checks = self._check(settings, secrets)
        if not all(check.ok for check in checks):
            raise ConnectFailed(checks)
        found = checks[1].sent_folder
        self.store.save_mailbox(MailboxRecord(
            user_id=user_id,
            smtp=self._sealed(settings.smtp, secrets.smtp),
            imap=self._sealed(settings.imap, secrets.imap),
            sent_folder=settings.sent_folder, sent_folder_found=found, sent_copy=str(settings.sent_copy),
            test_result=_summary(checks),
        ))
        view = self.show(user_id)
        assert view is not None
        return view

    def show(self, user_id: int) -> MailboxView | None:
        row = self.store.mailbox_of(user_id)
        return None if row is None else view_of(row)

    def test(self, user_id: int) -> list[Check]:
        """Both logins again with the stored settings; the result is kept with the mailbox."""
        row = self.store.mailbox_of(user_id)
        if row is None:
            raise MailboxError("no mailbox is connected")
        view = view_of(row)
        secrets = Secrets(self.box.open(row.smtp.sealed_secret), self.box.open(row.imap.sealed_secret))
        settings = MailboxSettings(view.smtp, view.imap, row.sent_folder, view.sent_copy)
        checks = self._check(settings, secrets)
        self.store.mailbox_tested(row.id, _summary(checks), checks[1].sent_folder)
        return checks

    def disconnect(self, user_id: int) -> Disconnected | None:
        return self.store.disconnect_mailbox(user_id)

    def rotate_key(self) -> int:
        """A new key for every stored secret (secretbox.py says how); the number of mailboxes resealed."""
        self.box.begin_rotation()
        rows = self.store.mailboxes()
        for row in rows:
            self.store.mailbox_resealed(row.id, self.box.reseal(row.smtp.sealed_secret),
                                        self.box.reseal(row.imap.sealed_secret))
        self.box.finish_rotation()
        return len(rows)

    def _check(self, settings: MailboxSettings, secrets: Secrets) -> list[Check]:
        smtp = check_smtp(settings.smtp, secrets.smtp, self.timeout)
        imap = check_imap(settings.imap, secrets.imap, settings.sent_folder, self.timeout)
        if imap.problem is Problem.NO_SENT_FOLDER and not appends_sent_copy(settings.sent_copy, settings.smtp.host):
            imap = Check(imap.label)  # nothing will be filed there: a missing Sent folder does not matter
        return [smtp, imap]

    def _sealed(self, where: Endpoint, secret: str) -> EndpointRow:
        return EndpointRow(where.host, where.port, str(where.security), where.username, self.box.seal(secret), where.pin)


def _summary(checks: list[Check]) -> str:
    return "; ".join(check.text() for check in checks)
