package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * The session (issue 15, defects 4 and 5): Python's session decision on the golden sessions, the
 * kiosk state machine, pause/resume without replaying the gap, memory flat over an hour.
 */
class SessionTest {
    private val demo: LoadedBundle by lazy {
        BundleReader.read(DirectoryBundleFiles(File(Golden.repoRoot(), "scoligait_edge/assets/models/demo")))
    }
    private val walk: List<DoubleArray> by lazy { Golden.frames(Golden.npy("sim_long_30fps.keypoints.npy")) }
    private val periodMs = 1000.0 / 30.0

    private fun outcome(o: Map<String, Any?>): WindowOutcome = when (Json.str(o["status"])) {
        "screened" -> WindowOutcome.screened(Json.num(o["probability"]), Json.arr(o["top_features"]).map { features(Json.obj(it)) })
        "skipped" -> WindowOutcome.skipped(Json.arr(o["quality_flags"]).map { Json.str(it) })
        else -> WindowOutcome.failed(Json.str(o["error"]))
    }

    private fun features(f: Map<String, Any?>) = FeatureEvidence(Json.str(f["name"]), Json.str(f["domain"]), Json.str(f["meaning"]),
        Json.strOrNull(f["clinical_prior"]), Json.num(f["start_s"]), Json.num(f["stop_s"]), Json.num(f["evidence"]))

    private fun close(what: String, want: Any?, got: Double?) {
        if (want == null) assertNull(what, got) else assertEquals(what, Json.num(want), got!!, 1e-12)
    }

    @Test
    fun sessionDecisionMatchesPythonOnTheGoldenSessions() {
        val doc = Json.obj(Json.parse(Golden.text("sessions.json")))
        val threshold = Json.num(doc["threshold"])
        assertEquals("golden sessions were made with the demo bundle's threshold", demo.manifest.threshold, threshold, 0.0)
        var flips = 0
        for (s in Json.arr(doc["sessions"]).map { Json.obj(it) }) {
            val name = Json.str(s["name"])
            val stats = SessionStats()
            val windows = Json.arr(s["windows"]).map { outcome(Json.obj(it)) }
            for (w in windows) stats.add(w)
            val got = stats.summary(threshold, Json.int(s["frames"]), Json.int(s["frames_with_subject"]), Json.num(s["duration_s"]),
                Json.int(doc["window_frames"]))
            val e = Json.obj(s["expected"])
            assertEquals("$name decision", e["decision"], got.decision)
            assertEquals("$name reason", e["reason"], got.reason)
            close("$name mean", e["probability_mean"], got.probabilityMean)
            close("$name sd", e["probability_sd"], got.probabilitySd)
            close("$name min", e["probability_min"], got.probabilityMin)
            close("$name max", e["probability_max"], got.probabilityMax)
            assertEquals("$name total", Json.int(e["windows_total"]), got.windowsTotal)
            assertEquals("$name screened", Json.int(e["windows_screened"]), got.windowsScreened)
            assertEquals("$name skipped", Json.int(e["windows_skipped"]), got.windowsSkipped)
            assertEquals("$name failed", Json.int(e["windows_failed"]), got.windowsFailed)
            assertEquals("$name flags (in order)", Json.obj(e["quality_flags"]).map { Pair(it.key, Json.int(it.value)) },
                got.qualityFlags.map { Pair(it.key, it.value) })
            val top = Json.arr(e["top_features"]).map { features(Json.obj(it)) }
            assertEquals("$name top features", top.map { it.name }, got.topFeatures.map { it.name })
            for ((a, b) in top.zip(got.topFeatures)) {
                assertEquals("$name ${a.name} evidence", a.evidence, b.evidence, 1e-12)
                assertEquals("$name ${a.name} start", a.startS, b.startS, 0.0)
                assertEquals("$name ${a.name} stop", a.stopS, b.stopS, 0.0)
            }
            // the single-window rule the app used: how often would the screen have changed its mind?
            val perWindow = windows.filter { it.status == WindowOutcome.SCREENED }.map { it.probability!! >= threshold }
            flips += perWindow.zipWithNext().count { (a, b) -> a != b }
            println("SESSION $name: ${got.decision ?: "no decision"} (mean ${got.probabilityMean?.let { "%.3f".format(it) }}, " +
                "${got.windowsScreened} screened / ${got.windowsTotal}); single-window decisions flip " +
                "${perWindow.zipWithNext().count { (a, b) -> a != b }} times")
        }
        assertTrue("the golden sessions include windows on both sides of the threshold", flips > 0)
    }

    @Test
    fun consentComesFirstAndAMinorNeedsAGuardian() {
        val k = KioskSession(demo.manifest, demo.table, demo.reference)
        for (c in listOf(Consent(false, false, false), Consent(true, true, false))) {
            try {
                k.begin(c)
                fail("began without valid consent")
            } catch (e: IllegalArgumentException) {
                assertEquals(KioskState.IDLE, k.state)
            }
        }
        assertEquals(KioskState.IDLE, k.onFrame(0.0, walk[0]).state) // frames before consent do nothing
        k.begin(Consent(true, true, true))
        assertEquals(KioskState.GUIDING, k.state)
    }

    @Test
    fun kioskGuidesRecordsSummarisesAndClearsForTheNextSubject() {
        val k = KioskSession(demo.manifest, demo.table, demo.reference, targetScreened = 6)
        k.begin(Consent(false, true, false))
        val nobody = Skeleton.missingFrame(21)
        assertEquals(Guidance.NO_PERSON, k.onFrame(0.0, nobody).guidance)
        val legsOut = walk[0].copyOf().also { for (j in 13 until 21) { it[3 * j] = Double.NaN; it[3 * j + 1] = Double.NaN; it[3 * j + 2] = 0.0 } }
        assertEquals(Guidance.BODY_NOT_FULLY_VISIBLE, k.onFrame(periodMs, legsOut).guidance)
        var t = 2 * periodMs
        var i = 0
        val tickets = ArrayList<WindowTicket>()
        var firstTicketAt = -1
        while (k.state != KioskState.SUMMARY && i < walk.size) {
            val u = k.onFrame(t, walk[i])
            if (i < k.settleFrames - 1) assertEquals(KioskState.GUIDING, u.state)
            if (u.toScreen.isNotEmpty() && firstTicketAt < 0) firstTicketAt = i
            for (x in u.toScreen) { // the model answers at once: probabilities on both sides of the threshold
                tickets.add(x)
                val p = if (tickets.size % 2 == 0) 0.9 else 0.3
                assertTrue(k.onModelOutcome(x, WindowOutcome.screened(p, emptyList())))
            }
            t += periodMs
            i++
        }
        assertEquals(KioskState.SUMMARY, k.state)
        assertTrue("the first window needs 96 rows of recording", firstTicketAt >= k.settleFrames + 95)
        val s = k.summary!!
        assertEquals(6, s.windowsScreened)
        assertEquals(0.6, s.probabilityMean!!, 1e-12)
        assertEquals("refer", s.decision) // mean 0.6 >= 0.525, although half the windows said otherwise
        assertFalse("a late answer after the summary changes nothing", k.onModelOutcome(tickets[0], WindowOutcome.screened(0.0, emptyList())))
        assertEquals(6, k.summary!!.windowsScreened)
        val json = Json.obj(Json.parse(SummaryExport.toJson(s, demo.manifest, demo.signature, k.consent, "2026-01-01T00:00:00Z")))
        assertEquals("refer", json["decision"])
        assertEquals(GeneratedText.SCREENING_NOTICE, json["notice"])
        assertEquals(true, json["simulated_data_model"])
        assertFalse("no frames or keypoints in the export", json.keys.any { it.contains("keypoint") || it.contains("frame_data") })
        k.nextSubject()
        assertEquals(KioskState.IDLE, k.state)
        assertNull(k.summary)
        assertNull(k.consent)
        assertEquals(0, k.liveStats.windowsTotal)
        assertNull(k.screeningSession)
    }

    @Test
    fun stopWaitsForWindowsStillWithTheModel() {
        val k = KioskSession(demo.manifest, demo.table, demo.reference)
        k.begin(Consent(false, true, false))
        val held = ArrayList<WindowTicket>()
        var i = 0
        while (held.size < 2) {
            held.addAll(k.onFrame(i * periodMs, walk[i]).toScreen)
            i++
        }
        k.stop()
        assertEquals(KioskState.RECORDING, k.state) // two answers outstanding
        k.onModelOutcome(held[0], WindowOutcome.screened(0.2, emptyList()))
        assertEquals(KioskState.RECORDING, k.state)
        k.onModelError(held[1], "OrtException: test")
        assertEquals(KioskState.SUMMARY, k.state)
        assertEquals(1, k.summary!!.windowsScreened)
        assertEquals(1, k.summary!!.windowsFailed)
        assertEquals("no_referral", k.summary!!.decision)
    }

    /** Defect 4: a minute away is no longer 1,800 replayed rows (and ~112 window checks) in one callback. */
    @Test
    fun pauseAndResumeStartANewSegmentInsteadOfReplayingTheGap() {
        val k = KioskSession(demo.manifest, demo.table, demo.reference, targetScreened = 1000, maxRecordingS = 1e9)
        k.begin(Consent(false, true, false))
        var t = 0.0
        for (i in 0 until 300) {
            k.onFrame(t, walk[i]).toScreen.forEach { k.onModelOutcome(it, WindowOutcome.screened(0.1, emptyList())) }
            t += periodMs
        }
        val s = k.screeningSession!!
        val rowsBefore = s.windows.rowsSeen
        assertTrue(rowsBefore > 250)
        k.pause()
        assertEquals(Guidance.PAUSED, k.onFrame(t + 1000.0, walk[300]).guidance) // frames while paused are dropped
        k.resume().forEach { k.onModelOutcome(it, WindowOutcome.screened(0.1, emptyList())) }
        t += 60_000.0
        val totalBefore = k.liveStats.windowsTotal
        var rows = 0
        for (i in 300 until 310) {
            rows += k.screeningSession!!.onFrame(t, walk[i]).rows.size // straight into the session: count its rows
            t += periodMs
        }
        assertTrue("resume replayed the gap: $rows rows from 10 frames", rows <= 10)
        assertEquals(totalBefore, k.liveStats.windowsTotal)
        assertEquals(1, s.segments)

        // without an explicit pause, a gap longer than Python's MAX_SEGMENT_GAP_MS starts a segment too
        val plain = ScreeningSession(demo.manifest, demo.table, demo.reference)
        var tp = 0.0
        for (i in 0 until 100) { plain.onFrame(tp, walk[i]); tp += periodMs }
        val after = plain.onFrame(tp + 60_000.0, walk[100])
        assertTrue("a 60 s gap gave ${after.rows.size} rows", after.rows.size <= 8)
        assertEquals(1, plain.segments)
        // the resampler alone (what the app fed before) replays one row per missed 33 ms
        val r = StreamResampler()
        r.push(0.0, walk[0])
        assertTrue(r.push(60_000.0, walk[1]).size >= 1800)
    }

    /** Bounded memory: an hour at 30 fps (108,000 frames, 6,700 windows) leaves every buffer at its cap and the heap flat. */
    @Test
    fun memoryStaysFlatOverASimulatedHour() {
        val k = KioskSession(demo.manifest, demo.table, demo.reference, targetScreened = Int.MAX_VALUE, maxRecordingS = 1e9)
        k.begin(Consent(false, true, false))
        val names = GeneratedSchema.FEATURE_NAMES
        var answered = 0
        val rt = Runtime.getRuntime()
        fun used(): Long {
            repeat(3) { System.gc() }
            return rt.totalMemory() - rt.freeMemory()
        }
        var heapAt10Min = 0L
        val frames = 30 * 3600
        val t0 = System.nanoTime()
        for (i in 0 until frames) {
            // the clip repeats with a step back to its start; MediaPipe-like frames, one per 33.3 ms
            val u = k.onFrame(i * periodMs, walk[i % walk.size])
            for (x in u.toScreen) {
                val f = FeatureEvidence(names[answered % names.size], "motion", "", null, 0.0, 3.2, 0.1)
                k.onModelOutcome(x, WindowOutcome.screened(if (answered % 3 == 0) 0.8 else 0.2, listOf(f)))
                answered++
            }
            if (i == 30 * 600) heapAt10Min = used()
        }
        val heapAt60Min = used()
        val seconds = (System.nanoTime() - t0) / 1e9
        val s = k.screeningSession!!
        assertEquals(KioskState.RECORDING, k.state)
        assertTrue(s.gridFramesHeld <= s.gaitHistoryFrames)
        assertTrue(k.liveStats.featuresHeld <= GeneratedSchema.NUM_FEATURES)
        assertEquals(0, k.pendingWindows)
        assertTrue("windows screened: $answered", answered > 3000)
        val growthMb = (heapAt60Min - heapAt10Min) / 1e6
        println("MEMORY simulated hour: $frames frames, ${k.liveStats.windowsTotal} windows ($answered screened) in " +
            "${"%.1f".format(seconds)} s; heap after GC ${"%.1f".format(heapAt10Min / 1e6)} MB at 10 min, " +
            "${"%.1f".format(heapAt60Min / 1e6)} MB at 60 min")
        assertTrue("heap grew by $growthMb MB between minute 10 and minute 60", growthMb < 8.0)
        k.stop()
        assertEquals(KioskState.SUMMARY, k.state)
        assertEquals(answered, k.summary!!.windowsScreened)
    }
}
