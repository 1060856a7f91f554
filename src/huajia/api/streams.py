"""How many event streams (SSE) each API key holds open in this API process.

Each stream holds a connection and a follower of the task watcher for as long as the
client likes, so one key may hold only so many at once; the next is refused (429) before
it starts. A slot is given back however its stream ends: finished, cancelled when the
client leaves, or never started at all.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from huajia.errors import TooManyStreams


class StreamSlots:
    """Open streams per key, up to `per_key` each."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: Counter[str] = Counter()
        # Slots are taken on the event loop but may be given back by the garbage collector,
        # which runs finalizers on whichever thread it interrupts.
        self._lock = threading.Lock()

    def take(self, key_id: str) -> StreamSlot:
        """A slot for one more stream of `key_id`; TooManyStreams if it holds them all."""
        with self._lock:
            if self._open[key_id] >= self.per_key:
                raise TooManyStreams(
                    f"this API key already has {self.per_key} event streams open; "
                    "close one or poll /status instead"
                )
            self._open[key_id] += 1
        return StreamSlot(self, key_id)

    def give_back(self, slot: StreamSlot) -> None:
        """Free `slot`; a slot already given back is not counted twice."""
        with self._lock:
            if not slot.held:
                return
            slot.held = False
            self._open[slot.key_id] -= 1
            if self._open[slot.key_id] <= 0:
                del self._open[slot.key_id]

    def open_streams(self, key_id: str) -> int:
        with self._lock:
            return self._open[key_id]


class StreamSlot:
    """One taken slot; giving it back more than once is harmless."""

    def __init__(self, slots: StreamSlots, key_id: str) -> None:
        self.slots = slots
        self.key_id = key_id
        self.held = True

    def release(self) -> None:
        self.slots.give_back(self)


async def holding(slot: StreamSlot, events: AsyncIterable[str]) -> AsyncIterator[str]:
    """`events`, giving `slot` back when they end or the generator is closed."""
    try:
        async for event in events:
            yield event
    finally:
        slot.release()


class SlottedStream(StreamingResponse):
    """A streaming response that gives its slot back however the response ends."""

    def __init__(
        self,
        slot: StreamSlot,
        events: AsyncIterable[str],
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(holding(slot, events), media_type=media_type, headers=headers)
        self._slot = slot
        # Never sent (an error after the route returned): the slot goes back with the object.
        weakref.finalize(self, slot.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The client leaving cancels the body iterator mid-await; an async generator left
        # suspended runs its `finally` only when collected, so the slot goes back here.
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()
