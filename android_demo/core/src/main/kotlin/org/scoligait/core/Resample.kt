package org.scoligait.core

/** One point of the 30 Hz grid: its time and keypoints `[J * 3]`. */
class GridSample(@JvmField val timestampMs: Double, @JvmField val keypoints: DoubleArray)

/**
 * Timestamp-based resampling to the map's 30 Hz grid, one sample of latency (port of
 * `StreamResampler` in `kinematics/resample.py`). Cameras deliver 25, 30 or 60 fps and drop
 * frames; the grid starts at the first timestamp. Two samples further apart than [maxGapMs] are
 * never interpolated between (a dropout); a joint seen on one side only is kept if that sample
 * lies within half a grid period.
 */
class StreamResampler @JvmOverloads constructor(
    rateHz: Double = GeneratedSchema.MAP_FPS,
    val maxGapMs: Double = MAX_INTERP_GAP_MS,
    val minScore: Double = Keypoints.MIN_SCORE
) {
    val periodMs: Double = 1000.0 / rateHz
    private var prevT = 0.0
    private var prevKp: DoubleArray? = null
    private var prevOk: BooleanArray? = null
    private var t0 = 0.0
    private var nextIndex = 0L

    /** Add a sample; returns the grid points now determined. */
    fun push(timestampMs: Double, frameKeypoints: DoubleArray): List<GridSample> {
        val t = timestampMs
        if (!Keypoints.isFinite(t)) throw TimestampException("timestamp is NaN or infinite")
        val kp = Keypoints.validateFrame(frameKeypoints)
        val ok = Keypoints.presentMask(kp, minScore)
        val a = prevKp
        if (a == null) {
            t0 = t
            prevT = t
            prevKp = kp
            prevOk = ok
            nextIndex = 1
            return listOf(GridSample(t, interpSample(t, t, kp, t, kp, ok, ok, periodMs, maxGapMs)))
        }
        val ta = prevT
        if (t <= ta) {
            throw TimestampException("timestamps must increase strictly: ${"%.3f".format(t)} ms after ${"%.3f".format(ta)} ms")
        }
        if (a.size != kp.size) throw KeypointException("frame keypoints: joint count changed from ${a.size / 3} to ${kp.size / 3}")
        val out = ArrayList<GridSample>()
        while (true) {
            val g = t0 + periodMs * nextIndex.toDouble()
            if (g > t + TOL_MS) break
            out.add(GridSample(g, interpSample(g, ta, a, t, kp, prevOk!!, ok, periodMs, maxGapMs)))
            nextIndex++
        }
        prevT = t
        prevKp = kp
        prevOk = ok
        return out
    }

    companion object {
        /** A grid point within this of a sample counts as reached by it (float rounding). */
        const val TOL_MS = 1e-6
        /** Two samples further apart than this are not interpolated between (a dropout). */
        const val MAX_INTERP_GAP_MS = 150.0

        /** `_interp_sample`: keypoints at time [t] from the samples bracketing it (same rule as batch). */
        @JvmStatic
        fun interpSample(
            t: Double, ta: Double, a: DoubleArray, tb: Double, b: DoubleArray,
            okA: BooleanArray, okB: BooleanArray, periodMs: Double, maxGapMs: Double
        ): DoubleArray {
            val nj = a.size / 3
            val out = Skeleton.missingFrame(nj)
            val interpolate = tb - ta <= maxGapMs
            // clamped as in Python: a grid point reached within TOL_MS past a sample must not extrapolate
            val w = if (tb == ta) 0.0 else Math.min(Math.max((t - ta) / (tb - ta), 0.0), 1.0)
            val nearA = t - ta <= periodMs / 2
            val nearB = tb - t <= periodMs / 2
            for (j in 0 until nj) {
                val onlyA: Boolean
                val onlyB: Boolean
                if (interpolate) {
                    if (okA[j] && okB[j]) {
                        for (c in 0..2) out[3 * j + c] = (1 - w) * a[3 * j + c] + w * b[3 * j + c]
                    }
                    onlyA = okA[j] && !okB[j]
                    onlyB = okB[j] && !okA[j]
                } else { // a dropout: no interpolation across it
                    onlyA = okA[j]
                    onlyB = okB[j]
                }
                val takeA = onlyA && nearA
                val takeB = onlyB && nearB && !takeA
                if (takeA) for (c in 0..2) out[3 * j + c] = a[3 * j + c]
                if (takeB) for (c in 0..2) out[3 * j + c] = b[3 * j + c]
            }
            return out
        }
    }
}
