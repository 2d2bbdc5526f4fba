package org.scoligait.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Matrix
import android.util.Log
import androidx.camera.core.ImageProxy
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.framework.image.ByteBufferExtractor
import com.google.mediapipe.framework.image.MPImage
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.core.Delegate
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.poselandmarker.PoseLandmarker
import com.google.mediapipe.tasks.vision.poselandmarker.PoseLandmarkerResult
import org.scoligait.core.PoseFrameResult
import org.scoligait.core.PoseLandmarks
import org.scoligait.core.WorkerErrors
import java.nio.ByteOrder

/**
 * MediaPipe Tasks PoseLandmarker (LIVE_STREAM) on CameraX frames, with the same `.task` bundle as
 * the Python side (`scoligait_edge/assets/pose_models`, copied into `assets/pose/`). Settings
 * follow the Python `PoseEstimatorOptions`: two poses (so the subject can be chosen), 0.5
 * detection / presence / tracking confidence. Runs on the camera's analysis executor ([detect])
 * and MediaPipe's result thread ([deliver]); an exception in [detect] propagates to the caller's
 * guard (the frame is closed first), one in [deliver] goes to [onError]: neither reaches the thread.
 */
class PoseLandmarkerHelper(
    context: Context,
    model: String = "pose/pose_landmarker_lite.task",
    private val withMasks: Boolean,
    private val onResult: (PoseFrameResult) -> Unit,
    private val onError: (String) -> Unit
) : AutoCloseable {
    private var lastTimestampMs = -1L
    private val landmarker: PoseLandmarker

    init {
        val base = BaseOptions.builder().setModelAssetPath(model).setDelegate(Delegate.CPU).build()
        val options = PoseLandmarker.PoseLandmarkerOptions.builder()
            .setBaseOptions(base)
            .setRunningMode(RunningMode.LIVE_STREAM)
            .setNumPoses(2)
            .setMinPoseDetectionConfidence(0.5f)
            .setMinPosePresenceConfidence(0.5f)
            .setMinTrackingConfidence(0.5f)
            .setOutputSegmentationMasks(withMasks)
            .setResultListener(this::deliver)
            .setErrorListener { e: RuntimeException -> onError(e.message ?: e.toString()) }
            .build()
        landmarker = PoseLandmarker.createFromOptions(context, options)
    }

    /**
     * Send one camera frame (rotated upright) to MediaPipe. The timestamp is the sensor time in
     * ms, made strictly increasing as LIVE_STREAM mode requires; MediaPipe may drop frames to keep
     * up, which the core's resampler handles like any dropped camera frame.
     */
    fun detect(image: ImageProxy) {
        val frame = try { // the frame goes back to CameraX whatever happens: an unclosed ImageProxy stalls the analyzer
            Triple(image.imageInfo.timestamp / 1_000_000L, image.imageInfo.rotationDegrees, image.toBitmap())
        } finally {
            image.close()
        }
        var ts = frame.first
        val rotation = frame.second
        val bitmap: Bitmap = frame.third
        if (ts <= lastTimestampMs) ts = lastTimestampMs + 1
        lastTimestampMs = ts
        val upright = if (rotation == 0) bitmap else {
            val m = Matrix().apply { postRotate(rotation.toFloat()) }
            Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, true)
        }
        val mpImage = BitmapImageBuilder(upright).build()
        landmarker.detectAsync(mpImage, ts)
    }

    private var warnedNoVisibility = false

    private fun deliver(result: PoseLandmarkerResult, input: MPImage) {
        try {
            onResult(convert(result, input))
        } catch (t: Throwable) { // on MediaPipe's thread: report, never throw
            onError("result: ${WorkerErrors.describe(t)}")
        }
    }

    private fun convert(result: PoseLandmarkerResult, input: MPImage): PoseFrameResult {
        if (!warnedNoVisibility && result.landmarks().isNotEmpty() && !result.landmarks()[0][0].visibility().isPresent) {
            // early tasks-vision releases left visibility/presence unset on Android; scores then
            // differ from the Python side (0.5 for every joint in the image)
            Log.w("ScoliGaitPose", "MediaPipe gives no landmark visibility: use tasks-vision >= 0.10.14")
            warnedNoVisibility = true
        }
        val people = result.landmarks().map { lms ->
            PoseLandmarks(
                FloatArray(33) { lms[it].x() },
                FloatArray(33) { lms[it].y() },
                // as the Python estimator: an unset visibility is 0, an unset presence 1
                FloatArray(33) { lms[it].visibility().orElse(0f) },
                FloatArray(33) { lms[it].presence().orElse(1f) }
            )
        }
        var masks: List<FloatArray>? = null
        var mw = 0
        var mh = 0
        if (withMasks) {
            val list = result.segmentationMasks().orElse(null)
            if (list != null) {
                masks = list.map { img ->
                    mw = img.width
                    mh = img.height
                    val buf = ByteBufferExtractor.extract(img).order(ByteOrder.nativeOrder()).asFloatBuffer()
                    FloatArray(buf.remaining()).also { buf.get(it) }
                }
            }
        }
        return PoseFrameResult(result.timestampMs(), input.width, input.height, people, masks, mw, mh)
    }

    override fun close() = landmarker.close()
}
