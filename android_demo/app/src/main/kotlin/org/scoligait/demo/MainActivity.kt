package org.scoligait.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.CheckBox
import android.widget.ProgressBar
import android.widget.TextView
import android.widget.Toast
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.scoligait.core.Consent
import org.scoligait.core.GeneratedText
import org.scoligait.core.SessionSummary

/**
 * The kiosk's one activity: instructions -> consent (guardian consent for minors) -> live
 * guidance with the camera -> summary -> "next subject". It only draws [UiState] and forwards
 * taps; the [ScreeningViewModel] owns the session, so a rotation or dark-mode switch keeps it.
 * The camera is bound only on the live screen. No frame is stored; the summary is written as
 * JSON only when the operator taps "Export".
 */
class MainActivity : AppCompatActivity() {
    private val vm: ScreeningViewModel by viewModels()
    private lateinit var preview: PreviewView
    private lateinit var overlay: SkeletonOverlayView
    private var cameraProvider: ProcessCameraProvider? = null
    private var cameraBound = false
    private var pendingConsent: Consent? = null

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        val c = pendingConsent
        pendingConsent = null
        if (granted && c != null) vm.begin(c) else text(R.id.consent_message, getString(R.string.camera_permission_needed))
    }

    private val exportJson = registerForActivityResult(ActivityResultContracts.CreateDocument("application/json")) { uri ->
        val json = vm.summaryJson()
        if (uri == null || json == null) return@registerForActivityResult
        try {
            contentResolver.openOutputStream(uri)?.use { it.write(json.toByteArray(Charsets.UTF_8)) }
            Toast.makeText(this, R.string.exported, Toast.LENGTH_SHORT).show()
        } catch (e: Exception) {
            Toast.makeText(this, getString(R.string.export_failed, e.message), Toast.LENGTH_LONG).show()
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        overlay = findViewById(R.id.overlay)
        text(R.id.notice_screening, GeneratedText.SCREENING_NOTICE)
        text(R.id.instructions_text, getString(R.string.instructions))

        findViewById<Button>(R.id.instructions_next).setOnClickListener { vm.toConsent() }
        val minor = findViewById<CheckBox>(R.id.consent_minor)
        val guardian = findViewById<CheckBox>(R.id.consent_guardian)
        val subject = findViewById<CheckBox>(R.id.consent_subject)
        minor.setOnCheckedChangeListener { _, isMinor -> guardian.visibility = if (isMinor) View.VISIBLE else View.GONE }
        findViewById<Button>(R.id.consent_start).setOnClickListener {
            val c = Consent(minor.isChecked, subject.isChecked, guardian.isChecked)
            if (!c.valid) {
                text(R.id.consent_message, getString(if (c.subjectIsMinor && !c.guardianConsents) R.string.need_guardian else R.string.need_consent))
                return@setOnClickListener
            }
            minor.isChecked = false
            subject.isChecked = false
            guardian.isChecked = false
            if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
                vm.begin(c)
            } else {
                pendingConsent = c
                askCamera.launch(Manifest.permission.CAMERA)
            }
        }
        findViewById<Button>(R.id.consent_cancel).setOnClickListener { vm.nextSubject() }
        findViewById<Button>(R.id.live_stop).setOnClickListener { vm.stop() }
        findViewById<Button>(R.id.live_cancel).setOnClickListener { vm.nextSubject() }
        findViewById<Button>(R.id.summary_export).setOnClickListener { exportJson.launch("scoligait-summary.json") }
        findViewById<Button>(R.id.summary_next).setOnClickListener { vm.nextSubject() }

        vm.ui.observe(this) { render(it) }
    }

    private fun render(s: UiState) {
        val panels = mapOf(Screen.LOADING to R.id.panel_message, Screen.FAILED to R.id.panel_message,
            Screen.INSTRUCTIONS to R.id.panel_instructions, Screen.CONSENT to R.id.panel_consent,
            Screen.LIVE to R.id.panel_live, Screen.SUMMARY to R.id.panel_summary)
        for ((screen, id) in panels) if (screen != s.screen) findViewById<View>(id).visibility = View.GONE
        findViewById<View>(panels.getValue(s.screen)).visibility = View.VISIBLE
        val simulated = findViewById<TextView>(R.id.notice_simulated)
        simulated.visibility = if (s.modelNotice != null) View.VISIBLE else View.GONE
        simulated.text = s.modelNotice ?: ""
        text(R.id.signature, s.signature ?: "")
        when (s.screen) {
            Screen.LOADING, Screen.FAILED -> text(R.id.message, s.message ?: "")
            Screen.CONSENT -> text(R.id.consent_message, s.message ?: "")
            Screen.LIVE -> {
                overlay.show(s.subject, s.imageWidth, s.imageHeight)
                text(R.id.guidance, s.guidance ?: getString(R.string.waiting))
                findViewById<ProgressBar>(R.id.session_progress).progress = (1000 * s.progress).toInt()
                val error = findViewById<TextView>(R.id.live_error) // a worker thread's error (camera, pose, model)
                error.visibility = if (s.error != null) View.VISIBLE else View.GONE
                error.text = s.error ?: ""
            }
            Screen.SUMMARY -> s.summary?.let { showSummary(it) }
            Screen.INSTRUCTIONS -> overlay.show(null, 0, 0)
        }
        if (s.screen == Screen.LIVE) bindCamera() else unbindCamera()
    }

    private fun showSummary(s: SessionSummary) {
        text(R.id.summary_decision, when (s.decision) {
            "refer" -> getString(R.string.decision_refer)
            "no_referral" -> getString(R.string.decision_no_referral)
            else -> getString(R.string.decision_none, s.reason ?: "")
        })
        val numbers = if (s.probabilityMean == null) "" else getString(R.string.summary_numbers,
            s.probabilityMean, s.threshold, s.windowsScreened, s.windowsTotal, s.durationS) + "\n"
        text(R.id.summary_numbers, numbers + getString(R.string.summary_steps, s.steps, s.gaitCycles))
        // Python's notes, e.g. "input unlike the training data: ..." when most screened windows were flagged
        text(R.id.summary_notes, s.notes.joinToString("\n"))
        text(R.id.summary_features, if (s.topFeatures.isEmpty()) "" else getString(R.string.top_features) + "\n" +
            s.topFeatures.joinToString("\n") { "• ${it.name}: ${it.meaning}" })
        val reasons = s.qualityReasons()
        text(R.id.summary_quality, if (reasons.isEmpty()) "" else getString(R.string.quality_reasons) + "\n" +
            reasons.joinToString("\n") { "• $it" })
    }

    private fun bindCamera() {
        if (cameraBound) return
        val executor = vm.analysisExecutor ?: return
        cameraBound = true
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            if (!cameraBound || isDestroyed) return@addListener
            val provider = future.get()
            cameraProvider = provider
            val previewUseCase = Preview.Builder().build().also { it.setSurfaceProvider(preview.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST) // only the latest frame
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(executor) { image -> vm.analyze(image) }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    private fun unbindCamera() {
        if (!cameraBound) return
        cameraBound = false
        cameraProvider?.unbindAll()
    }

    override fun onStart() {
        super.onStart()
        vm.resume() // a new stream segment: the time away is not replayed
    }

    override fun onStop() {
        if (!isChangingConfigurations) vm.pause() // a rotation keeps recording; leaving the app pauses
        super.onStop()
    }

    override fun onDestroy() {
        unbindCamera() // the camera stops first; the view model drains and closes the rest when it is cleared
        super.onDestroy()
    }

    private fun text(id: Int, value: String) {
        findViewById<TextView>(id).text = value
    }
}
