"""The plan of the day under ``/api/plan``: read it, skip a step, reorder, log "done".

The plan lives in the core (``core.plan_*``, :mod:`device.runtime.coaching`);
these endpoints only read and steer it.  Every change needs the device token in
``X-Dowel-Token`` (401 without or with a wrong one, nothing changed) and a JSON
body (415 otherwise), both checked app-wide (web/auth.py):

* ``GET /api/plan`` -> the plan (the shape of the status snapshot's ``plan``);
* ``POST /api/plan/skip`` ``{}`` -> skip the current step;
* ``POST /api/plan/order`` ``{"order": [exercise id, ...]}`` -> every step once, in the new order;
* ``POST /api/plan/done`` ``{"reps": 10, "weight_kg": 12}`` (both optional) -> the current
  kettlebell step's set logged by hand through the history's manual-set path
  (201 with the plan and the stored set); 409 when the current step is one the
  dowel counts, or the plan is done.
"""
from __future__ import annotations

import functools

from flask import Blueprint, current_app, jsonify

from device.analysis.plan import PlanError
from device.history.store import FieldError, StoreError
from device.runtime.coaching import progression_stage

from .errors import ApiError, error_response, json_body

bp = Blueprint("plan", __name__, url_prefix="/api/plan")


@bp.errorhandler(PlanError)
def _plan_error(exc: PlanError):
    return error_response(409 if exc.field == "plan" else 400, exc.message, exc.field)


@bp.errorhandler(FieldError)
def _field_error(exc: FieldError):
    return error_response(400, f"{exc.field}: {exc.message}", exc.field)


@bp.errorhandler(StoreError)
def _store_error(exc: StoreError):
    return error_response(503, f"history is not available: {exc}")


def mutation(view):
    """A plan change: the token and the JSON content type are checked app-wide
    (web/auth.py, before the body is read); this hands the view its body."""
    @functools.wraps(view)
    def with_body(*args, **kwargs):
        body = json_body(required=False)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "body: expected a JSON object", "body")
        return view(body, *args, **kwargs)
    return with_body


def _only(body: dict, allowed: set) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field", unknown[0])


def _core():
    return current_app.config["CORE"]


def _plan():
    return jsonify(_core().plan_status())


@bp.get("")
def plan_get():
    store = current_app.config.get("STORE")
    if store is not None:
        # a plan not started yet follows the progression rule as it stands now
        return jsonify(_core().plan_stage(progression_stage(store)))
    return _plan()


@bp.post("/skip")
@mutation
def plan_skip(body: dict):
    _only(body, set())
    return jsonify(_core().plan_skip())


@bp.post("/order")
@mutation
def plan_order(body: dict):
    _only(body, {"order"})
    if "order" not in body:
        raise ApiError(400, "order: required (every step's exercise id, once each)", "order")
    return jsonify(_core().plan_order(body["order"]))


@bp.post("/done")
@mutation
def plan_done(body: dict):
    _only(body, {"reps", "weight_kg"})
    core = _core()
    plan = core.plan_status()
    if plan["done"]:
        raise PlanError("plan", "the plan is done for today")
    if plan["tracked"]:
        raise PlanError("plan", f"{plan['title']} is counted by the dowel: do the set with it on")
    store = current_app.config.get("STORE")
    if store is None:
        raise ApiError(503, "history is not available: sets logged by hand cannot be kept")
    reps = body.get("reps", plan["rep_target"])
    if isinstance(reps, float) and reps.is_integer():
        reps = int(reps)
    the_set = store.add_manual_set(store.current_athlete_id(), plan["exercise"], reps,
                                   body.get("weight_kg"))
    plan = core.plan_set_done(plan["exercise"], by_hand=True)
    return jsonify({"plan": plan, "set": the_set}), 201
