package org.scoligait.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/** Text lookup, window descriptions, result parsing and the bundle manifest against the Python side. */
class TextAndResultsTest {
    private fun table(): SentenceEmbeddingTable {
        val dir = File(Golden.repoRoot(), Json.str(Golden.index["text_dir"]))
        return SentenceEmbeddingTable.load(File(dir, "sentences_v1.json").readText(), File(dir, "sentence_embeddings_v1.npy").readBytes())
    }

    @Test
    fun sentenceIdsLookUpTheBundledEmbeddingRows() {
        val t = table()
        t.check()
        assertEquals(GeneratedText.SENTENCES.size, t.rows)
        assertEquals(384, t.dim)
        for (s in GeneratedText.SENTENCES) assertEquals(s.text, t.texts[s.id])
        val sec = Golden.section("text_lookup")
        val ids = Golden.npy(Json.str(sec["ids"])).ints()
        val mask = Golden.npy(Json.str(sec["mask"])).booleans()
        val want = Golden.npy(Json.str(sec["embeddings"])).floats()
        val got = t.lookup(ids, mask)
        var d = 0.0
        for (i in got.indices) d = Math.max(d, Math.abs(got[i].toDouble() - want[i].toDouble()))
        Parity.report("text_lookup", "embedding_rows_${ids.size}_slots", d)
        assertEquals(0.0, d, 0.0)
        try {
            t.lookup(intArrayOf(t.rows))
            fail("out-of-range id")
        } catch (e: IndexOutOfBoundsException) {
            assertTrue(e.message!!.contains("[0, ${t.rows})"))
        }
    }

    @Test
    fun aTamperedTableIsRefused() {
        val dir = File(Golden.repoRoot(), Json.str(Golden.index["text_dir"]))
        val npy = File(dir, "sentence_embeddings_v1.npy").readBytes()
        npy[npy.size - 1] = (npy[npy.size - 1] + 1).toByte()
        try {
            SentenceEmbeddingTable.load(File(dir, "sentences_v1.json").readText(), npy)
            fail("a changed byte must be caught")
        } catch (e: TableMismatchException) {
            assertTrue(e.message!!.contains("sha256"))
        }
    }

    @Test
    fun windowDescriptionsMatchPython() {
        val sec = Golden.section("describe")
        val ref = ReferenceStats.parse(Golden.text(Json.str(sec["reference"])))
        ref.checkCompatible()
        val maxS = Json.int(sec["max_sentences"])
        val cases = Json.obj(sec["cases"])
        val nf = GeneratedSchema.NUM_FEATURES
        var nWindows = 0
        var dValues = 0.0
        var dZ = 0.0
        val ids = GeneratedText.FEATURES.map { it.id }
        for (case in Golden.mapCases) {
            val name = Json.str(case["name"])
            val valid = Golden.npy(Json.str(case["valid"])).booleans()
            val values = Golden.npy(Json.str(case["values"])).floats()
            val offset = Json.int(case["rows_offset"])
            for (w in Json.arr(cases[name])) {
                val e = Json.obj(w)
                val s = Json.int(e["start"])
                val km = values.copyOfRange((s - offset) * nf, (s - offset + 96) * nf)
                val d = Describe.describeWindow(km, valid.copyOfRange(s, s + 96), ref, maxS)
                assertEquals("$name@$s view", e["view"], d.view)
                val wantIds = Json.arr(e["sentence_ids"]).map { Json.int(it) }.toIntArray()
                assertArrayEquals("$name@$s sentence ids", wantIds, d.sentenceIds)
                val wantValues = Json.obj(e["values"])
                val wantZ = Json.obj(e["z_scores"])
                for ((k, fid) in ids.withIndex()) {
                    val wv = Json.numOrNull(wantValues[fid])
                    if (wv == null) assertTrue("$name@$s $fid must be unobservable", d.values[k].isNaN())
                    else dValues = Math.max(dValues, Math.abs(d.values[k] - wv))
                    val wz = Json.numOrNull(wantZ[fid])
                    if (wz == null) assertTrue("$name@$s $fid has no z", d.zScores[k].isNaN())
                    else dZ = Math.max(dZ, Math.abs(d.zScores[k] - wz))
                }
                val wantFindings = Json.arr(e["findings"]).map { Json.arr(it) }
                assertEquals("$name@$s findings", wantFindings.map { Json.str(it[0]) }, d.findings.map { it.feature })
                assertEquals(wantFindings.map { Json.int(it[1]) }, d.findings.map { it.sentenceId })
                nWindows++
            }
        }
        Parity.report("describe_${nWindows}_windows", "text_feature_values", dValues)
        Parity.report("describe_${nWindows}_windows", "z_scores", dZ)
        assertTrue("only $nWindows windows described", nWindows >= 40)
        assertTrue(dValues <= 1e-9 && dZ <= 1e-6)
    }

    @Test
    fun aWindowWithoutValidRowsIsNotAssessable() {
        val ref = ReferenceStats.parse(Golden.text("reference_stats.json"))
        val d = Describe.describeWindow(FloatArray(96 * 238), BooleanArray(96), ref)
        assertNull(d.view)
        assertArrayEquals(intArrayOf(GeneratedText.NOT_ASSESSABLE_ID), d.sentenceIds)
        assertEquals("gait kinematics not assessable in this window", d.text)
        val (padded, mask) = Describe.paddedIds(d, 4)
        assertArrayEquals(intArrayOf(0, 0, 0, 0), padded)
        assertArrayEquals(booleanArrayOf(true, false, false, false), mask)
    }

    @Test
    fun topFeaturesMatchPython() {
        for (e in Json.arr(Golden.index["top_features"])) {
            val c = Json.obj(e)
            val name = Json.str(c["name"])
            val att = Golden.npy(Json.str(c["attention"])).floats()
            val valid = Golden.npy(Json.str(c["valid"])).booleans()
            val got = Results.topFeatures(att, valid, 30.0, Json.int(c["per_domain"]), Json.int(c["window_start"]))
            val want = Json.arr(c["expected"]).map { Json.obj(it) }
            assertEquals("$name: count", want.size, got.size)
            var d = 0.0
            for ((k, w) in want.withIndex()) {
                val g = got[k]
                assertEquals("$name #$k domain", Json.str(w["domain"]), g.domain)
                assertEquals(Json.int(w["rank"]), g.rank)
                assertEquals("$name #$k feature", Json.int(w["feature_index"]), g.featureIndex)
                assertEquals(Json.str(w["name"]), g.name)
                assertEquals(Json.int(w["peak_frame"]), g.peakFrame)
                assertEquals(Json.int(w["frame_start"]), g.frameStart)
                assertEquals(Json.int(w["frame_stop"]), g.frameStop)
                assertArrayEquals(Json.arr(w["tied_indices"]).map { Json.int(it) }.toIntArray(), g.tiedIndices)
                d = Math.max(d, Math.abs(g.peakEvidence - Json.num(w["peak_evidence"])))
                d = Math.max(d, Math.abs(g.meanEvidence - Json.num(w["mean_evidence"])))
            }
            Parity.report(name, "top_features_evidence", d)
            assertTrue(d <= 1e-9)
        }
    }

    @Test
    fun manifestIsParsedAndItsSchemaHashChecked() {
        val text = Golden.text(Json.str(Golden.index["manifest"]))
        val m = BundleManifest.parse(text)
        m.checkFeatureSchema()
        assertEquals(0.42, m.threshold, 0.0)
        assertEquals(96, m.windowFrames)
        assertEquals("model.ort", m.formatFile("ort"))
        assertTrue(m.isSimulated)
        assertEquals(listOf("km", "km_mask", "text", "text_mask"), m.inputs.map { it.name })
        assertEquals(listOf<Any>("batch", 96, 238), m.input("km")!!.shape)
        assertEquals("text/reference_stats.json", m.referenceStatistics)
        try {
            m.formatFile("onnx")
            fail("no onnx in this bundle")
        } catch (e: BundleException) {
            assertTrue(e.message!!.contains("--formats onnx"))
        }
        val other = BundleManifest.parse(text.replace(GeneratedSchema.PYTHON_SCHEMA_HASH, "0".repeat(64)))
        try {
            other.checkFeatureSchema()
            fail("a model for another schema must be refused")
        } catch (e: BundleException) {
            assertTrue(e.message!!.contains("misread"))
        }
        try {
            m.verifyFile("model.ort", ByteArray(1234))
            fail("wrong bytes")
        } catch (e: BundleException) {
            assertTrue(e.message!!.contains("sha256"))
        }
    }

    @Test
    fun resultParsingAppliesTheThreshold() {
        val w = MapWindow(32, 96, FloatArray(96 * 238), BooleanArray(96) { it >= 4 }, DoubleArray(96))
        val att = FloatArray(96 * 238)
        val col = Schema.indexOf("angle:trunk_lean")
        for (t in 10 until 20) att[t * 238 + col] = 2.0f // trunk lateral shift, rows 10-19
        val r = ScreeningResult.fromOutputs(mapOf("logit" to floatArrayOf(0.3f), "prob" to floatArrayOf(0.574f),
            "cobb" to floatArrayOf(12.5f), "km_attention" to att), w, 0.5)
        assertTrue(r.refer)
        assertEquals("refer", r.label)
        assertEquals(12.5, r.cobbDeg, 1e-6)
        assertEquals(1, r.topFeatures.size)
        val top = r.topFeatures[0]
        assertEquals("angle:trunk_lean", top.name)
        assertEquals("trunk_lateral_shift", top.clinicalPrior)
        assertEquals(42, top.frameStart)
        assertEquals(52, top.frameStop)
        val low = ScreeningResult.fromOutputs(mapOf("logit" to floatArrayOf(-2f)), w, 0.5)
        assertFalse(low.refer)
        assertEquals("no_referral", low.label)
        assertEquals(Results.sigmoid(-2.0), low.prob, 1e-12)
        assertTrue(GeneratedText.SCREENING_NOTICE.startsWith("Screening aid, not a diagnosis"))
    }
}

class ScreeningSessionTest {
    private fun session(manifestText: String, judgeGait: Boolean = false): ScreeningSession {
        val dir = java.io.File(Golden.repoRoot(), Json.str(Golden.index["text_dir"]))
        val table = SentenceEmbeddingTable.load(java.io.File(dir, "sentences_v1.json").readText(),
            java.io.File(dir, "sentence_embeddings_v1.npy").readBytes())
        val ref = ReferenceStats.parse(Golden.text("reference_stats.json"))
        return ScreeningSession(BundleManifest.parse(manifestText), table, ref, judgeGait = judgeGait)
    }

    @Test
    fun liveGaitVerdictsAgreeWithTheClipLevelOnes() {
        // Python judges windows with events detected over the whole clip; live, only the frames
        // seen so far exist, so verdicts near a window's end may differ. Measure the agreement.
        var agree = 0
        var total = 0
        for (case in Golden.mapCases) {
            val s = session(Golden.text("manifest_example.json"), judgeGait = true)
            val (ts, frames) = Golden.caseInput(case)
            val verdicts = HashMap<Int, Boolean>()
            for (i in ts.indices) {
                val u = s.onFrame(ts[i], frames[i])
                for (x in u.ready) verdicts[x.window.start] = true
                for ((w, _) in u.skipped) verdicts[w.start] = false
            }
            val end = s.finish()
            for (x in end.ready) verdicts[x.window.start] = true
            for ((w, _) in end.skipped) verdicts[w.start] = false
            for (v in Json.arr(case["window_verdicts"])) {
                val o = Json.obj(v)
                total++
                if (verdicts[Json.int(o["start"])] == Json.bool(o["ok"])) agree++
            }
        }
        println("       live vs clip-level window verdicts: $agree of $total agree")
        Parity.report("live_gait_verdicts", "disagreeing_${total - agree}_of_$total", (total - agree).toDouble())
        assertTrue("live verdicts agree on only $agree of $total windows", agree >= 0.8 * total)
    }

    @Test
    fun theSessionFeedsTheModelWhatPythonWouldBuild() {
        val case = Golden.mapCases.first { Json.str(it["name"]) == "sim_frontal_25fps_drops" }
        val s = session(Golden.text("manifest_example.json"))
        val (ts, frames) = Golden.caseInput(case)
        val ready = ArrayList<ModelInputs>()
        var skipped = 0
        for (i in ts.indices) {
            val u = s.onFrame(ts[i], frames[i])
            ready.addAll(u.ready)
            skipped += u.skipped.size
        }
        val end = s.finish()
        ready.addAll(end.ready)
        skipped += end.skipped.size
        val starts = Golden.npy(Json.str(case["window_starts"])).ints()
        val fracs = Golden.npy(Json.str(case["window_valid_fraction"])).doubles()
        assertEquals(starts.size, ready.size + skipped)
        assertEquals(fracs.count { it >= 0.9 }, ready.size)
        val values = Golden.npy(Json.str(case["values"])).floats()
        val described = Json.arr(Json.obj(Golden.section("describe")["cases"])["sim_frontal_25fps_drops"]).map { Json.obj(it) }
        val nf = GeneratedSchema.NUM_FEATURES
        for (x in ready) {
            val st = x.window.start
            var d = 0.0
            for (i in x.km.indices) d = Math.max(d, Math.abs(x.km[i].toDouble() - values[st * nf + i].toDouble()))
            assertTrue(d <= Golden.TOL)
            val want = described.first { Json.int(it["start"]) == st }
            val ids = Json.arr(want["sentence_ids"]).map { Json.int(it) }
            assertEquals(ids, x.description!!.sentenceIds.toList())
            assertEquals(4, x.textTokens)
            assertEquals(4 * 384, x.text!!.size)
            assertEquals(ids.size, x.textMask!!.count { it })
            assertNull(x.video)
        }
        assertTrue("some windows are screened", ready.size >= 5)
    }

    @Test
    fun aVideoModelGetsSilhouettesOnTheMapRows() {
        val m = Json.obj(Json.parse(Golden.text("manifest_example.json")))
        val inputs = ArrayList<Any?>(Json.arr(m["inputs"]))
        inputs.add(mapOf("name" to "video", "shape" to listOf("batch", 96, 1, 64, 44), "dtype" to "float32"))
        val edited = LinkedHashMap(m)
        edited["inputs"] = inputs
        val s = session(Json.dumpsPython(edited))
        assertTrue(s.usesVideo)
        val case = Golden.mapCases.first { Json.str(it["name"]) == "sim_side_30fps" }
        val (ts, frames) = Golden.caseInput(case)
        val sil = IntArray(64 * 44) { 255 }
        var got: ModelInputs? = null
        for (i in ts.indices) {
            val u = s.onFrame(ts[i], frames[i], sil, i % 10 != 0) // every 10th frame has no silhouette
            if (got == null && (u.ready.isNotEmpty() || u.skipped.isNotEmpty())) {
                got = s.inputsFor(u.ready.firstOrNull()?.window ?: u.skipped[0].first)
            }
        }
        val v = got!!.video!!
        assertEquals(96 * 64 * 44, v.size)
        var zeroFrames = 0
        for (t in 0 until 96) if (v[t * 64 * 44].toInt() == 0) zeroFrames++
        assertTrue("frames without a silhouette are zeros ($zeroFrames)", zeroFrames in 5..15)
    }
}
