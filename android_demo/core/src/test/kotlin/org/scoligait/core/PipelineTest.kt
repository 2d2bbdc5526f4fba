package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.ThreadFactory
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * The app's threads, in the core (issue 27, point 2): nothing thrown on a worker thread escapes
 * (camera frame, pose result, model thread, screen update), each is reported to the session's
 * [WorkerErrors], and shutdown closes what set-up made whatever the timing ([Lifetime], latches),
 * in order, leaving a model that is still running open.
 */
class PipelineTest {
    private val demo: LoadedBundle by lazy {
        BundleReader.read(DirectoryBundleFiles(File(Golden.repoRoot(), "scoligait_edge/assets/models/demo")))
    }
    private val walk: List<DoubleArray> by lazy { Golden.frames(Golden.npy("sim_long_30fps.keypoints.npy")) }
    private val periodMs = 1000.0 / 30.0

    /** Uncaught exceptions on the pipeline's own threads: must stay empty. */
    private val uncaught: MutableList<Throwable> = Collections.synchronizedList(ArrayList())
    private val threads = ThreadFactory { r ->
        Thread(r).apply { setUncaughtExceptionHandler { _, e -> uncaught.add(e) } }
    }

    private fun executor(): ExecutorService = Executors.newSingleThreadExecutor(threads)

    /** A model that answers, throws or blocks as told; counts its calls and closes. */
    private class FakeModel(private val behave: (Int) -> Map<String, FloatArray>) : WindowModel {
        val runs = AtomicInteger()
        val closes = AtomicInteger()
        override fun run(x: ModelInputs): Map<String, FloatArray> = behave(runs.incrementAndGet())
        override fun close() {
            closes.incrementAndGet()
        }
    }

    private fun outputs(p: Float) = mapOf("logit" to floatArrayOf(0f), "prob" to floatArrayOf(p), "cobb" to floatArrayOf(5f),
        "km_attention" to FloatArray(demo.manifest.windowFrames * GeneratedSchema.NUM_FEATURES))

    private fun pipeline(model: WindowModel, errors: WorkerErrors = WorkerErrors(), onUpdate: (KioskUpdate, Int, Int) -> Unit = { _, _, _ -> },
                         onError: (String) -> Unit = {}) =
        ScreeningPipeline(demo, model, onUpdate, onError, errors, analysisExecutor = executor(), modelThread = executor())

    /** The walk as the pose model would hand it over, frame by frame, until [until] holds. */
    private fun feedUntil(p: ScreeningPipeline, from: Int = 0, until: () -> Boolean): Int {
        var i = from
        while (!until() && i < walk.size) {
            p.onSubject(i * periodMs, walk[i], null, false, 1920, 1080)
            i++
        }
        return i
    }

    private fun awaitTrue(what: String, timeoutMs: Long = 10_000, cond: () -> Boolean) {
        val end = System.nanoTime() + timeoutMs * 1_000_000
        while (!cond()) {
            if (System.nanoTime() > end) throw AssertionError("timed out waiting for: $what")
            Thread.sleep(5)
        }
    }

    @Test
    fun exceptionsOnWorkerThreadsAreReportedNeverThrown() {
        val shown = Collections.synchronizedList(ArrayList<String>())
        val updates = AtomicInteger()
        // every 2nd model run throws an Exception, every 3rd an Error (the native runtime's UnsatisfiedLinkError, say)
        val model = FakeModel { n ->
            when {
                n % 3 == 0 -> throw UnsatisfiedLinkError("libonnxruntime.so: test")
                n % 2 == 0 -> throw IllegalStateException("OrtException: test")
                else -> outputs(0.3f)
            }
        }
        val p = pipeline(model, onUpdate = { _, _, _ -> if (updates.incrementAndGet() == 5) throw IllegalStateException("view gone") },
            onError = { shown.add(it) })
        p.begin(Consent(false, true, false))
        feedUntil(p) { model.runs.get() >= 6 }
        awaitTrue("six model runs answered") { synchronized(p.kiosk) { p.kiosk.pendingWindows == 0 } && model.runs.get() >= 6 }
        // a frame the session refuses (time going backwards) and a pose result that cannot be read
        p.onSubject(0.0, walk[0], null, false, 1920, 1080)
        val person = Golden.realLandmarks().first { it != null }!!
        p.onPose(PoseFrameResult(10_000_000, 1920, 1080, listOf(person), listOf(FloatArray(3)), 64, 64)) // a mask of 3 values for 64 x 64
        p.guard("camera frame") { throw IllegalStateException("toBitmap: buffer closed") }
        val sources = shown.map { it.substringBefore(":") }.toSet()
        for (src in listOf("model", "screen update", "frame dropped", "pose result", "camera frame")) {
            assertTrue("'$src' reported (got $sources)", sources.any { it.contains(src) })
        }
        assertTrue(shown.any { it.contains("UnsatisfiedLinkError") })
        assertEquals("the screen shows the latest", shown.last(), p.errors.current())
        val stats = synchronized(p.kiosk) { p.kiosk.liveStats }
        assertTrue("failed windows counted: ${stats.failed}", stats.failed >= 3)
        assertTrue(stats.screened >= 2)
        assertTrue("nothing escaped onto a thread: $uncaught", uncaught.isEmpty())
        // the session goes on: stop() still reaches the summary
        p.stop()
        awaitTrue("summary") { synchronized(p.kiosk) { p.kiosk.state } == KioskState.SUMMARY }
        assertTrue(p.close(2000))
        assertEquals(1, model.closes.get())
        assertTrue(uncaught.isEmpty())
        p.nextSubject()
        assertNull("next subject: no error of the last one on screen", p.errors.current())
    }

    /** Latches: stop() while the model is still running one window; shutdown must not close the model under it. */
    @Test
    fun shutdownLeavesARunningModelOpenAndSummarisesWhatItCouldNotWaitFor() {
        val entered = CountDownLatch(1)
        val release = CountDownLatch(1)
        val model = FakeModel { n ->
            if (n == 1) {
                entered.countDown()
                release.await(20, TimeUnit.SECONDS)
            }
            outputs(0.9f)
        }
        val p = pipeline(model)
        p.begin(Consent(false, true, false))
        feedUntil(p) { entered.count == 0L }
        assertTrue(entered.await(10, TimeUnit.SECONDS))
        p.stop()
        assertEquals("a window is still with the model", KioskState.RECORDING, synchronized(p.kiosk) { p.kiosk.state })
        val t0 = System.nanoTime()
        assertFalse("closed a model that was still running", p.close(300))
        assertTrue("close() waited its timeout, no longer", (System.nanoTime() - t0) / 1e6 < 5000)
        assertEquals(0, model.closes.get())
        assertFalse(p.acceptsFrames)
        val s = synchronized(p.kiosk) { p.kiosk.summary }
        assertNotNull("the unanswered window is counted and the session summarised", s)
        assertTrue(s!!.windowsFailed >= 1)
        release.countDown() // the run finishes after shutdown: its answer is dropped, nothing throws
        Thread.sleep(200)
        assertEquals(s.windowsScreened, synchronized(p.kiosk) { p.kiosk.summary }!!.windowsScreened)
        p.onSubject(1e9, walk[0], null, false, 1920, 1080) // a late frame after close: ignored
        assertFalse("a second close does nothing", p.close(10))
        assertEquals(0, model.closes.get())
        assertTrue(uncaught.isEmpty())
    }

    /** The order: frames refused, the analysis executor drained, then the pose model closed, then the model. */
    @Test
    fun shutdownClosesInOrder() {
        val order = Collections.synchronizedList(ArrayList<String>())
        val model = object : WindowModel {
            override fun run(x: ModelInputs) = outputs(0.2f)
            override fun close() {
                order.add("model closed")
            }
        }
        val p = pipeline(model)
        p.pose = AutoCloseable { order.add("pose closed") }
        p.analysisExecutor.execute { // a camera frame still being analysed when shutdown begins
            Thread.sleep(150)
            order.add("frame analysed")
        }
        Thread.sleep(20)
        assertTrue(p.close(2000))
        assertEquals(listOf("frame analysed", "pose closed", "model closed"), order)
        assertTrue(p.analysisExecutor.isShutdown)
    }

    /** Set-up publishes, shutdown closes: whichever comes second closes, exactly once, whatever the timing. */
    @Test
    fun lifetimeClosesWhatSetUpMadeWhateverTheTiming() {
        class Res { val closes = AtomicInteger() }
        // published, then closed
        val a = Lifetime<Res> { it.closes.incrementAndGet() }
        val r1 = Res()
        assertTrue(a.publish(r1))
        assertEquals(r1, a.current)
        a.close()
        a.close()
        assertEquals(1, r1.closes.get())
        assertNull(a.current)
        // closed while set-up was still running (latches): set-up's publish closes what it made
        val b = Lifetime<Res> { it.closes.incrementAndGet() }
        val made = CountDownLatch(1)
        val cleared = CountDownLatch(1)
        val r2 = Res()
        var published: Boolean? = null
        val setup = Thread {
            made.countDown()
            cleared.await()
            published = b.publish(r2)
        }
        setup.start()
        made.await()
        b.close() // onCleared before set-up finished: nothing to close yet
        assertEquals(0, r2.closes.get())
        cleared.countDown()
        setup.join(5000)
        assertEquals(false, published)
        assertEquals(1, r2.closes.get())
        assertNull(b.current)
        assertTrue(b.isClosed)
        // the real thing: a pipeline published after shutdown has its executors and model closed
        val model = FakeModel { outputs(0.1f) }
        val c = Lifetime<ScreeningPipeline> { it.close(1000) }
        c.close()
        val p = pipeline(model)
        assertFalse(c.publish(p))
        assertEquals(1, model.closes.get())
        assertTrue(p.analysisExecutor.isShutdown)
        // races: set-up and shutdown started together, 300 times; every resource closed exactly once
        val leaks = AtomicInteger()
        repeat(300) {
            val l = Lifetime<Res> { it.closes.incrementAndGet() }
            val r = Res()
            val go = CyclicBarrier(2)
            val t1 = Thread { go.await(); l.publish(r) }
            val t2 = Thread { go.await(); l.close() }
            t1.start(); t2.start(); t1.join(); t2.join()
            if (r.closes.get() != 1) leaks.incrementAndGet()
        }
        assertEquals("resources not closed exactly once", 0, leaks.get())
    }

    /** Fake clock: an error stays on screen for showForMs after it last happened; repeats are counted. */
    @Test
    fun errorsStayOnScreenForAWhileAndRepeatsAreCounted() {
        val now = AtomicLong(1_000)
        val e = WorkerErrors(showForMs = 5_000, clock = { now.get() })
        assertNull(e.current())
        e.report("camera frame", IllegalStateException("buffer closed"))
        assertEquals("Problem in camera frame: IllegalStateException: buffer closed", e.current())
        now.addAndGet(4_000)
        e.report("camera frame", IllegalStateException("buffer closed"))
        assertEquals("Problem in camera frame: IllegalStateException: buffer closed (2 times)", e.current())
        now.addAndGet(5_000) // 5 s after the last one: still shown
        assertNotNull(e.current())
        now.addAndGet(1)
        assertNull("gone 5 s after it last happened", e.current())
        e.report("camera frame", IllegalStateException("buffer closed")) // after the gap: a new count
        assertEquals("Problem in camera frame: IllegalStateException: buffer closed", e.current())
        e.report("model", "OrtException: x")
        assertEquals("Problem in model: OrtException: x", e.current())
        assertEquals(4, e.total)
        e.clear()
        assertNull(e.current())
        assertEquals(0, e.total)
    }
}
