"""History endpoints: sessions, sets, reps, trends, progression, export, athletes.

Registered by ``web.create_app`` when a store is given.  Reads
``current_app.config["STORE"]`` (:class:`device.history.store.Store`),
and ``["CORE"]`` (for the history health line).  Changes and the export
need the device token (:mod:`web.auth`).

Errors are JSON ``{"error": message, "field": name or null}``
(:mod:`web.errors`): 400 for a bad value (the field is named), 401 without the
token, 404 for an unknown id, 503 when the database cannot be written
(nothing already stored is lost).
Times are Unix seconds; see docs/history.md for the shapes.
"""
from __future__ import annotations

import datetime as _dt
import sqlite3
import time

from flask import Blueprint, Response, current_app, request

from device.history import export, trends
from device.history.store import FieldError, StoreError, local_day

from .auth import needs_token
from .errors import ApiError, error_response, json_object, json_response
from .validate import check_id, whole_number_arg

bp = Blueprint("history", __name__)


# Registered app-wide: other blueprints that use the store (the plan) fail the same way.
@bp.app_errorhandler(FieldError)
def _field_error(exc: FieldError):
    return error_response(400, f"{exc.field}: {exc.message}", exc.field)


@bp.app_errorhandler(sqlite3.Error)
@bp.app_errorhandler(StoreError)
def _store_error(exc):
    return error_response(503, f"history is not available: {exc}")


def _store():
    return current_app.config["STORE"]


def _int_arg(name: str, default, low: int, high: int):
    return whole_number_arg(request.args, name, default, low, high)


def _athlete_arg():
    """The athlete named by ``?athlete=`` (404 when there is none), else the current one."""
    athlete_id = _int_arg("athlete", None, 1, 10 ** 12)
    if athlete_id is None:
        return _store().current_athlete_id()
    if _store().get_athlete(athlete_id) is None:
        raise ApiError(404, f"athlete {athlete_id}: no such athlete", "athlete")
    return athlete_id


def _history_health():
    core = current_app.config.get("CORE")
    try:
        return core.get_status()["health"].get("history", "ok") if core is not None else None
    except Exception:                    # the page must still show stored history
        return None


# -- summaries --------------------------------------------------------------------
@bp.get("/api/history")
def history_summary():
    """``{"athlete", "sessions", "sets", "reps", "manual_reps", "clean_pct",
    "trends": {"sessions": [per session, oldest first], "overall", "losses_by_point",
    "most_lost_point"}, "progression": {"stage", "suggestion", "reason", ...},
    "saving": "ok" or the problem}``"""
    store = _store()
    athlete_id = _athlete_arg()
    doc = {"athlete": store.get_athlete(athlete_id)}
    doc.update(trends.summary(store.all_sessions(athlete_id)))
    doc["saving"] = _history_health()
    return json_response(doc)


@bp.get("/api/sessions")
def sessions_list():
    limit = _int_arg("limit", 20, 1, 500)
    offset = _int_arg("offset", 0, 0, 10 ** 9)
    athlete_id = _athlete_arg()
    items, total = _store().list_sessions(athlete_id=athlete_id, limit=limit, offset=offset)
    return json_response({"sessions": items, "total": total, "limit": limit, "offset": offset})


@bp.get("/api/sessions/current")
def session_current():
    """Today's session of the current athlete, with its sets and reps (an open set
    has ``end`` null).  Before the first set of the day: ``id`` null, ``sets`` empty.
    ``athlete`` is the athlete's name, as in the session list."""
    store = _store()
    athlete_id = _athlete_arg()
    athlete = store.get_athlete(athlete_id)
    session = store.current_session(athlete_id) or {
        "id": None, "athlete_id": athlete_id, "day": local_day(time.time()), "started": None,
        "ended": None, "set_count": 0, "rep_count": 0, "clean_reps": 0, "manual_reps": 0,
        "clean_pct": None, "sets": []}
    session["athlete"] = athlete["name"]
    return json_response(session)


@bp.get("/api/sessions/<id:session_id>")
def session_get(session_id: int):
    session = _store().get_session(session_id)
    if session is None:
        raise ApiError(404, f"session {session_id}: no such session", "id")
    session["trends"] = trends.session_trends(session)
    return json_response(session)


@bp.delete("/api/sessions/<id:session_id>")
def session_delete(session_id: int):
    """Needs the device token, like every change (web.auth)."""
    if not _store().delete_session(session_id):
        raise ApiError(404, f"session {session_id}: no such session", "id")
    return json_response({"deleted": session_id})


@bp.get("/api/sets/<id:set_id>")
def set_get(set_id: int):
    the_set = _store().get_set(set_id)
    if the_set is None:
        raise ApiError(404, f"set {set_id}: no such set", "id")
    return json_response(the_set)


@bp.get("/api/reps")
def reps_list():
    limit = _int_arg("limit", 50, 1, 500)
    offset = _int_arg("offset", 0, 0, 10 ** 9)
    session_id = _int_arg("session", None, 1, 10 ** 12)
    athlete_id = None if session_id is not None else _athlete_arg()
    if session_id is not None and _store().get_session(session_id) is None:
        raise ApiError(404, f"session {session_id}: no such session", "session")
    items, total = _store().list_reps(session_id=session_id, athlete_id=athlete_id,
                                      limit=limit, offset=offset)
    return json_response({"reps": items, "total": total, "limit": limit, "offset": offset})


# -- athletes and manual sets ------------------------------------------------------
@bp.get("/api/athletes")
def athletes_list():
    store = _store()
    return json_response({"athletes": store.athletes(), "current": store.current_athlete_id()})


@bp.post("/api/athletes")
def athletes_add():
    """``{"name": str, "current": bool (optional: record the next sets for them)}`` -> 201."""
    body = json_object()
    name = body.get("name")
    if not isinstance(name, str):
        raise ApiError(400, "name: expected a string", "name")
    current = body.get("current", False)
    if not isinstance(current, bool):
        raise ApiError(400, "current: expected true or false", "current")
    store = _store()
    athlete = store.add_athlete(name)
    if current:
        store.set_current_athlete(athlete["id"])
    athlete["current"] = store.current_athlete_id() == athlete["id"]
    return json_response(athlete, 201)


@bp.put("/api/athletes/current")
def athletes_select():
    """``{"id": athlete id}``: the next sets are recorded for this athlete."""
    body = json_object()
    athlete_id = check_id(body.get("id"), "id")
    try:
        _store().set_current_athlete(athlete_id)
    except KeyError:
        raise ApiError(404, f"id: no athlete {athlete_id}", "id") from None
    return json_response({"current": athlete_id})


@bp.post("/api/manual-sets")
def manual_set_add():
    """``{"exercise": "kneeling_kettlebell"|"standing_kettlebell", "reps": 1..50,
    "weight_kg": optional number}`` -> 201 with the stored set."""
    body = json_object()
    unknown = sorted(set(body) - {"exercise", "reps", "weight_kg"})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field", unknown[0])
    if "exercise" not in body:
        raise ApiError(400, "exercise: required", "exercise")
    if "reps" not in body:
        raise ApiError(400, "reps: required", "reps")
    reps = body["reps"]
    if isinstance(reps, float) and reps.is_integer():
        reps = int(reps)
    weight = body.get("weight_kg")
    store = _store()
    the_set = store.add_manual_set(store.current_athlete_id(), body["exercise"], reps, weight)
    core = current_app.config.get("CORE")
    if hasattr(core, "plan_set_done"):          # the plan moves on; the set takes a set number
        core.plan_set_done(the_set["exercise"], by_hand=True)
    return json_response(the_set, 201)


# -- export ------------------------------------------------------------------------
@bp.get("/api/export")
@needs_token
def export_download():
    """Everyone's history (or one athlete's): personal data, so only for a paired phone."""
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise ApiError(400, f"format: must be csv or json, got {fmt[:24]!r}", "format")
    athlete_id = _athlete_arg() if request.args.get("athlete", "").strip() else None
    text = export.export_text(_store(), fmt, athlete_id)
    day = _dt.date.today().isoformat()
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    return Response(text, mimetype=f"{mimetype}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="dowel-history-{day}.{fmt}"',
        "Cache-Control": "no-store"})
