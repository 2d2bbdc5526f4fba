package org.scoligait.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class SilhouetteAndPickerTest {
    @Test
    fun silhouettesMatchPythonWithinAGreyLevel() {
        for (e in Json.arr(Golden.index["silhouettes"])) {
            val c = Json.obj(e)
            val name = Json.str(c["name"])
            val mask = Golden.npy(Json.str(c["mask_u8"]))
            val h = mask.shape[0]
            val w = mask.shape[1]
            val u8 = mask.ints()
            val soft = FloatArray(u8.size) { u8[it].toFloat() / 255.0f }
            val box = Json.arr(c["box"]).map { Json.num(it) }.toDoubleArray()
            val (sil, usable) = Silhouette.personSilhouette(soft, w, h, box)
            assertEquals("$name usable", Json.bool(c["usable"]), usable)
            val want = Golden.npy(Json.str(c["silhouette"])).ints()
            var d = 0
            var differing = 0
            for (i in want.indices) {
                val x = Math.abs(sil[i] - want[i])
                if (x > d) d = x
                if (x > 0) differing++
            }
            Parity.report(name, "silhouette_64x44_grey_levels_${differing}_of_${want.size}_px_differ", d.toDouble())
            // the crop and centring are exact; OpenCV's resize is re-implemented, not bit-exact
            assertTrue("$name: silhouette differs by $d grey levels", d <= 2)
        }
    }

    @Test
    fun silhouetteTrackPicksTheNearestFrameWithinTolerance() {
        val track = SilhouetteTrack(toleranceMs = 30.0)
        val a = IntArray(64 * 44) { 1 }
        val b = IntArray(64 * 44) { 2 }
        track.push(0.0, a, true)
        track.push(40.0, b, true)
        track.push(200.0, b, false)
        assertArrayEquals(a, track.at(10.0))
        assertArrayEquals(b, track.at(33.3))
        assertNull(track.at(100.0))
        assertNull(track.at(200.0)) // nearest frame had no usable silhouette
        val adaptive = SilhouetteTrack()
        for (i in 0 until 10) adaptive.push(i * 40.0, a, true) // 25 fps
        assertEquals(24.0, adaptive.tolerance(), 1e-9) // 0.6 x 40 ms, as nearest_frames
        assertNull(adaptive.at(400.0 + 25.0))
        val sil = IntArray(64 * 44)
        sil[0] = 255
        sil[1] = 128
        val input = Silhouette.toModelInput(sil, true)
        assertEquals(255, input[0].toInt() and 0xFF)
        assertEquals(128, input[1].toInt() and 0xFF)
        assertEquals(0, input[2].toInt())
        val scaled = Silhouette.toFloatInput(input)
        assertEquals(1.0f, scaled[0], 0f)
        assertEquals(128 / 255.0f, scaled[1], 0f)
    }

    private fun person(cx: Float, cy: Float, scale: Float): PoseLandmarks {
        val x = FloatArray(33) { cx }
        val y = FloatArray(33) { cy }
        for (i in intArrayOf(11, 12)) y[i] = cy - 0.2f * scale
        for (i in intArrayOf(25, 26)) y[i] = cy + 0.2f * scale
        for (i in intArrayOf(27, 28)) y[i] = cy + 0.4f * scale
        return PoseLandmarks(x, y, FloatArray(33) { 1f }, FloatArray(33) { 1f })
    }

    @Test
    fun subjectPickerFollowsTheFirstLargestPerson() {
        val p = SubjectPicker()
        val big = person(0.3f, 0.5f, 0.8f)
        val small = person(0.8f, 0.5f, 0.3f)
        assertEquals(1, p.pick(listOf(small, big), 640, 480, 0.0))
        // the subject moves a little; a bigger bystander appears far away: keep the subject
        assertEquals(0, p.pick(listOf(person(0.33f, 0.5f, 0.8f), person(0.9f, 0.5f, 1.0f)), 640, 480, 33.0))
        assertEquals(-1, p.pick(emptyList(), 640, 480, 66.0))
        // lost for more than a second: start again with the largest
        assertEquals(1, p.pick(listOf(small, person(0.9f, 0.5f, 1.0f)), 640, 480, 2000.0))
    }
}
