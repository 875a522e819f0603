"""PostgreSQL notifications: one listening and one sending connection for the whole process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from psycopg import AsyncConnection, sql

log = logging.getLogger(__name__)

# PostgreSQL refuses a payload of 8000 bytes or more.
PAYLOAD_LIMIT = 7999
# How soon a channel subscribed while listening is listened to, and closing is noticed.
LOOK_SECONDS = 0.5
RECONNECT_SECONDS = 1.0


class Notifications:
    """Every `LISTEN` of the process, on one connection, dispatched to subscribers by channel.

    The connection is opened again after the database restarts; notifications sent while
    it was down are lost, so each subscriber keeps a durable record to fall back on, and
    `on_connect` callbacks run after every (re)connection to catch up. `notify` sends over
    a second connection of its own: notifications from one session arrive in the order
    they were sent, which is what lets a stream be relayed through them.

    Not `listening` (the URL goes through a transaction pooler, where a session is not
    kept between transactions), nothing is heard: subscribers rely on their fallback
    alone. Notifications are still sent, for the processes that can listen.
    """

    def __init__(self, conninfo: str, *, listening: bool = True) -> None:
        self._conninfo = conninfo
        self.listening = listening
        self._subscribers: dict[str, list[Callable[[str], None]]] = {}
        self._connected: list[Callable[[], None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._sender: AsyncConnection[object] | None = None
        self._sending = asyncio.Lock()
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # set while the listening connection is up

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(payload)` for each notification on `channel`; returns the undo.

        The callback runs in the listening task: it must be quick and must not raise.
        """
        self._subscribers.setdefault(channel, []).append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.get(channel, []).remove(callback)

        return unsubscribe

    def on_connect(self, callback: Callable[[], None]) -> None:
        """Call `callback()` each time the listening connection is (re)established."""
        self._connected.append(callback)

    async def notify(self, channel: str, payloads: Sequence[str]) -> None:
        """Send the payloads on `channel`, in this order, in one round trip."""
        if not payloads:
            return
        async with self._sending:
            for attempt in (1, 2):  # a connection lost since the last send is opened again
                try:
                    if self._sender is None:
                        # Not prepared: it may go through a transaction pooler.
                        self._sender = await AsyncConnection.connect(
                            self._conninfo, autocommit=True, prepare_threshold=None
                        )
                    await self._sender.execute(
                        # A function scan yields the array in order; so they are sent.
                        "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p",
                        (channel, list(payloads)),
                    )
                    return
                except Exception:
                    await self._drop_sender()
                    if attempt == 2:
                        raise

    async def _drop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                await sender.close()

    def open(self) -> None:
        if self.listening:
            self._listener = asyncio.create_task(self._listen(), name="langstar-notifications")

    async def aclose(self) -> None:
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._listener, LOOK_SECONDS * 4)
        async with self._sending:
            await self._drop_sender()

    async def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                async with await AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await self._dispatch(conn)
            except Exception as exc:  # the database may be restarting; listen again
                self.ready.clear()
                log.warning("lost the notification connection (%s); listening again", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), RECONNECT_SECONDS)
        self.ready.clear()

    async def _dispatch(self, conn: AsyncConnection[object]) -> None:
        listening: set[str] = set()
        while not self._stop.is_set():
            for channel in set(self._subscribers) - listening:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                listening.add(channel)
            if not self.ready.is_set():
                self.ready.set()
                for connected in list(self._connected):
                    _call(connected)
            # Leaving the generator now and then keeps notifications (psycopg holds those
            # that arrive meanwhile) and lets new channels be listened to.
            async for note in conn.notifies(timeout=LOOK_SECONDS):
                for callback in list(self._subscribers.get(note.channel, ())):
                    _call(callback, note.payload)


def _call(callback: Callable[..., None], *args: str) -> None:
    try:
        callback(*args)
    except Exception:
        log.exception("a notification subscriber failed")
