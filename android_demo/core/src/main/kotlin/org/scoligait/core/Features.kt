package org.scoligait.core

import kotlin.math.atan2
import kotlin.math.sqrt

/**
 * Per-frame features compiled from the schema (port of `kinematics/features.py`, one frame at a
 * time). Points are `DoubleArray(20 * 2)`: the 17 COCO joints with y UP, then mid-shoulder,
 * mid-hip and mid-ankle.
 */
object Features {
    private const val P = GeneratedSchema.NUM_POINTS
    private const val L_SHOULDER = 5
    private const val R_SHOULDER = 6
    private const val L_HIP = 11
    private const val R_HIP = 12
    private const val L_KNEE = 13
    private const val R_KNEE = 14
    private const val L_ANKLE = 15
    private const val R_ANKLE = 16
    const val NUM_POSITION_COLS = 2 * GeneratedSchema.NUM_POSITIONS
    const val NUM_VELOCITY = 2 * GeneratedSchema.NUM_VELOCITY_POINTS
    /** Index of the mid-hip's x in [velocityPoints] (pixels until the difference is divided by the body size). */
    const val VELOCITY_MID_HIP = 2 * (GeneratedSchema.NUM_VELOCITY_POINTS - 1)
    const val NUM_MOTION = NUM_POSITION_COLS + NUM_VELOCITY + GeneratedSchema.NUM_DISTANCES
    /** First column of each block of the map row. */
    const val C_VELOCITY = NUM_POSITION_COLS
    const val C_DISTANCE = C_VELOCITY + NUM_VELOCITY
    const val C_ANGLE = C_DISTANCE + GeneratedSchema.NUM_DISTANCES
    const val C_CROSS = C_ANGLE + GeneratedSchema.NUM_ANGLES

    /** `points_y_up`: pixels `[J * 3]` -> `[20 * 2]` with y up and the three midpoints appended. */
    @JvmStatic
    fun pointsYUp(kp: DoubleArray): DoubleArray {
        val out = DoubleArray(P * 2)
        for (j in 0 until GeneratedSchema.NUM_COCO) {
            out[2 * j] = kp[3 * j] * 1.0
            out[2 * j + 1] = kp[3 * j + 1] * -1.0
        }
        mid(out, GeneratedSchema.MID_SHOULDER, L_SHOULDER, R_SHOULDER)
        mid(out, GeneratedSchema.MID_HIP, L_HIP, R_HIP)
        mid(out, GeneratedSchema.MID_ANKLE, L_ANKLE, R_ANKLE)
        return out
    }

    private fun mid(p: DoubleArray, m: Int, a: Int, b: Int) {
        p[2 * m] = 0.5 * (p[2 * a] + p[2 * b])
        p[2 * m + 1] = 0.5 * (p[2 * a + 1] + p[2 * b + 1])
    }

    /** `core_present`: every core joint is present. */
    @JvmStatic
    fun corePresent(points: DoubleArray): Boolean {
        for (j in GeneratedSchema.CORE_JOINTS) if (!Keypoints.isFinite(points[2 * j])) return false
        return true
    }

    private fun seg(p: DoubleArray, a: Int, b: Int): Double {
        val dx = p[2 * b] - p[2 * a]
        val dy = p[2 * b + 1] - p[2 * a + 1]
        return sqrt(dx * dx + dy * dy)
    }

    /** `raw_body_size`: trunk length plus mean leg length (pixels); NaN where a joint is missing. */
    @JvmStatic
    fun rawBodySize(p: DoubleArray): Double {
        val trunk = seg(p, GeneratedSchema.MID_HIP, GeneratedSchema.MID_SHOULDER)
        val legs = 0.5 * (seg(p, L_HIP, L_KNEE) + seg(p, L_KNEE, L_ANKLE) + seg(p, R_HIP, R_KNEE) + seg(p, R_KNEE, R_ANKLE))
        return trunk + legs
    }

    /** `normalise`: hip-centred, body-size normalised points `[20 * 2]`. */
    @JvmStatic
    fun normalise(points: DoubleArray, bodySize: Double): DoubleArray {
        val hx = points[2 * GeneratedSchema.MID_HIP]
        val hy = points[2 * GeneratedSchema.MID_HIP + 1]
        val out = DoubleArray(P * 2)
        for (i in 0 until P) {
            out[2 * i] = (points[2 * i] - hx) / bodySize
            out[2 * i + 1] = (points[2 * i + 1] - hy) / bodySize
        }
        return out
    }

    /** Hip-centred positions (32): (x, y) of each `POSITION_POINTS` joint, into [out] from [off]. */
    @JvmStatic
    fun positions(norm: DoubleArray, out: DoubleArray, off: Int) {
        for ((k, p) in GeneratedSchema.POSITION_POINTS.withIndex()) {
            out[off + 2 * k] = norm[2 * p]
            out[off + 2 * k + 1] = norm[2 * p + 1]
        }
    }

    /** `velocity_points` (34): hip-centred velocity points (body sizes), then the mid-hip in image pixels. */
    @JvmStatic
    fun velocityPoints(norm: DoubleArray, points: DoubleArray): DoubleArray {
        val out = DoubleArray(NUM_VELOCITY)
        for ((k, p) in GeneratedSchema.VELOCITY_HIP_CENTRED_POINTS.withIndex()) {
            out[2 * k] = norm[2 * p]
            out[2 * k + 1] = norm[2 * p + 1]
        }
        out[VELOCITY_MID_HIP] = points[2 * GeneratedSchema.MID_HIP]
        out[VELOCITY_MID_HIP + 1] = points[2 * GeneratedSchema.MID_HIP + 1]
        return out
    }

    /** Paired-point Euclidean distances (74, body sizes), into [out] from [off]. */
    @JvmStatic
    fun distances(norm: DoubleArray, out: DoubleArray, off: Int) {
        for (k in 0 until GeneratedSchema.NUM_DISTANCES) {
            val a = GeneratedSchema.DIST_A[k]
            val b = GeneratedSchema.DIST_B[k]
            val dx = norm[2 * b] - norm[2 * a]
            val dy = norm[2 * b + 1] - norm[2 * a + 1]
            out[off + k] = sqrt(dx * dx + dy * dy)
        }
    }

    /** Self-skeleton angles (32), radians, counter-clockwise positive in the y-up frame. */
    @JvmStatic
    fun angles(norm: DoubleArray): DoubleArray {
        val out = DoubleArray(GeneratedSchema.NUM_ANGLES)
        for (k in 0 until GeneratedSchema.NUM_ANGLES) {
            val a = GeneratedSchema.ANGLE_A[k]
            val b = GeneratedSchema.ANGLE_B[k]
            val dx = norm[2 * b] - norm[2 * a]
            val dy = norm[2 * b + 1] - norm[2 * a + 1]
            out[k] = when (GeneratedSchema.ANGLE_KIND[k]) {
                0 -> atan2(-dy, Math.abs(dx)) // tilt: left side up is positive
                1 -> atan2(dx, dy) // from vertical up
                2 -> atan2(dx, -dy) // from vertical down
                else -> {
                    val c = GeneratedSchema.ANGLE_C[k]
                    val d = GeneratedSchema.ANGLE_D[k]
                    val x2 = norm[2 * d] - norm[2 * c]
                    val y2 = norm[2 * d + 1] - norm[2 * c + 1]
                    atan2(dx * y2 - dy * x2, dx * x2 + dy * y2)
                }
            }
        }
        return out
    }

    /** The per-frame signals (32) whose trailing-window lagged cross-correlations form the cross domain. */
    @JvmStatic
    fun signals(norm: DoubleArray, angles: DoubleArray): DoubleArray {
        val out = DoubleArray(GeneratedSchema.NUM_SIGNALS)
        for (i in 0 until GeneratedSchema.NUM_SIGNALS) {
            val src = GeneratedSchema.SIGNAL_SRC[i]
            out[i] = if (GeneratedSchema.SIGNAL_IS_ANGLE[i] == 1) angles[src] else norm[src]
        }
        return out
    }

    /**
     * `lagged_correlation` for one lag and pair: normalised cross-correlation from the moments of its frame
     * pairs; NaN with fewer than `MIN_LAG_PAIRS` pairs: such a lag never wins the peak search nor bends its
     * refinement.
     */
    @JvmStatic
    fun laggedCorrelation(count: Double, varA: Double, varB: Double, cov: Double): Double {
        val r = cov / sqrt((Math.max(varA, 0.0) + GeneratedSchema.EPS_VAR) * (Math.max(varB, 0.0) + GeneratedSchema.EPS_VAR))
        return if (count >= GeneratedSchema.MIN_LAG_PAIRS) r else Double.NaN
    }

    /**
     * `peak_lag_zero` for one pair: [r] holds its correlation at lags -MAX_LAG..MAX_LAG starting at [off]
     * with stride [stride]. Writes (peak value, lag at the peak in seconds, zero-lag value) to [out] at [o].
     * The peak is the lag of largest |r| (lowered by TIE_STEP per frame of lag, so exact ties go to the lag
     * nearest zero, then to the more negative lag), refined by a parabola through its neighbours; with
     * every |r| below MIN_PEAK it is the zero-lag value at lag 0.
     */
    @JvmStatic
    fun peakLagZero(r: DoubleArray, off: Int, stride: Int, out: DoubleArray, o: Int) {
        val nl = GeneratedSchema.NUM_LAGS
        val zeroLag = GeneratedSchema.MAX_LAG
        var best = 0
        var bestScore = Double.NEGATIVE_INFINITY
        for (j in 0 until nl) {
            var score = Math.abs(r[off + j * stride]) - GeneratedSchema.TIE_STEP * Math.abs(j - zeroLag).toDouble()
            if (score.isNaN()) score = Double.NEGATIVE_INFINITY // an unusable lag
            if (j == 0 || score > bestScore) { // np.argmax: the first of equal maxima
                best = j
                bestScore = score
            }
        }
        val y0 = Math.abs(r[off + best * stride])
        val interior = best > 0 && best < nl - 1
        val lo = if (interior) Math.abs(r[off + (best - 1) * stride]) else y0
        val hi = if (interior) Math.abs(r[off + (best + 1) * stride]) else y0
        val curvature = lo - 2.0 * y0 + hi
        val bend = curvature < 0 // false at the edges (0) and next to an unusable lag (NaN)
        val halfDiff = if (bend) 0.5 * (lo - hi) else 0.0
        val delta = clip(halfDiff / (if (bend) curvature else -1.0), -0.5, 0.5)
        val peak = Math.min(y0 - 0.5 * halfDiff * delta, 1.0)
        val zero = r[off + zeroLag * stride]
        if (!(y0 >= GeneratedSchema.MIN_PEAK)) { // also when no lag is usable
            out[o] = zero
            out[o + 1] = 0.0
        } else {
            out[o] = Math.copySign(peak, r[off + best * stride])
            out[o + 1] = ((best - zeroLag) + delta) * (1.0 / GeneratedSchema.MAP_FPS)
        }
        out[o + 2] = zero
    }

    private fun clip(v: Double, lo: Double, hi: Double): Double = if (v < lo) lo else if (v > hi) hi else v
}
