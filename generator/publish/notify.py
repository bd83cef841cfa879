"""`trustcenter notify`: mail each new change notice to the confirmed subscribers, once.

The notices are the Atom feed's entries (`site.outputs.feed_entries`), computed from the same content, git
history and plugin options as the build, with the same stable ids: an update, a subprocessor announced, added,
changed or removed, a report or certificate issued or no longer current. The `notices` table of the gate's
database remembers each one by its id, so a notice is mailed once however often the command runs: it runs
where that database is, after each deploy (docs/guide.md, "Tell subscribers about changes").

The first run on a database records every notice there is without mailing any: a trust center with years of
history does not send its first subscribers years of mail. Later runs mail what is new, dated today or
earlier. A notice's messages are queued in chunks of CHUNK subscribers, one transaction each, and each chunk
records in `notice_sends` whom it queued the notice for, in the transaction that queues the messages: so a long
list never holds the database's write lock for long (the gate goes on answering), a run that stops half-way
(killed, the disk full) resumes where it stopped on the next run and mails nobody twice, and two runs at once
share the work. A notice counts as sent (`notices.sent`) when every confirmed subscriber has it. Then one
delivery pass sends what was queued, and the gate's worker retries what could not go.
"""

from __future__ import annotations

import dataclasses
import html
import html.parser
import logging
import re
from urllib.parse import urljoin, urlsplit

from markupsafe import Markup

from generator.content.project import Project
from generator.errors import GateConfigError, ProjectError, UserError
from generator.gate import audit, subscribers
from generator.gate.db import Database, Location, Tx
from generator.gate.desk import Desk
from generator.site.outputs import FeedEntry

# In the meta table: when the first run recorded the notices that existed then (without sending them).
BASELINE_KEY = "notices_baseline"
MAX_TITLE_CHARS = 500
CHUNK = 200  # subscribers whose messages are queued in one transaction


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a run did (or, dry, would do)."""

    first_run: bool
    dry_run: bool
    recorded: int  # notices recorded without sending: the first run's baseline
    known: int  # notices recorded by earlier runs
    sent: tuple[FeedEntry, ...]  # new notices mailed (dry: that would be), oldest first
    subscribers: int  # confirmed subscribers each new notice goes to
    delivered: int = 0  # messages the delivery pass sent
    waiting: int = 0  # messages still in the outbox after it
    messages: int | None = None  # messages queued (dry: to queue); None: a notice each to every subscriber
    resumed: tuple[str, ...] = ()  # ids of the notices an earlier run left half-sent, finished by this one

    def lines(self) -> list[str]:
        """What the command prints."""
        would = "would be " if self.dry_run else ""
        if self.first_run:
            return [f"first run: {len(self.sent) + self.recorded} notice(s) {would}recorded, none sent; later "
                    f"ones will be{' (dry run: nothing was changed)' if self.dry_run else ''}"]
        if not self.sent:
            return [f"no new notices ({self.known} recorded before); nothing {'would be ' if self.dry_run else ''}sent"]
        verb = "would send" if self.dry_run else "sent"
        messages = len(self.sent) * self.subscribers if self.messages is None else self.messages
        lines = [f"{verb} {len(self.sent)} notice(s) to {self.subscribers} subscriber(s) ({messages} message(s)):"]
        lines += [f"  {entry.date.isoformat()}  {one_line(entry.title)}"
                  + (" (resumed: an earlier run stopped half-way; nobody gets it twice)"
                     if entry.id in self.resumed else "") for entry in self.sent]
        if self.dry_run:
            lines.append("dry run: nothing was recorded or queued")
        elif self.subscribers:
            lines.append(f"delivered {self.delivered} message(s) now"
                         + (f"; {self.waiting} wait in the outbox (`trustcenter outbox` shows them, the gate "
                            "retries them)" if self.waiting else ""))
        return lines


def one_line(text: str) -> str:
    """A title from the content made safe for one terminal line."""
    return "".join(char if char.isprintable() else "?" for char in " ".join(text.split()))


def current_notices(project: Project, desk: Desk) -> list[FeedEntry]:
    """The notices the feed carries now, dated today or earlier, oldest first."""
    from generator.publish import history
    from generator.site import outputs, structure

    git_history, max_commits = _feed_options(project)
    tc = desk.content
    events = history.subprocessor_events(project, tc.today, max_commits=max_commits) if git_history else []
    entries = outputs.feed_entries(structure.build(tc, events))
    return sorted((entry for entry in entries if entry.date <= tc.today), key=lambda e: (e.date, e.id))


def notify(project: Project, db_path: Location | None, *, base_url: str | None = None, dry_run: bool = False,
           chunk: int = CHUNK) -> Outcome:
    """Record the current notices; mail the new ones (and finish those a stopped run left) to every confirmed
    subscriber, `chunk` subscribers per transaction; deliver."""
    from generator.gate import delivery
    from generator.gate.mail import MailSettings
    from generator.gate.settings import desk_for

    if base_url is not None:
        _check_base_url(base_url)
    desk = desk_for(project, db_path, public_url=base_url)
    store = desk.store
    try:
        notices = current_notices(project, desk)
        reader = store.db.read()
        known = {str(row[0]) for row in reader.all("SELECT id FROM notices")}
        # Recorded, not sent, and queued for someone: a run stopped half-way through it (the baseline's notices
        # are recorded unsent too, but never queued for anyone).
        unfinished = {str(row[0]) for row in reader.all(
            "SELECT id FROM notices WHERE sent IS NULL AND EXISTS (SELECT 1 FROM notice_sends WHERE notice_id = id)")}
        first_run = not known and store.db.meta(BASELINE_KEY) is None
        new = [entry for entry in notices if entry.id not in known or entry.id in unfinished]
        resumed = tuple(entry.id for entry in new if entry.id in unfinished)
        active = len(store.subscribers.active_subscribers(reader))
        if dry_run or (not new and not first_run):
            messages = 0 if first_run else sum(_waiting_for(store.db.read(), entry.id, active) for entry in new)
            return Outcome(first_run, dry_run, len(new) if first_run else 0, len(known),
                           () if first_run else tuple(new), active, messages=messages, resumed=resumed)
        if first_run:
            _record_baseline(store.db, new)
            return Outcome(True, False, len(new), 0, (), active)
        if active and desk.sender is None:
            raise GateConfigError("e-mail is not configured: set TRUSTCENTER_SMTP_URL (and TRUSTCENTER_MAIL_FROM) as "
                                  "the gate has them; no notice was marked sent")
        # Made first: a mail URL that cannot work stops the run before any notice is marked sent.
        worker = delivery.worker_for(store.outbox, MailSettings.from_env(), None) if active else None
        sent: list[FeedEntry] = []
        queued = 0
        for entry in new:
            count = _send(desk, entry, chunk)
            if count is not None:
                sent.append(entry)
                queued += count
        delivered = worker.deliver_due() if worker is not None and queued else 0
        waiting = sum(1 for item in store.outbox.items(pending_only=True) if item.kind.value == "mail")
        return Outcome(False, False, 0, len(known - set(resumed)), tuple(sent), active, delivered, waiting,
                       messages=queued, resumed=resumed)
    finally:
        store.close()


def _waiting_for(tx: Tx, notice_id: str, active: int) -> int:
    """How many confirmed subscribers a notice is still to be queued for (a dry run's count)."""
    had = int(tx.scalar("SELECT COUNT(*) FROM notice_sends JOIN subscribers ON subscribers.id = subscriber_id "
                        "WHERE notice_id = ? AND confirmed IS NOT NULL AND unsubscribed IS NULL", (notice_id,)) or 0)
    return max(0, active - had)


def _record_baseline(db: Database, entries: list[FeedEntry]) -> None:
    with db.write() as tx:
        now = audit.now_stamp()
        for entry in entries:
            tx.execute("INSERT INTO notices (id, seen, title, sent) VALUES (?, ?, ?, NULL) ON CONFLICT (id) DO NOTHING",
                       (entry.id, now, entry.title[:MAX_TITLE_CHARS]))
        tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (BASELINE_KEY, now))


def _send(desk: Desk, entry: FeedEntry, chunk: int) -> int | None:
    """Queue one notice for every confirmed subscriber who does not have it yet, `chunk` per transaction, and
    mark it sent with the last chunk; returns how many messages this run queued, or None if another run had
    sent it already. The notice is recorded with its first chunk, so a run that stops before that leaves no
    trace of it, and one that stops later is resumed (`notify`)."""
    store = desk.store
    queued = 0
    while True:
        with store.db.write() as tx:
            row = tx.one("SELECT sent FROM notices WHERE id = ?", (entry.id,))
            if row is not None and row[0] is not None:
                return queued or None
            now = audit.now_stamp()
            if row is None:
                tx.execute("INSERT INTO notices (id, seen, title, sent) VALUES (?, ?, ?, NULL)",
                           (entry.id, now, entry.title[:MAX_TITLE_CHARS]))
            batch = store.subscribers.awaiting_notice(tx, entry.id, chunk)
            if batch:
                _queue(desk, tx, entry, batch)
            if len(batch) < chunk:  # every confirmed subscriber has it now
                tx.execute("UPDATE notices SET sent = ? WHERE id = ?", (now, entry.id))
                tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                           (BASELINE_KEY, now))
        queued += len(batch)
        if len(batch) < chunk:
            return queued


def _queue(desk: Desk, tx: Tx, entry: FeedEntry, batch: list[subscribers.Subscriber]) -> None:
    from generator.site.pages import nice_date

    company = desk.content.company
    # Relative links in an entry are relative to the site's root, where feed.xml is: in a mail they need it.
    root = company.trust_center_url.rstrip("/") + "/"
    text = plain_text(entry.html, root)
    # The entry's HTML is the feed's: built from escaped text and sanitized Markdown (content.markup).
    body = Markup(absolute_links(entry.html, root))  # noqa: S704
    for subscriber in batch:
        token = desk.store.subscribers.unsubscribe_token(subscriber.id)
        desk.send_mail(tx, subscriber.email, f"{company.display_name} trust center: {entry.title}", "notice",
                       unsubscribe=subscribers.unsubscribe_url(desk.base_url, token), title=entry.title,
                       date=nice_date(entry.date), text=text, html=body, link=entry.link)
        desk.store.subscribers.notice_queued(tx, entry.id, subscriber)


def _check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise UserError(f"--base-url must be the gate's address, like https://trust.example.com, not {url[:80]!r}")


def _feed_options(project: Project) -> tuple[bool, int]:
    """Whether the feed reads git history, and how far: the trustcenter plugin's options in mkdocs.yml, read
    by MkDocs as the build reads them (defaults without an mkdocs.yml)."""
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, MkDocsException

    from generator.publish.history import MAX_COMMITS

    if project.config_file is None:
        return True, MAX_COMMITS
    quiet = logging.getLogger("mkdocs")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its notes about the theme or nav are the build's to tell
    try:
        config = load_config(config_file=str(project.config_file))
    except (MkDocsException, Abort) as exc:
        raise ProjectError(f"mkdocs.yml is not valid: {exc}; `trustcenter build` says more") from None
    finally:
        quiet.setLevel(level)
    plugin = config.plugins.get("trustcenter")
    if plugin is None:
        raise ProjectError("mkdocs.yml does not enable the trustcenter plugin, so there is no feed to notify about")
    return bool(plugin.config.git_history), int(plugin.config.git_history_commits)


class _Text(html.parser.HTMLParser):
    """The text of an entry's HTML for the plain-text part: paragraphs apart, list items on lines of their own,
    links followed by their address."""

    _PARAGRAPHS = frozenset({"p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
                             "table", "hr"})
    _LINES = frozenset({"li", "br", "tr"})

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.parts: list[str] = []
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            href = dict(attrs).get("href")
            self._links.append(urljoin(self.base, href) if href else None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            href = self._links.pop()
            shown = "".join(self.parts).rpartition("\n")[2]
            if href and urlsplit(href).scheme in ("http", "https", "mailto") and href not in shown:
                self.parts.append(f" ({href})")
        if tag in self._PARAGRAPHS:
            self._break(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(re.sub(r"\s+", " ", data))  # source line breaks are spaces, as in a browser

    def _break(self, tag: str) -> None:
        if tag in self._PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in self._LINES:
            self.parts.append("\n")

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.parts).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_LINK = re.compile(r'\b(href|src)="([^"]*)"')


def absolute_links(entry_html: str, base: str) -> str:
    """An entry's HTML with every link and image address made absolute against `base` (attributes as the feed
    writes them: double-quoted, escaped)."""

    def absolute(match: re.Match[str]) -> str:
        target = urljoin(base, html.unescape(match[2]))
        return f'{match[1]}="{html.escape(target, quote=True)}"'

    return _LINK.sub(absolute, entry_html)


def plain_text(entry_html: str, base: str) -> str:
    """An entry's HTML as plain text, relative links made absolute against `base` (the entry's page)."""
    parser = _Text(base)
    parser.feed(entry_html)
    parser.close()
    return parser.text()
