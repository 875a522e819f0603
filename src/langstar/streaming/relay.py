"""Live run events across server processes, relayed through PostgreSQL notifications.

A process that follows a run, or a thread, that another process executes announces it on
`FOLLOW_CHANNEL`, and again every `ANNOUNCE_SECONDS` while it follows. The process that
executes the run relays its events to that process's own channel (`STREAM_CHANNEL` and
its origin) while that interest is fresh: in order, over its one sending connection,
several events to a notification. An event too large for one notification goes in
several, in order. Nobody follows from elsewhere: nothing is sent, and publishing costs
one dictionary look-up. A channel per process means a process hears only what it asked
for, never what it sends itself or what others follow.

A relayed notification is a header line, `KIND ORIGIN RUN THREAD [TOTAL START SEQ]`, then:
`E` events, each `SEQ EVENT_BYTES DATA_BYTES` and a newline, then the event's name and
data; `F` the piece from byte `START` of one event too large for a notification, `TOTAL`
bytes in all; `D` the run ended; `W` the thread's protocol events changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from langstar.db.notifications import PAYLOAD_LIMIT, Notifications
from langstar.streaming.events import EventBus, RunEvent, run_done

log = logging.getLogger(__name__)

STREAM_CHANNEL = "langstar_stream"
FOLLOW_CHANNEL = "langstar_follow"
# A follower says so this often; the executing process relays while it heard it lately.
ANNOUNCE_SECONDS = 2.0
INTEREST_SECONDS = 3 * ANNOUNCE_SECONDS

# What a process follows: ("run", run_id) a run's events; ("thread", thread_id) the
# events of every run of the thread; ("signal", thread_id) that its protocol events changed.
Key = tuple[str, uuid.UUID]
_KIND_LETTERS = {"run": "r", "thread": "t", "signal": "s"}
_LETTER_KINDS = {v: k for k, v in _KIND_LETTERS.items()}
_NONE = "-"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One thing to relay: an event of a run, its end (`D`), or a thread's change (`W`)."""

    kind: str
    thread_id: uuid.UUID
    run_id: uuid.UUID | None = None
    item: RunEvent | None = None


class RemoteFeed:
    """A run's events as another process relays them here, for one reader."""

    def __init__(self, close: Callable[[], None]) -> None:
        self.ended = False
        self._items: list[RunEvent] = []
        self._wake = asyncio.Event()
        self._close = close

    def put(self, item: RunEvent) -> None:
        self._items.append(item)
        self._wake.set()

    def end(self) -> None:
        self.ended = True
        self._wake.set()

    async def take(self, *, patience: float) -> list[RunEvent]:
        """The events relayed since the last call; waits up to `patience` seconds for one."""
        if not self._items and not self.ended:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    await self._wake.wait()
        self._wake.clear()
        items, self._items = self._items, []
        return items

    def close(self) -> None:
        self._close()


class StreamRelay:
    """Relays this process's runs to the processes that follow them, and theirs to here."""

    def __init__(self, notifications: Notifications, bus: EventBus) -> None:
        self.origin = uuid.uuid4().hex[:12]  # names this process: its channel, its announcements
        self._notifications = notifications
        self._bus = bus
        # What other processes follow: by whom (their origin), until when.
        self._interest: dict[Key, dict[str, float]] = {}
        self._follows: Counter[Key] = Counter()  # what readers here follow
        self._feeds: dict[uuid.UUID, set[RemoteFeed]] = {}
        self._pieces: dict[uuid.UUID, bytearray] = {}  # an event arriving in several parts
        self._outbox: dict[str, list[Outgoing]] = {}  # by the origin it goes to
        self._announce: list[Key] = []
        self._hello = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def open(self) -> None:
        self._notifications.subscribe(channel_of(self.origin), self._received)
        self._notifications.subscribe(FOLLOW_CHANNEL, self._heard)
        self._notifications.on_connect(self._connected)
        self._tasks = [
            asyncio.create_task(self._send(), name="langstar-relay-send"),
            asyncio.create_task(self._announce_often(), name="langstar-relay-announce"),
        ]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # The executing side

    def offer(self, run_id: uuid.UUID, thread_id: uuid.UUID, item: RunEvent) -> None:
        """Relay a run's event to the processes that follow the run or its thread, and to
        readers here that followed it while another process executed it (it was handed
        off, or its server died, and this one took it over)."""
        for feed in self._feeds.get(run_id, ()):
            feed.put(item)
        if self._interest:
            self._queue(
                Outgoing("E", thread_id, run_id, item), ("run", run_id), ("thread", thread_id)
            )

    def ended(self, run_id: uuid.UUID, thread_id: uuid.UUID) -> None:
        """The run's stream is over: tell the processes that follow it, and readers here."""
        for feed in self._feeds.get(run_id, ()):
            feed.end()
        if self._interest:
            self._queue(Outgoing("D", thread_id, run_id), ("run", run_id), ("thread", thread_id))

    def changed(self, thread_id: uuid.UUID) -> None:
        """The thread's protocol events changed: wake its readers, here and elsewhere."""
        self._bus.threads.changed(thread_id)
        if self._interest:
            self._queue(Outgoing("W", thread_id), ("signal", thread_id))

    def followers(self, *keys: Key) -> set[str]:
        """The processes (origins) that lately said they follow any of `keys`."""
        now = time.monotonic()
        found: set[str] = set()
        for key in keys:
            for origin, until in self._interest.get(key, {}).items():
                if until > now:
                    found.add(origin)
        return found

    def _queue(self, out: Outgoing, *keys: Key) -> None:
        for origin in self.followers(*keys):
            self._outbox.setdefault(origin, []).append(out)
            self._wake.set()

    async def _send(self) -> None:
        """Send what has queued up; what queues during a send goes in the next one."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            announce, self._announce = self._announce, []
            hello, self._hello = self._hello, False
            outbox, self._outbox = self._outbox, {}
            try:
                # Announced only by a process that hears what it asked for.
                if (announce or hello) and self._notifications.listening:
                    keys = pack_keys(self.origin, announce, hello=hello)
                    await self._notifications.notify(FOLLOW_CHANNEL, keys)
                for origin, items in outbox.items():
                    await self._notifications.notify(channel_of(origin), pack(self.origin, items))
            except Exception as exc:  # followers fall back on the runs table and stored events
                log.warning("could not relay stream events: %s", exc)

    def _heard(self, payload: str) -> None:
        """Another process follows these (or, `?`, asks every follower to say so again)."""
        origin, _, rest = payload.partition(" ")
        if origin.lstrip("?") == self.origin:
            return
        if origin.startswith("?"):  # a process (re)connected: it may have missed ours
            self._reannounce()
        until = time.monotonic() + INTEREST_SECONDS
        for key in unpack_keys(rest):
            self._interest.setdefault(key, {})[origin.lstrip("?")] = until

    # The following side

    def follow(self, kind: str, target: uuid.UUID) -> Callable[[], None]:
        """Ask for `target`'s events (see `Key`) until the returned callable is called."""
        key = (kind, target)
        self._follows[key] += 1
        if self._follows[key] == 1:
            self._announce.append(key)
            self._wake.set()
        done = False

        def unfollow() -> None:
            nonlocal done
            if not done:
                done = True
                self._follows[key] -= 1
                if self._follows[key] <= 0:
                    del self._follows[key]

        return unfollow

    def follow_run(self, run_id: uuid.UUID) -> RemoteFeed:
        """A feed of the run's events from now on; `close()` it when done."""
        unfollow = self.follow("run", run_id)

        def close() -> None:
            feeds = self._feeds.get(run_id, set())
            feeds.discard(feed)
            if not feeds:
                self._feeds.pop(run_id, None)
            unfollow()

        feed = RemoteFeed(close)
        self._feeds.setdefault(run_id, set()).add(feed)
        return feed

    def _connected(self) -> None:
        """After (re)connecting, ask every follower to say what it follows, and say ours."""
        self._hello = True
        self._reannounce()

    def _reannounce(self) -> None:
        self._announce.extend(self._follows)
        self._wake.set()

    async def _announce_often(self) -> None:
        while True:
            await asyncio.sleep(ANNOUNCE_SECONDS)
            now = time.monotonic()
            fresh = {
                k: {o: t for o, t in by.items() if t > now} for k, by in self._interest.items()
            }
            self._interest = {k: by for k, by in fresh.items() if by}
            if self._follows:
                self._reannounce()

    def _received(self, payload: str) -> None:
        head, _, text = payload.partition("\n")
        kind, _origin, run, thread, *piece = head.split(" ")
        body = text.encode()
        thread_id = uuid.UUID(thread)
        if kind == "W":
            self._bus.threads.changed(thread_id)
            return
        run_id = uuid.UUID(run)
        if kind == "F":
            body = self._assemble(run_id, body, int(piece[0]), int(piece[1]))
            if not body:
                return
        else:
            self._pieces.pop(run_id, None)  # an event left in pieces lost its rest
        if kind == "D":
            self._run_ended(run_id, thread_id)
        else:
            self._deliver(run_id, thread_id, unpack_events(body))

    def _assemble(self, run_id: uuid.UUID, piece: bytes, total: int, start: int) -> bytes:
        """The whole event once its last piece has come; b"" until then."""
        pieces = self._pieces.setdefault(run_id, bytearray())
        if len(pieces) != start:  # a piece was lost: the event with it
            del self._pieces[run_id]
            return b""
        pieces += piece
        if len(pieces) < total:
            return b""
        del self._pieces[run_id]
        return bytes(pieces) if len(pieces) == total else b""

    def _deliver(self, run_id: uuid.UUID, thread_id: uuid.UUID, items: list[RunEvent]) -> None:
        for feed in self._feeds.get(run_id, ()):
            for item in items:
                feed.put(item)
        if ("thread", thread_id) in self._follows:
            for watcher in self._bus.watchers(thread_id):
                for item in items:
                    watcher.put(item.event, item.data)

    def _run_ended(self, run_id: uuid.UUID, thread_id: uuid.UUID) -> None:
        for feed in self._feeds.get(run_id, ()):
            feed.end()
        if ("thread", thread_id) in self._follows:
            for watcher in self._bus.watchers(thread_id):
                watcher.put("metadata", run_done(run_id))


def channel_of(origin: str) -> str:
    """The channel a process hears the runs it follows on."""
    return f"{STREAM_CHANNEL}_{origin}"


def pack(origin: str, outbox: Sequence[Outgoing], limit: int = PAYLOAD_LIMIT) -> list[str]:
    """The notifications that carry `outbox`, each run's in its order.

    Consecutive events of a run share a notification while they fit in `limit` bytes.
    """
    payloads: list[str] = []
    for run, items in _by_run(outbox).items():
        events: list[bytes] = []
        for out in items:
            if out.kind != "E" or out.item is None:
                payloads += _events_payload(origin, out, events, limit)
                events = []
                payloads.append(_head(out.kind, origin, run, out.thread_id).decode())
                continue
            events.append(_block(out.item))
        if events:
            payloads += _events_payload(origin, items[-1], events, limit)
    return payloads


def _by_run(outbox: Iterable[Outgoing]) -> dict[uuid.UUID | None, list[Outgoing]]:
    groups: dict[uuid.UUID | None, list[Outgoing]] = {}
    for out in outbox:
        groups.setdefault(out.run_id, []).append(out)
    return groups


def _events_payload(origin: str, out: Outgoing, blocks: list[bytes], limit: int) -> list[str]:
    if not blocks:
        return []
    head = _head("E", origin, out.run_id, out.thread_id)
    payloads: list[str] = []
    body = bytearray(head)
    for block in blocks:
        if len(body) + len(block) <= limit:
            body += block
            continue
        if len(body) > len(head):
            payloads.append(body.decode())
            body = bytearray(head)
        if len(head) + len(block) <= limit:
            body += block
        else:
            payloads += _pieces(origin, out, block, limit)
    if len(body) > len(head):
        payloads.append(body.decode())
    return payloads


def _pieces(origin: str, out: Outgoing, block: bytes, limit: int) -> list[str]:
    """An event too large for one notification, in pieces cut between characters.

    Each piece names where it starts and its event: PostgreSQL drops a notification
    identical to one already sent in the same transaction, as two pieces of repetitive
    texts could be.
    """
    payloads: list[str] = []
    seq = int(block[: block.index(b" ")])
    start = 0
    while start < len(block):
        head = _head("F", origin, out.run_id, out.thread_id, f"{len(block)} {start} {seq}")
        end = min(start + limit - len(head), len(block))
        while end < len(block) and block[end] & 0xC0 == 0x80:  # inside a UTF-8 character
            end -= 1
        payloads.append((head + block[start:end]).decode())
        start = end
    return payloads


def _head(
    kind: str, origin: str, run: uuid.UUID | None, thread: uuid.UUID, piece: str = ""
) -> bytes:
    run_text = run.hex if run is not None else _NONE
    tail = f" {piece}" if piece else ""
    return f"{kind} {origin} {run_text} {thread.hex}{tail}\n".encode()


def _block(item: RunEvent) -> bytes:
    event = item.event.encode()
    return b"%d %d %d\n%b%b" % (item.seq, len(event), len(item.data), event, item.data)


def unpack_events(body: bytes) -> list[RunEvent]:
    items: list[RunEvent] = []
    at = 0
    while at < len(body):
        line_end = body.index(b"\n", at)
        seq, event_len, data_len = (int(n) for n in body[at:line_end].split(b" "))
        start = line_end + 1
        event = body[start : start + event_len].decode()
        data = body[start + event_len : start + event_len + data_len]
        items.append(RunEvent(seq, event, data))
        at = start + event_len + data_len
    return items


def pack_keys(origin: str, keys: Iterable[Key], *, hello: bool = False) -> list[str]:
    """Announcements of what this process follows, each within a notification's limit."""
    head = ("?" if hello else "") + origin
    payloads: list[str] = []
    line = head
    for kind, target in dict.fromkeys(keys):
        word = f" {_KIND_LETTERS[kind]}{target.hex}"
        if len(line) + len(word) > PAYLOAD_LIMIT:
            payloads.append(line)
            line = head
        line += word
    if line != head or hello:
        payloads.append(line)
    return payloads


def unpack_keys(text: str) -> Iterator[Key]:
    for word in text.split():
        kind = _LETTER_KINDS.get(word[:1])
        if kind is not None:
            with contextlib.suppress(ValueError):
                yield kind, uuid.UUID(word[1:])
