"""The thread activity: a message of the case's thread, kept in full in the database (once)."""

from __future__ import annotations

from temporalio import activity

from adapters.case_messages import MessageStore
from support.case.thread_message import ThreadMessage


class ThreadActivities:
    def __init__(self, store: MessageStore) -> None:
        self._store = store

    @activity.defn(name="keep_message")
    async def keep_message(self, message: ThreadMessage) -> bool:
        """True when written now; False when an earlier attempt wrote it (nothing written twice)."""
        written = await self._store.write(message)
        activity.logger.info(
            "thread message kept",
            extra={"case_id": message.case_id, "seq": message.seq, "written": written},
        )
        return written
