package org.scoligait.core

import java.io.File
import java.io.InputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * A NumPy `.npy` array (format versions 1-3, C order, little-endian or byte-sized dtypes).
 *
 * Reads what the Python side writes with `np.save(..., allow_pickle=False)`: the sentence
 * embedding table (`<f4`) and the golden fixtures (`<f8`, `<f4`, `|b1`, `<i8`, `<i4`, `|u1`).
 */
class NpyArray(val dtype: String, val shape: IntArray, val data: ByteBuffer) {
    val size: Int get() = shape.fold(1) { a, b -> a * b }

    fun doubles(): DoubleArray {
        val out = DoubleArray(size)
        val b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        when (dtype) {
            "<f8" -> for (i in 0 until size) out[i] = b.getDouble(i * 8)
            "<f4" -> for (i in 0 until size) out[i] = b.getFloat(i * 4).toDouble()
            "<i8" -> for (i in 0 until size) out[i] = b.getLong(i * 8).toDouble()
            "<i4" -> for (i in 0 until size) out[i] = b.getInt(i * 4).toDouble()
            "|u1" -> for (i in 0 until size) out[i] = (b.get(i).toInt() and 0xff).toDouble()
            "|b1" -> for (i in 0 until size) out[i] = if (b.get(i).toInt() != 0) 1.0 else 0.0
            else -> throw IllegalArgumentException("unsupported npy dtype $dtype")
        }
        return out
    }

    fun floats(): FloatArray {
        if (dtype != "<f4") {
            val d = doubles()
            return FloatArray(d.size) { d[it].toFloat() }
        }
        val out = FloatArray(size)
        val b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        for (i in 0 until size) out[i] = b.getFloat(i * 4)
        return out
    }

    fun longs(): LongArray {
        val b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        return when (dtype) {
            "<i8" -> LongArray(size) { b.getLong(it * 8) }
            "<i4" -> LongArray(size) { b.getInt(it * 4).toLong() }
            "|u1" -> LongArray(size) { (b.get(it).toInt() and 0xff).toLong() }
            "|b1" -> LongArray(size) { if (b.get(it).toInt() != 0) 1L else 0L }
            else -> throw IllegalArgumentException("npy dtype $dtype is not an integer type")
        }
    }

    fun ints(): IntArray {
        val l = longs()
        return IntArray(l.size) { l[it].toInt() }
    }

    fun booleans(): BooleanArray {
        if (dtype != "|b1") throw IllegalArgumentException("npy dtype $dtype is not bool")
        return BooleanArray(size) { data.get(it).toInt() != 0 }
    }

    /** The raw element bytes (what `np.ascontiguousarray(a).tobytes()` gives). */
    fun rawBytes(): ByteArray {
        val b = data.duplicate()
        val out = ByteArray(b.remaining())
        b.get(out)
        return out
    }

    companion object {
        private val MAGIC = byteArrayOf(0x93.toByte(), 0x4E, 0x55, 0x4D, 0x50, 0x59) // \x93NUMPY
        private val ITEMSIZE = mapOf("<f8" to 8, "<f4" to 4, "<i8" to 8, "<i4" to 4, "|u1" to 1, "|b1" to 1)

        fun read(file: File): NpyArray = parse(file.readBytes(), file.path)

        fun read(stream: InputStream, name: String = "npy"): NpyArray = parse(stream.readBytes(), name)

        fun parse(bytes: ByteArray, name: String = "npy"): NpyArray {
            if (bytes.size < 10 || (0 until 6).any { bytes[it] != MAGIC[it] }) {
                throw IllegalArgumentException("$name is not a .npy file")
            }
            val major = bytes[6].toInt()
            val bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
            val headerLen: Int
            val headerStart: Int
            if (major == 1) {
                headerLen = bb.getShort(8).toInt() and 0xffff
                headerStart = 10
            } else {
                headerLen = bb.getInt(8)
                headerStart = 12
            }
            val header = String(bytes, headerStart, headerLen, Charsets.ISO_8859_1)
            val descr = Regex("'descr':\\s*'([^']*)'").find(header)?.groupValues?.get(1)
                ?: throw IllegalArgumentException("$name: no descr in header")
            val dtype = when (descr) {
                "<f8", "<f4", "<i8", "<i4", "|u1", "|b1" -> descr
                "=f8" -> "<f8"
                "=f4" -> "<f4"
                "|i1", "<u1" -> "|u1"
                else -> throw IllegalArgumentException("$name: unsupported dtype '$descr'")
            }
            if (Regex("'fortran_order':\\s*True").containsMatchIn(header)) {
                throw IllegalArgumentException("$name: Fortran-ordered arrays are not supported")
            }
            val shapeText = Regex("'shape':\\s*\\(([^)]*)\\)").find(header)?.groupValues?.get(1)
                ?: throw IllegalArgumentException("$name: no shape in header")
            val shape = shapeText.split(",").map { it.trim() }.filter { it.isNotEmpty() }.map { it.toInt() }.toIntArray()
            val dataStart = headerStart + headerLen
            val n = shape.fold(1) { a, b -> a * b }
            val need = n * ITEMSIZE.getValue(dtype)
            if (bytes.size - dataStart < need) {
                throw IllegalArgumentException("$name: truncated (${bytes.size - dataStart} data bytes, need $need)")
            }
            val data = ByteBuffer.wrap(bytes, dataStart, need).slice()
            return NpyArray(dtype, shape, data)
        }
    }
}
