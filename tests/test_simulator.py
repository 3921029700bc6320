"""The simulated athlete: determinism, truth consistent with the signal, the electrical model's levels."""
from __future__ import annotations

import math

import numpy as np
import pytest

from device.hw import constants
from device.sim.simulator import (
    SET,
    AthleteProfile,
    ScriptBuilder,
    SimSession,
    fsr_volts_array,
    generate_session,
)

POINTS = constants.POINTS
SEEDS = range(12)


@pytest.fixture(scope="module")
def sessions():
    """Clean and noisy sessions, generated once for the module."""
    return {(s, noisy): generate_session(s, noisy=noisy) for s in SEEDS for noisy in (False, True)}


def _losses(truth):
    return [l for s in truth["sets"] for r in s["reps"] for l in r["losses"]]


def fresh_session(*args, **kw):
    """``generate_session`` computed anew, not the copy of the last one it keeps."""
    from device.sim import simulator

    simulator._LAST_SESSION.clear()
    return generate_session(*args, **kw)


def test_same_seed_same_session_different_seed_different():
    a, b, c = fresh_session(7), fresh_session(7), fresh_session(8)
    assert a._smooth is not b._smooth             # computed twice, not one kept
    assert a.truth == b.truth
    ts = np.linspace(0, a.duration_s, 997)
    assert np.array_equal(a.voltages_array(ts), b.voltages_array(ts))
    assert a.frames(rate_hz=200, seed=3) == b.frames(rate_hz=200, seed=3)
    assert a.truth != c.truth
    assert fresh_session(-3).truth == fresh_session(-3).truth != fresh_session(3).truth


def test_the_same_call_again_gets_its_own_copy_of_the_session():
    a = fresh_session(7)
    b = generate_session(7)                       # the kept one: a copy, at once
    ts = np.linspace(0, a.duration_s, 501)
    assert np.array_equal(a.voltages_array(ts), b.voltages_array(ts)) and a.truth == b.truth
    b.truth["sets"].clear()
    b.script.sets.clear()
    b.profile.rest_n["head"] = 99.0
    c = generate_session(7)
    assert c.truth == a.truth and len(c.script.sets) == len(a.script.sets)
    assert c.profile.rest_n["head"] == a.profile.rest_n["head"]
    with pytest.raises(ValueError):               # the shared signal cannot be changed
        c._smooth[0, 0] = 1.0
    assert generate_session(7, noisy=True).truth != a.truth     # other arguments, other session


def test_voltages_is_a_function_of_time_whatever_the_frame_rate():
    s = generate_session(3, noisy=True)
    for rate in (200, 50):
        frames = s.frames(rate_hz=rate, jitter=0.2, seed=1)
        for f in frames[::97]:
            assert s.voltages(f.t) == pytest.approx(tuple(f[1:]), abs=1e-12)


def test_frame_times_have_the_asked_rate_and_jitter():
    s = generate_session(4)
    for rate in (200, 50):
        t = np.array([f.t for f in s.frames(rate_hz=rate, jitter=0.2, seed=9)])
        dt = np.diff(t)
        period = 1.0 / rate
        assert t[0] == 0.0 and t[-1] <= s.duration_s
        assert dt.min() >= period * 0.9 - 1e-12 and dt.max() <= period * 1.1 + 1e-12
        assert abs(dt.mean() - period) < period * 0.01
        assert dt.std() > period * 0.02            # jittered, not a perfect clock
    t0 = [f.t for f in s.frames(rate_hz=200, jitter=0.0)]
    assert np.allclose(np.diff(t0), 0.005)


def test_fsr_volts_array_is_the_divider_model():
    forces = [0.0, -1.0, 0.5, 1.0, 3.3, 8.0]
    assert fsr_volts_array(np.array(forces)).tolist() == \
        pytest.approx([constants.fsr_volts(f) for f in forces])


def test_truth_is_consistent(sessions):
    for (seed, noisy), s in sessions.items():
        where = f"seed {seed} noisy={noisy}"
        sets = s.truth["sets"]
        assert 1 <= len(sets) <= 4, where
        last_end = 0.0
        for st in sets:
            assert last_end < st["start"] < st["removal_start"] < st["end"] <= s.duration_s, where
            assert 1 <= len(st["reps"]) <= 15, where
            last_end = st["end"]
            prev = st["start"]
            for r in st["reps"]:
                assert prev <= r["start"] < r["end"] <= st["removal_start"], where
                prev = r["end"]
                assert 35.0 - 3 <= r["depth_deg"] <= 80.0 + 3, where
                assert 0.8 - 1e-9 <= r["down_s"] <= 2.5 + 1e-9, where
                assert 0.8 - 1e-9 <= r["up_s"] <= 2.5 + 1e-9, where
                assert r["down_s"] + r["up_s"] <= r["end"] - r["start"] + 0.002, where
                for l in r["losses"]:
                    assert l["point"] in POINTS, where
                    assert r["start"] < l["start"] and l["start"] + l["duration_s"] < r["end"], where
                    assert 0.15 - 1e-3 <= l["duration_s"] <= 1.2 + 1e-3, where
        assert set(s.truth) == {"sets"}
        assert set(sets[0]) == {"start", "removal_start", "end", "reps"}


def test_sessions_are_varied(sessions):
    """Across a dozen seeds: losses on every point, some spanning the bottom, all rep
    counts from short to long sets, pauses, wobbles, dropouts."""
    losses, spanning, reps_per_set, pauses, wobbles, bounces, slouched = [], 0, [], 0, 0, 0, 0
    for s in sessions.values():
        for st, sc in zip(s.truth["sets"], s.script.sets):
            reps_per_set.append(len(st["reps"]))
            for r in sc.reps:
                pauses += r.pause_s > 0
                bottom0, bottom1 = r.start + r.down_s, r.start + r.down_s + r.pause_s
                for l in r.losses:
                    losses.append(l.point)
                    spanning += l.start < bottom0 and l.start + l.duration_s > bottom1
        for sc in s.script.sets:
            wobbles += len(sc.wobbles)
            assert all(abs(amp) < 12.0 for _, _, amp in sc.wobbles)
            bounces += sum(1 for r in sc.reps for l in r.losses if l.bounce)
            slouched += any(r.rest_deg > 0.5 for r in sc.reps)
    assert set(losses) == set(POINTS)
    assert spanning >= 3
    assert min(reps_per_set) <= 4 and max(reps_per_set) >= 12
    assert pauses >= 10 and wobbles >= 10 and bounces >= 2 and slouched >= 2
    bumps = [b for s in sessions.values() for b in s.script.bumps]
    assert len(bumps) >= 3


def test_a_bump_is_one_or_two_points_and_outside_sets(sessions):
    """Fumbling the dowel into place: a brief touch, never all three points at once."""
    seen = 0
    for (seed, noisy), s in sessions.items():
        for point, b0, dur in s.script.bumps:
            assert not any(st.place_start - 0.01 < b0 + dur and b0 < st.end for st in s.script.sets)
            v = s.voltages(b0 + dur / 2)
            assert v[POINTS.index(point)] > 0.8
            assert min(v[:3]) < 0.03, f"seed {seed}: all three touch during a bump"
            seen += 1
    assert seen


def test_levels_follow_the_electrical_model(sessions):
    """Held contact 1.6-2.9 V, open ~0 V, tilt = 1.65 + 0.33 sin(pitch + mount offset)."""
    for seed in SEEDS:
        s = sessions[(seed, False)]
        # what s.frames(rate_hz=200, seed=seed) holds, as arrays
        t = s.frame_times(rate_hz=200, seed=seed)
        v = s.voltages_array(t).T
        held = np.zeros(len(t), dtype=bool)
        idle = np.ones(len(t), dtype=bool)
        for st in s.script.sets:
            held |= (t > st.start + 0.5) & (t < st.removal_start - 0.05)
            idle &= ~((t > st.place_start - 0.01) & (t < st.end + 0.01))
        for _, b0, dur in s.script.bumps:
            idle &= ~((t > b0 - 0.01) & (t < b0 + dur + 0.01))
        for ci, p in enumerate(POINTS):
            ok = held.copy()
            for r in (r for st in s.script.sets for r in st.reps):
                for l in r.losses:
                    if l.point == p:
                        ok &= ~((t > l.start - l.fall_s - 0.01) & (t < l.start + l.duration_s + l.rise_s + 0.01))
            for g in s.script.glitches:
                if g[2] == ci:
                    ok &= ~((t >= g[0]) & (t < g[1]))
            x = v[ok, ci]
            assert x.min() > 1.6 - 0.06 and x.max() < 2.9 + 0.06, f"seed {seed} {p}"
            assert v[idle, ci].max() < 0.03, f"seed {seed} {p} idle"
        pitch = np.array([s.pitch_deg(x) for x in t[::50]])
        expect = 1.65 + 0.33 * np.sin(np.radians(pitch + s.profile.tilt_offset_deg))
        resid = v[::50, 3] - expect
        assert np.abs(resid).max() < 6 * s.profile.tilt_noise_v + 0.04   # + rare tilt glitches
        assert abs(np.median(resid)) < s.profile.tilt_noise_v


def test_a_loss_reads_zero_and_the_point_is_held_around_it(sessions):
    for (seed, noisy), s in sessions.items():
        for r in (r for st in s.script.sets for r in st.reps):
            for l in r.losses:
                ci = POINTS.index(l.point)
                for frac in (0.1, 0.5, 0.9):
                    at = l.start + l.duration_s * frac
                    if l.bounce and l.start + l.bounce[0] - 0.002 <= at <= \
                            l.start + sum(l.bounce) + 0.002:
                        continue        # the brief touch inside some noisy losses
                    assert s.voltages(at)[ci] < 0.05, f"seed {seed}: {l.point} at {l.start}"
                before = s.voltages(l.start - l.fall_s - 0.004)[ci]
                after = s.voltages(l.start + l.duration_s + l.rise_s + 0.004)[ci]
                assert before > 1.2 and after > 1.2, f"seed {seed}: {l.point} at {l.start}"


def test_dropouts_hit_at_most_one_frame_at_200_hz(sessions):
    checked = 0
    for (seed, noisy), s in sessions.items():
        drops = [g for g in s.script.glitches if g[3] == SET]
        assert 2.0 <= min((g[1] - g[0]) * 1000 for g in drops) if drops else True
        for rate in (200, 50):
            t = s.frame_times(rate_hz=rate, jitter=0.2, seed=seed)
            for g0, g1, ch, kind, value in s.script.glitches:
                inside = np.count_nonzero((t >= g0) & (t < g1))
                assert inside <= 1, f"seed {seed} glitch at {g0:.4f}"
                checked += kind == SET and rate == 200
    assert checked > 30
    # a dropout reads ~0 V only for the frame it hits: the neighbours are held
    s = generate_session(1, noisy=True)
    frames = s.frames(rate_hz=200, seed=1)
    t = np.array([f.t for f in frames])
    for g0, g1, ch, kind, value in s.script.glitches:
        if kind != SET:
            continue
        i = int(np.searchsorted(t, g0))
        if i < len(t) and t[i] < g1:
            assert frames[i][1 + ch] < 0.01
            assert frames[i - 1][1 + ch] > 1.0 and frames[i + 1][1 + ch] > 1.0


def test_noisy_sessions_are_noisier(sessions):
    def measured(noisy_flag):
        """High-frequency noise of the held points in each set's settle (frame to frame)."""
        out = []
        for (seed, n), s in sessions.items():
            if n != noisy_flag:
                continue
            st = s.script.sets[0]
            t = np.arange(st.placed + 0.3, st.placed + 1.3, 0.005)
            v = s.voltages_array(t)[:3]
            out.append(float(np.median(np.diff(v, axis=1).std(axis=1) / np.sqrt(2))))
        return out

    clean, noisy = measured(False), measured(True)
    assert 0.004 < min(clean) and max(clean) < 0.025
    assert np.median(noisy) > 1.8 * np.median(clean)

    def glitches_per_min(noisy_flag):
        g = sum(len(s.script.glitches) for (_, n), s in sessions.items() if n == noisy_flag)
        return g / sum(s.duration_s for (_, n), s in sessions.items() if n == noisy_flag) * 60

    assert glitches_per_min(True) > 3 * glitches_per_min(False)
    assert any(g[2] == 3 for (_, n), s in sessions.items() if n for g in s.script.glitches)


def test_overrides():
    s = generate_session(2, reps=[3, 5], loss_prob=0.0, dropouts_per_min=0.0)
    assert [len(st["reps"]) for st in s.truth["sets"]] == [3, 5]
    assert _losses(s.truth) == [] and s.script.glitches == []
    with pytest.raises(TypeError, match="unknown override"):
        generate_session(2, wobbles=3)


def test_builder_refuses_impossible_scripts():
    b = ScriptBuilder()
    with pytest.raises(ValueError, match="place it first"):
        b.rep(40, 1, 1)
    b.idle(1.0)
    b.place({p: 0.0 for p in POINTS}, {p: 0.2 for p in POINTS})
    with pytest.raises(ValueError, match="does not fit"):
        b.rep(40, 1.0, 1.0, losses=[("head", 1.5, 0.6)])
    with pytest.raises(ValueError, match="remove it first"):
        b.build()


def test_scripted_session_is_exact():
    """A hand-built script: truth times and depth are the scripted ones."""
    b = ScriptBuilder()
    b.idle(1.0)
    b.place({p: 0.0 for p in POINTS}, {p: 0.2 for p in POINTS})
    b.upright(2.0)
    b.rep(60.0, 1.0, 1.5, pause_s=0.5, losses=[("upper_back", 0.8, 0.7)])
    b.upright(1.0)
    b.remove({p: 0.0 for p in POINTS}, {p: 0.3 for p in POINTS})
    b.idle(1.0)
    s = SimSession(b.build(still=True), AthleteProfile(), seed=0)
    rep = s.truth["sets"][0]["reps"][0]
    assert rep["start"] == 3.2 and rep["end"] == 6.2
    assert rep["depth_deg"] == pytest.approx(60.0)
    assert rep["losses"] == [{"point": "upper_back", "start": 4.0, "duration_s": 0.7}]
    assert s.truth["sets"][0]["start"] == 1.0
    assert s.truth["sets"][0]["removal_start"] == 7.2 and s.truth["sets"][0]["end"] == 7.5
    assert s.duration_s == pytest.approx(8.5)
    assert s.pitch_deg(4.5) == pytest.approx(60.0)
    assert math.isclose(s.pitch_deg(3.2), 0.0, abs_tol=1e-9)


def test_motion_artefact_is_opt_in():
    """With the accelerometer 0.4 m from the hip, the hinge's own acceleration shows in
    the tilt while moving (not at rest); without it the tilt is the pure ``1.65 + 0.33 sin(pitch)``."""
    def session(radius):
        b = ScriptBuilder()
        b.idle(1.0)
        b.place({p: 0.0 for p in POINTS}, {p: 0.2 for p in POINTS})
        b.upright(2.0)
        b.rep(60.0, 0.9, 0.9, pause_s=0.5)
        b.upright(1.0)
        b.remove({p: 0.0 for p in POINTS}, {p: 0.3 for p in POINTS})
        b.idle(1.0)
        prof = AthleteProfile(sensor_radius_m=radius, tilt_noise_v=0.0)
        return SimSession(b.build(still=True), prof, seed=0)

    plain, moving = session(0.0), session(0.4)
    rest, start_down, mid_pause = 2.0, 3.25, 4.35
    assert moving.voltages(rest)[3] == pytest.approx(plain.voltages(rest)[3], abs=1e-6)
    assert moving.voltages(mid_pause)[3] == pytest.approx(plain.voltages(mid_pause)[3], abs=1e-6)
    # speeding up forward at the start of the descent reads as extra pitch
    assert moving.voltages(start_down)[3] - plain.voltages(start_down)[3] > 0.02
    assert plain.voltages(mid_pause)[3] == pytest.approx(
        1.65 + 0.33 * math.sin(math.radians(62.0)), abs=1e-6)
