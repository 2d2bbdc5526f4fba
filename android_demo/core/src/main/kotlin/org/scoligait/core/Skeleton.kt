package org.scoligait.core

/**
 * One person's 33 MediaPipe Pose landmarks as the Tasks API gives them: x and y normalised to
 * the image (x / width, y / height), per-landmark visibility and presence (float32).
 *
 * Where MediaPipe leaves visibility or presence unset, pass 0 for visibility and 1 for presence
 * (what the Python estimator does).
 */
class PoseLandmarks(
    @JvmField val x: FloatArray,
    @JvmField val y: FloatArray,
    @JvmField val visibility: FloatArray,
    @JvmField val presence: FloatArray?
) {
    init {
        require(x.size == Skeleton.NUM_MEDIAPIPE && y.size == Skeleton.NUM_MEDIAPIPE && visibility.size == Skeleton.NUM_MEDIAPIPE) {
            "expected ${Skeleton.NUM_MEDIAPIPE} landmarks, got x ${x.size}, y ${y.size}, visibility ${visibility.size}"
        }
        require(presence == null || presence.size == Skeleton.NUM_MEDIAPIPE) { "presence must have 33 values" }
    }

    /** Pixel coordinates of the landmarks, `[33 * 2]` (x, y), as the Python estimator computes them. */
    fun pixels(width: Int, height: Int): DoubleArray {
        val out = DoubleArray(Skeleton.NUM_MEDIAPIPE * 2)
        for (i in 0 until Skeleton.NUM_MEDIAPIPE) {
            out[2 * i] = x[i].toDouble() * width.toDouble()
            out[2 * i + 1] = y[i].toDouble() * height.toDouble()
        }
        return out
    }

    /** Mid-point of the hips in pixels (MediaPipe 23, 24). */
    fun hipCenter(width: Int, height: Int): DoubleArray = doubleArrayOf(
        0.5 * (x[23].toDouble() + x[24].toDouble()) * width,
        0.5 * (y[23].toDouble() + y[24].toDouble()) * height
    )

    /** Torso + thigh + shank length in pixels (the Python `PersonPose.body_size`). */
    fun bodySize(width: Int, height: Int): Double {
        val p = pixels(width, height)
        fun px(i: Int) = p[2 * i]
        fun py(i: Int) = p[2 * i + 1]
        fun dist(a: Int, b: Int) = Math.sqrt((px(a) - px(b)) * (px(a) - px(b)) + (py(a) - py(b)) * (py(a) - py(b)))
        val sx = 0.5 * (px(11) + px(12))
        val sy = 0.5 * (py(11) + py(12))
        val hx = 0.5 * (px(23) + px(24))
        val hy = 0.5 * (py(23) + py(24))
        val trunk = Math.sqrt((sx - hx) * (sx - hx) + (sy - hy) * (sy - hy))
        return trunk + 0.5 * (dist(23, 25) + dist(24, 26)) + 0.5 * (dist(25, 27) + dist(26, 28))
    }
}

/**
 * Skeleton layouts: MediaPipe's 33 landmarks -> COCO-21 (COCO-17 plus heels and toes).
 *
 * A keypoint frame is a `DoubleArray(J * 3)` of (x px, y px, score) per joint, y pointing down;
 * a missing joint is NaN, NaN, 0 (the Python `[J, 3]` array, flattened).
 * Port of `scoligait_edge/pose/skeleton.py` and `pose/extract.py:subject_keypoints`.
 */
object Skeleton {
    const val NUM_MEDIAPIPE = 33
    const val NUM_COCO = GeneratedSchema.NUM_COCO
    const val NUM_COCO_FEET = GeneratedSchema.NUM_COCO_FEET

    private fun clip01(v: Double): Double = if (v < 0.0) 0.0 else if (v > 1.0) 1.0 else v // NaN stays NaN, as np.clip

    /**
     * `mediapipe_to_coco`: [xy] is `[33 * 2]` pixels, [visibility] and [presence] `[33]`. With
     * presence the score is `presence * (0.5 + 0.5 * visibility)` (an occluded joint keeps about
     * half its confidence, a joint outside the image drops out); without, the visibility.
     */
    @JvmStatic
    @JvmOverloads
    fun mediapipeToCoco(xy: DoubleArray, visibility: DoubleArray, presence: DoubleArray? = null, withFeet: Boolean = true): DoubleArray {
        require(xy.size == NUM_MEDIAPIPE * 2 && visibility.size == NUM_MEDIAPIPE) {
            "expected [33, 2] and [33], got ${xy.size} and ${visibility.size} values"
        }
        require(presence == null || presence.size == NUM_MEDIAPIPE) { "presence must have 33 values" }
        val nj = if (withFeet) NUM_COCO_FEET else NUM_COCO
        val out = DoubleArray(nj * 3)
        for (j in 0 until nj) {
            val m = GeneratedSchema.MEDIAPIPE_INDEX_FOR_COCO21[j]
            val vis = clip01(visibility[m])
            out[3 * j] = xy[2 * m]
            out[3 * j + 1] = xy[2 * m + 1]
            out[3 * j + 2] = if (presence != null) clip01(presence[m]) * (0.5 + 0.5 * vis) else vis
        }
        return out
    }

    /** A frame with every joint missing. */
    @JvmStatic
    fun missingFrame(numJoints: Int = NUM_COCO_FEET): DoubleArray {
        val out = DoubleArray(numJoints * 3)
        for (j in 0 until numJoints) {
            out[3 * j] = Double.NaN
            out[3 * j + 1] = Double.NaN
            out[3 * j + 2] = 0.0
        }
        return out
    }

    /**
     * The subject's COCO-21 frame from its landmarks in an image of `width x height` pixels, as
     * `subject_keypoints` builds it: joints MediaPipe places outside the image are guesses and
     * count as missing. `null` (nobody tracked) gives an all-missing frame.
     */
    @JvmStatic
    fun subjectKeypoints(landmarks: PoseLandmarks?, width: Int, height: Int): DoubleArray {
        if (landmarks == null) return missingFrame(NUM_COCO_FEET)
        val vis = DoubleArray(NUM_MEDIAPIPE) { landmarks.visibility[it].toDouble() }
        val pres = landmarks.presence?.let { p -> DoubleArray(NUM_MEDIAPIPE) { p[it].toDouble() } }
        val kp = mediapipeToCoco(landmarks.pixels(width, height), vis, pres, true)
        val w = width.toDouble()
        val h = height.toDouble()
        for (j in 0 until NUM_COCO_FEET) {
            val x = kp[3 * j]
            val y = kp[3 * j + 1]
            if (x < 0.0 || x >= w || y < 0.0 || y >= h) {
                kp[3 * j] = Double.NaN
                kp[3 * j + 1] = Double.NaN
                kp[3 * j + 2] = 0.0
            }
        }
        return kp
    }
}
