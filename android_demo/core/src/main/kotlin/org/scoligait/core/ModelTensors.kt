package org.scoligait.core

/**
 * One graph input as the app hands it to ONNX Runtime: [name], [dtype] (`float32`, `uint8` or
 * `bool`, the manifest's spelling), [shape] (batch 1) and exactly one of the data arrays, row-major.
 */
class InputTensor(
    @JvmField val name: String,
    @JvmField val dtype: String,
    @JvmField val shape: LongArray,
    @JvmField val floats: FloatArray? = null,
    @JvmField val bytes: ByteArray? = null,
    @JvmField val bools: BooleanArray? = null
) {
    /** Elements the shape holds (= the data array's length). */
    val elements: Long get() = shape.fold(1L) { a, b -> a * b }

    val dataLength: Int get() = floats?.size ?: bytes?.size ?: bools?.size ?: 0

    override fun toString(): String = "$name ${shape.joinToString(", ", "[", "]")} $dtype"
}

/**
 * The tensors of one window, named, typed and shaped as the bundle's manifest says
 * (`scoligait_edge/export/specs.py`, what Python's `model_inputs` feeds): `km` `[1, T, 238]`
 * float32, `km_mask` `[1, T]` bool, `video` `[1, T, 1, 64, 44]` uint8 (float32 0..1 for bundles
 * exported before the graph took uint8), `text` `[1, S, 384]` float32, `text_mask` `[1, S]` bool.
 * Pure Kotlin so the JVM tests check it against the shipped manifest; the app's `OrtScreener` only
 * wraps each [InputTensor] in an `OnnxTensor`.
 */
object ModelTensors {
    /** The dtypes this app can feed. */
    @JvmField val DTYPES = setOf("float32", "uint8", "bool")

    /** The inputs for [x], in the manifest's order; throws [BundleException] for an input or dtype the app cannot feed. */
    @JvmStatic
    fun inputs(manifest: BundleManifest, x: ModelInputs): List<InputTensor> {
        val t = x.window.length.toLong()
        val out = ArrayList<InputTensor>()
        for (spec in manifest.inputs) {
            val tensor = when (spec.name) {
                "km" -> InputTensor("km", "float32", longArrayOf(1, t, GeneratedSchema.NUM_FEATURES.toLong()), floats = x.km)
                "km_mask" -> InputTensor("km_mask", "bool", longArrayOf(1, t), bools = x.kmMask)
                "video" -> {
                    val v = x.video ?: throw BundleException("the model reads video but this window has no silhouettes")
                    val shape = longArrayOf(1, t, 1, Silhouette.SIZE.toLong(), Silhouette.WIDTH.toLong())
                    when (spec.dtype) {
                        "uint8" -> InputTensor("video", "uint8", shape, bytes = v) // the graph scales by 1/255 itself
                        "float32" -> InputTensor("video", "float32", shape, floats = Silhouette.toFloatInput(v))
                        else -> throw BundleException("video input dtype ${spec.dtype}: this app feeds uint8 or float32")
                    }
                }
                "text" -> InputTensor("text", "float32", longArrayOf(1, x.textTokens.toLong(), GeneratedText.EMBEDDING_DIM.toLong()),
                    floats = x.text ?: throw BundleException("the model reads text but this window has no sentence embeddings"))
                "text_mask" -> InputTensor("text_mask", "bool", longArrayOf(1, x.textTokens.toLong()),
                    bools = x.textMask ?: throw BundleException("the model reads text but this window has no text mask"))
                else -> throw BundleException("unknown model input ${spec.name}: this app feeds km, km_mask, video, text, text_mask")
            }
            check(spec, tensor)
            out.add(tensor)
        }
        return out
    }

    /**
     * Throws [BundleException] unless [tensor] fits [spec]: same dtype and rank, every fixed
     * dimension equal, `batch` 1, and the data holds exactly the shape's elements.
     */
    @JvmStatic
    fun check(spec: TensorSpec, tensor: InputTensor) {
        val problems = ArrayList<String>()
        if (tensor.dtype != spec.dtype) problems.add("dtype ${tensor.dtype}, the manifest says ${spec.dtype}")
        if (tensor.shape.size != spec.shape.size) problems.add("rank ${tensor.shape.size}, the manifest says ${spec.shape.size}")
        else for ((i, d) in spec.shape.withIndex()) {
            val got = tensor.shape[i]
            when {
                d is Int && got != d.toLong() -> problems.add("dimension $i is $got, the manifest says $d")
                d == "batch" && got != 1L -> problems.add("batch is $got, the app sends one window")
                got <= 0L -> problems.add("dimension $i ($d) is $got")
            }
        }
        if (tensor.elements != tensor.dataLength.toLong()) problems.add("${tensor.dataLength} values for ${tensor.elements} elements")
        if (problems.isNotEmpty()) {
            throw BundleException("model input ${spec.name} ${tensor.shape.joinToString(", ", "[", "]")} does not fit the manifest's $spec: " +
                problems.joinToString("; "))
        }
    }
}
