package org.scoligait.core

/** A keypoint array that is not a keypoint array (wrong size, score outside [0, 1], absurd coordinates). */
class KeypointException(message: String) : IllegalArgumentException(message)

/** A timestamp that is NaN, infinite or not strictly increasing. */
class TimestampException(message: String) : IllegalArgumentException(message)

/**
 * Validation and missing-joint handling of keypoint frames (port of `kinematics/keypoints.py`).
 * A frame is `DoubleArray(J * 3)`, J = 17 or 21, (x px, y px, score).
 */
object Keypoints {
    const val MIN_SCORE = 0.3
    const val MAX_GAP_FRAMES = 6
    private const val MAX_ABS_COORD = 1e6

    /**
     * `validate_keypoints` for one frame: a checked copy with every joint that has a non-finite
     * value set to NaN, NaN, 0. Throws [KeypointException] for a score outside [0, 1] or a
     * coordinate beyond 1e6 px.
     */
    @JvmStatic
    @JvmOverloads
    fun validateFrame(frame: DoubleArray, name: String = "frame keypoints"): DoubleArray {
        if (frame.size != GeneratedSchema.NUM_COCO * 3 && frame.size != GeneratedSchema.NUM_COCO_FEET * 3) {
            throw KeypointException("$name: expected 17 or 21 joints x (x, y, score), got ${frame.size} values")
        }
        val nj = frame.size / 3
        for (j in 0 until nj) {
            val s = frame[3 * j + 2]
            if (!s.isNaN() && !s.isInfinite() && (s < 0.0 || s > 1.0)) {
                throw KeypointException("$name: score ${"%.3g".format(s)} at joint $j is outside [0, 1]")
            }
            for (a in 0..1) {
                val v = frame[3 * j + a]
                if (!v.isNaN() && !v.isInfinite() && Math.abs(v) > MAX_ABS_COORD) {
                    throw KeypointException("$name: coordinate ${"%.3g".format(v)} at joint $j is out of range")
                }
            }
        }
        val out = frame.copyOf()
        for (j in 0 until nj) {
            if (!(isFinite(out[3 * j]) && isFinite(out[3 * j + 1]) && isFinite(out[3 * j + 2]))) {
                out[3 * j] = Double.NaN
                out[3 * j + 1] = Double.NaN
                out[3 * j + 2] = 0.0
            }
        }
        return out
    }

    @JvmStatic
    fun isFinite(v: Double): Boolean = !v.isNaN() && !v.isInfinite()

    /** `present_mask` for one joint: observed (finite x and y) with a score of at least [minScore]. */
    @JvmStatic
    fun present(frame: DoubleArray, joint: Int, minScore: Double = MIN_SCORE): Boolean =
        isFinite(frame[3 * joint]) && isFinite(frame[3 * joint + 1]) && frame[3 * joint + 2] >= minScore

    @JvmStatic
    fun presentMask(frame: DoubleArray, minScore: Double = MIN_SCORE): BooleanArray =
        BooleanArray(frame.size / 3) { present(frame, it, minScore) }
}

/**
 * Streaming gap filling (port of `GapFiller`): interior gaps of up to [maxGap] frames per joint
 * are interpolated linearly (score = [minScore]), everything else missing stays NaN / 0. A frame
 * is released once every joint in it is settled, so output lags input by up to [maxGap] frames.
 */
class GapFiller @JvmOverloads constructor(
    val numJoints: Int = GeneratedSchema.NUM_COCO_FEET,
    val maxGap: Int = Keypoints.MAX_GAP_FRAMES,
    val minScore: Double = Keypoints.MIN_SCORE
) {
    private val pending = java.util.ArrayList<DoubleArray>() // frames not yet released, oldest first
    private val unsettled = java.util.ArrayList<BooleanArray>() // per pending frame: joints still open
    private val lastSeenFrame = IntArray(numJoints) { -1 }
    private val lastSeenXY = DoubleArray(numJoints * 2)
    private var frameNo = 0
    private var released = 0

    /** Add one frame `[J * 3]`; returns the frames now settled, in order. */
    fun push(frameKeypoints: DoubleArray): List<DoubleArray> {
        val kp = Keypoints.validateFrame(frameKeypoints)
        if (kp.size != numJoints * 3) {
            throw KeypointException("frame keypoints: expected $numJoints joints, got ${kp.size / 3}")
        }
        val ok = Keypoints.presentMask(kp, minScore)
        val frame = kp.copyOf()
        val open = BooleanArray(numJoints)
        for (j in 0 until numJoints) {
            if (!ok[j]) {
                frame[3 * j] = Double.NaN
                frame[3 * j + 1] = Double.NaN
                frame[3 * j + 2] = 0.0
                open[j] = true
            }
        }
        val t = frameNo
        frameNo++
        pending.add(frame)
        unsettled.add(open)
        for (j in 0 until numJoints) {
            if (!ok[j]) continue
            val a = lastSeenFrame[j]
            if (a >= 0 && t - a - 1 > 0 && t - a - 1 <= maxGap) {
                val xa = lastSeenXY[2 * j]
                val ya = lastSeenXY[2 * j + 1]
                for (f in a + 1 until t) {
                    val w = (f - a).toDouble() / (t - a).toDouble()
                    val pend = pending[f - released]
                    pend[3 * j] = (1 - w) * xa + w * kp[3 * j]
                    pend[3 * j + 1] = (1 - w) * ya + w * kp[3 * j + 1]
                    pend[3 * j + 2] = minScore
                    unsettled[f - released][j] = false
                }
            }
            lastSeenFrame[j] = t
            lastSeenXY[2 * j] = kp[3 * j]
            lastSeenXY[2 * j + 1] = kp[3 * j + 1]
        }
        // A missing joint is settled as missing once no observation can fill it.
        for (k in unsettled.indices) {
            val openJoints = unsettled[k]
            val f = released + k
            for (j in 0 until numJoints) {
                if (!openJoints[j]) continue
                val last = lastSeenFrame[j]
                // a leading gap (nothing seen yet) or a gap already longer than maxGap
                if (last < 0 || (last < f && t - last > maxGap)) openJoints[j] = false
            }
        }
        return release()
    }

    /** End of stream: whatever is still open stays missing. */
    fun flush(): List<DoubleArray> {
        for (open in unsettled) java.util.Arrays.fill(open, false)
        return release()
    }

    private fun release(): List<DoubleArray> {
        val out = ArrayList<DoubleArray>()
        while (pending.isNotEmpty() && !anyTrue(unsettled[0])) {
            out.add(pending.removeAt(0))
            unsettled.removeAt(0)
            released++
        }
        return out
    }

    private fun anyTrue(a: BooleanArray): Boolean {
        for (v in a) if (v) return true
        return false
    }
}
