"""CSV and JSON exports parse back to exactly the reps in the store."""
import csv
import io
import json

import pytest

from device.history import export
from device.history.store import Store

T0 = 1_790_000_000.123456


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "h.db")
    a = s.current_athlete_id()
    bob = s.add_athlete("Bob, the \"coach\"")["id"]           # a name that needs CSV quoting
    for athlete, day in ((a, 0), (a, 1), (bob, 1)):
        base = T0 + day * 86400
        set_id = s.start_set(athlete, "kneeling_3point" if day == 0 else "standing_3point", base)
        for i in range(3):
            losses = [{"point": "sacrum", "start": base + i * 4 + 1.0004, "duration_s": 0.5216},
                      {"point": "upper_back", "start": base + i * 4 + 1.5, "duration_s": 0.1}] if i == 1 else []
            s.add_rep(set_id, {"start": base + i * 4, "end": base + i * 4 + 3.21, "depth_deg": 41.337 + i,
                               "down_s": 1.4, "up_s": 1.23456, "clean": not losses, "losses": losses})
        s.end_set(set_id, base + 20)
    s.add_manual_set(a, "standing_kettlebell", 12, 16.5, wall=T0 + 86400 + 100)
    yield s
    s.close()


def expected(store):
    """What the store holds, flattened by hand (not through export.records)."""
    out = []
    for session in store.all_sessions():
        for st in session["sets"]:
            if st["manual"]:
                out.append((session["athlete"], st["exercise"], None, st["manual_reps"], st["weight_kg"], ()))
                continue
            for r in st["reps"]:
                out.append((session["athlete"], st["exercise"], r["rep_index"],
                            round(r["depth_deg"], 2), round(r["start"], 3),
                            tuple((l["point"], round(l["start"], 3), round(l["duration_s"], 3))
                                  for l in r["losses"])))
    return out


def flatten(records):
    out = []
    for rec in records:
        if rec["manual"]:
            out.append((rec["athlete"], rec["exercise"], None, rec["manual_reps"], rec["weight_kg"], ()))
        else:
            out.append((rec["athlete"], rec["exercise"], rec["rep_number"], rec["depth_deg"], rec["start"],
                        tuple((l["point"], l["start"], l["duration_s"]) for l in rec["losses"])))
    return out


def test_csv_round_trip(store):
    text = export.export_text(store, "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == export.CSV_COLUMNS
    assert len(rows) == 1 + 9 + 1                       # 9 reps, 1 manual set
    back = export.read_csv(text)
    assert back == export.records(store)
    assert flatten(back) == expected(store)
    dirty = [r for r in back if r["clean"] is False]
    assert len(dirty) == 3 and [l["point"] for l in dirty[0]["losses"]] == ["sacrum", "upper_back"]
    assert dirty[0]["losses"][0]["duration_s"] == 0.522
    manual = [r for r in back if r["manual"]]
    assert manual[0]["manual_reps"] == 12 and manual[0]["weight_kg"] == 16.5 and manual[0]["clean"] is None


def test_json_round_trip(store):
    text = export.export_text(store, "json")
    doc = json.loads(text)
    assert doc["format"] == "smart-dowel-history" and len(doc["sessions"]) == 3
    assert {a["name"] for a in doc["athletes"]} == {"athlete", "Bob, the \"coach\""}
    back = export.read_json(text)
    assert back == export.read_csv(export.export_text(store, "csv"))
    assert flatten(back) == expected(store)


def test_export_one_athlete(store):
    bob = [a for a in store.athletes() if a["name"].startswith("Bob")][0]["id"]
    back = export.read_csv(export.export_text(store, "csv", athlete_id=bob))
    assert len(back) == 3 and {r["athlete"] for r in back} == {"Bob, the \"coach\""}


def test_readers_name_the_bad_line_and_field():
    header = ",".join(export.CSV_COLUMNS)
    with pytest.raises(export.ExportError, match="line 1"):
        export.read_csv("a,b,c\n1,2,3\n")
    bad = header + "\nme,1,2026-01-01,1,1,standing_3point,0,1,x,abc,2,3,1,1,1,,,\n"
    with pytest.raises(export.ExportError, match=r"line 2: start: not a number"):
        export.read_csv(bad)
    with pytest.raises(export.ExportError, match="format"):
        export.read_json('{"sessions": []}')
    with pytest.raises(ValueError, match="xml"):
        export.export_text(None, "xml")


def test_dowel_export_command(store, tmp_path, capsys):
    from device.cli import main

    assert main(["export", "--db", str(store.path), "--format", "json"]) == 0
    assert export.read_json(capsys.readouterr().out) == export.records(store)
    out = tmp_path / "reps.csv"
    assert main(["export", "--db", str(store.path), "-o", str(out)]) == 0
    assert export.read_csv(out.read_text()) == export.records(store)
    assert main(["export", "--db", str(store.path), "--athlete", "nobody"]) == 2
    assert "no athlete 'nobody'" in capsys.readouterr().err


def test_dowel_export_refuses_a_foreign_file(tmp_path, capsys):
    from device.cli import main

    foreign = tmp_path / "x.db"
    foreign.write_bytes(b"\x00" * 512)
    assert main(["export", "--db", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert str(foreign) in err and "not a dowel history database" in err
    assert foreign.read_bytes() == b"\x00" * 512
    assert main(["export", "--db", str(tmp_path / "none.db")]) == 2
