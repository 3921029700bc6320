"""One copy of the domain words: the points, the exercises, their cues."""
from __future__ import annotations

import pathlib
import re

import pytest

from device.analysis import vocabulary
from device.analysis.settings import EXERCISES, Settings, SettingsError
from device.history import store, trends
from device.hw import constants

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_points_follow_the_channels_and_every_exercise_has_a_cue_per_point():
    assert tuple(p.id for p in vocabulary.POINTS) == constants.POINTS
    for ex in vocabulary.EXERCISES:
        assert set(ex.cues) == set(constants.POINTS), ex.id
        assert ex.title and ex.instructions and ex.stance in ("kneeling", "standing")


def test_the_article_order_kneeling_first_and_the_dowel_tracks_the_3point_hinges():
    assert [e.id for e in vocabulary.EXERCISES] == [
        "kneeling_3point", "kneeling_kettlebell", "standing_3point", "standing_kettlebell"]
    assert [e.tracked for e in vocabulary.EXERCISES] == [True, False, True, False]
    assert (vocabulary.WARMUP_SETS, vocabulary.WARMUP_REPS) == (2, 10)


def test_settings_store_and_trends_take_the_vocabulary():
    assert EXERCISES == vocabulary.EXERCISE_IDS
    assert set(store.MANUAL_EXERCISES) == {"kneeling_kettlebell", "standing_kettlebell"}
    with pytest.raises(SettingsError, match="exercise"):
        Settings().updated({"exercise": "deadlift"})
    focus = trends.progression([{
        "id": 1, "day": "2026-12-01", "started": 0.0,
        "sets": [{"exercise": "standing_3point", "manual": False, "reps": [
            {"clean": False, "depth_deg": 50, "down_s": 1, "up_s": 1,
             "losses": [{"point": "sacrum", "start": 1.0, "duration_s": 0.3}]}]}]}])["focus"]
    assert focus == {"point": "sacrum", "cue": vocabulary.cue("sacrum", "standing_3point")}


def test_cue_names_unknowns():
    assert vocabulary.cue("head") == vocabulary.exercise("standing_3point").cues["head"]
    with pytest.raises(KeyError, match="elbow"):
        vocabulary.cue("elbow")
    with pytest.raises(KeyError, match="deadlift"):
        vocabulary.exercise("deadlift")


def test_no_other_python_module_spells_out_the_titles_or_the_exercise_list():
    titles = [e.title for e in vocabulary.EXERCISES]
    # the list of all four ids written out in one place only
    list_pattern = re.compile(r'"kneeling_3point",\s*"kneeling_kettlebell"')
    for path in list((ROOT / "device").rglob("*.py")) + list((ROOT / "web").glob("*.py")):
        if path.name == "vocabulary.py":
            continue
        text = path.read_text()
        for title in titles:
            assert title not in text, f"{path.relative_to(ROOT)} repeats {title!r}"
        assert not list_pattern.search(text), f"{path.relative_to(ROOT)} lists the exercises"


def test_options_serves_the_vocabulary(client):
    body = client.get("/api/options").get_json()
    assert body["points"] == [{"id": p.id, "label": p.label, "where": p.where}
                              for p in vocabulary.POINTS]
    kb = {e["id"]: e for e in body["exercises"]}["kneeling_kettlebell"]
    assert kb["title"] == "Kneeling kettlebell hinge" and kb["tracked"] is False
    assert set(kb["cues"]) == set(constants.POINTS)
    assert body["warmup"] == {"sets": 2, "reps": 10}
    assert body["calibration"]["hold_s"] > 0 and body["calibration"]["lead_in_s"] > 0
