// The two app classes that need MediaPipe / ONNX Runtime, reduced to the signatures the glue calls.
@file:Suppress("unused", "UNUSED_PARAMETER")

package org.scoligait.demo

import org.scoligait.core.BundleManifest
import org.scoligait.core.ModelInputs

class PoseLandmarkerHelper(
    context: android.app.Context,
    model: String = "pose/pose_landmarker_lite.task",
    private val withMasks: Boolean,
    private val onResult: (PoseFrameResult) -> Unit,
    private val onError: (String) -> Unit
) {
    fun detect(image: androidx.camera.core.ImageProxy) = image.close()
    fun close() {}
}

class OrtScreener(modelBytes: ByteArray, private val manifest: BundleManifest, threads: Int = 2) : AutoCloseable {
    fun run(x: ModelInputs): Map<String, FloatArray> = emptyMap()
    override fun close() {}
}
