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
    const val NUM_MOTION = 2 * GeneratedSchema.NUM_COCO + 2 * GeneratedSchema.NUM_PAIRS

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

    /** Motion space (140) of a normalised frame: joint coordinates, then pair vectors (dx, dy). */
    @JvmStatic
    fun motion(norm: DoubleArray): DoubleArray {
        val out = DoubleArray(NUM_MOTION)
        for (i in 0 until 2 * GeneratedSchema.NUM_COCO) out[i] = norm[i]
        val off = 2 * GeneratedSchema.NUM_COCO
        for (k in 0 until GeneratedSchema.NUM_PAIRS) {
            val a = GeneratedSchema.PAIR_FROM[k]
            val b = GeneratedSchema.PAIR_TO[k]
            out[off + 2 * k] = norm[2 * b] - norm[2 * a]
            out[off + 2 * k + 1] = norm[2 * b + 1] - norm[2 * a + 1]
        }
        return out
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

    /** The per-frame signals (36) whose trailing-window pair statistics form the cross domain. */
    @JvmStatic
    fun signals(norm: DoubleArray, angles: DoubleArray): DoubleArray {
        val out = DoubleArray(GeneratedSchema.NUM_SIGNALS)
        for (i in 0 until GeneratedSchema.NUM_SIGNALS) {
            val src = GeneratedSchema.SIGNAL_SRC[i]
            out[i] = if (GeneratedSchema.SIGNAL_IS_ANGLE[i] == 1) angles[src] else norm[src]
        }
        return out
    }

    /** `pair_statistics`: correlation, amplitude asymmetry and mean difference, interleaved per pair (66). */
    @JvmStatic
    fun pairStatistics(meanA: DoubleArray, meanB: DoubleArray, varA: DoubleArray, varB: DoubleArray, cov: DoubleArray): DoubleArray {
        val n = meanA.size
        val out = DoubleArray(3 * n)
        for (k in 0 until n) {
            val va = Math.max(varA[k], 0.0)
            val vb = Math.max(varB[k], 0.0)
            val corr = cov[k] / sqrt((va + GeneratedSchema.EPS_VAR) * (vb + GeneratedSchema.EPS_VAR))
            val sa = sqrt(va)
            val sb = sqrt(vb)
            out[3 * k] = corr
            out[3 * k + 1] = (sa - sb) / (sa + sb + GeneratedSchema.EPS_SD)
            out[3 * k + 2] = meanA[k] - meanB[k]
        }
        return out
    }
}
