package org.scoligait.demo

import ai.onnxruntime.OnnxJavaType
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import org.scoligait.core.BundleException
import org.scoligait.core.BundleManifest
import org.scoligait.core.GeneratedSchema
import org.scoligait.core.ModelInputs
import org.scoligait.core.Silhouette
import java.nio.ByteBuffer
import java.nio.FloatBuffer

/**
 * ONNX Runtime (Android) running the exported screening model on one window at a time.
 * Inputs are named and shaped as the bundle's manifest says (`scoligait_edge/export/specs.py`).
 */
class OrtScreener(modelBytes: ByteArray, private val manifest: BundleManifest, threads: Int = 2) : AutoCloseable {
    private val env: OrtEnvironment = OrtEnvironment.getEnvironment()
    private val session: OrtSession

    init {
        val opts = OrtSession.SessionOptions()
        opts.setIntraOpNumThreads(threads)
        session = env.createSession(modelBytes, opts)
        val missing = manifest.inputs.map { it.name }.filter { it !in session.inputNames }
        if (missing.isNotEmpty()) throw BundleException("the model file lacks inputs $missing that manifest.json lists")
    }

    /** Run one window; returns every output as float32 (`logit`, `prob`, `cobb`, `km_attention`). */
    fun run(x: ModelInputs): Map<String, FloatArray> {
        val t = x.window.length.toLong()
        val nf = GeneratedSchema.NUM_FEATURES.toLong()
        val tensors = LinkedHashMap<String, OnnxTensor>()
        try {
            for (spec in manifest.inputs) {
                tensors[spec.name] = when (spec.name) {
                    "km" -> OnnxTensor.createTensor(env, FloatBuffer.wrap(x.km), longArrayOf(1, t, nf))
                    "km_mask" -> OnnxTensor.createTensor(env, arrayOf(x.kmMask))
                    "video" -> if (spec.dtype == "uint8") { // the graph scales by 1/255 itself
                        OnnxTensor.createTensor(env, ByteBuffer.wrap(x.video!!), longArrayOf(1, t, 1, 64, 44), OnnxJavaType.UINT8)
                    } else { // bundles exported before the graph took uint8
                        OnnxTensor.createTensor(env, FloatBuffer.wrap(Silhouette.toFloatInput(x.video!!)), longArrayOf(1, t, 1, 64, 44))
                    }
                    "text" -> OnnxTensor.createTensor(env, FloatBuffer.wrap(x.text!!), longArrayOf(1, x.textTokens.toLong(), 384))
                    "text_mask" -> OnnxTensor.createTensor(env, arrayOf(x.textMask!!))
                    else -> throw BundleException("unknown model input ${spec.name}")
                }
            }
            val result = session.run(tensors)
            try {
                val out = LinkedHashMap<String, FloatArray>()
                for ((name, value) in result) {
                    val buf = (value as OnnxTensor).floatBuffer
                    out[name] = FloatArray(buf.remaining()).also { buf.get(it) }
                }
                return out
            } finally {
                result.close()
            }
        } finally {
            for (v in tensors.values) v.close()
        }
    }

    override fun close() {
        session.close()
    }
}
