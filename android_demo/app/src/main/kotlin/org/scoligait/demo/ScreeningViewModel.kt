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
import org.scoligait.core.SessionSummary
import org.scoligait.core.SummaryExport
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone
import java.util.concurrent.Executors

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
    val signature: String? = null
)

/**
 * Owns the screening session across configuration changes: set-up (bundle, ONNX session, pose
 * model) runs on a background thread and any failure becomes a message on the FAILED screen;
 * [onCleared] shuts the pipeline down in order on a background thread.
 */
class ScreeningViewModel(app: Application) : AndroidViewModel(app) {
    private val _ui = MutableLiveData(UiState(Screen.LOADING, message = "Loading the model..."))
    val ui: LiveData<UiState> = _ui
    private val setup = Executors.newSingleThreadExecutor()
    @Volatile private var pipeline: ScreeningPipeline? = null
    @Volatile private var cleared = false
    @Volatile private var last = UiState(Screen.LOADING)

    init {
        setup.execute { load() }
        setup.shutdown()
    }

    private fun load() {
        var ort: OrtScreener? = null
        try {
            val bundle = AssetBundle.load(getApplication<Application>().assets)
            ort = OrtScreener(bundle.modelBytes, bundle.manifest)
            val p = ScreeningPipeline(bundle, ort, onUpdate = ::onKioskUpdate, onError = { Log.w(TAG, it) })
            p.pose = PoseLandmarkerHelper(getApplication(), withMasks = p.usesVideo, onResult = p::onPose,
                onError = { msg -> post(last.copy(message = "Pose model error: $msg")) })
            if (cleared) { // the screen went away while loading
                p.close()
                return
            }
            pipeline = p
            val notice = if (bundle.manifest.isSimulated) {
                "Simulated-data demo model: " + (bundle.manifest.provenanceNotice ?: GeneratedText.SIMULATED_DATA_LINE)
            } else null
            post(UiState(Screen.INSTRUCTIONS, modelNotice = notice, signature = "Model bundle: ${bundle.signature.reason}"))
        } catch (t: Throwable) { // BundleException, OrtException (a newer .ort), a missing .task, UnsatisfiedLinkError ...
            Log.e(TAG, "set-up", t)
            ort?.close()
            post(UiState(Screen.FAILED, message = "Cannot screen: ${t.message ?: t.javaClass.simpleName}"))
        }
    }

    val analysisExecutor get() = pipeline?.analysisExecutor

    /** Frames from CameraX go here (on the analysis executor). */
    fun analyze(image: androidx.camera.core.ImageProxy) {
        val pose = pipeline?.pose
        if (pose == null || cleared) image.close() else pose.detect(image)
    }

    fun toConsent() = post(last.copy(screen = Screen.CONSENT, message = null))

    /** Consent given: the camera may start (the activity binds it when the screen is LIVE). */
    fun begin(consent: Consent) {
        val p = pipeline ?: return
        try {
            p.begin(consent)
            post(last.copy(screen = Screen.LIVE, message = null, guidance = null, progress = 0.0))
        } catch (e: IllegalArgumentException) {
            post(last.copy(screen = Screen.CONSENT, message = e.message))
        }
    }

    fun stop() = pipeline?.let { onKioskUpdate(it.stop(), 0, 0) }

    fun pause() = pipeline?.pause()

    fun resume() = pipeline?.resume()

    /** "Next subject": the session, the summary and everything on screen about the last subject are cleared. */
    fun nextSubject() {
        pipeline?.nextSubject()
        post(UiState(Screen.INSTRUCTIONS, modelNotice = last.modelNotice, signature = last.signature))
    }

    /** The summary as JSON, only when the operator asks to export it. */
    fun summaryJson(): String? {
        val p = pipeline ?: return null
        val s = last.summary ?: return null
        val utc = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).apply { timeZone = TimeZone.getTimeZone("UTC") }
        return synchronized(p.kiosk) { SummaryExport.toJson(s, p.bundle.manifest, p.bundle.signature, p.kiosk.consent, utc.format(Date())) }
    }

    @Synchronized
    private fun onKioskUpdate(u: KioskUpdate, width: Int, height: Int) {
        val p = pipeline ?: return
        val summary = synchronized(p.kiosk) { p.kiosk.summary }
        val next = when (u.state) {
            KioskState.SUMMARY -> last.copy(screen = Screen.SUMMARY, summary = summary, guidance = null, subject = null)
            KioskState.GUIDING, KioskState.RECORDING -> {
                val pose = u.subjectKeypoints
                val g = u.guidance ?: return // a model answer while recording: nothing new to draw
                last.copy(screen = Screen.LIVE, guidance = g.message, progress = u.windowProgress, subject = pose,
                    imageWidth = if (width > 0) width else last.imageWidth, imageHeight = if (height > 0) height else last.imageHeight)
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
        cleared = true
        val p = pipeline
        pipeline = null
        // the activity has unbound the camera; the drain waits, so it must not block the main thread
        if (p != null) Thread({ p.close() }, "scoligait-shutdown").start()
    }

    companion object {
        private const val TAG = "ScoliGaitViewModel"
    }
}
