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
 *
 * Per frame: positions, velocities (backward difference over `VELOCITY_STEP` frames, else fewer,
 * 0 with no earlier valid frame; the mid-hip differenced in pixels, then divided by the current
 * body size), distances and angles of the frame itself; the cross domain from running sums, per
 * lag and pair, of a, b, a², b² and ab over the frame pairs (a[s - k], b[s]) inside the trailing
 * `CROSS_WINDOW`, updated by the one pair that enters and the one that leaves. A signal missing in
 * a valid frame leaves that frame out of its own pairs only. A row is valid once its trailing
 * window holds `MIN_CROSS_FRAMES` valid frames. Sums are re-summed from the history every 1024
 * frames so rounding cannot accumulate on long sessions.
 */
class KnowledgeMapBuilder {
    private val sizes = Ring(GeneratedSchema.SIZE_WINDOW + 1) // NaN = no body size that frame
    private var sizeSum = 0.0
    private var sizeCount = 0

    // history of the pair signals [a | b] (0 where missing) and their masks: W + 1 rows in a ring,
    // position 0 = the frame that has just left the trailing window, position W = now
    private val hist = Array(W + 1) { DoubleArray(2 * NP) }
    private val histOk = Array(W + 1) { DoubleArray(2 * NP) }
    private var head = 0
    private val framesOk = BooleanArray(W) // ring of the trailing window's frame validity
    private var framesHead = 0
    private var nOk = 0
    private val sums = Array(5) { DoubleArray(NL * NP) } // a, b, a^2, b^2, ab per [lag * NP + pair]
    private val counts = DoubleArray(NL * NP)
    private val r = DoubleArray(NL * NP)

    // the last VELOCITY_STEP frames' velocity points, newest last (null = not a valid frame)
    private val recent = arrayOfNulls<DoubleArray>(GeneratedSchema.VELOCITY_STEP)
    private var recentCount = 0

    var framesSeen = 0
        private set

    fun reset() {
        sizes.clear()
        sizeSum = 0.0
        sizeCount = 0
        for (i in 0..W) {
            java.util.Arrays.fill(hist[i], 0.0)
            java.util.Arrays.fill(histOk[i], 0.0)
        }
        head = 0
        java.util.Arrays.fill(framesOk, false)
        framesHead = 0
        nOk = 0
        for (x in sums) java.util.Arrays.fill(x, 0.0)
        java.util.Arrays.fill(counts, 0.0)
        java.util.Arrays.fill(recent, null)
        recentCount = 0
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
        val row = DoubleArray(GeneratedSchema.NUM_FEATURES)
        if (sigOk) {
            val norm = Features.normalise(points, size)
            Features.positions(norm, row, 0)
            velocity(Features.velocityPoints(norm, points), size, row)
            Features.distances(norm, row, Features.C_DISTANCE)
            val angles = Features.angles(norm)
            System.arraycopy(angles, 0, row, Features.C_ANGLE, angles.size)
            pushSignal(Features.signals(norm, angles))
        } else {
            pushRecent(null)
            pushSignal(null)
        }

        val valid = sigOk && nOk >= GeneratedSchema.MIN_CROSS_FRAMES
        val values = FloatArray(GeneratedSchema.NUM_FEATURES)
        if (valid) {
            crossDomain(row)
            for (c in row.indices) values[c] = finiteOrZero(row[c])
        }
        val out = MapRow(framesSeen, values, valid, timestampMs)
        framesSeen++
        if (framesSeen % RESYNC_EVERY == 0) resync()
        return out
    }

    /** `_batch_velocity` for this frame: over VELOCITY_STEP frames if that frame was valid, else fewer, else 0. */
    private fun velocity(vp: DoubleArray, size: Double, row: DoubleArray) {
        val c0 = Features.C_VELOCITY
        for (step in GeneratedSchema.VELOCITY_STEP downTo 1) {
            if (recentCount < step) continue
            val old = recent[recentCount - step] ?: continue
            val scale = GeneratedSchema.MAP_FPS / step
            for (i in vp.indices) row[c0 + i] = (vp[i] - old[i]) * scale
            row[c0 + Features.VELOCITY_MID_HIP] /= size
            row[c0 + Features.VELOCITY_MID_HIP + 1] /= size
            break
        }
        pushRecent(vp)
    }

    private fun pushRecent(vp: DoubleArray?) {
        if (recentCount == recent.size) {
            for (i in 1 until recent.size) recent[i - 1] = recent[i]
            recent[recent.size - 1] = vp
        } else {
            recent[recentCount++] = vp
        }
    }

    /** The cross domain (peak, lag, zero lag per pair) from the running sums, into [row]. */
    private fun crossDomain(row: DoubleArray) {
        val s0 = sums[0]
        val s1 = sums[1]
        val s2 = sums[2]
        val s3 = sums[3]
        val s4 = sums[4]
        for (i in 0 until NL * NP) {
            val n = counts[i]
            val safe = Math.max(n, 1.0)
            val ma = s0[i] / safe
            val mb = s1[i] / safe
            val maa = s2[i] / safe
            val mbb = s3[i] / safe
            val mab = s4[i] / safe
            r[i] = Features.laggedCorrelation(n, maa - ma * ma, mbb - mb * mb, mab - ma * mb)
        }
        for (p in 0 until NP) Features.peakLagZero(r, p, NP, row, Features.C_CROSS + 3 * p)
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

    private fun slot(position: Int): Int = (head + position) % (W + 1)

    /** Shift the history by one frame ([sig] null = not a valid frame) and update the running sums. */
    private fun pushSignal(sig: DoubleArray?) {
        head = (head + 1) % (W + 1)
        val now = hist[slot(W)]
        val nowOk = histOk[slot(W)]
        if (sig == null) {
            java.util.Arrays.fill(now, 0.0)
            java.util.Arrays.fill(nowOk, 0.0)
        } else {
            for (p in 0 until NP) {
                val a = sig[GeneratedSchema.CROSS_A[p]]
                val b = sig[GeneratedSchema.CROSS_B[p]]
                val aOk = Keypoints.isFinite(a)
                val bOk = Keypoints.isFinite(b)
                now[p] = if (aOk) a else 0.0
                now[NP + p] = if (bOk) b else 0.0
                nowOk[p] = if (aOk) 1.0 else 0.0
                nowOk[NP + p] = if (bOk) 1.0 else 0.0
            }
        }
        val frameOk = sig != null
        nOk += (if (frameOk) 1 else 0) - (if (framesOk[framesHead]) 1 else 0)
        framesOk[framesHead] = frameOk
        framesHead = (framesHead + 1) % W
        for (j in 0 until NL) {
            val aIn = hist[slot(A_IN[j])]
            val aInOk = histOk[slot(A_IN[j])]
            val bIn = hist[slot(B_IN[j])]
            val bInOk = histOk[slot(B_IN[j])]
            val aOut = hist[slot(A_OUT[j])]
            val aOutOk = histOk[slot(A_OUT[j])]
            val bOut = hist[slot(B_OUT[j])]
            val bOutOk = histOk[slot(B_OUT[j])]
            for (p in 0 until NP) {
                val i = j * NP + p
                val a1 = aIn[p]
                val b1 = bIn[NP + p]
                val m1 = aInOk[p] * bInOk[NP + p]
                val a0 = aOut[p]
                val b0 = bOut[NP + p]
                val m0 = aOutOk[p] * bOutOk[NP + p]
                val ta1 = a1 * m1
                val tb1 = b1 * m1
                val ta0 = a0 * m0
                val tb0 = b0 * m0
                sums[0][i] = sums[0][i] + ta1 - ta0
                sums[1][i] = sums[1][i] + tb1 - tb0
                sums[2][i] = sums[2][i] + ta1 * a1 - ta0 * a0
                sums[3][i] = sums[3][i] + tb1 * b1 - tb0 * b0
                sums[4][i] = sums[4][i] + ta1 * b1 - ta0 * b0
                counts[i] = counts[i] + m1 - m0
            }
        }
    }

    /** Re-sum the body size and every lag's sums from the history (rounding cannot accumulate). */
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
        for (j in 0 until NL) {
            val k = j - GeneratedSchema.MAX_LAG
            for (p in 0 until NP) {
                val i = j * NP + p
                var sa = 0.0
                var sb = 0.0
                var saa = 0.0
                var sbb = 0.0
                var sab = 0.0
                var n = 0.0
                // pairs (a[s - k], b[s]) with both in positions 1..W (position 0 has left the window)
                for (s in Math.max(1, 1 + k)..Math.min(W, W + k)) {
                    val m = histOk[slot(s - k)][p] * histOk[slot(s)][NP + p]
                    val a = hist[slot(s - k)][p] * m
                    val b = hist[slot(s)][NP + p] * m
                    sa += a
                    sb += b
                    saa += a * a
                    sbb += b * b
                    sab += a * b
                    n += m
                }
                sums[0][i] = sa
                sums[1][i] = sb
                sums[2][i] = saa
                sums[3][i] = sbb
                sums[4][i] = sab
                counts[i] = n
            }
        }
    }

    companion object {
        const val RESYNC_EVERY = 1024
        private const val W = GeneratedSchema.CROSS_WINDOW
        private const val NP = GeneratedSchema.NUM_CROSS_PAIRS
        private const val NL = GeneratedSchema.NUM_LAGS

        // `lag_pair_positions(CROSS_WINDOW)`: where each lag's entering and leaving pair sits in the history.
        // Lag k pairs a[s - k] with b[s]: k > 0 means b follows a by k frames.
        private val A_IN = IntArray(NL) { val k = it - GeneratedSchema.MAX_LAG; if (k >= 0) W - k else W }
        private val B_IN = IntArray(NL) { val k = it - GeneratedSchema.MAX_LAG; if (k >= 0) W else W + k }
        private val A_OUT = IntArray(NL) { val k = it - GeneratedSchema.MAX_LAG; if (k >= 0) 0 else -k }
        private val B_OUT = IntArray(NL) { val k = it - GeneratedSchema.MAX_LAG; if (k >= 0) k else 0 }
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

    /** Called with each gap-filled frame `[J * 3]` just before its map row is built (one call per row, in order). */
    var onFilledFrame: ((DoubleArray) -> Unit)? = null

    /** Add one camera frame's keypoints `[J * 3]` taken at [timestampMs]; returns the rows now complete. */
    fun push(timestampMs: Double, keypoints: DoubleArray): List<MapRow> {
        val out = ArrayList<MapRow>()
        for (g in resampler.push(timestampMs, keypoints)) {
            onGridSample?.invoke(g)
            gridTimes.addLast(g.timestampMs)
            for (f in filler.push(g.keypoints)) out.add(row(f))
        }
        return out
    }

    /** End of stream: the rows still held back by the gap filler. */
    fun flush(): List<MapRow> {
        val out = ArrayList<MapRow>()
        for (f in filler.flush()) out.add(row(f))
        return out
    }

    private fun row(filled: DoubleArray): MapRow {
        onFilledFrame?.invoke(filled)
        return builder.update(filled, gridTimes.removeFirst())
    }
}
