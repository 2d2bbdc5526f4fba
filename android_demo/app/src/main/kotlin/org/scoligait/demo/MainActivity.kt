package org.scoligait.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Log
import android.view.View
import android.widget.ProgressBar
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.scoligait.core.GeneratedText
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Camera preview + live screening. The back camera watches someone walk across (or toward) it;
 * every 16 map rows (0.53 s) a new 96-row window (3.2 s) goes to the model once enough of it
 * shows the whole body.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var preview: PreviewView
    private lateinit var overlay: SkeletonOverlayView
    private lateinit var status: TextView
    private lateinit var progress: ProgressBar
    private lateinit var probability: TextView
    private lateinit var topFeatures: TextView
    private lateinit var sentences: TextView
    private lateinit var analysisExecutor: ExecutorService
    private var pose: PoseLandmarkerHelper? = null
    private var controller: ScreeningController? = null
    private var screener: OrtScreener? = null

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else status.text = getString(R.string.camera_permission_needed)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        overlay = findViewById(R.id.overlay)
        status = findViewById(R.id.status)
        progress = findViewById(R.id.window_progress)
        probability = findViewById(R.id.probability)
        topFeatures = findViewById(R.id.top_features)
        sentences = findViewById(R.id.sentences)
        findViewById<TextView>(R.id.notice_screening).text = GeneratedText.SCREENING_NOTICE
        analysisExecutor = Executors.newSingleThreadExecutor()

        val bundle = try {
            AssetBundle.load(assets)
        } catch (e: Exception) {
            Log.e(TAG, "model bundle", e)
            status.text = "Cannot screen: ${e.message}"
            return
        }
        // the bundle's own provenance decides the data notice; the demo model is simulated
        val notice = findViewById<TextView>(R.id.notice_simulated)
        if (bundle.manifest.isSimulated) {
            notice.text = "Simulated-data demo model: " + (bundle.manifest.provenanceNotice ?: GeneratedText.SIMULATED_DATA_LINE)
        } else {
            notice.visibility = View.GONE
        }
        val ort = OrtScreener(bundle.modelBytes, bundle.manifest)
        screener = ort
        val ctl = ScreeningController(bundle, ort) { s -> runOnUiThread { render(s) } }
        controller = ctl
        pose = PoseLandmarkerHelper(this, withMasks = ctl.usesVideo,
            onResult = { r -> ctl.onPose(r) },
            onError = { msg -> runOnUiThread { status.text = "Pose model error: $msg" } })

        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            askCamera.launch(Manifest.permission.CAMERA)
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            val previewUseCase = Preview.Builder().build().also { it.setSurfaceProvider(preview.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST) // only the latest frame
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(analysisExecutor) { image ->
                val p = pose
                if (p == null) image.close() else p.detect(image)
            }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    private fun render(s: ScreenState) {
        overlay.show(s.subject, s.imageWidth, s.imageHeight)
        progress.progress = (1000 * s.windowProgress).toInt()
        val seconds = s.rowsSeen / 30.0
        status.text = when {
            s.subject == null -> getString(R.string.waiting)
            s.lastVerdict != null -> s.lastVerdict
            s.rowsSeen < 96 -> "Filling the first window: %.1f of 3.2 s".format(seconds)
            else -> "Screening every 0.53 s (%.0f s seen)".format(seconds)
        }
        val r = s.result ?: return
        val decision = if (r.refer) "refer for a clinical examination" else "no referral indicated"
        probability.text = "p = %.2f (threshold %.2f): %s".format(r.prob, r.threshold, decision)
        topFeatures.text = if (r.topFeatures.isEmpty()) "" else "Top features:\n" + r.topFeatures.joinToString("\n") { "• " + it.describe() }
        sentences.text = if (s.sentences.isEmpty()) "" else "Described as: " + s.sentences.joinToString("; ")
    }

    override fun onDestroy() {
        super.onDestroy()
        analysisExecutor.shutdown()
        pose?.close()
        controller?.close()
        screener?.close()
    }

    companion object {
        private const val TAG = "ScoliGaitDemo"
    }
}
