package org.scoligait.core

import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean

/** The model that screens one window (the app's `OrtScreener`; fakes in the JVM tests). */
interface WindowModel : AutoCloseable {
    /** Every output of the graph as float32 (`logit`, `prob`, `cobb`, `km_attention`). */
    fun run(x: ModelInputs): Map<String, FloatArray>
}

/** The people the pose model found in one frame, in the core's form, with their soft masks when asked for. */
class PoseFrameResult(
    @JvmField val timestampMs: Long,
    @JvmField val width: Int,
    @JvmField val height: Int,
    @JvmField val people: List<PoseLandmarks>,
    @JvmField val masks: List<FloatArray>?,
    @JvmField val maskWidth: Int,
    @JvmField val maskHeight: Int
)

/**
 * The threads between the camera, the pose model, the [KioskSession] and the screening model,
 * in pure Kotlin (the app adds CameraX, MediaPipe and ONNX Runtime): pose results -> subject ->
 * COCO-21 keypoints (and silhouette) -> the kiosk session -> every window that passes the
 * quality check to the model on one background thread -> the answer back into the session. The
 * session is only touched under its own lock.
 *
 * Nothing thrown on a worker thread escapes: [onPose], the model thread and the update callback
 * catch everything, report it to [errors] (the live screen shows it) and go on; a window whose
 * model run failed counts as failed, as Python counts an inference error.
 *
 * [close] shuts down in order, whatever is still running: frames are refused, the analysis
 * executor drains, the pose model closes, the model thread drains, then the model closes (left
 * open, with a log line, if a run is still going after the timeout: closing under it would crash).
 */
class ScreeningPipeline @JvmOverloads constructor(
    val bundle: LoadedBundle,
    private val model: WindowModel,
    /** Called with each update and the analysed image's size (0 x 0 for model answers), on a worker thread. */
    private val onUpdate: (KioskUpdate, Int, Int) -> Unit,
    /** Called with the screen's text after each error report, on the thread that caught it. */
    private val onError: (String) -> Unit = {},
    val errors: WorkerErrors = WorkerErrors(),
    private val log: (String, Throwable?) -> Unit = { _, _ -> },
    /** CameraX runs the analyzer here; one frame at a time (STRATEGY_KEEP_ONLY_LATEST drops the rest). */
    val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor(),
    private val modelThread: ExecutorService = Executors.newSingleThreadExecutor()
) {
    val kiosk = KioskSession(bundle.manifest, bundle.table, bundle.reference, bundle.inputReference)
    private val picker = SubjectPicker()
    private val closed = AtomicBoolean(false)
    @Volatile private var closing = false

    /** The pose model (closed by [close] after the analysis executor drained). */
    @Volatile var pose: AutoCloseable? = null

    val usesVideo: Boolean get() = bundle.manifest.input("video") != null

    /** False once [close] began: camera frames are closed unread. */
    val acceptsFrames: Boolean get() = !closing

    /** Run [block] (a worker-thread callback); anything it throws is reported as an error of [source], never rethrown. */
    fun guard(source: String, block: () -> Unit) {
        try {
            block()
        } catch (t: Throwable) {
            report(source, t)
        }
    }

    /** Report an error from a worker thread (a pose-model error listener, ...). */
    fun report(source: String, t: Throwable) = report(source, WorkerErrors.describe(t), t)

    fun report(source: String, message: String, t: Throwable? = null) {
        log("$source: $message", t)
        val text = errors.report(source, message)
        try {
            onError(text)
        } catch (e: Throwable) {
            log("error callback", e)
        }
    }

    /** Called on the pose model's result thread for every processed frame. */
    fun onPose(frame: PoseFrameResult) {
        if (closing) return // a late result after close: nothing may reach a shut-down executor
        guard("pose result") {
            val i = picker.pick(frame.people, frame.width, frame.height, frame.timestampMs.toDouble())
            val subject = if (i >= 0) frame.people[i] else null
            val keypoints = Skeleton.subjectKeypoints(subject, frame.width, frame.height)
            var sil: IntArray? = null
            var usable = false
            val masks = frame.masks
            if (usesVideo && subject != null && masks != null && i < masks.size) {
                val (s, ok) = Silhouette.personSilhouette(masks[i], frame.maskWidth, frame.maskHeight,
                    boundingBox(subject.pixels(frame.maskWidth, frame.maskHeight)))
                sil = s
                usable = ok
            }
            onSubject(frame.timestampMs.toDouble(), keypoints, sil, usable, frame.width, frame.height)
        }
    }

    /**
     * The subject's COCO-21 keypoints `[21 * 3]` of one frame (what [onPose] makes of a pose
     * result) into the kiosk session; windows that pass go to the model thread.
     */
    fun onSubject(timestampMs: Double, keypoints: DoubleArray, silhouette: IntArray?, silhouetteUsable: Boolean, width: Int, height: Int) {
        if (closing) return
        guard("pose result") {
            val update = try {
                synchronized(kiosk) { kiosk.onFrame(timestampMs, keypoints, silhouette, silhouetteUsable) }
            } catch (e: IllegalArgumentException) { // TimestampException / KeypointException: drop the frame, say why
                report("frame dropped", e)
                return@guard
            }
            submit(update.toScreen)
            deliver(update, width, height)
        }
    }

    private fun deliver(u: KioskUpdate, width: Int, height: Int) = guard("screen update") { onUpdate(u, width, height) }

    private fun boundingBox(px: DoubleArray): DoubleArray {
        var x0 = Double.POSITIVE_INFINITY
        var y0 = Double.POSITIVE_INFINITY
        var x1 = Double.NEGATIVE_INFINITY
        var y1 = Double.NEGATIVE_INFINITY
        for (k in 0 until 33) {
            x0 = Math.min(x0, px[2 * k]); x1 = Math.max(x1, px[2 * k])
            y0 = Math.min(y0, px[2 * k + 1]); y1 = Math.max(y1, px[2 * k + 1])
        }
        return doubleArrayOf(x0, y0, x1 - x0, y1 - y0)
    }

    /** Every window goes to the model (the session bounds how many may wait); answers go back under the lock. */
    private fun submit(tickets: List<WindowTicket>) {
        for (t in tickets) {
            try {
                modelThread.execute { screen(t) }
            } catch (e: RejectedExecutionException) {
                synchronized(kiosk) { kiosk.onModelError(t, "shutting down") }
            }
        }
    }

    private fun screen(t: WindowTicket) {
        if (closing) return // close() counts it with the other windows the model never answered
        val update = try {
            val outputs = model.run(t.inputs)
            val result = ScreeningResult.fromOutputs(outputs, t.inputs.window, bundle.manifest.threshold, bundle.manifest.labels, 1)
            synchronized(kiosk) {
                kiosk.onModelResult(t, result)
                snapshot()
            }
        } catch (e: Throwable) { // an OrtException, a missing output, an Error from the native runtime: one failed window
            report("model", e)
            synchronized(kiosk) {
                kiosk.onModelError(t, WorkerErrors.describe(e))
                snapshot()
            }
        }
        deliver(update, 0, 0)
    }

    private fun snapshot() = KioskUpdate(kiosk.state, null, emptyList(), 0.0, null)

    fun begin(consent: Consent) = synchronized(kiosk) { kiosk.begin(consent) }

    fun stop(): KioskUpdate = synchronized(kiosk) {
        kiosk.stop()
        snapshot()
    }

    fun nextSubject() {
        synchronized(kiosk) {
            kiosk.nextSubject()
            picker.reset()
        }
        errors.clear()
    }

    fun pause() = synchronized(kiosk) { kiosk.pause() }

    fun resume() {
        val tickets = synchronized(kiosk) { kiosk.resume() }
        submit(tickets)
    }

    /**
     * Orderly shutdown (call off the main thread; the camera must already be unbound): refuse new
     * frames, drain the analysis executor, close the pose model (no more results), drain the model
     * thread (a running model call finishes), then close the model. Safe to call twice (the second
     * call does nothing); never throws. Returns true when the model was closed.
     */
    @JvmOverloads
    fun close(timeoutMs: Long = 3000): Boolean {
        if (!closed.compareAndSet(false, true)) return false
        closing = true
        analysisExecutor.shutdown()
        if (!awaitQuietly(analysisExecutor, timeoutMs)) log("analysis did not finish in $timeoutMs ms", null)
        val p = pose
        pose = null
        if (p != null) guard("closing the pose model") { p.close() }
        modelThread.shutdown()
        val drained = awaitQuietly(modelThread, timeoutMs)
        guard("shutdown") { synchronized(kiosk) { kiosk.abandonPending("shut down before the model answered") } }
        if (!drained) { // closing under a running session.run would free memory it still reads: leave it to the process end
            log("the model did not finish in $timeoutMs ms; it is left open", null)
            return false
        }
        var ok = true
        guard("closing the model") {
            ok = false
            model.close()
            ok = true
        }
        return ok
    }

    private fun awaitQuietly(e: ExecutorService, timeoutMs: Long): Boolean = try {
        e.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS)
    } catch (ie: InterruptedException) {
        Thread.currentThread().interrupt()
        false
    }
}
