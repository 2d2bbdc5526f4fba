package org.scoligait.demo

import ai.onnxruntime.OnnxJavaType
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import org.scoligait.core.BundleException
import org.scoligait.core.BundleManifest
import org.scoligait.core.InputTensor
import org.scoligait.core.ModelInputs
import org.scoligait.core.ModelTensors
import org.scoligait.core.WindowModel
import java.nio.ByteBuffer
import java.nio.FloatBuffer

/**
 * ONNX Runtime (Android) running the exported screening model on one window at a time. The
 * tensors' names, dtypes and shapes come from the core's [ModelTensors] (checked against the
 * manifest there, and in the JVM tests against the shipped bundle); this class only wraps them.
 * Throws from the constructor when the runtime cannot read the model (an `.ort` written by a
 * newer converter): `LoadedBundle.openModel` then tries the bundle's `.onnx`.
 */
class OrtScreener(modelBytes: ByteArray, private val manifest: BundleManifest, threads: Int = 2) : WindowModel {
    private val env: OrtEnvironment = OrtEnvironment.getEnvironment()
    private val opts = OrtSession.SessionOptions() // kept open while the session lives, closed with it
    private val session: OrtSession

    init {
        try {
            opts.setIntraOpNumThreads(threads)
            session = env.createSession(modelBytes, opts)
        } catch (e: Exception) {
            opts.close()
            throw e
        }
        val missing = manifest.inputs.map { it.name }.filter { it !in session.inputNames }
        if (missing.isNotEmpty()) {
            close()
            throw BundleException("the model file lacks inputs $missing that manifest.json lists")
        }
    }

    /** Run one window; returns every output as float32 (`logit`, `prob`, `cobb`, `km_attention`). */
    override fun run(x: ModelInputs): Map<String, FloatArray> {
        val tensors = LinkedHashMap<String, OnnxTensor>()
        try {
            for (t in ModelTensors.inputs(manifest, x)) tensors[t.name] = tensor(t)
            val result = session.run(tensors)
            try {
                val out = LinkedHashMap<String, FloatArray>()
                for ((name, value) in result) {
                    val buf = (value as OnnxTensor).floatBuffer ?: throw BundleException("model output $name is not float32")
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

    private fun tensor(t: InputTensor): OnnxTensor = when (t.dtype) {
        "float32" -> OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats!!), t.shape)
        "uint8" -> OnnxTensor.createTensor(env, ByteBuffer.wrap(t.bytes!!), t.shape, OnnxJavaType.UINT8)
        "bool" -> { // a [1, n] boolean[][]: ORT infers BOOL and the shape from the Java array
            if (t.shape.size != 2 || t.shape[0] != 1L) throw BundleException("bool input ${t.name}: the app feeds [1, n], the plan says $t")
            OnnxTensor.createTensor(env, arrayOf(t.bools!!))
        }
        else -> throw BundleException("model input ${t.name}: dtype ${t.dtype} is not one the app feeds")
    }

    override fun close() {
        try {
            session.close()
        } finally {
            opts.close()
        }
    }
}
