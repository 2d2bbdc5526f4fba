package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Gait events and window verdicts against Python's `detect_gait_events` / `assess_window`. */
class EventsTest {
    @Test
    fun gaitEventsAndWindowVerdictsMatchPython() {
        var nEvents = 0
        var nVerdicts = 0
        var dCadence = 0.0
        for (case in Golden.mapCases) {
            val name = Json.str(case["name"])
            val (ts, frames) = Golden.caseInput(case)
            val r = StreamResampler()
            val kp30 = ArrayList<DoubleArray>()
            for (i in ts.indices) for (g in r.push(ts[i], frames[i])) kp30.add(g.keypoints)
            val ev = Events.detect(kp30, 30.0)
            val want = Json.obj(case["events"])
            assertEquals("$name view", Json.str(want["view"]), ev.view)
            assertEquals(Json.int(want["n_frames"]), ev.nFrames)
            for (kind in listOf("heel_strikes", "toe_offs")) {
                val w = Json.obj(want[kind])
                val got = if (kind == "heel_strikes") ev.heelStrikes else ev.toeOffs
                for (side in GaitEvents.SIDES) {
                    val expected = Json.arr(w[side]).map { Json.int(it) }
                    assertEquals("$name $kind $side", expected, got.getValue(side))
                    nEvents += expected.size
                }
            }
            val valid = Golden.npy(Json.str(case["valid"])).booleans()
            for (v in Json.arr(case["window_verdicts"])) {
                val o = Json.obj(v)
                val s = Json.int(o["start"])
                val q = Events.assessWindow(valid, ev, s, s + 96, keypoints = kp30)
                val where = "$name@$s"
                assertEquals("$where ok", Json.bool(o["ok"]), q.ok)
                assertEquals("$where walking", Json.bool(o["walking"]), q.walking)
                assertEquals("$where whole body", Json.bool(o["whole_body_visible"]), q.wholeBodyVisible)
                assertEquals("$where cycles", Json.int(o["n_cycles"]), q.nCycles)
                assertEquals("$where steps", Json.int(o["n_steps"]), q.nSteps)
                assertEquals("$where valid fraction", Json.num(o["valid_fraction"]), q.validFraction, 1e-12)
                val wc = Json.numOrNull(o["cadence_spm"])
                if (wc == null) assertEquals("$where cadence", null, q.cadenceSpm)
                else dCadence = Math.max(dCadence, Math.abs(wc - q.cadenceSpm!!))
                assertEquals("$where reasons", Json.arr(o["reasons"]).map { Json.str(it) }, q.reasons)
                assertEquals("$where motion", Json.str(o["motion"]), q.motion)
                nVerdicts++
            }
        }
        Parity.report("events_${nEvents}_and_${nVerdicts}_window_verdicts", "identical_events_verdicts_cadence", dCadence)
        assertTrue(nEvents > 100 && nVerdicts > 100)
        assertTrue(dCadence <= 1e-9)
    }

    @Test
    fun scipyHelpersBehaveLikeScipy() {
        // find_peaks([0, 1, 1, 1, 0, 2, 0, 5, 0], distance=1): the flat peak reports its middle
        val x = doubleArrayOf(0.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 5.0, 0.0)
        assertEquals(listOf(2, 5, 7), Events.findPeaks(x, 1, 0.0).toList())
        assertEquals(listOf(2, 7), Events.findPeaks(x, 3, 0.0).toList()) // distance drops 5 (next to the higher 7)
        assertEquals(listOf(5, 7), Events.findPeaks(x, 1, 1.5).toList()) // prominence 1, 2, 5
        assertEquals(listOf(0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0), Events.medianFilter(x, 3).toList())
        assertEquals(2.6000000000000005, Events.percentile(x, 90.0), 1e-15) // numpy
        assertEquals(listOf(Pair(1, 3), Pair(5, 6)), Events.runs(booleanArrayOf(false, true, true, false, false, true)))
    }
}
