// Stand-ins for the ONNX Runtime Java API classes the app's OrtScreener uses (package ai.onnxruntime,
// as in com.microsoft.onnxruntime:onnxruntime-android), so check_app_glue.sh can compile OrtScreener
// with plain kotlinc and run it. The signatures follow the Java API as Kotlin sees it (static methods,
// getters as properties, platform-typed returns declared nullable where Java may return null);
// nothing here is native: tensors are recorded, with the checks ONNX Runtime makes when they are
// created (element counts), and OrtSession.run answers with the outputs OrtStubs.outputs holds.
// Used by tools/check_app_glue.sh only, never packaged.
@file:Suppress("unused", "UNUSED_PARAMETER")

package ai.onnxruntime

import java.nio.ByteBuffer
import java.nio.FloatBuffer
import java.util.Optional

/** What the stubs were asked to do, for the check to compare with the manifest. */
object OrtStubs {
    /** The graph's input names (what a real session reads from the model file). */
    @JvmField var inputNames: Set<String> = emptySet()
    /** What run() answers, every output float32. */
    @JvmField var outputs: Map<String, FloatArray> = emptyMap()
    /** Every tensor created, in order. */
    @JvmField val created = ArrayList<OnnxTensor>()
    /** The inputs of the last run(), in the order the map iterates. */
    @JvmField var lastRun: Map<String, OnnxTensorLike>? = null
    @JvmField var sessionsClosed = 0
    @JvmField var optionsClosed = 0
    @JvmField var intraOpThreads = -1

    fun reset() {
        created.clear()
        lastRun = null
        sessionsClosed = 0
        optionsClosed = 0
        intraOpThreads = -1
    }
}

class OrtException(message: String) : Exception(message)

enum class OnnxJavaType(val size: Int) {
    FLOAT(4), DOUBLE(8), INT8(1), INT16(2), INT32(4), INT64(8), BOOL(1), STRING(0), UINT8(1), FLOAT16(2), BFLOAT16(2), UNKNOWN(0)
}

interface ValueInfo

class TensorInfo(val shape: LongArray, @JvmField val type: OnnxJavaType) : ValueInfo {
    override fun toString(): String = "TensorInfo(shape=${shape.joinToString(", ", "[", "]")}, type=$type)"
}

interface OnnxValue : AutoCloseable {
    val value: Any?
    val info: ValueInfo
    override fun close()
}

abstract class OnnxTensorLike : OnnxValue

class OnnxTensor private constructor(override val info: TensorInfo, private val floats: FloatArray?, private val data: Any?) : OnnxTensorLike() {
    var closed = false
        private set

    override val value: Any? get() = floats ?: data

    /** A copy of the data as floats; null unless the tensor is FLOAT (as the Java API). */
    val floatBuffer: FloatBuffer? get() = floats?.let { FloatBuffer.wrap(it.copyOf()) }

    override fun close() {
        closed = true
    }

    companion object {
        private fun elements(shape: LongArray): Long = shape.fold(1L) { a, b -> a * b }

        private fun record(t: OnnxTensor): OnnxTensor {
            OrtStubs.created.add(t)
            return t
        }

        /** A float32 tensor from a buffer: ONNX Runtime refuses a buffer whose size is not the shape's. */
        @JvmStatic
        fun createTensor(env: OrtEnvironment, data: FloatBuffer, shape: LongArray): OnnxTensor {
            if (data.remaining().toLong() != elements(shape)) {
                throw OrtException("Shape ${shape.contentToString()} does not match the number of elements in the buffer (${data.remaining()})")
            }
            val copy = FloatArray(data.remaining())
            data.duplicate().get(copy)
            return record(OnnxTensor(TensorInfo(shape.copyOf(), OnnxJavaType.FLOAT), copy, null))
        }

        /** A tensor of [type] from bytes (UINT8, INT8, BOOL, ...): the buffer must hold exactly the shape's elements. */
        @JvmStatic
        fun createTensor(env: OrtEnvironment, data: ByteBuffer, shape: LongArray, type: OnnxJavaType): OnnxTensor {
            if (type.size == 0 || data.remaining().toLong() != elements(shape) * type.size) {
                throw OrtException("Shape ${shape.contentToString()} of $type does not match the buffer (${data.remaining()} bytes)")
            }
            val copy = ByteArray(data.remaining())
            data.duplicate().get(copy)
            return record(OnnxTensor(TensorInfo(shape.copyOf(), type), null, copy))
        }

        /** A tensor from a (multi-dimensional) Java array: shape and type come from the array, as in the Java API. */
        @JvmStatic
        fun createTensor(env: OrtEnvironment, data: Any): OnnxTensor {
            val dims = ArrayList<Long>()
            var x: Any? = data
            while (x is Array<*>) {
                dims.add(x.size.toLong())
                x = if (x.isEmpty()) null else x[0]
            }
            val type = when (x) {
                is BooleanArray -> OnnxJavaType.BOOL
                is FloatArray -> OnnxJavaType.FLOAT
                is ByteArray -> OnnxJavaType.INT8 // Java's byte is signed: the array form gives INT8, never UINT8
                is IntArray -> OnnxJavaType.INT32
                is LongArray -> OnnxJavaType.INT64
                is DoubleArray -> OnnxJavaType.DOUBLE
                else -> throw OrtException("Cannot create an OnnxTensor from ${data.javaClass.name}")
            }
            dims.add(java.lang.reflect.Array.getLength(x).toLong()) // a 1-D primitive array is an [n] tensor
            return record(OnnxTensor(TensorInfo(dims.toLongArray(), type), (x as? FloatArray)?.takeIf { dims.size == 1 }, data))
        }
    }
}

class OrtEnvironment private constructor() : AutoCloseable {
    fun createSession(modelArray: ByteArray, options: OrtSession.SessionOptions): OrtSession {
        if (modelArray.isEmpty()) throw OrtException("empty model")
        return OrtSession(OrtStubs.inputNames)
    }

    override fun close() {}

    companion object {
        private val env = OrtEnvironment()

        @JvmStatic
        fun getEnvironment(): OrtEnvironment = env
    }
}

class OrtSession internal constructor(val inputNames: Set<String>) : AutoCloseable {
    fun run(inputs: Map<String, OnnxTensorLike>): Result {
        val unknown = inputs.keys.filter { it !in inputNames }
        if (unknown.isNotEmpty()) throw OrtException("Unknown input name(s) $unknown, expected one of $inputNames")
        val missing = inputNames.filter { it !in inputs.keys }
        if (missing.isNotEmpty()) throw OrtException("Missing input(s) $missing")
        if (inputs.values.any { (it as? OnnxTensor)?.closed == true }) throw OrtException("an input tensor was already closed")
        OrtStubs.lastRun = LinkedHashMap(inputs)
        val out = LinkedHashMap<String, OnnxValue>()
        for ((k, v) in OrtStubs.outputs) out[k] = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(v), longArrayOf(v.size.toLong()))
        return Result(out)
    }

    override fun close() {
        OrtStubs.sessionsClosed++
    }

    class SessionOptions : AutoCloseable {
        fun setIntraOpNumThreads(numThreads: Int) {
            if (numThreads < 0) throw OrtException("threads must be >= 0")
            OrtStubs.intraOpThreads = numThreads
        }

        override fun close() {
            OrtStubs.optionsClosed++
        }
    }

    class Result internal constructor(private val values: LinkedHashMap<String, OnnxValue>) : AutoCloseable, Iterable<Map.Entry<String, OnnxValue>> {
        override fun iterator(): Iterator<Map.Entry<String, OnnxValue>> = values.entries.iterator()
        fun get(index: Int): OnnxValue = values.values.toList()[index]
        fun get(name: String): Optional<OnnxValue> = Optional.ofNullable(values[name])
        fun size(): Int = values.size
        override fun close() {
            for (v in values.values) v.close()
        }
    }
}
