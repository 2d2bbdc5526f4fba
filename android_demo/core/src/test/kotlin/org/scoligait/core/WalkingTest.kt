package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The walking gate against Python's `assess_walking` (golden `walking_gate` cases: SIMULATED walks, runs,
 * standing, swaying, jumping, random keypoints, an upside-down camera, a body tracked too briefly, REAL demo
 * windows). Measures agree within the fixture's tolerance; verdicts, motions and reasons exactly, except on
 * a case whose measure lies within that tolerance of a threshold (none today; counted and reported).
 */
class WalkingTest {
    private val gate: Map<String, Any?> by lazy { Golden.section("walking_gate") }

    private fun nearThreshold(v: Map<String, Any?>, tol: Double): Boolean {
        val t = Json.obj(gate["thresholds"])
        fun near(key: String, vararg names: String): Boolean {
            val x = Json.numOrNull(v[key]) ?: return false
            return names.any { Math.abs(x - Json.num(t[it])) <= tol }
        }
        return near("stride", "MIN_STRIDE") || near("periodicity", "MIN_PERIODICITY") ||
            near("cadence_spm", "MIN_CADENCE", "MAX_CADENCE") || near("bounce", "MAX_BOUNCE") ||
            near("upright", "MIN_UPRIGHT") || near("jitter", "MAX_JITTER") || near("run_score", "MAX_RUN_SCORE") ||
            near("heel", "MIN_RUN_HEEL")
    }

    @Test
    fun verdictsAndMeasuresMatchPython() {
        val tol = Json.num(gate["tolerance"])
        var dMax = 0.0
        var compared = 0
        var near = 0
        val motions = HashSet<String>()
        for (c in Json.arr(gate["cases"]).map { Json.obj(it) }) {
            val name = Json.str(c["name"])
            val want = Json.obj(c["verdict"])
            val got = Walking.assess(Golden.frames(Golden.npy(Json.str(c["keypoints"]))), Json.num(c["fps"]))
            val measures = linkedMapOf<String, Double?>(
                "stride" to got.stride, "periodicity" to got.periodicity, "cadence_spm" to got.cadenceSpm,
                "bounce" to got.bounce, "flight" to got.flight, "heel" to got.heel, "support" to got.support,
                "run_score" to got.runScore, "upright" to got.upright, "jitter" to got.jitter
            )
            for ((key, g) in measures) {
                val w = Json.numOrNull(want[key])
                if (w == null) {
                    assertNull("$name $key", g)
                    continue
                }
                val d = Math.abs(w - g!!)
                assertTrue("$name $key: Python $w, Kotlin $g", d <= tol)
                dMax = Math.max(dMax, d)
            }
            if (nearThreshold(want, tol)) {
                near++
                continue
            }
            assertEquals("$name walking", Json.bool(want["walking"]), got.walking)
            assertEquals("$name motion", Json.str(want["motion"]), got.motion)
            assertEquals("$name side on", Json.bool(want["side_on"]), got.sideOn)
            assertEquals("$name upside down", Json.bool(want["upside_down"]), got.upsideDown)
            assertEquals("$name reason", want["reason"], got.reason)
            motions.add(got.motion)
            compared++
        }
        println("       walking gate: $compared cases compared exactly, $near near a threshold (measures only)")
        Parity.report("walking_gate_${compared}_cases_${near}_near_threshold", "max_abs_measure", dMax)
        assertTrue(compared >= 10)
        assertEquals(setOf("walking", "running", "standing", "no_body"), motions.intersect(setOf("walking", "running", "standing", "no_body")))
    }

    @Test
    fun theWindowVerdictNamesTheMotionUnderNotWalking() {
        val c = Json.arr(gate["cases"]).map { Json.obj(it) }.first { Json.str(it["name"]) == "running_side" }
        val kp = Golden.frames(Golden.npy(Json.str(c["keypoints"])))
        val ev = Events.detect(kp, 30.0)
        assertEquals("running", Walking.assess(kp, 30.0).motion)
        val q = Events.assessWindow(BooleanArray(kp.size) { true }, ev, 0, kp.size, keypoints = kp)
        assertFalse(q.walking)
        assertFalse(q.ok)
        assertEquals("running", q.motion)
        if (q.nSteps >= 2) assertTrue(q.reasons.toString(), "running, not walking (the protocol is walking)" in q.reasons)
        try {
            Events.assessWindow(BooleanArray(kp.size) { true }, ev, 0, 48) // a part of the events, no keypoints
            throw AssertionError("a window that is not the events' own needs its keypoints")
        } catch (e: IllegalArgumentException) {
            assertTrue(e.message!!.contains("keypoints"))
        }
    }
}
