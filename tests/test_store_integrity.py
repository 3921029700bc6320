"""Deleted means deleted, ids are never reused, reps count from 1, a set without
reps is not a set: the store's own rules, and the migration that brings an old
database under them."""
import sqlite3

import pytest

from device.history import schema
from device.history.manual import FieldError, validate_manual_set
from device.history.store import SCHEMA_VERSION, Store

T0 = 1_790_000_000.0


def rep(start, losses=()):
    return {"start": start, "end": start + 3.0, "depth_deg": 40.0, "down_s": 1.4, "up_s": 1.2,
            "clean": not losses, "losses": list(losses)}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "history.db")
    yield s
    s.close()


def test_ids_of_a_deleted_session_set_and_rep_are_never_handed_out_again(store):
    a = store.current_athlete_id()
    set_id = store.start_set(a, "standing_3point", T0)
    rep_id = store.add_rep(set_id, rep(T0 + 1))
    session_id = store.get_set(set_id)["session_id"]
    assert store.delete_session(session_id, now=T0 + 10)
    new_set = store.start_set(a, "standing_3point", T0 + 20)
    new_rep = store.add_rep(new_set, rep(T0 + 21))
    assert store.get_set(new_set)["session_id"] > session_id
    assert new_set > set_id and new_rep > rep_id


def test_reps_are_numbered_from_1_in_each_set_by_the_store(store):
    a = store.current_athlete_id()
    first, second = (store.start_set(a, "standing_3point", T0 + k * 100) for k in (0, 1))
    for i in range(3):
        store.add_rep(first, rep(T0 + 10 * i))
    store.add_rep(second, rep(T0 + 101))
    assert [r["rep_index"] for r in store.get_set(first)["reps"]] == [1, 2, 3]
    assert [r["rep_index"] for r in store.get_set(second)["reps"]] == [1]
    assert [s["number"] for s in store.current_session(now=T0)["sets"]] == [1, 2]


def test_a_set_ended_without_reps_is_not_kept_nor_its_empty_session(store):
    a = store.current_athlete_id()
    empty = store.start_set(a, "standing_3point", T0)
    assert store.end_set(empty, T0 + 30) is False
    assert store.get_set(empty) is None
    assert store.list_sessions() == ([], 0)


def test_a_set_deleted_with_its_session_takes_no_more_reps(store):
    a = store.current_athlete_id()
    set_id = store.start_set(a, "standing_3point", T0)
    store.add_rep(set_id, rep(T0 + 1))
    store.delete_session(store.get_set(set_id)["session_id"], now=T0 + 5)
    assert store.add_rep(set_id, rep(T0 + 6)) is None
    assert store.list_sessions() == ([], 0)


def test_a_set_begun_before_its_session_was_deleted_is_refused_after(store):
    a = store.current_athlete_id()
    kept = store.start_set(a, "standing_3point", T0)
    store.add_rep(kept, rep(T0 + 1))
    store.delete_session(store.get_set(kept)["session_id"], now=T0 + 50)
    # the writer still held a set begun at T0 + 40 (its reps waiting in memory)
    assert store.start_set(a, "standing_3point", T0 + 40, unless_deleted=True) is None
    assert store.start_set(a, "standing_3point", T0 + 60, unless_deleted=True) is not None


def test_sets_today_counts_what_the_next_set_number_follows(store):
    a = store.current_athlete_id()
    assert store.sets_today(a, now=T0) == 0
    store.add_rep(store.start_set(a, "standing_3point", T0), rep(T0 + 1))
    store.add_manual_set(a, "standing_kettlebell", 10, wall=T0 + 100)
    assert store.sets_today(a, now=T0) == 2


def test_unfinished_sets_left_by_a_crash_end_at_their_last_rep_and_empty_ones_go(store):
    a = store.current_athlete_id()
    open_set = store.start_set(a, "standing_3point", T0)
    store.add_rep(open_set, rep(T0 + 2))
    empty = store.start_set(a, "standing_3point", T0 + 100)
    assert store.close_unfinished_sets() == 1
    assert store.get_set(open_set)["end"] == T0 + 5 and store.get_set(empty) is None


@pytest.mark.parametrize("fields,field", [
    (("bench_press", 10, None), "exercise"),
    (("standing_kettlebell", 0, None), "reps"),
    (("standing_kettlebell", True, None), "reps"),
    (("standing_kettlebell", 10, float("nan")), "weight_kg"),
    (("standing_kettlebell", 10, 10 ** 400), "weight_kg"),
    (("standing_kettlebell", 10, "16"), "weight_kg"),
])
def test_manual_set_validation_names_the_field(fields, field):
    with pytest.raises(FieldError) as err:
        validate_manual_set(*fields)
    assert err.value.field == field


# -- the migration from the previous schema -----------------------------------------------
def write_v2(path):
    """A version-2 database made by the released migrations, with what older
    writers left: reps numbered from 7 (a set begun mid-way), a set without reps,
    a session left with no sets."""
    db = sqlite3.connect(path, isolation_level=None)
    schema.MIGRATIONS[0](db)
    schema.MIGRATIONS[1](db)
    db.execute(f"PRAGMA application_id={schema.APPLICATION_ID}")
    db.execute("PRAGMA user_version=2")
    db.executescript(f"""
        INSERT INTO sessions VALUES (1, 1, '2026-09-21', {T0});
        INSERT INTO sessions VALUES (2, 1, '2026-09-22', {T0 + 86400});
        INSERT INTO sets (id, session_id, exercise, start, "end") VALUES (1, 1, 'kneeling_3point', {T0}, {T0 + 60});
        INSERT INTO sets (id, session_id, exercise, start, "end") VALUES (2, 1, 'kneeling_3point', {T0 + 100}, {T0 + 130});
        INSERT INTO reps VALUES (1, 1, 7, {T0 + 5}, {T0 + 8}, 44.5, 1.5, 1.5, 0);
        INSERT INTO reps VALUES (2, 1, 8, {T0 + 10}, {T0 + 13}, 45.5, 1.5, 1.5, 1);
        INSERT INTO losses VALUES (1, 1, 'upper_back', {T0 + 6}, 0.4);
    """)
    db.close()


def test_migrates_a_version_2_database_to_ids_never_reused(tmp_path):
    path = tmp_path / "v2.db"
    write_v2(path)
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION == 3
        assert s.integrity_check() == "ok"
        sql = s._query("SELECT sql FROM sqlite_master WHERE name='sessions'")[0][0]
        assert "AUTOINCREMENT" in sql
        session = s.get_session(1)
        (the_set,) = session["sets"]                        # the set without reps is gone
        assert [r["rep_index"] for r in the_set["reps"]] == [1, 2]
        assert the_set["reps"][0]["losses"][0]["point"] == "upper_back"
        assert s.get_session(2) is None                     # it had no sets
        assert s.delete_session(1)
        new = s.start_set(1, "standing_3point", T0 + 5)
        assert s.get_set(new)["session_id"] > 1 and new > 2


def _schema_facts(path):
    """Everything a query can notice of a schema: the tables and indexes, each
    table's columns (types, defaults, keys), indexes and foreign keys."""
    db = sqlite3.connect(path)
    try:
        names = sorted(db.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall())
        tables = [n for kind, n, _ in names if kind == "table"]
        facts = {"names": names, "athletes": db.execute("SELECT id, name FROM athletes").fetchall()}
        for t in tables:
            facts[t] = (db.execute(f"PRAGMA table_info({t})").fetchall(),
                        sorted(db.execute(f"PRAGMA index_list({t})").fetchall()),
                        db.execute(f"PRAGMA foreign_key_list({t})").fetchall())
            for index in facts[t][1]:
                facts[index[1]] = db.execute(f"PRAGMA index_xinfo({index[1]})").fetchall()
        for row in db.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"):
            facts[row[0], "autoincrement"] = "AUTOINCREMENT" in (row[1] or "")
        return facts
    finally:
        db.close()


def test_a_new_database_has_the_schema_the_migrations_end_with(tmp_path):
    # A new file is made at the current schema in one step; an empty file taken
    # through every migration must end up the same.
    with Store(tmp_path / "new.db") as s:
        assert s.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "migrated.db", isolation_level=None)
    for number, migration in enumerate(schema.MIGRATIONS, 1):
        db.execute("BEGIN")
        migration(db)
        db.execute(f"PRAGMA user_version={number}")
        db.execute("COMMIT")
    db.execute(f"PRAGMA application_id={schema.APPLICATION_ID}")
    db.close()
    assert _schema_facts(tmp_path / "new.db") == _schema_facts(tmp_path / "migrated.db")
