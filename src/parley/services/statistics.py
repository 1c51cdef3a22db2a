"""(being written) Statistics and reports: messages per day, by user, by number, by status; cost and quota."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from parley.services.directory import DirectoryCache
from parley.store.db import Database


class Statistics:
    def __init__(self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
