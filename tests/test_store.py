"""The SQLite history store: schema, migrations, refusals, paging, deletion."""
import sqlite3
import threading

import pytest

from device.history.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    FieldError,
    Store,
    StoreError,
)

T0 = 1_790_000_000.0     # a fixed Unix time (2026-09-21) so days are deterministic


def rep(start, depth=40.0, clean=True, losses=()):
    return {"start": start, "end": start + 3.0, "depth_deg": depth, "down_s": 1.4, "up_s": 1.2,
            "clean": clean, "losses": list(losses)}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "history.db")
    yield s
    s.close()


def test_new_database_has_schema_app_id_wal_and_default_athlete(tmp_path):
    path = tmp_path / "sub" / "history.db"
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [a["name"] for a in s.athletes()] == ["athlete"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_rep_with_losses_round_trips(store):
    a = store.current_athlete_id()
    set_id = store.start_set(a, "standing_3point", T0)
    store.add_rep(set_id, rep(T0 + 5, depth=41.3, clean=False,
                              losses=[{"point": "sacrum", "start": T0 + 6, "duration_s": 0.52}]))
    store.add_rep(set_id, rep(T0 + 10, depth=50.0))
    store.end_set(set_id, T0 + 20)
    session = store.current_session(now=T0 + 30)
    assert session["rep_count"] == 2 and session["clean_reps"] == 1 and session["clean_pct"] == 50.0
    (the_set,) = session["sets"]
    assert the_set["exercise"] == "standing_3point" and the_set["end"] == T0 + 20
    first, second = the_set["reps"]
    assert first["depth_deg"] == 41.3 and first["clean"] is False
    assert first["losses"] == [{"point": "sacrum", "start": T0 + 6, "duration_s": 0.52}]
    assert second["losses"] == [] and second["clean"] is True
    assert store.get_set(set_id)["rep_count"] == 2


def test_sets_of_one_day_share_a_session_and_a_new_day_makes_a_new_one(store):
    a = store.current_athlete_id()
    s1 = store.start_set(a, "kneeling_3point", T0)
    s2 = store.start_set(a, "standing_3point", T0 + 600)
    s3 = store.start_set(a, "standing_3point", T0 + 86400 * 2)
    assert store.get_set(s1)["session_id"] == store.get_set(s2)["session_id"]
    assert store.get_set(s3)["session_id"] != store.get_set(s1)["session_id"]
    assert store.get_set(s2)["number"] == 2


def test_athletes_have_their_own_sessions(store):
    bob = store.add_athlete("Bob")
    with pytest.raises(FieldError) as err:
        store.add_athlete(" Bob ")      # same name once trimmed
    assert err.value.field == "name"
    store.start_set(store.current_athlete_id(), "standing_3point", T0)
    store.start_set(bob["id"], "standing_3point", T0)
    assert store.list_sessions(athlete_id=bob["id"])[1] == 1
    assert store.list_sessions()[1] == 2
    store.set_current_athlete(bob["id"])
    assert store.current_athlete_id() == bob["id"]
    assert [a["current"] for a in store.athletes()] == [False, True]


def test_manual_kettlebell_sets_validated(store):
    a = store.current_athlete_id()
    s = store.add_manual_set(a, "standing_kettlebell", 10, 16, wall=T0)
    assert s["manual"] is True and s["rep_count"] == 10 and s["weight_kg"] == 16.0
    for kwargs, field in (({"exercise": "standing_3point", "reps": 10}, "exercise"),
                          ({"exercise": "kneeling_kettlebell", "reps": 0}, "reps"),
                          ({"exercise": "kneeling_kettlebell", "reps": 51}, "reps"),
                          ({"exercise": "kneeling_kettlebell", "reps": 2.5}, "reps"),
                          ({"exercise": "kneeling_kettlebell", "reps": 5, "weight_kg": -1}, "weight_kg")):
        with pytest.raises(FieldError) as err:
            store.add_manual_set(a, wall=T0, **kwargs)
        assert err.value.field == field
    assert store.get_session(s["session_id"])["manual_reps"] == 10


def test_paging_sessions_and_reps(store):
    a = store.current_athlete_id()
    for day in range(7):
        set_id = store.start_set(a, "standing_3point", T0 + day * 86400)
        for i in range(3):
            store.add_rep(set_id, rep(T0 + day * 86400 + 10 * i))
    page1, total = store.list_sessions(limit=3, offset=0)
    page3, _ = store.list_sessions(limit=3, offset=6)
    assert total == 7 and len(page1) == 3 and len(page3) == 1
    assert page1[0]["day"] > page1[1]["day"] > page1[2]["day"]        # newest first
    seen = [s["id"] for off in (0, 3, 6) for s in store.list_sessions(limit=3, offset=off)[0]]
    assert len(set(seen)) == 7
    reps, total = store.list_reps(limit=5, offset=18)
    assert total == 21 and len(reps) == 3
    one_day, n = store.list_reps(session_id=page1[0]["id"], limit=50)
    assert n == 3 and {r["session_id"] for r in one_day} == {page1[0]["id"]}
    for limit, offset, field in ((0, 0, "limit"), (501, 0, "limit"), (5, -1, "offset")):
        with pytest.raises(FieldError) as err:
            store.list_sessions(limit=limit, offset=offset)
        assert err.value.field == field


def test_delete_session_removes_its_sets_reps_and_losses(store):
    a = store.current_athlete_id()
    set_id = store.start_set(a, "standing_3point", T0)
    store.add_rep(set_id, rep(T0, clean=False, losses=[{"point": "head", "start": T0, "duration_s": 1}]))
    keep = store.start_set(a, "standing_3point", T0 + 86400)
    session_id = store.get_set(set_id)["session_id"]
    assert store.delete_session(session_id) is True
    assert store.delete_session(session_id) is False
    assert store.get_session(session_id) is None
    counts = [store._query(f"SELECT count(*) FROM {t}")[0][0] for t in ("reps", "losses")]
    assert counts == [0, 0]
    assert store.get_set(keep) is not None


def test_unfinished_sets_are_closed_at_their_last_rep(store):
    a = store.current_athlete_id()
    set_id = store.start_set(a, "standing_3point", T0)
    store.add_rep(set_id, rep(T0 + 2))
    empty = store.start_set(a, "standing_3point", T0 + 100)
    assert store.close_unfinished_sets() == 1
    assert store.get_set(set_id)["end"] == T0 + 5
    assert store.get_set(empty) is None          # a set with no reps is not kept


def write_v1_by_hand(path):
    """A version-1 database exactly as the first release wrote it."""
    db = sqlite3.connect(path)
    db.executescript(f"""
        CREATE TABLE athletes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, athlete_id INTEGER NOT NULL REFERENCES athletes(id)
            ON DELETE CASCADE, day TEXT NOT NULL, started REAL NOT NULL, UNIQUE (athlete_id, day));
        CREATE TABLE sets (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id)
            ON DELETE CASCADE, exercise TEXT NOT NULL, start REAL NOT NULL, "end" REAL);
        CREATE TABLE reps (id INTEGER PRIMARY KEY, set_id INTEGER NOT NULL REFERENCES sets(id)
            ON DELETE CASCADE, rep_index INTEGER NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL,
            depth_deg REAL NOT NULL, down_s REAL NOT NULL, up_s REAL NOT NULL, clean INTEGER NOT NULL);
        CREATE TABLE losses (id INTEGER PRIMARY KEY, rep_id INTEGER NOT NULL REFERENCES reps(id)
            ON DELETE CASCADE, point TEXT NOT NULL, start REAL NOT NULL, duration_s REAL NOT NULL);
        INSERT INTO athletes VALUES (1, 'athlete', {T0});
        INSERT INTO sessions VALUES (1, 1, '2026-09-21', {T0});
        INSERT INTO sets VALUES (1, 1, 'kneeling_3point', {T0}, {T0 + 60});
        INSERT INTO reps VALUES (1, 1, 1, {T0 + 5}, {T0 + 8}, 44.5, 1.5, 1.5, 0);
        INSERT INTO losses VALUES (1, 1, 'upper_back', {T0 + 6}, 0.4);
        PRAGMA application_id={APPLICATION_ID};
        PRAGMA user_version=1;
    """)
    db.commit()
    db.close()


def test_migrates_a_version_1_database_keeping_its_reps(tmp_path):
    path = tmp_path / "old.db"
    write_v1_by_hand(path)
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION == 3
        session = s.get_session(1)
        (the_set,) = session["sets"]
        assert the_set["manual"] is False and the_set["reps"][0]["depth_deg"] == 44.5
        assert the_set["reps"][0]["losses"][0]["point"] == "upper_back"
        s.add_manual_set(1, "kneeling_kettlebell", 10, wall=T0 + 100)   # a v2 feature works
        assert s.get_session(1)["manual_reps"] == 10
        assert s.integrity_check() == "ok"


def test_refuses_a_file_that_is_not_a_dowel_database_and_leaves_it_alone(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("shopping list\n")
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()
    for path, words in ((text, "not an SQLite file"), (other, "application_id")):
        before = path.read_bytes()
        with pytest.raises(StoreError) as err:
            Store(path)
        assert str(path) in str(err.value) and words in str(err.value)
        assert "not a dowel history database" in str(err.value)
        assert path.read_bytes() == before
    assert not (tmp_path / "other.db-wal").exists()


def test_refuses_a_newer_schema_untouched(tmp_path):
    path = tmp_path / "future.db"
    with Store(path):
        pass
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer version"):
        Store(path)
    assert path.read_bytes() == before


def test_empty_file_is_initialised(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION


def test_readonly_store_reads_but_cannot_write(tmp_path):
    path = tmp_path / "h.db"
    with Store(path) as s:
        s.start_set(s.current_athlete_id(), "standing_3point", T0)
    with Store(path, readonly=True) as ro:
        assert ro.list_sessions()[1] == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.start_set(1, "standing_3point", T0)
    with pytest.raises(StoreError, match="no history database"):
        Store(tmp_path / "missing.db", readonly=True)


def test_many_threads_write_and_read_at_once(store):
    a = store.current_athlete_id()
    errors = []

    def work(n):
        try:
            set_id = store.start_set(a, "standing_3point", T0 + n)
            for i in range(20):
                store.add_rep(set_id, rep(T0 + n + i))
                store.list_sessions()
        except Exception as exc:           # collected: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.list_reps(limit=1)[1] == 80


def test_all_sessions_matches_one_session_at_a_time(store):
    a = store.current_athlete_id()
    bob = store.add_athlete("Bob")["id"]
    for day in range(4):
        for athlete in (a, bob):
            set_id = store.start_set(athlete, "standing_3point", T0 + day * 86400)
            for i in range(3):
                store.add_rep(set_id, rep(T0 + day * 86400 + i, clean=i != 1,
                                          losses=[{"point": "head", "start": T0, "duration_s": 0.2}] if i == 1 else []))
        store.add_manual_set(a, "kneeling_kettlebell", 8, wall=T0 + day * 86400 + 50)
    for athlete in (None, a, bob):
        bulk = store.all_sessions(athlete)
        ids = [s["id"] for s in bulk]
        assert bulk == [store.get_session(i) for i in ids]
    assert len(store.all_sessions()) == 8 and len(store.all_sessions(bob)) == 4
    assert [s["day"] for s in store.all_sessions(a)] == sorted(s["day"] for s in store.all_sessions(a))


def test_a_long_read_does_not_hold_up_a_rep(store):
    """The web reading a year of trends must not delay the writer's commit."""
    a = store.current_athlete_id()
    set_id = store.start_set(a, "standing_3point", T0)
    holding, release = threading.Event(), threading.Event()
    seen = []

    def reader():
        with store._snapshot():
            seen.append(store.list_reps(limit=10)[1])
            holding.set()
            release.wait(30)
            seen.append(store.list_reps(limit=10)[1])   # its snapshot: still the old state

    t = threading.Thread(target=reader)
    t.start()
    assert holding.wait(30)
    store.add_rep(set_id, rep(T0 + 1))            # commits while the read is still open
    assert not release.is_set() and t.is_alive()
    assert store.list_reps(limit=10)[1] == 1
    release.set()
    t.join()
    assert seen == [0, 0]
