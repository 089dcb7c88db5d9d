"""Server-sent events that follow a background job until it ends."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

from fastapi.sse import ServerSentEvent

POLL_S = 0.5


async def job_events(view: Callable[[], dict[str, Any]], counter: str,
                     active: tuple[str, ...] = ("queued", "running")) -> AsyncIterator[ServerSentEvent]:
    """A `progress` event whenever the job's status or `counter` (chapters or files done) changes,
    then one event named for the status it ended in (done, failed, cancelled)."""
    last = None
    while True:
        state = view()
        seen = (state["status"], state[counter])
        if seen != last:
            last = seen
            final = state["status"] not in active
            yield ServerSentEvent(data=state, event=state["status"] if final else "progress")
            if final:
                return
        await asyncio.sleep(POLL_S)
