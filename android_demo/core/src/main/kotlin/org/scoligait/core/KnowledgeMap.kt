package org.scoligait.core

/**
 * One row of the knowledge map: 238 float32 values in schema column order (all zeros when
 * invalid) and whether the row is valid. [timestampMs] is the grid instant it describes (NaN
 * when the row came from [KnowledgeMapBuilder] directly).
 */
class MapRow(
    @JvmField val index: Int,
    @JvmField val values: FloatArray,
    @JvmField val valid: Boolean,
    @JvmField val timestampMs: Double = Double.NaN
)

/**
 * Streaming knowledge map, O(1) per frame (port of `KnowledgeMapBuilder` in
 * `kinematics/builder.py`). Feed gap-filled frames at 30 Hz ([MapStream] does the whole chain).
 * Running sums over the trailing windows are re-summed from the ring buffers every 1024 frames
 * so rounding cannot accumulate on long sessions.
 */
class KnowledgeMapBuilder {
    private val sizes = Ring(GeneratedSchema.SIZE_WINDOW + 1) // NaN = no body size that frame
    private var sizeSum = 0.0
    private var sizeCount = 0
    private val sigs = java.util.ArrayList<DoubleArray?>() // trailing window of signals, null = invalid frame
    private val s = DoubleArray(GeneratedSchema.NUM_SIGNALS)
    private val ss = DoubleArray(GeneratedSchema.NUM_SIGNALS)
    private val sab = DoubleArray(GeneratedSchema.NUM_CROSS_PAIRS)
    private var n = 0
    var framesSeen = 0
        private set

    fun reset() {
        sizes.clear()
        sizeSum = 0.0
        sizeCount = 0
        sigs.clear()
        java.util.Arrays.fill(s, 0.0)
        java.util.Arrays.fill(ss, 0.0)
        java.util.Arrays.fill(sab, 0.0)
        n = 0
        framesSeen = 0
    }

    /** Add one frame `[17|21 * 3]` (pixels, score) and return its row. */
    @JvmOverloads
    fun update(frameKeypoints: DoubleArray, timestampMs: Double = Double.NaN): MapRow {
        val kp = Keypoints.validateFrame(frameKeypoints)
        val points = Features.pointsYUp(kp)
        val core = Features.corePresent(points)
        pushSize(if (core) Features.rawBodySize(points) else Double.NaN)
        val size = if (sizeCount > 0) sizeSum / sizeCount else Double.NaN
        val sigOk = core && size > 0
        var motion: DoubleArray? = null
        var angles: DoubleArray? = null
        var sig: DoubleArray? = null
        if (sigOk) {
            val norm = Features.normalise(points, size)
            motion = Features.motion(norm)
            angles = Features.angles(norm)
            sig = Features.signals(norm, angles)
        }
        pushSignal(sig)

        val valid = sigOk && n >= MIN_WINDOW_COUNT
        val row = FloatArray(GeneratedSchema.NUM_FEATURES)
        if (valid) {
            val p = GeneratedSchema.NUM_CROSS_PAIRS
            val nd = n.toDouble()
            val mean = DoubleArray(GeneratedSchema.NUM_SIGNALS) { s[it] / nd }
            val variance = DoubleArray(GeneratedSchema.NUM_SIGNALS) { ss[it] / nd - mean[it] * mean[it] }
            val ma = DoubleArray(p) { mean[GeneratedSchema.CROSS_A[it]] }
            val mb = DoubleArray(p) { mean[GeneratedSchema.CROSS_B[it]] }
            val cov = DoubleArray(p) { sab[it] / nd - ma[it] * mb[it] }
            val va = DoubleArray(p) { variance[GeneratedSchema.CROSS_A[it]] }
            val vb = DoubleArray(p) { variance[GeneratedSchema.CROSS_B[it]] }
            val cross = Features.pairStatistics(ma, mb, va, vb, cov)
            var c = 0
            for (v in motion!!) row[c++] = finiteOrZero(v)
            for (v in angles!!) row[c++] = finiteOrZero(v)
            for (v in cross) row[c++] = finiteOrZero(v)
        }
        val out = MapRow(framesSeen, row, valid, timestampMs)
        framesSeen++
        if (framesSeen % RESYNC_EVERY == 0) resync()
        return out
    }

    private fun finiteOrZero(v: Double): Float = if (Keypoints.isFinite(v)) v.toFloat() else 0.0f

    private fun pushSize(size: Double) {
        sizes.add(size)
        if (!size.isNaN()) {
            sizeSum += size
            sizeCount++
        }
        if (sizes.size > GeneratedSchema.SIZE_WINDOW) {
            val old = sizes.removeFirst()
            if (!old.isNaN()) {
                sizeSum -= old
                sizeCount--
            }
        }
    }

    private fun pushSignal(sig: DoubleArray?) {
        sigs.add(sig)
        if (sig != null) add(sig, 1.0)
        if (sigs.size > GeneratedSchema.CROSS_WINDOW) {
            val old = sigs.removeAt(0)
            if (old != null) add(old, -1.0)
        }
    }

    private fun add(sig: DoubleArray, sign: Double) {
        for (k in 0 until GeneratedSchema.NUM_SIGNALS) {
            s[k] += sign * sig[k]
            ss[k] += sign * sig[k] * sig[k]
        }
        for (k in 0 until GeneratedSchema.NUM_CROSS_PAIRS) {
            sab[k] += sign * sig[GeneratedSchema.CROSS_A[k]] * sig[GeneratedSchema.CROSS_B[k]]
        }
        n += if (sign > 0) 1 else -1
    }

    private fun resync() {
        var sum = 0.0
        var count = 0
        for (i in 0 until sizes.size) {
            val v = sizes[i]
            if (!v.isNaN()) {
                sum += v
                count++
            }
        }
        sizeSum = sum
        sizeCount = count
        java.util.Arrays.fill(s, 0.0)
        java.util.Arrays.fill(ss, 0.0)
        java.util.Arrays.fill(sab, 0.0)
        n = 0
        for (sig in sigs) if (sig != null) add(sig, 1.0)
    }

    companion object {
        /** Rows need this many valid frames in their trailing cross window: ceil(32 * 0.5). */
        @JvmField
        val MIN_WINDOW_COUNT: Int = Math.ceil(GeneratedSchema.CROSS_WINDOW * GeneratedSchema.MIN_WINDOW_FRACTION).toInt()
        const val RESYNC_EVERY = 1024
    }

    /** A fixed-capacity FIFO of doubles. */
    private class Ring(capacity: Int) {
        private val buf = DoubleArray(capacity)
        private var head = 0
        var size = 0
            private set

        fun clear() {
            head = 0
            size = 0
        }

        fun add(v: Double) {
            check(size < buf.size) { "ring full" }
            buf[(head + size) % buf.size] = v
            size++
        }

        fun removeFirst(): Double {
            val v = buf[head]
            head = (head + 1) % buf.size
            size--
            return v
        }

        operator fun get(i: Int): Double = buf[(head + i) % buf.size]
    }
}

/**
 * The whole streaming chain of the map: [StreamResampler] (any frame rate, dropped frames) ->
 * [GapFiller] -> [KnowledgeMapBuilder]. The streaming twin of the Python
 * `build_knowledge_map(keypoints, timestamps_ms=...)`: rows come out `MAX_GAP_FRAMES` grid frames
 * late (the gap filler must see past a gap to bridge it), each with the grid time it describes.
 */
class MapStream @JvmOverloads constructor(
    numJoints: Int = GeneratedSchema.NUM_COCO_FEET,
    maxGap: Int = Keypoints.MAX_GAP_FRAMES,
    minScore: Double = Keypoints.MIN_SCORE
) {
    val resampler = StreamResampler(GeneratedSchema.MAP_FPS, StreamResampler.MAX_INTERP_GAP_MS, minScore)
    val filler = GapFiller(numJoints, maxGap, minScore)
    val builder = KnowledgeMapBuilder()
    private val gridTimes = java.util.ArrayDeque<Double>()

    /** Called with every 30 Hz grid sample before gap filling (what gait-event detection reads). */
    var onGridSample: ((GridSample) -> Unit)? = null

    /** Add one camera frame's keypoints `[J * 3]` taken at [timestampMs]; returns the rows now complete. */
    fun push(timestampMs: Double, keypoints: DoubleArray): List<MapRow> {
        val out = ArrayList<MapRow>()
        for (g in resampler.push(timestampMs, keypoints)) {
            onGridSample?.invoke(g)
            gridTimes.addLast(g.timestampMs)
            for (f in filler.push(g.keypoints)) out.add(builder.update(f, gridTimes.removeFirst()))
        }
        return out
    }

    /** End of stream: the rows still held back by the gap filler. */
    fun flush(): List<MapRow> {
        val out = ArrayList<MapRow>()
        for (f in filler.flush()) out.add(builder.update(f, gridTimes.removeFirst()))
        return out
    }
}
