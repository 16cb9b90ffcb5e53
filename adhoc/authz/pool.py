"""Big statements are analysed in a child process, not on the gateway's event loop.

sqlglot's compiled parser holds the GIL for a whole parse (about 2 ms per KB), so a thread would
stall every other client just the same; a process does not. Statements under the size the
authorizer calls slow stay in-process (and cached): the child costs a pickle round trip.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from adhoc.authz.analyzer import analyze
from adhoc.authz.statement import StatementInfo


def _analyze(sql: str, current_db: str, temp_views: frozenset[str]) -> tuple[StatementInfo, ...]:
    return tuple(analyze(sql, current_db, temp_views))


class AnalysisPool:
    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None  # started on first use: most gateways never need it

    async def analyze(self, sql: str, current_db: str, temp_views: frozenset[str]) -> tuple[StatementInfo, ...]:
        if self._executor is None:
            # spawn, not fork: the gateway has threads and an event loop a forked child must not inherit
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _analyze, sql, current_db, temp_views)

    async def close(self) -> None:
        """Stop the worker. Waits for it (off the loop): an executor left to the interpreter's exit
        hook fails there on a closed pipe ('Exception ignored ... Bad file descriptor')."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
