package org.scoligait.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** The Kotlin core against the Python golden vectors: skeleton, resampling, gap filling, the map, windows. */
class ParityTest {
    private fun flat(frames: List<DoubleArray>): DoubleArray {
        var n = 0
        for (f in frames) n += f.size
        val out = DoubleArray(n)
        var k = 0
        for (f in frames) {
            System.arraycopy(f, 0, out, k, f.size)
            k += f.size
        }
        return out
    }

    @Test
    fun skeletonConversionOfSyntheticLandmarks() {
        val s = Golden.section("skeleton_synthetic")
        val xy = Golden.npy(Json.str(s["xy"])).doubles()
        val vis = Golden.npy(Json.str(s["visibility"])).doubles()
        val pres = Golden.npy(Json.str(s["presence"])).doubles()
        val n = vis.size / 33
        val variants = listOf("coco21_presence", "coco21_visibility_only", "coco17_presence")
        for (name in variants) {
            val want = Golden.npy(Json.str(s[name])).doubles()
            val got = ArrayList<DoubleArray>()
            for (i in 0 until n) {
                val x = xy.copyOfRange(i * 66, (i + 1) * 66)
                val v = vis.copyOfRange(i * 33, (i + 1) * 33)
                val p = pres.copyOfRange(i * 33, (i + 1) * 33)
                got.add(when (name) {
                    "coco21_presence" -> Skeleton.mediapipeToCoco(x, v, p, true)
                    "coco21_visibility_only" -> Skeleton.mediapipeToCoco(x, v, null, true)
                    else -> Skeleton.mediapipeToCoco(x, v, p, false)
                })
            }
            val d = maxAbsDiffNaNAware(flat(got), want, name)
            Parity.report("skeleton_synthetic", name, d)
            assertEquals(0.0, d, 0.0) // a selection and one formula: exact
        }
    }

    @Test
    fun skeletonConversionOfTheRealVideo() {
        val s = Golden.section("skeleton_real")
        val size = Golden.imageSize()
        val got = Golden.realLandmarks().map { Skeleton.subjectKeypoints(it, size[0], size[1]) }
        val want = Golden.npy(Json.str(s["coco21"])).doubles()
        val d = maxAbsDiffNaNAware(flat(got), want, "real coco21")
        Parity.report("real_video", "skeleton_mediapipe33_to_coco21", d)
        assertTrue("skeleton conversion differs by $d", d <= 1e-9)
        assertTrue("the subject must be seen in most frames", got.count { it[3 * 11].isNaN().not() } > 100)
    }

    @Test
    fun resamplingTo30HzMatchesPython() {
        for (case in Golden.mapCases) {
            if (!case.containsKey("resampled")) continue
            val name = Json.str(case["name"])
            val (ts, frames) = Golden.caseInput(case)
            val r = StreamResampler()
            val out = ArrayList<GridSample>()
            for (i in ts.indices) out.addAll(r.push(ts[i], frames[i]))
            val grid = Golden.npy(Json.str(case["grid_ms"])).doubles()
            assertEquals("$name: grid length", grid.size, out.size)
            val dg = maxAbsDiffNaNAware(DoubleArray(out.size) { out[it].timestampMs }, grid, "$name grid")
            val want = Golden.npy(Json.str(case["resampled"])).doubles()
            val dk = maxAbsDiffNaNAware(flat(out.map { it.keypoints }), want, "$name resampled")
            Parity.report(name, "resampled_grid_ms", dg)
            Parity.report(name, "resampled_keypoints", dk)
            assertTrue("$name: grid differs by $dg ms", dg <= 1e-9)
            assertTrue("$name: resampled keypoints differ by $dk", dk <= Golden.TOL)
        }
    }

    @Test
    fun gapFillingMatchesPython() {
        for (case in Golden.mapCases) {
            if (!case.containsKey("filled")) continue
            val name = Json.str(case["name"])
            val input = Golden.frames(Golden.npy(Json.str(case["resampled"])))
            val f = GapFiller(21)
            val out = ArrayList<DoubleArray>()
            for (frame in input) out.addAll(f.push(frame))
            out.addAll(f.flush())
            val want = Golden.npy(Json.str(case["filled"])).doubles()
            val d = maxAbsDiffNaNAware(flat(out), want, "$name filled")
            Parity.report(name, "gap_filled_keypoints", d)
            assertTrue("$name: gap filling differs by $d", d <= Golden.TOL)
        }
    }

    @Test
    fun knowledgeMapMatchesPython() {
        for (case in Golden.mapCases) {
            val name = Json.str(case["name"])
            val (ts, frames) = Golden.caseInput(case)
            val stream = MapStream(21)
            val rows = ArrayList<MapRow>()
            for (i in ts.indices) rows.addAll(stream.push(ts[i], frames[i]))
            rows.addAll(stream.flush())
            val valid = Golden.npy(Json.str(case["valid"])).booleans()
            val grid = Golden.npy(Json.str(case["grid_ms"])).doubles()
            assertEquals("$name: rows", valid.size, rows.size)
            for (i in rows.indices) {
                assertEquals("$name: row index", i, rows[i].index)
                if (rows[i].valid != valid[i]) fail("$name: row $i valid=${rows[i].valid}, Python says ${valid[i]}")
            }
            val dt = maxAbsDiffNaNAware(DoubleArray(rows.size) { rows[it].timestampMs }, grid, "$name timestamps")
            assertTrue("$name: row timestamps differ by $dt", dt <= 1e-9)
            val offset = Json.int(case["rows_offset"])
            val want = Golden.npy(Json.str(case["values"]))
            val w = want.floats()
            val nf = GeneratedSchema.NUM_FEATURES
            assertEquals(rows.size - offset, want.shape[0])
            var d = 0.0
            var worst = ""
            val perDomain = DoubleArray(3)
            for (i in offset until rows.size) {
                val r = rows[i].values
                for (c in 0 until nf) {
                    val e = Math.abs(r[c].toDouble() - w[(i - offset) * nf + c].toDouble())
                    val dom = if (c < 140) 0 else if (c < 172) 1 else 2
                    if (e > perDomain[dom]) perDomain[dom] = e
                    if (e > d) {
                        d = e
                        worst = "row $i ${GeneratedSchema.FEATURE_NAMES[c]}"
                    }
                }
            }
            Parity.report(name, "map_238_values", d)
            for (k in 0..2) Parity.report(name, "map_${GeneratedSchema.DOMAINS[k]}", perDomain[k])
            println("       $name: ${rows.size} rows (${valid.count { it }} valid), validity identical; worst at $worst")
            assertTrue("$name: map differs by $d at $worst", d <= Golden.TOL)
        }
    }

    @Test
    fun crossDomainPeakRuleMatchesPython() {
        val s = Golden.section("peak_lag_zero")
        val rArr = Golden.npy(Json.str(s["r"]))
        val r = rArr.doubles()
        val want = Golden.npy(Json.str(s["expected"])).doubles()
        val n = rArr.shape[0]
        val nl = rArr.shape[1]
        val np = rArr.shape[2]
        assertEquals(GeneratedSchema.NUM_LAGS, nl)
        val got = DoubleArray(n * 3 * np)
        for (i in 0 until n) for (p in 0 until np) Features.peakLagZero(r, i * nl * np + p, np, got, 3 * (i * np + p))
        val d = maxAbsDiffNaNAware(got, want, "peak_lag_zero")
        Parity.report("peak_lag_zero", "${n}x${np}_synthetic_cases_peak_lag_zero", d)
        assertEquals("ties, MIN_PEAK, edges and the parabola: the same arithmetic as numpy", 0.0, d, 0.0)
    }

    @Test
    fun windowBufferEmitsThePythonWindows() {
        val win = Golden.section("window")
        val length = Json.int(win["frames"])
        val hop = Json.int(win["hop"])
        for (case in Golden.mapCases) {
            val name = Json.str(case["name"])
            val valid = Golden.npy(Json.str(case["valid"])).booleans()
            val offset = Json.int(case["rows_offset"])
            val values = Golden.npy(Json.str(case["values"])).floats()
            val starts = Golden.npy(Json.str(case["window_starts"])).ints()
            val fracs = Golden.npy(Json.str(case["window_valid_fraction"])).doubles()
            assertArrayEquals("$name: window_starts", starts, WindowBuffer.windowStarts(valid.size, length, hop))
            val nf = GeneratedSchema.NUM_FEATURES
            val buf = WindowBuffer(length, hop)
            val got = ArrayList<MapWindow>()
            for (i in valid.indices) {
                val row = if (i >= offset) values.copyOfRange((i - offset) * nf, (i - offset + 1) * nf) else FloatArray(nf)
                val before = buf.rowsUntilNextWindow
                val w = buf.push(MapRow(i, row, valid[i], i * 1000.0 / 30))
                assertEquals("$name: a window completes exactly when announced", before == 1, w != null)
                if (w != null) got.add(w)
            }
            assertArrayEquals("$name: emitted starts", starts, got.map { it.start }.toIntArray())
            for ((k, w) in got.withIndex()) {
                assertEquals(fracs[k], w.validFraction, 1e-12)
                if (w.start >= offset) {
                    val lo = (w.start - offset) * nf
                    assertArrayEquals(values.copyOfRange(lo, lo + length * nf), w.values, 0.0f)
                }
                assertArrayEquals(valid.copyOfRange(w.start, w.start + length), w.valid)
                assertEquals(w.quality().ok, w.validFraction >= 0.9)
            }
            Parity.report(name, "windows_${got.size}_starts_and_valid_fraction", 0.0)
        }
    }

    @Test
    fun invalidInputIsRejectedWithClearMessages() {
        try {
            Keypoints.validateFrame(DoubleArray(20 * 3))
            fail("20 joints")
        } catch (e: KeypointException) {
            assertTrue(e.message!!.contains("17 or 21"))
        }
        val f = Skeleton.missingFrame(21)
        f[2] = 1.5
        try {
            Keypoints.validateFrame(f)
            fail("score 1.5")
        } catch (e: KeypointException) {
            assertTrue(e.message!!.contains("outside [0, 1]"))
        }
        val r = StreamResampler()
        r.push(10.0, Skeleton.missingFrame(21))
        try {
            r.push(5.0, Skeleton.missingFrame(21))
            fail("time going backwards")
        } catch (e: TimestampException) {
            assertTrue(e.message!!.contains("increase strictly"))
        }
        try {
            r.push(Double.NaN, Skeleton.missingFrame(21))
            fail("NaN time")
        } catch (e: TimestampException) {
            assertTrue(e.message!!.contains("NaN"))
        }
    }
}
