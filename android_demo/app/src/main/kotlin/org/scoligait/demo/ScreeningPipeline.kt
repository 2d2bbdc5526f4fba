package org.scoligait.demo

import android.util.Log
import org.scoligait.core.Consent
import org.scoligait.core.KioskSession
import org.scoligait.core.KioskUpdate
import org.scoligait.core.LoadedBundle
import org.scoligait.core.PoseLandmarks
import org.scoligait.core.ScreeningResult
import org.scoligait.core.Silhouette
import org.scoligait.core.Skeleton
import org.scoligait.core.SubjectPicker
import org.scoligait.core.WindowTicket
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.TimeUnit

/** The people MediaPipe found in one frame, in the core's form, with their soft masks when asked for. */
class PoseFrameResult(
    val timestampMs: Long,
    val width: Int,
    val height: Int,
    val people: List<PoseLandmarks>,
    val masks: List<FloatArray>?,
    val maskWidth: Int,
    val maskHeight: Int
)

/**
 * The glue between the camera, MediaPipe, the core's [KioskSession] and ONNX Runtime: pose
 * results -> subject -> COCO-21 keypoints (and silhouette) -> the kiosk session -> every window
 * that passes the quality check to the model on one background thread -> the answer back into
 * the session. The session is only touched under its own lock. [close] shuts down in order:
 * frames are refused, the analysis executor drains, the landmarker closes, the model thread
 * drains, then the ONNX session closes.
 */
class ScreeningPipeline(
    val bundle: LoadedBundle,
    private val screener: OrtScreener,
    /** Called with each update and the analysed image's size (0 x 0 for model answers). */
    private val onUpdate: (KioskUpdate, Int, Int) -> Unit,
    private val onError: (String) -> Unit
) {
    val kiosk = KioskSession(bundle.manifest, bundle.table, bundle.reference)
    /** CameraX runs the analyzer here; one frame at a time (STRATEGY_KEEP_ONLY_LATEST drops the rest). */
    val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private val modelThread: ExecutorService = Executors.newSingleThreadExecutor()
    private val picker = SubjectPicker()
    @Volatile private var closing = false
    @Volatile var pose: PoseLandmarkerHelper? = null

    val usesVideo: Boolean get() = bundle.manifest.input("video") != null

    /** Called on MediaPipe's result thread for every processed frame. */
    fun onPose(frame: PoseFrameResult) {
        if (closing) return // a late result after close: nothing may reach a shut-down executor
        val i = picker.pick(frame.people, frame.width, frame.height, frame.timestampMs.toDouble())
        val subject = if (i >= 0) frame.people[i] else null
        val keypoints = Skeleton.subjectKeypoints(subject, frame.width, frame.height)
        var sil: IntArray? = null
        var usable = false
        if (usesVideo && subject != null && frame.masks != null && i < frame.masks.size) {
            val (s, ok) = Silhouette.personSilhouette(frame.masks[i], frame.maskWidth, frame.maskHeight,
                boundingBox(subject.pixels(frame.maskWidth, frame.maskHeight)))
            sil = s
            usable = ok
        }
        val update = try {
            synchronized(kiosk) { kiosk.onFrame(frame.timestampMs.toDouble(), keypoints, sil, usable) }
        } catch (e: IllegalArgumentException) { // TimestampException / KeypointException: drop the frame, say why
            onError("frame dropped: ${e.message}")
            return
        }
        submit(update.toScreen)
        onUpdate(update, frame.width, frame.height)
    }

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
        if (closing) return
        val update = try {
            val outputs = screener.run(t.inputs)
            val result = ScreeningResult.fromOutputs(outputs, t.inputs.window, bundle.manifest.threshold, bundle.manifest.labels, 1)
            synchronized(kiosk) {
                kiosk.onModelResult(t, result)
                snapshot()
            }
        } catch (e: Exception) {
            Log.e(TAG, "model", e)
            onError("model error on one window: ${e.message}")
            synchronized(kiosk) {
                kiosk.onModelError(t, "${e.javaClass.simpleName}: ${e.message}")
                snapshot()
            }
        }
        onUpdate(update, 0, 0)
    }

    private fun snapshot() = KioskUpdate(kiosk.state, null, emptyList(), 0.0, null)

    fun begin(consent: Consent) = synchronized(kiosk) { kiosk.begin(consent) }

    fun stop(): KioskUpdate = synchronized(kiosk) {
        kiosk.stop()
        snapshot()
    }

    fun nextSubject() = synchronized(kiosk) {
        kiosk.nextSubject()
        picker.reset()
    }

    fun pause() = synchronized(kiosk) { kiosk.pause() }

    fun resume() {
        val tickets = synchronized(kiosk) { kiosk.resume() }
        submit(tickets)
    }

    /**
     * Orderly shutdown (call off the main thread; the camera must already be unbound): refuse new
     * frames, drain the analysis executor, close the landmarker (no more results), drain the model
     * thread (a running `session.run` finishes), then close the ONNX session.
     */
    fun close(timeoutMs: Long = 3000) {
        closing = true
        analysisExecutor.shutdown()
        if (!analysisExecutor.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS)) Log.w(TAG, "analysis did not finish in $timeoutMs ms")
        pose?.close()
        pose = null
        modelThread.shutdown()
        val drained = modelThread.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS)
        synchronized(kiosk) { kiosk.abandonPending("shut down before the model answered") }
        if (drained) {
            screener.close()
        } else { // closing under a running session.run would free memory it still reads: leave it to the process end
            Log.w(TAG, "the model did not finish in $timeoutMs ms; its ONNX session is left open")
        }
    }

    companion object {
        private const val TAG = "ScoliGaitPipeline"
    }
}
