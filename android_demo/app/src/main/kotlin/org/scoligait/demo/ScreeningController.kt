package org.scoligait.demo

import org.scoligait.core.ModelInputs
import org.scoligait.core.PoseLandmarks
import org.scoligait.core.ScreeningResult
import org.scoligait.core.ScreeningSession
import org.scoligait.core.Silhouette
import org.scoligait.core.Skeleton
import org.scoligait.core.SubjectPicker
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean

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

/** What the screen shows after each pose result. */
class ScreenState(
    val subject: DoubleArray?, // COCO-21 pixels of the subject in the analysed image, or null
    val imageWidth: Int,
    val imageHeight: Int,
    val rowsSeen: Int,
    val windowProgress: Double,
    val lastVerdict: String?,
    val result: ScreeningResult?,
    val sentences: List<String>
)

/**
 * The glue: pose results -> subject -> COCO-21 keypoints (and silhouette) -> the core's
 * [ScreeningSession] -> ONNX Runtime on a background thread -> [ScreenState] for the UI.
 * Windows that arrive while the model is still busy with the previous one are skipped (the
 * next arrives 16 rows = 0.53 s later).
 */
class ScreeningController(
    private val bundle: AssetBundle,
    private val screener: OrtScreener,
    private val onState: (ScreenState) -> Unit
) : AutoCloseable {
    private val session = ScreeningSession(bundle.manifest, bundle.table, bundle.reference)
    private val picker = SubjectPicker()
    private val modelThread: ExecutorService = Executors.newSingleThreadExecutor()
    private val busy = AtomicBoolean(false)
    @Volatile private var lastResult: ScreeningResult? = null
    @Volatile private var lastSentences: List<String> = emptyList()
    @Volatile private var lastVerdict: String? = null

    val usesVideo: Boolean get() = session.usesVideo

    /** Called on MediaPipe's result thread for every processed frame. */
    @Synchronized
    fun onPose(frame: PoseFrameResult) {
        val w = frame.width
        val h = frame.height
        val i = picker.pick(frame.people, w, h, frame.timestampMs.toDouble())
        val subject = if (i >= 0) frame.people[i] else null
        val keypoints = Skeleton.subjectKeypoints(subject, w, h)
        var sil: IntArray? = null
        var usable = false
        if (session.usesVideo && subject != null && frame.masks != null && i < frame.masks.size) {
            val px = subject.pixels(frame.maskWidth, frame.maskHeight)
            var x0 = Double.POSITIVE_INFINITY
            var y0 = Double.POSITIVE_INFINITY
            var x1 = Double.NEGATIVE_INFINITY
            var y1 = Double.NEGATIVE_INFINITY
            for (k in 0 until 33) {
                x0 = Math.min(x0, px[2 * k]); x1 = Math.max(x1, px[2 * k])
                y0 = Math.min(y0, px[2 * k + 1]); y1 = Math.max(y1, px[2 * k + 1])
            }
            val (s, ok) = Silhouette.personSilhouette(frame.masks[i], frame.maskWidth, frame.maskHeight,
                doubleArrayOf(x0, y0, x1 - x0, y1 - y0))
            sil = s
            usable = ok
        }
        val update = session.onFrame(frame.timestampMs.toDouble(), keypoints, sil, usable)
        for ((_, verdict) in update.skipped) lastVerdict = "window skipped: ${verdict.reason}"
        update.ready.lastOrNull()?.let { screen(it) }
        onState(ScreenState(if (subject != null) keypoints else null, w, h, session.windows.rowsSeen,
            session.windows.progress, lastVerdict, lastResult, lastSentences))
    }

    private fun screen(x: ModelInputs) {
        if (!busy.compareAndSet(false, true)) return
        lastVerdict = null
        modelThread.execute {
            try {
                val outputs = screener.run(x)
                lastResult = ScreeningResult.fromOutputs(outputs, x.window, bundle.manifest.threshold,
                    bundle.manifest.labels, perDomain = 1)
                lastSentences = x.description?.texts ?: emptyList()
            } catch (e: Exception) {
                lastVerdict = "model error: ${e.message}"
            } finally {
                busy.set(false)
            }
        }
    }

    override fun close() {
        modelThread.shutdown()
    }
}
