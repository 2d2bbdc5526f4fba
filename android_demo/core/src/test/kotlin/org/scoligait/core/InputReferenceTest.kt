package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/** The out-of-distribution check ([InputReference]) against Python's `score_window` on every fixture window. */
class InputReferenceTest {
    private val demoDir = File(Golden.repoRoot(), "scoligait_edge/assets/models/demo")
    private val reference: InputReference by lazy { InputReference.parse(File(demoDir, "input_reference.json").readText()) }

    @Test
    fun scoresEveryFixtureWindowAsPython() {
        val length = Json.int(Golden.section("window")["frames"])
        val hop = Json.int(Golden.section("window")["hop"])
        val nf = GeneratedSchema.NUM_FEATURES
        var compared = 0
        var maxDiff = 0.0
        for (case in Golden.mapCases) {
            val name = Json.str(case["name"])
            val valid = Golden.npy(Json.str(case["valid"])).booleans()
            val values = Golden.npy(Json.str(case["values"])).floats()
            val offset = Json.int(case["rows_offset"])
            val want = Golden.npy(Json.str(case["input_unusual_fraction"])).doubles()
            val starts = WindowBuffer.windowStarts(valid.size, length, hop)
            assertEquals(starts.size, want.size)
            for ((k, s) in starts.withIndex()) {
                if (s < offset) continue
                val w = values.copyOfRange((s - offset) * nf, (s - offset + length) * nf)
                val score = reference.scoreWindow(w, valid.copyOfRange(s, s + length))
                if (want[k].isNaN()) {
                    assertNull("$name window $s", score)
                } else {
                    maxDiff = Math.max(maxDiff, Math.abs(score!!.fraction - want[k]))
                    assertEquals("$name window $s", want[k], score.fraction, 1e-12)
                    assertEquals(want[k] > reference.flagFraction, score.flagged)
                }
                compared++
            }
        }
        assertTrue("windows compared: $compared", compared >= 40)
        Parity.report("all_cases_${compared}_windows", "input_unusual_fraction", maxDiff)
    }

    @Test
    fun aWindowWithNoValidRowIsNotScoredAndBadFilesAreRefused() {
        val n = 96
        assertNull(reference.scoreWindow(FloatArray(n * GeneratedSchema.NUM_FEATURES), BooleanArray(n)))
        // a window far from everything: every column far
        val far = reference.scoreWindow(FloatArray(n * GeneratedSchema.NUM_FEATURES) { 1e6f }, BooleanArray(n) { true })!!
        assertEquals(1.0, far.fraction, 0.0)
        assertTrue(far.flagged)
        assertEquals(8.0, reference.farZ, 0.0)
        assertEquals(0.06, reference.flagFraction, 0.0)
        for ((what, json) in listOf(
            "kind" to """{"kind": "other", "statistic": "window column mean over valid rows", "n_windows": 1, "center": [0], "scale": [1]}""",
            "scale" to """{"kind": "scoligait-input-reference/1", "statistic": "window column mean over valid rows", "n_windows": 1, "center": [0], "scale": [0]}""",
            "columns" to """{"kind": "scoligait-input-reference/1", "statistic": "window column mean over valid rows", "n_windows": 1, "center": [0, 1], "scale": [1]}"""
        )) {
            try {
                InputReference.parse(json)
                fail("$what: accepted")
            } catch (e: IllegalArgumentException) {
                // refused with a message (BundleReader turns it into a BundleException naming the file)
                assertTrue(what, e.message!!.isNotEmpty())
            }
        }
    }
}
