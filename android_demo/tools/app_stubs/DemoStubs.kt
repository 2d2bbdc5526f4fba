// The one app class that needs MediaPipe (not stubbed here), reduced to the signatures the glue calls.
// OrtScreener is compiled for real, against the ONNX Runtime stubs in tools/ort_stubs/.
@file:Suppress("unused", "UNUSED_PARAMETER")

package org.scoligait.demo

import org.scoligait.core.PoseFrameResult

class PoseLandmarkerHelper(
    context: android.app.Context,
    model: String = "pose/pose_landmarker_lite.task",
    private val withMasks: Boolean,
    private val onResult: (PoseFrameResult) -> Unit,
    private val onError: (String) -> Unit
) : AutoCloseable {
    fun detect(image: androidx.camera.core.ImageProxy) = image.close()
    override fun close() {}
}
