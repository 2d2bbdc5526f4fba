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

    private val inputReference: InputReference by lazy { demo.inputReference!! }

    private fun outcome(o: Map<String, Any?>): WindowOutcome = when (Json.str(o["status"])) {
        "screened" -> WindowOutcome.screened(Json.num(o["probability"]), Json.arr(o["top_features"]).map { features(Json.obj(it)) })
        "skipped" -> WindowOutcome.skipped(Json.arr(o["quality_flags"]).map { Json.str(it) })
        else -> WindowOutcome.failed(Json.str(o["error"]))
    }.withInputUnusual(o["input_unusual"] as Boolean?)

    private fun heelStrikes(o: Map<String, Any?>): Map<String, List<Int>> =
        Json.obj(o["heel_strikes"]).mapValues { (_, v) -> Json.arr(v).map { Json.int(it) } }

    private val sessions: List<Map<String, Any?>> by lazy { Json.arr(Json.obj(Json.parse(Golden.text("sessions.json")))["sessions"]).map { Json.obj(it) } }

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
        var flagged = 0
        for (s in Json.arr(doc["sessions"]).map { Json.obj(it) }) {
            val name = Json.str(s["name"])
            val stats = SessionStats()
            val stored = Json.arr(s["windows"]).map { Json.obj(it) }
            val windows = stored.map { outcome(it) }
            for ((w, o) in windows.zip(stored)) {
                for ((side, frames) in heelStrikes(o)) stats.steps.add(side, frames) // Python counts every window's strikes
                stats.add(w)
            }
            // the demo bundle has an input reference (the Python replay screener's too): windows_input_unusual is a count
            val got = stats.summary(threshold, Json.int(s["frames"]), Json.int(s["frames_with_subject"]), Json.num(s["duration_s"]),
                Json.int(doc["window_frames"]), hasInputReference = true)
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
            assertEquals("$name steps", Json.int(e["steps"]), got.steps)
            assertEquals("$name gait cycles", Json.int(e["gait_cycles"]), got.gaitCycles)
            assertEquals("$name windows unlike the training data", Json.int(e["windows_input_unusual"]), got.windowsInputUnusual)
            assertEquals("$name notes", Json.arr(e["notes"]).map { Json.str(it) }, got.notes)
            if (got.notes.isNotEmpty()) flagged++
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
                "${perWindow.zipWithNext().count { (a, b) -> a != b }} times; ${got.steps} steps, " +
                "${got.windowsInputUnusual} window(s) unlike the training data${if (got.notes.isEmpty()) "" else " (note)"}")
        }
        assertTrue("the golden sessions include windows on both sides of the threshold", flips > 0)
        assertTrue("the golden sessions include one with the 'input unlike the training data' note", flagged >= 2)
        // and without an input reference there is no count and no note, whatever the windows say
        val none = SessionStats()
        repeat(3) { none.add(WindowOutcome.screened(0.4, emptyList()).withInputUnusual(true)) }
        val s = none.summary(threshold, 300, 300, 10.0, 96)
        assertNull(s.windowsInputUnusual)
        assertTrue(s.notes.isEmpty())
    }

    /**
     * The recorded sessions' own keypoints through the Kotlin session: every window's heel strikes
     * (what the steps are counted from) and its out-of-distribution score against the demo bundle's
     * input reference are Python's, and so are the steps.
     */
    @Test
    fun liveSessionFindsPythonsHeelStrikesAndOutOfDistributionFlags() {
        var windowsCompared = 0
        var verdictsAgree = 0
        for (s in sessions.filter { it.containsKey("keypoints") }) {
            val name = Json.str(s["name"])
            val kp = Golden.frames(Golden.npy(Json.str(s["keypoints"])))
            val ts = Golden.npy(Json.str(s["timestamps_ms"])).doubles()
            val session = ScreeningSession(demo.manifest, demo.table, demo.reference)
            val strikes = ArrayList<Map<String, List<Int>>>()
            val windows = ArrayList<Pair<MapWindow, Boolean>>() // window, passed the Kotlin verdict
            fun take(u: SessionUpdate) {
                strikes.addAll(u.heelStrikes)
                u.ready.forEach { windows.add(Pair(it.window, true)) }
                u.skipped.forEach { windows.add(Pair(it.first, false)) }
            }
            for (i in kp.indices) take(session.onFrame(ts[i], kp[i]))
            take(session.finish())
            windows.sortBy { it.first.start }
            val stored = Json.arr(s["windows"]).map { Json.obj(it) }
            assertEquals("$name windows", stored.size, windows.size)
            val steps = StepCounter()
            for ((k, o) in stored.withIndex()) {
                assertEquals("$name window $k heel strikes", heelStrikes(o), strikes[k])
                for ((side, frames) in strikes[k]) steps.add(side, frames)
                val score = inputReference.scoreWindow(windows[k].first)
                val want = Json.numOrNull(o["input_unusual_fraction"])
                if (want == null) assertNull("$name window $k score", score) else {
                    assertEquals("$name window $k far-column fraction", want, score!!.fraction, 1e-12)
                    assertEquals("$name window $k flag", o["input_unusual"], score.flagged)
                }
                if (windows[k].second == (Json.str(o["status"]) != "skipped")) verdictsAgree++
                windowsCompared++
            }
            assertEquals("$name steps", Json.int(Json.obj(s["expected"])["steps"]), steps.steps)
            assertEquals("$name gait cycles", Json.int(Json.obj(s["expected"])["gait_cycles"]), steps.gaitCycles)
        }
        assertTrue(windowsCompared > 100)
        Parity.report("sessions", "heel_strikes_and_input_scores_${windowsCompared}_windows", 0.0)
        // the quality verdict is judged over the grid history in Kotlin, per window in the Python Screener
        println("SESSION live verdicts (Kotlin: events over the grid history; Python Screener: per window): $verdictsAgree of $windowsCompared windows agree")
    }

    /** The kiosk with the demo bundle's input reference: an upside-down camera gets Python's note, a normal walk does not. */
    @Test
    fun kioskSummarySaysWhenTheInputIsUnlikeTheTrainingData() {
        fun run(name: String): SessionSummary {
            val s = sessions.first { Json.str(it["name"]) == name }
            val kp = Golden.frames(Golden.npy(Json.str(s["keypoints"])))
            val ts = Golden.npy(Json.str(s["timestamps_ms"])).doubles()
            val k = KioskSession(demo.manifest, demo.table, demo.reference, demo.inputReference, targetScreened = 1000)
            k.begin(Consent(false, true, false))
            for (i in kp.indices) for (t in k.onFrame(ts[i], kp[i]).toScreen) k.onModelOutcome(t, WindowOutcome.screened(0.3, emptyList()))
            k.stop()
            assertEquals(KioskState.SUMMARY, k.state)
            return k.summary!!
        }
        val flipped = run("sim_session_upside_down_frontal")
        assertTrue(flipped.windowsScreened >= 5)
        assertEquals("every screened window of the upside-down walk is flagged", flipped.windowsScreened, flipped.windowsInputUnusual)
        assertEquals(listOf(SessionStats.unusualNote(flipped.windowsScreened, flipped.windowsScreened)), flipped.notes)
        assertTrue(flipped.notes[0].startsWith("input unlike the training data: "))
        val normal = run("sim_session_cobb30_frontal")
        assertTrue(normal.windowsScreened >= 5)
        assertEquals(0, normal.windowsInputUnusual)
        assertTrue(normal.notes.isEmpty())
        assertTrue("steps counted: ${normal.steps}", normal.steps >= 20 && normal.gaitCycles >= 8)
        val json = Json.obj(Json.parse(SummaryExport.toJson(flipped, demo.manifest, demo.signature, null)))
        assertEquals(flipped.notes, Json.arr(json["notes"]).map { Json.str(it) })
        assertEquals(flipped.steps, Json.int(json["steps"]))
        assertEquals(flipped.windowsScreened, Json.int(json["windows_input_unusual"]))
        println("SESSION kiosk: upside-down camera ${flipped.windowsInputUnusual} of ${flipped.windowsScreened} screened windows flagged, " +
            "${flipped.steps} steps; normal walk ${normal.windowsInputUnusual} flagged, ${normal.steps} steps, ${normal.gaitCycles} cycles")
    }

    /** Python `add_heel_strikes`: a strike within 3 frames of one of the side's last 8 counted is the same strike. */
    @Test
    fun stepCounterCountsEachStrikeOnce() {
        val c = StepCounter()
        c.add("left", listOf(40, 10, 25)) // sorted first
        c.add("left", listOf(26, 41, 55)) // 26 ~ 25, 41 ~ 40: only 55 is new
        assertEquals(4, c.count("left"))
        c.add("right", listOf(12, 15, 16)) // 15 is within 3 of 12 (the same strike, not kept); 16 is 4 from 12: new
        assertEquals(2, c.count("right"))
        assertEquals(6, c.steps)
        assertEquals(3, c.gaitCycles)
        // only the last 8 are compared: a strike far back in the session is counted again
        val d = StepCounter()
        d.add("left", (0 until 9).map { 100 + 20 * it })
        d.add("left", listOf(101)) // 100 is the 9th from the end: no longer compared
        assertEquals(10, d.count("left"))
        try {
            d.add("middle", listOf(1))
            fail("an unknown side was accepted")
        } catch (e: IllegalArgumentException) {
            assertTrue(e.message!!.contains("left or right"))
        }
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

    /**
     * Defect 4: the time away is not replayed. The pause here (8 s) is shorter than the session's own
     * segment gap (10 s), so only pause/resume stands between the next frames and 240 replayed rows
     * (15 windows); the control below shows the same gap without pause/resume does replay them,
     * so both assertions can fail.
     */
    @Test
    fun pauseAndResumeStartANewSegmentInsteadOfReplayingTheGap() {
        val pauseMs = 8_000.0
        assertTrue(pauseMs < ScreeningSession.MAX_SEGMENT_GAP_MS)
        fun kiosk(): KioskSession {
            val k = KioskSession(demo.manifest, demo.table, demo.reference, targetScreened = 1000, maxRecordingS = 1e9)
            k.begin(Consent(false, true, false))
            return k
        }
        fun feed(k: KioskSession, from: Int, to: Int, t0: Double): Double {
            var t = t0
            for (i in from until to) {
                k.onFrame(t, walk[i]).toScreen.forEach { k.onModelOutcome(it, WindowOutcome.screened(0.1, emptyList())) }
                t += periodMs
            }
            return t
        }
        val k = kiosk()
        var t = feed(k, 0, 300, 0.0)
        val s = k.screeningSession!!
        assertTrue(s.windows.rowsSeen > 250)
        k.pause()
        assertEquals(Guidance.PAUSED, k.onFrame(t + 1000.0, walk[300]).guidance) // frames while paused are dropped
        k.resume().forEach { k.onModelOutcome(it, WindowOutcome.screened(0.1, emptyList())) }
        val totalBefore = k.liveStats.windowsTotal
        val rowsAfterResume = s.windows.rowsSeen
        t += pauseMs
        feed(k, 300, 310, t) // through the kiosk, as the app feeds it
        val rows = s.windows.rowsSeen - rowsAfterResume
        assertTrue("resume replayed the gap: $rows rows from 10 frames", rows <= 10)
        assertEquals("no window came out of the pause", totalBefore, k.liveStats.windowsTotal)
        assertEquals(1, s.segments)

        // control: the same 8 s gap with no pause/resume is filled with rows and windows
        val c = kiosk()
        var tc = feed(c, 0, 300, 0.0)
        val cs = c.screeningSession!!
        val controlRows = cs.windows.rowsSeen
        val controlTotal = c.liveStats.windowsTotal
        tc += pauseMs
        feed(c, 300, 310, tc)
        assertTrue("the control should replay the gap: ${cs.windows.rowsSeen - controlRows} rows", cs.windows.rowsSeen - controlRows >= 200)
        assertTrue("the control should make windows of the gap", c.liveStats.windowsTotal - controlTotal >= 10)
        assertEquals(0, cs.segments)

        // without an explicit pause, a gap longer than Python's MAX_SEGMENT_GAP_MS starts a segment too
        val plain = ScreeningSession(demo.manifest, demo.table, demo.reference)
        var tp = 0.0
        for (i in 0 until 100) { plain.onFrame(tp, walk[i]); tp += periodMs }
        val after = plain.onFrame(tp + 60_000.0, walk[100])
        assertTrue("a 60 s gap gave ${after.rows.size} rows", after.rows.size <= 8)
        assertEquals(1, plain.segments)
        assertTrue("row indices go on across segments", plain.rowOffset >= 90)
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
