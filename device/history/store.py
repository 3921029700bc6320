"""The rep history: one SQLite file that survives power cuts, kill -9 and upgrades.

Layout (schema version :data:`SCHEMA_VERSION`, see docs/history.md):

- ``athletes``: who trained; a default athlete exists from the start.
- ``sessions``: one training day per athlete (``day`` is the local date).
- ``sets``: an exercise block with its start and end (Unix seconds); ``manual``
  sets are kettlebell sets logged by hand (``manual_reps``, ``weight_kg``),
  instrumented sets own rows in ``reps``.
- ``reps``: start, end, ``depth_deg``, ``down_s``, ``up_s``, ``clean``.
- ``losses``: a contact point that left the back during a rep.
- ``device_state``: small key/value facts such as the current athlete.
- ``deleted_sessions``: which session was deleted when.

Ids are ``AUTOINCREMENT``: an id once used is never handed out again.

The store is split by job: :mod:`device.history.schema` (migrations, the check
that a file is ours), :mod:`device.history.database` (connections and
transactions), :mod:`device.history.writes` (athletes, sets, reps, deletion),
:mod:`device.history.queries` (what the page, export and trends read) and
:mod:`device.history.manual` (what a valid hand-logged set is).
"""
from __future__ import annotations

from device.history.database import Database
from device.history.manual import MANUAL_EXERCISES, FieldError, validate_manual_set
from device.history.queries import MAX_PAGE_SIZE, Queries
from device.history.schema import (APPLICATION_ID, DEFAULT_ATHLETE, SCHEMA_VERSION, SQLITE_MAGIC,
                                   StoreError, check_file)
from device.history.writes import Writes, local_day

__all__ = ["Store", "StoreError", "FieldError", "check_file", "local_day", "APPLICATION_ID",
           "SCHEMA_VERSION", "SQLITE_MAGIC", "DEFAULT_ATHLETE", "MANUAL_EXERCISES",
           "MAX_PAGE_SIZE", "validate_manual_set"]


class Store(Writes, Queries, Database):
    """The history database.  Thread-safe (a connection per thread); every public
    method that writes commits (or rolls back) before it returns.

    ``readonly=True`` opens an existing database for reading only; ``None``
    opens it read-only when its file or directory cannot be written.
    """
