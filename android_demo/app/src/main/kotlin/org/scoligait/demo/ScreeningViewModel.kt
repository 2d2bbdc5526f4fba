package org.scoligait.demo

import android.app.Application
import android.util.Log
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.LiveData
import androidx.lifecycle.MutableLiveData
import org.scoligait.core.Consent
import org.scoligait.core.GeneratedText
import org.scoligait.core.KioskState
import org.scoligait.core.KioskUpdate
import org.scoligait.core.Lifetime
import org.scoligait.core.ScreeningPipeline
import org.scoligait.core.SessionSummary
import org.scoligait.core.SummaryExport
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone

/** The kiosk's screens (the core's [KioskState] plus set-up, failure, instructions and consent). */
enum class Screen { LOADING, FAILED, INSTRUCTIONS, CONSENT, LIVE, SUMMARY }

/** Everything the activity draws; it keeps no state of its own, so recreation (rotation, dark mode) loses nothing. */
data class UiState(
    val screen: Screen,
    val message: String? = null,
    val guidance: String? = null,
    val progress: Double = 0.0,
    val subject: DoubleArray? = null,
    val imageWidth: Int = 0,
    val imageHeight: Int = 0,
    val summary: SessionSummary? = null,
    val modelNotice: String? = null,
    val signature: String? = null,
    /** The latest worker-thread error while recent (camera frame, pose model, model run): the LIVE screen shows it. */
    val error: String? = null
)

/**
 * Owns the screening session across configuration changes: set-up (bundle, ONNX session, pose
 * model) runs on a background thread and any failure becomes a message on the FAILED screen.
 * What set-up made is held by a core [Lifetime]: [onCleared] closes it on a background thread,
 * and when the screen goes away while set-up is still running, set-up closes what it made as soon
 * as it finishes. Every callback on a worker thread goes through [ScreeningPipeline.guard]: an
 * exception is reported to the session's [org.scoligait.core.WorkerErrors] (shown on the LIVE
 * screen), never thrown on the thread.
 */
class ScreeningViewModel(app: Application) : AndroidViewModel(app) {
    private val _ui = MutableLiveData(UiState(Screen.LOADING, message = "Loading the model..."))
    val ui: LiveData<UiState> = _ui

    /** The running pipeline and its pose model, as set-up published them. */
    private class Running(val pipeline: ScreeningPipeline, val pose: PoseLandmarkerHelper)

    // the drain waits (up to 2 x 3 s), so shutdown never runs on the main thread
    private val running = Lifetime<Running> { r -> Thread({ r.pipeline.close() }, "scoligait-shutdown").start() }
    @Volatile private var last = UiState(Screen.LOADING)

    init {
        Thread({ load() }, "scoligait-setup").start()
    }

    private fun load() {
        var model: OrtScreener? = null
        var pipeline: ScreeningPipeline? = null
        try {
            val bundle = AssetBundle.load(getApplication<Application>().assets)
            if (running.isClosed) return // the screen went away while loading: nothing made yet
            // model.ort first; when this ONNX Runtime cannot read it (a newer converter), model.onnx
            val opened = bundle.openModel { _, bytes -> OrtScreener(bytes, bundle.manifest) }
            model = opened.model
            opened.failed.forEach { Log.w(TAG, "model fallback: $it") }
            val p = ScreeningPipeline(bundle, opened.model, onUpdate = ::onKioskUpdate, onError = ::onWorkerError,
                log = { msg, t -> Log.w(TAG, msg, t) })
            pipeline = p
            model = null // the pipeline owns (and closes) the model from here
            val pose = PoseLandmarkerHelper(getApplication(), withMasks = p.usesVideo, onResult = p::onPose,
                onError = { msg -> p.report("pose model", msg) })
            p.pose = pose
            if (!running.publish(Running(p, pose))) return // cleared while loading: publish() closed it all
            val notice = if (bundle.manifest.isSimulated) {
                "Simulated-data demo model: " + (bundle.manifest.provenanceNotice ?: GeneratedText.SIMULATED_DATA_LINE)
            } else null
            post(UiState(Screen.INSTRUCTIONS, modelNotice = notice,
                signature = "Model bundle: ${bundle.signature.reason}; ${opened.note}"))
        } catch (t: Throwable) { // BundleException, OrtException from every model file, a missing .task, UnsatisfiedLinkError ...
            Log.e(TAG, "set-up", t)
            try {
                pipeline?.close(0) // idle executors: closes the pose model (if made) and the ONNX session
                model?.close()
            } catch (e: Throwable) {
                Log.w(TAG, "closing after a failed set-up", e)
            }
            post(UiState(Screen.FAILED, message = "Cannot screen: ${t.message ?: t.javaClass.simpleName}"))
        }
    }

    val analysisExecutor get() = running.current?.pipeline?.analysisExecutor

    /** Frames from CameraX go here (on the analysis executor); nothing thrown here reaches the executor. */
    fun analyze(image: androidx.camera.core.ImageProxy) {
        val r = running.current
        if (r == null || !r.pipeline.acceptsFrames) {
            try {
                image.close()
            } catch (t: Throwable) {
                Log.w(TAG, "closing a late frame", t)
            }
            return
        }
        r.pipeline.guard("camera frame") { r.pose.detect(image) } // detect() closes the frame whatever happens
    }

    fun toConsent() = post(last.copy(screen = Screen.CONSENT, message = null))

    /** Consent given: the camera may start (the activity binds it when the screen is LIVE). */
    fun begin(consent: Consent) {
        val p = running.current?.pipeline ?: return
        try {
            p.begin(consent)
            post(last.copy(screen = Screen.LIVE, message = null, guidance = null, progress = 0.0, error = null))
        } catch (e: IllegalArgumentException) {
            post(last.copy(screen = Screen.CONSENT, message = e.message))
        }
    }

    fun stop() = running.current?.pipeline?.let { onKioskUpdate(it.stop(), 0, 0) }

    fun pause() = running.current?.pipeline?.pause()

    fun resume() = running.current?.pipeline?.resume()

    /** "Next subject": the session, the summary, the errors and everything on screen about the last subject are cleared. */
    fun nextSubject() {
        running.current?.pipeline?.nextSubject()
        post(UiState(Screen.INSTRUCTIONS, modelNotice = last.modelNotice, signature = last.signature))
    }

    /** The summary as JSON, only when the operator asks to export it. */
    fun summaryJson(): String? {
        val p = running.current?.pipeline ?: return null
        val s = last.summary ?: return null
        val utc = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).apply { timeZone = TimeZone.getTimeZone("UTC") }
        return synchronized(p.kiosk) { SummaryExport.toJson(s, p.bundle.manifest, p.bundle.signature, p.kiosk.consent, utc.format(Date())) }
    }

    /** A worker thread reported an error: the LIVE screen shows it at once. */
    private fun onWorkerError(text: String) {
        synchronized(this) {
            if (last.screen == Screen.LIVE) post(last.copy(error = text))
        }
    }

    @Synchronized
    private fun onKioskUpdate(u: KioskUpdate, width: Int, height: Int) {
        val p = running.current?.pipeline ?: return
        val summary = synchronized(p.kiosk) { p.kiosk.summary }
        val next = when (u.state) {
            KioskState.SUMMARY -> last.copy(screen = Screen.SUMMARY, summary = summary, guidance = null, subject = null, error = null)
            KioskState.GUIDING, KioskState.RECORDING -> {
                val pose = u.subjectKeypoints
                val g = u.guidance ?: return // a model answer while recording: nothing new to draw
                last.copy(screen = Screen.LIVE, guidance = g.message, progress = u.windowProgress, subject = pose,
                    imageWidth = if (width > 0) width else last.imageWidth, imageHeight = if (height > 0) height else last.imageHeight,
                    error = p.errors.current())
            }
            KioskState.IDLE -> return
        }
        post(next)
    }

    @Synchronized
    private fun post(s: UiState) {
        last = s
        _ui.postValue(s)
    }

    override fun onCleared() {
        running.close() // closes what set-up published, on a background thread; a set-up still running closes its own
    }

    companion object {
        private const val TAG = "ScoliGaitViewModel"
    }
}
