"""The plan of the day: the article's warm-up, moved on by sets, skipped, reordered."""
from __future__ import annotations

import pytest

from device.analysis.plan import Plan, PlanError


def test_all_four_kneeling_first_each_two_sets_of_ten():
    plan = Plan()
    s = plan.status()
    assert [st["exercise"] for st in s["steps"]] == [
        "kneeling_3point", "kneeling_kettlebell", "standing_3point", "standing_kettlebell"]
    assert (s["exercise"], s["set_index"], s["sets"], s["rep_target"]) == ("kneeling_3point", 1, 2, 10)
    assert s["title"] == "Kneeling 3-point touch hinge" and s["tracked"] is True
    assert s["step_index"] == 0 and s["done"] is False and s["stage"] == "all_four"


@pytest.mark.parametrize("stage", ["standing", "deadlift"])
def test_only_the_standing_versions_once_the_progression_rule_says_so(stage):
    assert [st["exercise"] for st in Plan(stage).status()["steps"]] == [
        "standing_3point", "standing_kettlebell"]


def test_two_tracked_sets_move_on_to_the_kettlebell_logged_by_hand():
    plan = Plan()
    assert plan.set_done("kneeling_3point") is False
    assert plan.status()["set_index"] == 2
    assert plan.set_done("kneeling_3point") is True
    s = plan.status()
    assert s["exercise"] == "kneeling_kettlebell" and s["tracked"] is False and s["set_index"] == 1
    assert s["steps"][0]["state"] == "done" and s["steps"][1]["state"] == "current"
    with pytest.raises(PlanError):
        Plan().log_by_hand()                 # the dowel counts the 3-point hinge
    assert plan.log_by_hand() == "kneeling_kettlebell"
    assert plan.log_by_hand() == "kneeling_kettlebell"
    assert plan.status()["exercise"] == "standing_3point"


def test_a_set_of_another_exercise_counts_for_its_own_step():
    plan = Plan()
    plan.set_done("standing_3point")
    s = plan.status()
    assert s["exercise"] == "kneeling_3point"
    assert s["steps"][2]["sets_done"] == 1
    assert plan.set_done("deadlift") is False


def test_skip_and_the_end_of_the_plan():
    plan = Plan("standing")
    assert plan.skip() is True
    assert plan.status()["exercise"] == "standing_kettlebell"
    plan.skip()
    s = plan.status()
    assert s["done"] is True and s["exercise"] is None and s["step_index"] == 2
    assert [st["state"] for st in s["steps"]] == ["skipped", "skipped"]
    assert plan.skip() is False
    with pytest.raises(PlanError, match="done for today"):
        plan.log_by_hand()


def test_reorder_puts_the_steps_in_the_order_given_and_says_what_is_wrong():
    plan = Plan()
    plan.set_done("kneeling_3point")
    order = ["standing_3point", "kneeling_3point", "standing_kettlebell", "kneeling_kettlebell"]
    plan.reorder(order)
    s = plan.status()
    assert [st["exercise"] for st in s["steps"]] == order
    assert s["exercise"] == "standing_3point"
    assert s["steps"][1]["sets_done"] == 1           # what was done stays done
    with pytest.raises(PlanError, match="'deadlift' is not in today's plan") as err:
        plan.reorder(["deadlift"] + order[1:])
    assert err.value.field == "order"
    with pytest.raises(PlanError, match="every step"):
        plan.reorder(order[:3])
    with pytest.raises(PlanError, match="list of exercise ids"):
        plan.reorder("standing_3point")


def test_a_picked_exercise_is_followed_through_its_sets_then_the_plan_goes_on():
    plan = Plan()
    assert plan.focus("standing_3point") is True
    assert plan.set_done("standing_3point") is False          # one of two: stays there
    assert plan.status()["exercise"] == "standing_3point"
    assert plan.set_done("standing_3point") is True
    assert plan.status()["exercise"] == "standing_kettlebell"  # the next one after it
    plan.skip()
    assert plan.status()["exercise"] == "kneeling_3point"      # then from the top
    assert plan.focus("standing_3point") is False              # done already
