package org.scoligait.core

import kotlin.math.sqrt

/**
 * Heel strikes and toe-offs (frame indices) per foot, the view, and the clip's length.
 */
class GaitEvents(
    @JvmField val heelStrikes: Map<String, List<Int>>,
    @JvmField val toeOffs: Map<String, List<Int>>,
    @JvmField val view: String,
    @JvmField val fps: Double,
    @JvmField val nFrames: Int
) {
    /** Every heel strike as (frame, side), in time order. */
    fun allHeelStrikes(): List<Pair<Int, String>> {
        val out = ArrayList<Pair<Int, String>>()
        for (s in SIDES) for (f in heelStrikes.getValue(s)) out.add(Pair(f, s))
        return out.sortedWith(Comparator { a, b -> if (a.first != b.first) Integer.compare(a.first, b.first) else a.second.compareTo(b.second) })
    }

    /** Steps per minute from the median interval between heel strikes of alternating feet; null without one. */
    fun cadence(): Double? {
        val hs = allHeelStrikes()
        val intervals = ArrayList<Double>()
        for (i in 0 until hs.size - 1) if (hs[i].second != hs[i + 1].second) intervals.add((hs[i + 1].first - hs[i].first).toDouble())
        if (intervals.isEmpty()) return null
        return 60.0 * fps / Describe.median(intervals.toDoubleArray())
    }

    /** Complete gait cycles inside [start, stop), the larger count of the two feet. */
    @JvmOverloads
    fun completeCycles(start: Int = 0, stop: Int = nFrames): Int {
        var best = 0
        for (s in SIDES) {
            val inside = heelStrikes.getValue(s).count { it in start until stop }
            best = Math.max(best, Math.max(inside - 1, 0))
        }
        return best
    }

    companion object {
        @JvmField val SIDES = listOf("left", "right")
    }
}

/** Is this window worth screening? Each reason is a plain sentence (port of `WindowQuality`). */
class GaitWindowQuality @JvmOverloads constructor(
    @JvmField val walking: Boolean,
    @JvmField val wholeBodyVisible: Boolean,
    @JvmField val enoughCycles: Boolean,
    @JvmField val nCycles: Int,
    @JvmField val nSteps: Int,
    @JvmField val cadenceSpm: Double?,
    @JvmField val validFraction: Double,
    @JvmField val reasons: List<String>,
    /** What the walking gate saw ([Walking.assess]): walking, standing, running, irregular, no_body. */
    @JvmField val motion: String = "walking"
) {
    val ok: Boolean get() = walking && wholeBodyVisible && enoughCycles
}

/**
 * Gait events from the 2-D skeleton alone and the window verdict (port of
 * `scoligait_edge/kinematics/events.py`, including the parts of SciPy it uses: `find_peaks` with
 * distance and prominence, `median_filter` with mode "nearest").
 *
 * Heel strike is when a foot is furthest forward of the pelvis, toe-off when furthest behind
 * (Zeni et al. 2008), along the direction of progression as it appears in the image; walking
 * toward or away from the camera, contact is read from the foot's speed instead.
 */
object Events {
    const val MIN_STEP_S = 0.25
    const val MIN_EXCURSION = 0.06
    const val MIN_FOOT_SPEED = 0.004
    const val STILL_FRACTION = 0.2
    private const val NOSE = 0
    private const val L_EAR = 3
    private const val R_EAR = 4
    private const val L_HIP = 11
    private const val R_HIP = 12
    private const val L_ANKLE = 15
    private const val R_ANKLE = 16
    private const val L_HEEL = 17
    private const val R_HEEL = 18
    private const val L_TOE = 19
    private const val R_TOE = 20

    /** The window-quality reason for each motion the walking gate refuses (Python `MOTION_REASONS`). */
    @JvmField val MOTION_REASONS = mapOf(
        "running" to "running, not walking (the protocol is walking)",
        "standing" to "standing still, swaying or jumping in place, not walking",
        "irregular" to "no regular walking stride",
        "no_body" to "keypoints not consistent with a body"
    )

    /** `detect_gait_events` of frames `[T][J * 3]` (pixels, score) at [fps]; gaps are filled first. */
    @JvmStatic
    @JvmOverloads
    fun detect(frames: List<DoubleArray>, fps: Double = 30.0, minScore: Double = Keypoints.MIN_SCORE): GaitEvents {
        val n = frames.size
        val hs = linkedMapOf<String, MutableList<Int>>("left" to ArrayList(), "right" to ArrayList())
        val to = linkedMapOf<String, MutableList<Int>>("left" to ArrayList(), "right" to ArrayList())
        if (n == 0) return GaitEvents(hs, to, "unknown", fps, n)
        val nj = frames[0].size / 3
        val filler = GapFiller(nj, Keypoints.MAX_GAP_FRAMES, minScore)
        val kp = ArrayList<DoubleArray>(n)
        for (f in frames) kp.addAll(filler.push(f))
        kp.addAll(filler.flush())
        val points = kp.map { Features.pointsYUp(it) }
        fun px(t: Int, j: Int) = points[t][2 * j]
        fun py(t: Int, j: Int) = points[t][2 * j + 1]
        val ok = BooleanArray(n) { t -> intArrayOf(L_HIP, R_HIP, L_ANKLE, R_ANKLE).all { Keypoints.isFinite(px(t, it)) } }
        if (ok.count { it } < 2) return GaitEvents(hs, to, "unknown", fps, n)
        val hipX = DoubleArray(n) { 0.5 * (px(it, L_HIP) + px(it, R_HIP)) }
        val hipY = DoubleArray(n) { 0.5 * (py(it, L_HIP) + py(it, R_HIP)) }
        val size = DoubleArray(n) { t ->
            if (!ok[t]) Double.NaN else 0.5 * (dist(px(t, L_ANKLE) - px(t, L_HIP), py(t, L_ANKLE) - py(t, L_HIP)) +
                dist(px(t, R_ANKLE) - px(t, R_HIP), py(t, R_ANKLE) - py(t, R_HIP)))
        }
        val feet = nj == GeneratedSchema.NUM_COCO_FEET
        fun foot(joint: Int, ankle: Int): Array<DoubleArray> {
            val x = DoubleArray(n)
            val y = DoubleArray(n)
            for (t in 0 until n) {
                var fx = px(t, ankle)
                var fy = py(t, ankle)
                if (feet) {
                    val jx = kp[t][3 * joint] * 1.0
                    val jy = kp[t][3 * joint + 1] * -1.0
                    if (Keypoints.isFinite(jx)) fx = jx
                    if (Keypoints.isFinite(jy)) fy = jy
                }
                x[t] = fx
                y[t] = fy
            }
            return arrayOf(x, y)
        }
        val strike = mapOf("left" to foot(L_HEEL, L_ANKLE), "right" to foot(R_HEEL, R_ANKLE))
        val off = mapOf("left" to foot(L_TOE, L_ANKLE), "right" to foot(R_TOE, R_ANKLE))

        val (axis, view) = progressionAxis(points, hipX, hipY, ok, size)
        if (axis == null) return GaitEvents(hs, to, "unknown", fps, n)
        val width = Math.max(Math.rint(fps * 0.1).toInt(), 1)
        val distance = Math.max(Math.rint(2 * MIN_STEP_S * fps).toInt(), 1)
        for ((start, stop) in runs(ok)) {
            if (stop - start < distance) continue
            val segSize = smooth(size.copyOfRange(start, stop), 5 * width)
            for (side in GaitEvents.SIDES) {
                val s = strike.getValue(side)
                val o = off.getValue(side)
                val sx = s[0].copyOfRange(start, stop)
                val sy = s[1].copyOfRange(start, stop)
                val ox = o[0].copyOfRange(start, stop)
                val oy = o[1].copyOfRange(start, stop)
                val r = if (view == "side") {
                    zeni(sx, sy, ox, oy, hipX.copyOfRange(start, stop), hipY.copyOfRange(start, stop), axis, segSize, width, distance)
                } else {
                    footContact(sx, sy, ox, oy, segSize, width, distance)
                }
                for (i in r.first) hs.getValue(side).add(i + start)
                for (i in r.second) to.getValue(side).add(i + start)
            }
        }
        return GaitEvents(hs, to, view, fps, n)
    }

    /**
     * `assess_window`: quality verdict for frames [start, stop) from the map's validity, the events and the
     * walking gate. The gate judges the window's own keypoints: [keypoints] is the whole sequence the events
     * index (30 Hz grid); it is computed here, once per window, and only where a window is judged.
     */
    @JvmStatic
    @JvmOverloads
    fun assessWindow(valid: BooleanArray, events: GaitEvents, start: Int, stop: Int,
                     minValidFraction: Double = 0.9, minCycles: Int = 1,
                     keypoints: List<DoubleArray>? = null): GaitWindowQuality {
        requireNotNull(keypoints) { "assessWindow needs the keypoints the events were detected on (the walking gate reads them)" }
        val a = Math.min(Math.max(start, 0), keypoints.size)
        val gate = Walking.assess(keypoints.subList(a, Math.max(a, Math.min(stop, keypoints.size))), events.fps)
        var k = 0
        val hi = Math.min(stop, valid.size)
        for (i in start until hi) if (valid[i]) k++
        val n = hi - start
        val frac = if (stop > start && n > 0) k.toDouble() / n else 0.0
        val steps = events.allHeelStrikes().count { it.first in start until stop }
        val cycles = events.completeCycles(start, stop)
        val sub = GaitEvents(
            GaitEvents.SIDES.associateWith { s -> events.heelStrikes.getValue(s).filter { it in start until stop } },
            GaitEvents.SIDES.associateWith { emptyList<Int>() }, events.view, events.fps, stop - start
        )
        val walking = steps >= 2 && gate.walking
        val reasons = ArrayList<String>()
        if (steps < 2) reasons.add("no walking detected (fewer than two steps in the window)")
        else if (!gate.walking) reasons.add(MOTION_REASONS.getValue(gate.motion))
        if (frac < minValidFraction) {
            reasons.add("whole body visible in only ${pct(frac)} of the frames (need ${pct(minValidFraction)})")
        }
        if (cycles < minCycles) reasons.add("$cycles complete gait cycle(s) in the window (need $minCycles)")
        return GaitWindowQuality(walking, frac >= minValidFraction, cycles >= minCycles, cycles, steps, sub.cadence(), frac, reasons,
            gate.motion)
    }

    // ------------------------------------------------------------------ internals
    /** Python's `f"{x:.0%}"` (round half to even). */
    private fun pct(x: Double): String = "${Math.rint(100 * x).toLong()}%"

    private fun dist(dx: Double, dy: Double) = sqrt(dx * dx + dy * dy)

    /** `_smooth`: moving average of [width] with edge padding (pad = width / 2 before, the rest after). */
    @JvmStatic
    fun smooth(x: DoubleArray, width: Int): DoubleArray {
        if (width <= 1) return x
        val pad = width / 2
        val n = x.size
        val xp = DoubleArray(n + width - 1) { i -> x[Math.min(Math.max(i - pad, 0), n - 1)] }
        val k = 1.0 / width
        return DoubleArray(n) { i ->
            var s = 0.0
            for (j in 0 until width) s += xp[i + j] * k
            s
        }
    }

    /** [start, stop) of each run of true. */
    @JvmStatic
    fun runs(mask: BooleanArray): List<Pair<Int, Int>> {
        val out = ArrayList<Pair<Int, Int>>()
        var i = 0
        while (i < mask.size) {
            if (mask[i]) {
                var j = i
                while (j < mask.size && mask[j]) j++
                out.add(Pair(i, j))
                i = j
            } else i++
        }
        return out
    }

    /** `scipy.ndimage.median_filter(x, size, mode="nearest")` for an odd [size]. */
    @JvmStatic
    fun medianFilter(x: DoubleArray, size: Int): DoubleArray {
        val n = x.size
        val h = size / 2
        val buf = DoubleArray(size)
        return DoubleArray(n) { i ->
            for (k in 0 until size) buf[k] = x[Math.min(Math.max(i - h + k, 0), n - 1)]
            java.util.Arrays.sort(buf)
            buf[h]
        }
    }

    /** `_denoise`: median filter (drops single-frame outliers) then a moving average. */
    @JvmStatic
    fun denoise(x: DoubleArray, width: Int): DoubleArray {
        val k = 2 * width + 1
        val m = if (x.size >= k) medianFilter(x, k) else x
        return smooth(m, width)
    }

    /** `scipy.signal.find_peaks(x, distance=distance, prominence=minProminence)`: peak indices. */
    @JvmStatic
    fun findPeaks(x: DoubleArray, distance: Int, minProminence: Double): IntArray {
        var peaks = localMaxima(x)
        if (peaks.size > 1 && distance > 1) peaks = selectByDistance(peaks, x, distance)
        val keep = ArrayList<Int>()
        for (p in peaks) if (prominence(x, p) >= minProminence) keep.add(p)
        return keep.toIntArray()
    }

    /** SciPy's `_local_maxima_1d`: strict maxima and the middle of flat peaks. */
    private fun localMaxima(x: DoubleArray): IntArray {
        val out = ArrayList<Int>()
        var i = 1
        val iMax = x.size - 1
        while (i < iMax) {
            if (x[i - 1] < x[i]) {
                var ahead = i + 1
                while (ahead < iMax && x[ahead] == x[i]) ahead++
                if (x[ahead] < x[i]) {
                    out.add((i + ahead - 1) / 2)
                    i = ahead
                }
            }
            i++
        }
        return out.toIntArray()
    }

    /** SciPy's `_select_by_peak_distance`: keep the highest peaks, drop neighbours closer than [distance]. */
    private fun selectByDistance(peaks: IntArray, x: DoubleArray, distance: Int): IntArray {
        val n = peaks.size
        val keep = BooleanArray(n) { true }
        // numpy argsort (ascending heights); equal heights are vanishingly rare on real signals
        val order = (0 until n).sortedWith(Comparator { a, b -> java.lang.Double.compare(x[peaks[a]], x[peaks[b]]) })
        for (i in n - 1 downTo 0) {
            val j = order[i]
            if (!keep[j]) continue
            var k = j - 1
            while (k >= 0 && peaks[j] - peaks[k] < distance) {
                keep[k] = false
                k--
            }
            k = j + 1
            while (k < n && peaks[k] - peaks[j] < distance) {
                keep[k] = false
                k++
            }
        }
        return peaks.filterIndexed { i, _ -> keep[i] }.toIntArray()
    }

    /** SciPy's `_peak_prominences` without a window. */
    private fun prominence(x: DoubleArray, peak: Int): Double {
        var leftMin = x[peak]
        var i = peak
        while (i >= 0 && x[i] <= x[peak]) {
            if (x[i] < leftMin) leftMin = x[i]
            i--
        }
        var rightMin = x[peak]
        i = peak
        while (i < x.size && x[i] <= x[peak]) {
            if (x[i] < rightMin) rightMin = x[i]
            i++
        }
        return x[peak] - Math.max(leftMin, rightMin)
    }

    private fun ptp(x: DoubleArray): Double {
        var lo = Double.POSITIVE_INFINITY
        var hi = Double.NEGATIVE_INFINITY
        for (v in x) {
            if (v < lo) lo = v
            if (v > hi) hi = v
        }
        return hi - lo
    }

    private fun zeni(sx: DoubleArray, sy: DoubleArray, ox: DoubleArray, oy: DoubleArray, hx: DoubleArray, hy: DoubleArray,
                     axis: DoubleArray, size: DoubleArray, width: Int, distance: Int): Pair<IntArray, IntArray> {
        val n = sx.size
        val fwd = denoise(DoubleArray(n) { ((sx[it] - hx[it]) * axis[0] + (sy[it] - hy[it]) * axis[1]) / size[it] }, width)
        val back = denoise(DoubleArray(n) { ((ox[it] - hx[it]) * axis[0] + (oy[it] - hy[it]) * axis[1]) / size[it] }, width)
        val hs = findPeaks(fwd, distance, Math.max(MIN_EXCURSION, 0.3 * ptp(fwd)))
        val negBack = DoubleArray(n) { -back[it] }
        val to = findPeaks(negBack, distance, Math.max(MIN_EXCURSION, 0.3 * ptp(back)))
        return Pair(hs, to)
    }

    private fun footContact(sx: DoubleArray, sy: DoubleArray, ox: DoubleArray, oy: DoubleArray, size: DoubleArray,
                            width: Int, distance: Int): Pair<IntArray, IntArray> {
        val minStance = Math.max(Math.rint(0.4 * distance).toInt(), 2)
        fun speed(x: DoubleArray, y: DoubleArray): DoubleArray {
            val a = denoise(x, width)
            val b = denoise(y, width)
            val n = a.size
            val v = DoubleArray(n)
            for (i in 1 until n - 1) v[i] = dist(a[i + 1] - a[i - 1], b[i + 1] - b[i - 1]) / 2
            v[0] = v[1]
            v[n - 1] = v[n - 2]
            for (i in 0 until n) v[i] /= size[i]
            return v
        }

        fun transitions(v: DoubleArray): Pair<List<Int>, List<Int>> {
            val moving = percentile(v, 90.0)
            if (moving < MIN_FOOT_SPEED) return Pair(emptyList(), emptyList())
            val still = BooleanArray(v.size) { v[it] < STILL_FRACTION * moving }
            val landings = ArrayList<Int>()
            val lifts = ArrayList<Int>()
            for ((a, b) in runs(still)) {
                if (b - a < minStance) continue
                if (a > 0 && maxOf(v, Math.max(a - distance / 2, 0), a) > 0.5 * moving) landings.add(a)
                if (b < v.size && maxOf(v, b, Math.min(b + distance / 2, v.size)) > 0.5 * moving) lifts.add(b - 1)
            }
            return Pair(landings, lifts)
        }

        val hs = transitions(speed(sx, sy)).first
        val to = transitions(speed(ox, oy)).second
        return Pair(hs.toIntArray(), to.toIntArray())
    }

    private fun maxOf(v: DoubleArray, from: Int, to: Int): Double {
        var m = Double.NEGATIVE_INFINITY
        for (i in from until to) if (v[i] > m) m = v[i]
        return m
    }

    /** numpy's default (linear) percentile. */
    @JvmStatic
    fun percentile(x: DoubleArray, q: Double): Double {
        val s = x.copyOf()
        java.util.Arrays.sort(s)
        val pos = (s.size - 1) * q / 100.0
        val lo = Math.floor(pos).toInt()
        val hi = Math.min(lo + 1, s.size - 1)
        val t = pos - lo
        return if (t >= 0.5) s[hi] - (s[hi] - s[lo]) * (1 - t) else s[lo] + (s[hi] - s[lo]) * t
    }

    /** Unit vector (y-up image frame) the subject walks along, and the view ("side" / "frontal"). */
    private fun progressionAxis(points: List<DoubleArray>, hipX: DoubleArray, hipY: DoubleArray, ok: BooleanArray,
                                size: DoubleArray): Pair<DoubleArray?, String> {
        val idx = (0 until ok.size).filter { ok[it] }
        val m = idx.size
        val sx = DoubleArray(m) { (points[idx[it]][2 * L_ANKLE] - points[idx[it]][2 * R_ANKLE]) / size[idx[it]] }
        val sy = DoubleArray(m) { (points[idx[it]][2 * L_ANKLE + 1] - points[idx[it]][2 * R_ANKLE + 1]) / size[idx[it]] }
        val mx = Describe.mean(sx)
        val my = Describe.mean(sy)
        var a = 0.0
        var b = 0.0
        var c = 0.0
        for (i in 0 until m) {
            val x = sx[i] - mx
            val y = sy[i] - my
            a += x * x
            b += x * y
            c += y * y
        }
        // largest eigenvalue / eigenvector of [[a, b], [b, c]] (numpy's eigh; the sign is fixed below)
        val half = 0.5 * (a - c)
        val lam = 0.5 * (a + c) + sqrt(half * half + b * b)
        if (lam <= 0) return Pair(null, "unknown")
        var ax: Double
        var ay: Double
        if (b == 0.0) {
            if (a >= c) { ax = 1.0; ay = 0.0 } else { ax = 0.0; ay = 1.0 }
        } else {
            val v1x = lam - c
            val v1y = b
            val v2x = b
            val v2y = lam - a
            if (v1x * v1x + v1y * v1y >= v2x * v2x + v2y * v2y) { ax = v1x; ay = v1y } else { ax = v2x; ay = v2y }
            val norm = sqrt(ax * ax + ay * ay)
            ax /= norm
            ay /= norm
        }
        val sizes = DoubleArray(m) { size[idx[it]] }
        if (Math.abs(ax) >= Math.abs(ay)) {
            val first = idx[0]
            val last = idx[m - 1]
            val travel = ((hipX[last] - hipX[first]) * ax + (hipY[last] - hipY[first]) * ay) / Describe.median(sizes)
            var sign: Double
            if (Math.abs(travel) > 0.1) {
                sign = Math.signum(travel)
            } else { // walking on the spot (treadmill): the nose points forward
                val face = ArrayList<Double>()
                for (t in idx) {
                    val f = points[t][2 * NOSE] - 0.5 * (points[t][2 * L_EAR] + points[t][2 * R_EAR])
                    if (!f.isNaN()) face.add(f)
                }
                sign = if (face.isNotEmpty()) Math.signum(Describe.median(face.toDoubleArray()) * ax) else 1.0
            }
            if (sign == 0.0) sign = 1.0
            return Pair(doubleArrayOf(ax * sign, ay * sign), "side")
        }
        val h = m / 2
        val growing = if (h > 0) Describe.median(sizes.copyOfRange(h, m)) >= Describe.median(sizes.copyOfRange(0, h)) else true
        val down = -Math.signum(ay)
        val s = if (growing) down else -down
        return Pair(doubleArrayOf(ax * s, ay * s), "frontal")
    }
}
