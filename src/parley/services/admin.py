"""(being written) Administration use cases for the console: users, services, transports, Mail2SMS, prices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from parley.services.directory import DirectoryCache
from parley.services.transports import Transports
from parley.store.db import Database


class Admin:
    def __init__(
        self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime], transports: Transports
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._transports = transports
