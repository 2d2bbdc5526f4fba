package org.scoligait.core

/**
 * Scoliosis1K-style 64 x 44 silhouettes from a person's soft segmentation mask (port of
 * `scoligait_edge/video/silhouette.py`, for models with a video branch).
 *
 * The crop follows Python step by step; the resize re-implements OpenCV's `INTER_AREA`
 * (shrinking) and fixed-point `INTER_LINEAR` (enlarging) for uint8, so edge pixels may differ by
 * a grey level or so from `cv2.resize` (the golden test bounds it).
 */
object Silhouette {
    const val SIZE = 64
    const val CUT = 10
    const val WIDTH = SIZE - 2 * CUT
    const val MASK_THRESHOLD = 0.5f
    const val MIN_FOREGROUND_PX = 16

    /**
     * `person_silhouette`: [softMask] `[height * width]` in [0, 1] (MediaPipe's per-person mask),
     * [box] the person's landmark box (x, y, w, h px) or null. Returns the uint8 silhouette
     * `[64 * 44]` (0..255 as Int) and whether it is usable (>= 16 foreground pixels).
     */
    @JvmStatic
    @JvmOverloads
    fun personSilhouette(softMask: FloatArray, width: Int, height: Int, box: DoubleArray? = null,
                         threshold: Float = MASK_THRESHOLD, margin: Double = 0.15): Pair<IntArray, Boolean> {
        val binary = binarize(softMask, width, height, box, threshold, margin)
        var n = 0
        for (v in binary) if (v != 0) n++
        if (n < MIN_FOREGROUND_PX) return Pair(IntArray(SIZE * WIDTH), false)
        return Pair(crop(binary, width, height), true)
    }

    /** `binarize_mask`: 255 where the soft mask reaches [threshold], only inside [box] grown by [margin] x its size. */
    @JvmStatic
    fun binarize(soft: FloatArray, width: Int, height: Int, box: DoubleArray?, threshold: Float, margin: Double): IntArray {
        require(soft.size == width * height) { "mask must be [height * width]" }
        var x0 = 0
        var y0 = 0
        var x1 = width
        var y1 = height
        if (box != null) {
            val pad = margin * Math.max(Math.max(box[3], box[2]), 1.0)
            x0 = Math.max(Math.floor(box[0] - pad).toInt(), 0)
            y0 = Math.max(Math.floor(box[1] - pad).toInt(), 0)
            x1 = Math.min(Math.ceil(box[0] + box[2] + pad).toInt(), width)
            y1 = Math.min(Math.ceil(box[1] + box[3] + pad).toInt(), height)
        }
        val out = IntArray(width * height)
        for (y in y0 until y1) for (x in x0 until x1) if (soft[y * width + x] >= threshold) out[y * width + x] = 255
        return out
    }

    /** `crop_silhouette` of a binary/uint8 mask `[height * width]` -> `[64 * 44]`. */
    @JvmStatic
    fun crop(m: IntArray, width: Int, height: Int): IntArray {
        var minX = Int.MAX_VALUE
        var minY = Int.MAX_VALUE
        var maxX = -1
        var maxY = -1
        for (y in 0 until height) for (x in 0 until width) if (m[y * width + x] != 0) {
            if (x < minX) minX = x
            if (x > maxX) maxX = x
            if (y < minY) minY = y
            if (y > maxY) maxY = y
        }
        val out = IntArray(SIZE * SIZE)
        if (maxX < 0) return cut(out)
        val w = maxX - minX + 1
        val h = maxY - minY + 1
        val body = IntArray(w * h)
        for (y in 0 until h) for (x in 0 until w) body[y * w + x] = m[(minY + y) * width + minX + x]
        val newW = Math.max(Math.rint(w * SIZE.toDouble() / h).toInt(), 1)
        val resized = if (h > SIZE) resizeArea(body, w, h, newW, SIZE) else resizeLinear(body, w, h, newW, SIZE)
        val colMass = DoubleArray(newW)
        var acc = 0.0
        for (x in 0 until newW) {
            for (y in 0 until SIZE) acc += resized[y * newW + x]
            colMass[x] = acc
        }
        val cx = if (colMass[newW - 1] > 0) searchsortedLeft(colMass, colMass[newW - 1] / 2) else newW / 2
        val left = cx - SIZE / 2
        val src0 = Math.max(left, 0)
        val src1 = Math.min(left + SIZE, newW)
        for (y in 0 until SIZE) for (x in src0 until src1) out[y * SIZE + (x - left)] = resized[y * newW + x]
        return cut(out)
    }

    private fun cut(full: IntArray): IntArray {
        val out = IntArray(SIZE * WIDTH)
        for (y in 0 until SIZE) for (x in 0 until WIDTH) out[y * WIDTH + x] = full[y * SIZE + x + CUT]
        return out
    }

    private fun searchsortedLeft(a: DoubleArray, v: Double): Int {
        var lo = 0
        var hi = a.size
        while (lo < hi) {
            val mid = (lo + hi) ushr 1
            if (a[mid] < v) lo = mid + 1 else hi = mid
        }
        return lo
    }

    /** Area-weighted average (cv2.INTER_AREA when shrinking), rounded half to even. */
    private fun resizeArea(src: IntArray, w: Int, h: Int, dw: Int, dh: Int): IntArray {
        val wx = areaWeights(w, dw)
        val wy = areaWeights(h, dh)
        val out = IntArray(dw * dh)
        for (dy in 0 until dh) {
            for (dx in 0 until dw) {
                var s = 0.0
                for ((sy, fy) in wy[dy]) for ((sx, fx) in wx[dx]) s += src[sy * w + sx] * fy * fx
                out[dy * dw + dx] = Math.min(255.0, Math.max(0.0, Math.rint(s))).toInt()
            }
        }
        return out
    }

    /** Per destination index: (source index, weight) with weights summing to 1 over the covered span. */
    private fun areaWeights(n: Int, dn: Int): Array<List<Pair<Int, Double>>> {
        val scale = n.toDouble() / dn
        return Array(dn) { d ->
            val f0 = d * scale
            val f1 = f0 + scale
            val out = ArrayList<Pair<Int, Double>>()
            var s = Math.floor(f0).toInt()
            while (s < f1 && s < n) {
                val a = Math.max(f0, s.toDouble())
                val b = Math.min(f1, s + 1.0)
                if (b > a) out.add(Pair(s, (b - a) / scale))
                s++
            }
            out
        }
    }

    /** cv2.INTER_LINEAR for uint8: half-pixel centres, 11-bit fixed-point weights, clamped borders. */
    private fun resizeLinear(src: IntArray, w: Int, h: Int, dw: Int, dh: Int): IntArray {
        val xi = IntArray(dw)
        val xw = IntArray(dw)
        linearCoeffs(w, dw, xi, xw)
        val yi = IntArray(dh)
        val yw = IntArray(dh)
        linearCoeffs(h, dh, yi, yw)
        val out = IntArray(dw * dh)
        for (dy in 0 until dh) {
            val y0 = yi[dy]
            val y1 = Math.min(y0 + 1, h - 1)
            for (dx in 0 until dw) {
                val x0 = xi[dx]
                val x1 = Math.min(x0 + 1, w - 1)
                val r0 = src[y0 * w + x0] * xw[dx] + src[y0 * w + x1] * (COEF - xw[dx])
                val r1 = src[y1 * w + x0] * xw[dx] + src[y1 * w + x1] * (COEF - xw[dx])
                val v = (r0.toLong() * yw[dy] + r1.toLong() * (COEF - yw[dy]) + (1L shl 21)) shr 22
                out[dy * dw + dx] = Math.min(255L, Math.max(0L, v)).toInt()
            }
        }
        return out
    }

    private const val COEF = 2048

    private fun linearCoeffs(n: Int, dn: Int, idx: IntArray, w0: IntArray) {
        val scale = 1.0 / (dn.toDouble() / n) // OpenCV: 1 / inv_scale
        for (d in 0 until dn) {
            var f = ((d + 0.5) * scale - 0.5).toFloat()
            var s = Math.floor(f.toDouble()).toInt()
            f -= s
            if (s < 0) {
                f = 0f
                s = 0
            }
            if (s >= n - 1) {
                f = 0f
                s = n - 1
            }
            idx[d] = s
            w0[d] = Math.rint(((1f - f) * COEF).toDouble()).toInt() // cvRound
        }
    }

    /** The model's `video` input for one frame: the silhouette as uint8 `[64 * 44]` (the graph scales it by
     *  1/255; zeros when not usable). Read a value back with `toInt() and 0xFF`. */
    @JvmStatic
    fun toModelInput(sil: IntArray?, usable: Boolean): ByteArray {
        if (sil == null || !usable) return ByteArray(SIZE * WIDTH)
        require(sil.size == SIZE * WIDTH) { "a silhouette is 64 x 44, got ${sil.size} values" }
        return ByteArray(SIZE * WIDTH) { sil[it].coerceIn(0, 255).toByte() }
    }

    /** uint8 silhouettes -> float32 in [0, 1], for bundles exported before the graph took uint8 (`video` float32). */
    @JvmStatic
    fun toFloatInput(video: ByteArray): FloatArray = FloatArray(video.size) { (video[it].toInt() and 0xFF) / 255.0f }
}

/**
 * Silhouettes per camera frame, looked up for each 30 Hz map row by nearest frame (the streaming
 * form of `nearest_frames`): a row with no frame within the tolerance gets no silhouette. The
 * tolerance is [toleranceMs], or by default Python's 0.6 x the larger of the median frame spacing
 * and the grid spacing, so a dropped frame leaves a hole rather than a stale silhouette.
 */
class SilhouetteTrack @JvmOverloads constructor(val toleranceMs: Double? = null, val keep: Int = 90) {
    private val times = java.util.ArrayDeque<Double>()
    private val sils = java.util.LinkedList<IntArray?>() // null = no usable silhouette (ArrayDeque refuses nulls)

    fun push(timestampMs: Double, silhouette: IntArray?, usable: Boolean) {
        times.addLast(timestampMs)
        sils.addLast(if (usable) silhouette else null)
        while (times.size > keep) {
            times.removeFirst()
            sils.removeFirst()
        }
    }

    /** The tolerance in force: fixed, or 0.6 x max(median frame spacing, 1000 / 30 ms). */
    fun tolerance(): Double {
        toleranceMs?.let { return it }
        val t = times.toDoubleArray()
        val grid = 1000.0 / GeneratedSchema.MAP_FPS
        if (t.size < 2) return 0.6 * grid
        val d = DoubleArray(t.size - 1) { t[it + 1] - t[it] }
        return 0.6 * Math.max(Describe.median(d), grid)
    }

    /** The nearest frame's silhouette to [gridMs] (earlier frame on a tie), or null. */
    fun at(gridMs: Double): IntArray? {
        var best: IntArray? = null
        var bestD = Double.POSITIVE_INFINITY
        val ti = times.iterator()
        val si = sils.iterator()
        while (ti.hasNext()) {
            val t = ti.next()
            val s = si.next()
            val d = Math.abs(t - gridMs)
            if (d < bestD) {
                bestD = d
                best = s
            }
        }
        return if (bestD <= tolerance()) best else null
    }
}
