"""Which failures a later try can get past: the line between "try again" (451, 503) and a permanent refusal.

Mail servers and carriers retry a temporary answer for days; a permanent failure answered as temporary makes them
retry for nothing, for ever. Only the database (or the network to it) failing is temporary.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# SQLSTATE classes (PostgreSQL appendix A) a later try can get past: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources (too many connections), operator intervention (shutdown).
_TEMPORARY_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57"})


def is_temporary(exc: BaseException) -> bool:
    """Whether the same request could succeed later: the database or the network failed, not the request."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(state, str) and state:
            return state[:2] in _TEMPORARY_SQLSTATE_CLASSES
        return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)  # SQLite: "database is locked"
    return isinstance(exc, sa_exc.TimeoutError)  # no pooled connection in time
