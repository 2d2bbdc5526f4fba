package org.scoligait.core

import java.math.BigDecimal
import java.math.RoundingMode
import kotlin.math.sqrt

/** The walking gate's measurements and verdict for one window (port of `WalkingVerdict`); [reason] when refused. */
class WalkingVerdict(
    @JvmField val walking: Boolean,
    @JvmField val motion: String,
    @JvmField val stride: Double,
    @JvmField val periodicity: Double,
    @JvmField val cadenceSpm: Double?,
    @JvmField val bounce: Double,
    @JvmField val flight: Double = 0.0,
    @JvmField val heel: Double = 0.0,
    @JvmField val support: Double = 0.0,
    @JvmField val runScore: Double = 0.0,
    @JvmField val upright: Double = 1.0,
    @JvmField val jitter: Double = 0.0,
    @JvmField val sideOn: Boolean = true,
    @JvmField val upsideDown: Boolean = false,
    @JvmField val reason: String? = null
)

/**
 * The walking gate (port of `scoligait_edge/kinematics/walking.py` `assess_walking`): is this window
 * someone walking, or standing, swaying, jumping, running, or keypoints of no body? Measured from the
 * 2-D skeleton, scaled by the subject's own leg length: the stride (how far the feet part), its rhythm
 * (autocorrelation at one stride, or of |separation| at one step when the pose model swaps the legs),
 * the cadence range, the hips' vault or spring (`bounce`), the running cues from the front (`runScore`:
 * heel recovery, support-leg compression, flight), and whether the keypoints are a body at all
 * (upright, segment lengths that do not jump). Broken frames are bridged before the motion is read; a
 * camera mounted upside down is read turned back. The thresholds are Python's; the golden vectors check
 * the measures and verdicts (`make golden`).
 */
object Walking {
    const val MIN_STRIDE = 0.12
    const val MIN_PERIODICITY = 0.55
    const val MIN_CADENCE = 40.0
    const val MAX_CADENCE = 230.0
    const val MAX_BOUNCE = 0.2
    const val STILL_FRACTION = 0.25
    const val MIN_STRIDE_S = 0.5
    const val MAX_STRIDE_S = 2.2
    const val MIN_UPRIGHT = 0.8
    const val MAX_JITTER = 0.12
    @JvmField val RUN_WEIGHTS = doubleArrayOf(0.36, 1.0, 0.58)
    const val MAX_RUN_SCORE = 0.5
    const val MAX_SEGMENT_JUMP = 0.3
    const val MAX_BROKEN = 1.0 - MIN_UPRIGHT
    const val MIN_RUN_HEEL = 0.5
    const val MIN_TRAVEL = 0.5

    private const val NOSE = 0
    private const val L_EAR = 3
    private const val R_EAR = 4
    private const val L_SHOULDER = 5
    private const val R_SHOULDER = 6
    private const val L_HIP = 11
    private const val R_HIP = 12
    private const val L_KNEE = 13
    private const val R_KNEE = 14
    private const val L_ANKLE = 15
    private const val R_ANKLE = 16
    private val LEVELS = arrayOf(intArrayOf(L_SHOULDER, R_SHOULDER), intArrayOf(L_HIP, R_HIP), intArrayOf(L_KNEE, R_KNEE),
        intArrayOf(L_ANKLE, R_ANKLE))
    private val BODY = intArrayOf(L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)
    private val HEAD = intArrayOf(NOSE, L_EAR, R_EAR)

    /** A skeleton `[T]` frames of x and y (y up), per joint. */
    private class Pose(@JvmField val x: Array<DoubleArray>, @JvmField val y: Array<DoubleArray>) {
        val size: Int get() = x.size
        fun negated() = Pose(Array(size) { t -> DoubleArray(x[t].size) { -x[t][it] } }, Array(size) { t -> DoubleArray(y[t].size) { -y[t][it] } })
    }

    /** `assess_walking` of frames `[T][J * 3]` (pixels, y down, score) at [fps]; gaps are filled first. */
    @JvmStatic
    @JvmOverloads
    fun assess(frames: List<DoubleArray>, fps: Double = 30.0, minScore: Double = Keypoints.MIN_SCORE): WalkingVerdict {
        require(Keypoints.isFinite(fps) && fps >= 1.0 && fps <= 1000.0) { "fps must be between 1 and 1000 frames per second, got $fps" }
        val minFrames = Math.rint(2 * MIN_STRIDE_S * fps).toInt()
        val kp = ArrayList<DoubleArray>(frames.size)
        if (frames.isNotEmpty()) {
            val filler = GapFiller(frames[0].size / 3, Keypoints.MAX_GAP_FRAMES, minScore)
            for (f in frames) kp.addAll(filler.push(f))
            kp.addAll(filler.flush())
        }
        val nj = if (kp.isEmpty()) 0 else kp[0].size / 3
        val keep = kp.filter { f -> BODY.all { Keypoints.isFinite(f[3 * it]) && Keypoints.isFinite(f[3 * it + 1]) } }
        if (nj == 0 || keep.size < minFrames) {
            return refused("no_body", "the body is not tracked long enough to see a stride", 0.0, 0.0, null, 0.0)
        }
        var p = Pose(Array(keep.size) { t -> DoubleArray(nj) { keep[t][3 * it] } }, Array(keep.size) { t -> DoubleArray(nj) { -keep[t][3 * it + 1] } })
        val upsideDown = upright(p) < MIN_UPRIGHT && upright(p.negated(), true) >= MIN_UPRIGHT
        if (upsideDown) p = p.negated()
        val m = p.size
        var hipX = mid(p.x, L_HIP, R_HIP)
        var hipY = mid(p.y, L_HIP, R_HIP)
        var leg = legLength(p)
        var size = Describe.median(leg)
        if (!(size > 0)) size = 1.0
        val upright = upright(p)
        val trunkLen = DoubleArray(m) { dist(0.5 * (p.x[it][L_SHOULDER] + p.x[it][R_SHOULDER]) - hipX[it], 0.5 * (p.y[it][L_SHOULDER] + p.y[it][R_SHOULDER]) - hipY[it]) }
        val jitter = Math.max(jitter(trunkLen), jitter(leg))
        val broken = broken(p)
        if (broken.count { it }.toDouble() / m <= MAX_BROKEN) {
            p = bridge(p, broken)
            hipX = mid(p.x, L_HIP, R_HIP)
            hipY = mid(p.y, L_HIP, R_HIP)
            leg = legLength(p)
        }
        val sepX = DoubleArray(m) { (p.x[it][L_ANKLE] - p.x[it][R_ANKLE]) / size }
        val sepY = DoubleArray(m) { (p.y[it][L_ANKLE] - p.y[it][R_ANKLE]) / size }
        val cx = sub(sepX, mean(sepX))
        val cy = sub(sepY, mean(sepY))
        val axis = principalAxis(dot(cx, cx), dot(cx, cy), dot(cy, cy))
        val width = Math.max(Math.rint(0.1 * fps).toInt(), 1)
        val s = smooth(detrend(DoubleArray(m) { cx[it] * axis[0] + cy[it] * axis[1] }), width)
        val stride = Events.percentile(s, 95.0) - Events.percentile(s, 5.0)
        var bestLag = 0
        var periodicity = 0.0
        val lagHi = Math.min(Math.rint(MAX_STRIDE_S * fps).toInt(), s.size - minFrames / 2)
        for (lag in Math.max(Math.rint(MIN_STRIDE_S * fps).toInt(), 2) until lagHi) {
            val r = autocorr(s, lag)
            if (r > periodicity) {
                bestLag = lag
                periodicity = r
            }
        }
        var cadence: Double? = if (bestLag != 0) 2 * 60.0 * fps / bestLag else null
        // alternation: half a stride later the other foot leads, so the separation's sign flips
        var lowest: Double? = null
        for (lag in Math.max(Math.rint(0.5 * MIN_STRIDE_S * fps).toInt(), 1) until Math.max(bestLag, 2)) {
            val r = autocorr(s, lag)
            if (lowest == null || r < lowest) lowest = r
        }
        val alternation = -(lowest ?: 0.0)
        if (alternation < periodicity) periodicity = alternation
        // the rhythm of |separation| at one step stands in when the pose model swaps the legs' labels
        var stepLag = 0
        var stepRhythm = 0.0
        val apartAbs = detrend(smooth(runningMedian(DoubleArray(m) { Math.abs(sepX[it] * axis[0] + sepY[it] * axis[1]) }, 2 * width + 1), width))
        for (lag in Math.max(Math.rint(0.5 * MIN_STRIDE_S * fps).toInt(), 2)..Math.rint(0.5 * MAX_STRIDE_S * fps).toInt()) {
            if (lag >= s.size - minFrames / 2) break
            val r = autocorr(apartAbs, lag)
            if (r > stepRhythm) {
                stepLag = lag
                stepRhythm = r
            }
        }
        if (stepLag != 0 && stepRhythm > periodicity) {
            periodicity = stepRhythm
            cadence = 60.0 * fps / stepLag
        }
        val sideOn = Math.abs(axis[0]) >= Math.abs(axis[1])
        val height = smooth(detrend(DoubleArray(m) { t ->
            val la = p.y[t][L_ANKLE]
            val ra = p.y[t][R_ANKLE]
            val ground = if (sideOn) Math.min(la, ra) else 0.5 * (la + ra)
            (hipY[t] - ground) / size
        }), width)
        val apart = smooth(detrend(DoubleArray(s.size) { Math.abs(s[it]) }), width)
        val bounce = corr(height, apart)
        val cues = runCues(p, hipX, hipY, travels(hipX, hipY, leg, size))
        val heel = cues[0]
        val support = cues[1]
        val flight = cues[2]
        val runScore = RUN_WEIGHTS[0] * heel + RUN_WEIGHTS[1] * support + RUN_WEIGHTS[2] * flight
        fun verdict(walking: Boolean, motion: String, reason: String?) = WalkingVerdict(walking, motion, stride, periodicity,
            cadence, bounce, flight, heel, support, runScore, upright, jitter, sideOn, upsideDown, reason?.let { "no walking: $it" })
        if (upright < MIN_UPRIGHT || jitter > MAX_JITTER) {
            return verdict(false, "no_body", "the keypoints are not consistent with a body (upright in ${pct(upright)} of the frames, " +
                "segment lengths jump ${pct(jitter)} from frame to frame)")
        }
        if (stride < MIN_STRIDE) {
            return verdict(false, "standing", "the feet stay together (stride ${f2(stride)} leg lengths, need ${f2(MIN_STRIDE)}): " +
                "standing still, swaying or jumping")
        }
        val c = cadence
        if (periodicity < MIN_PERIODICITY || c == null || !(MIN_CADENCE <= c && c <= MAX_CADENCE)) {
            val said = if (c == null) "none" else "${fixed(c, 0)} steps/min"
            return verdict(false, "irregular", "the legs do not move in a regular stride (rhythm ${f2(periodicity)}, cadence $said)")
        }
        if (sideOn && heel > MIN_RUN_HEEL && (bounce > MAX_BOUNCE || runScore > MAX_RUN_SCORE)) {
            return verdict(false, "running", "running (heel recovery ${f2(heel)} trunk lengths, the hips rise as the feet part: " +
                "${f2(bounce)}, run score ${f2(runScore)})")
        }
        if (!sideOn && runScore > MAX_RUN_SCORE) {
            return verdict(false, "running", "running (heel recovery ${f2(heel)} trunk lengths, support leg varies ${pct(support)}, " +
                "no foot planted in ${pct(flight)} of the frames)")
        }
        return verdict(true, "walking", null)
    }

    // ------------------------------------------------------------------ internals
    private fun refused(motion: String, reason: String, stride: Double, periodicity: Double, cadence: Double?, bounce: Double) =
        WalkingVerdict(false, motion, stride, periodicity, cadence, bounce, reason = "no walking: $reason")

    /** Python's `f"{x:.0%}"`. */
    private fun pct(x: Double): String = "${Math.rint(100 * x).toLong()}%"

    /** Python's `f"{x:.2f}"`: the exact binary value rounded half to even. */
    private fun f2(x: Double): String = fixed(x, 2)

    private fun fixed(x: Double, digits: Int): String {
        if (!Keypoints.isFinite(x)) return if (x.isNaN()) "nan" else if (x > 0) "inf" else "-inf"
        val s = BigDecimal(x).setScale(digits, RoundingMode.HALF_EVEN).toPlainString()
        return if (x < 0 && s.trimStart('-').all { it == '0' || it == '.' }) "-$s".replace("--", "-") else s
    }

    private fun dist(dx: Double, dy: Double) = sqrt(dx * dx + dy * dy)

    private fun mid(a: Array<DoubleArray>, i: Int, j: Int) = DoubleArray(a.size) { 0.5 * (a[it][i] + a[it][j]) }

    private fun legLength(p: Pose) = DoubleArray(p.size) { t ->
        0.5 * (dist(p.x[t][L_ANKLE] - p.x[t][L_HIP], p.y[t][L_ANKLE] - p.y[t][L_HIP]) +
            dist(p.x[t][R_ANKLE] - p.x[t][R_HIP], p.y[t][R_ANKLE] - p.y[t][R_HIP]))
    }

    private fun mean(x: DoubleArray): Double = Describe.mean(x)

    private fun sub(x: DoubleArray, c: Double) = DoubleArray(x.size) { x[it] - c }

    private fun dot(a: DoubleArray, b: DoubleArray): Double {
        var s = 0.0
        for (i in a.indices) s += a[i] * b[i]
        return s
    }

    /** Unit eigenvector of the larger eigenvalue of [[a, b], [b, c]] (numpy's `eigh(...)[1][:, -1]`, up to sign). */
    private fun principalAxis(a: Double, b: Double, c: Double): DoubleArray {
        if (b == 0.0) return if (a > c) doubleArrayOf(1.0, 0.0) else doubleArrayOf(0.0, 1.0)
        val half = 0.5 * (a - c)
        val lam = 0.5 * (a + c) + sqrt(half * half + b * b)
        val v1x = lam - c
        val v2y = lam - a
        val (ax, ay) = if (v1x * v1x + b * b >= b * b + v2y * v2y) Pair(v1x, b) else Pair(b, v2y)
        val norm = sqrt(ax * ax + ay * ay)
        return doubleArrayOf(ax / norm, ay / norm)
    }

    private fun centred(x: DoubleArray): DoubleArray = sub(x, mean(x))

    private fun autocorr(x: DoubleArray, lag: Int): Double {
        val n = x.size - lag
        return corr(x.copyOfRange(0, n), x.copyOfRange(lag, lag + n))
    }

    private fun corr(a0: DoubleArray, b0: DoubleArray): Double {
        val a = centred(a0)
        val b = centred(b0)
        val den = sqrt(dot(a, a) * dot(b, b))
        return if (den > 0) dot(a, b) / den else 0.0
    }

    /** `_detrend`: [x] less its least-squares line. */
    private fun detrend(x: DoubleArray): DoubleArray {
        val n = x.size
        val t = DoubleArray(n) { it - 0.5 * (n - 1) }
        val den = dot(t, t)
        val mu = mean(x)
        val slope = if (den > 0) dot(t, sub(x, mu)) / den else 0.0
        return DoubleArray(n) { x[it] - mu - slope * t[it] }
    }

    /** walking.py's `_smooth`: [Events.smooth], but a series shorter than the window is left as it is. */
    private fun smooth(x: DoubleArray, width: Int): DoubleArray = if (width <= 1 || x.size < width) x else Events.smooth(x, width)

    /** `_running_median`: the median of each [width]-frame window, the ends padded with the edge values. */
    private fun runningMedian(x: DoubleArray, width: Int): DoubleArray {
        val n = x.size
        val pad = width / 2
        val buf = DoubleArray(width)
        return DoubleArray(n + 2 * pad - width + 1) { i ->
            for (k in 0 until width) buf[k] = x[Math.min(Math.max(i + k - pad, 0), n - 1)]
            Describe.median(buf)
        }
    }

    private fun jitter(length: DoubleArray): Double {
        val size = Describe.median(length)
        if (!(size > 0)) return 1.0
        val ref = runningMedian(length, 9)
        return Describe.median(DoubleArray(length.size) { Math.abs(length[it] - ref[it]) }) / size
    }

    /** Per frame, the mean height of the nose and ears that are present (NaN when none is). */
    private fun headHeight(p: Pose) = DoubleArray(p.size) { t ->
        var total = 0.0
        var n = 0
        for (j in HEAD) {
            val v = p.y[t][j]
            if (Keypoints.isFinite(v)) {
                total += v
                n++
            }
        }
        if (n > 0) total / n else Double.NaN
    }

    private fun levels(p: Pose, head: Boolean): List<DoubleArray> {
        val out = ArrayList<DoubleArray>()
        if (head) out.add(headHeight(p))
        for (l in LEVELS) out.add(mid(p.y, l[0], l[1]))
        return out
    }

    /** Fraction of frames with shoulders above hips above knees above ankles (and the head above the shoulders with [head]). */
    private fun upright(p: Pose, head: Boolean = false): Double {
        val lv = levels(p, head)
        var k = 0
        for (t in 0 until p.size) {
            var above = true
            for (i in 0 until lv.size - 1) if (!(lv[i][t] > lv[i + 1][t])) above = false
            if (above) k++
        }
        return k.toDouble() / p.size
    }

    /** `_broken`: frames not upright, or whose trunk or a leg leaves its 9-frame running median by more than 30 %. */
    private fun broken(p: Pose): BooleanArray {
        val m = p.size
        val lv = levels(p, false)
        val bad = BooleanArray(m) { t -> (0 until lv.size - 1).any { !(lv[it][t] > lv[it + 1][t]) } }
        val hx = mid(p.x, L_HIP, R_HIP)
        val hy = mid(p.y, L_HIP, R_HIP)
        val segments = listOf(
            DoubleArray(m) { dist(0.5 * (p.x[it][L_SHOULDER] + p.x[it][R_SHOULDER]) - hx[it], 0.5 * (p.y[it][L_SHOULDER] + p.y[it][R_SHOULDER]) - hy[it]) },
            DoubleArray(m) { dist(p.x[it][L_ANKLE] - p.x[it][L_HIP], p.y[it][L_ANKLE] - p.y[it][L_HIP]) },
            DoubleArray(m) { dist(p.x[it][R_ANKLE] - p.x[it][R_HIP], p.y[it][R_ANKLE] - p.y[it][R_HIP]) }
        )
        for (length in segments) {
            val ref = runningMedian(length, 9)
            for (t in 0 until m) if (Math.abs(length[t] - ref[t]) > MAX_SEGMENT_JUMP * ref[t]) bad[t] = true
        }
        return bad
    }

    /** `_bridge`: the [bad] frames replaced by straight lines between the good frames around them (`np.interp`). */
    private fun bridge(p: Pose, bad: BooleanArray): Pose {
        val good = (0 until p.size).filter { !bad[it] }
        if (good.size == p.size || good.isEmpty()) return p
        val x = Array(p.size) { p.x[it].copyOf() }
        val y = Array(p.size) { p.y[it].copyOf() }
        for (t in 0 until p.size) {
            if (!bad[t]) continue
            // np.interp: the edge values outside the good frames, else the line between the good frames around t
            val hi = good.indexOfFirst { it > t }
            for (j in BODY) {
                if (hi == 0) {
                    x[t][j] = p.x[good[0]][j]
                    y[t][j] = p.y[good[0]][j]
                } else if (hi < 0) {
                    x[t][j] = p.x[good.last()][j]
                    y[t][j] = p.y[good.last()][j]
                } else {
                    val a = good[hi - 1]
                    val b = good[hi]
                    val sx = (p.x[b][j] - p.x[a][j]) / (b - a)
                    val sy = (p.y[b][j] - p.y[a][j]) / (b - a)
                    x[t][j] = sx * (t - a) + p.x[a][j]
                    y[t][j] = sy * (t - a) + p.y[a][j]
                }
            }
        }
        return Pose(x, y)
    }

    /** `_flight`: fraction of frames in which neither ankle stands still in the image (both feet in the air). */
    private fun flight(ax: Array<DoubleArray>, ay: Array<DoubleArray>, width: Int): Double {
        val m = ax[0].size
        val v = Array(2) { DoubleArray(m) }
        for (f in 0 until 2) {
            val px = smooth(ax[f], width)
            val py = smooth(ay[f], width)
            for (t in 1 until m - 1) v[f][t] = dist(px[t + 1] - px[t - 1], py[t + 1] - py[t - 1]) / 2
            v[f][0] = v[f][1]
            v[f][m - 1] = v[f][m - 2]
        }
        val all = DoubleArray(2 * m) { if (it % 2 == 0) v[0][it / 2] else v[1][it / 2] }
        val moving = Events.percentile(all, 90.0)
        if (!(moving > 0)) return 0.0
        var k = 0
        for (t in 0 until m) if (v[0][t] > STILL_FRACTION * moving && v[1][t] > STILL_FRACTION * moving) k++
        return k.toDouble() / m
    }

    /** `_run_cues`: heel recovery (trunk lengths), support-leg compression, flight fraction. */
    private fun runCues(p: Pose, hipX: DoubleArray, hipY: DoubleArray, travels: Boolean): DoubleArray {
        val m = p.size
        val trunk = smooth(DoubleArray(m) { dist(0.5 * (p.x[it][L_SHOULDER] + p.x[it][R_SHOULDER]) - hipX[it], 0.5 * (p.y[it][L_SHOULDER] + p.y[it][R_SHOULDER]) - hipY[it]) }, 15)
        if (!trunk.all { it > 0 }) return doubleArrayOf(0.0, 0.0, 0.0)
        val below = arrayOf(L_ANKLE, R_ANKLE).map { a -> DoubleArray(m) { (hipY[it] - p.y[it][a]) / trunk[it] } }
        val heel = below.map { Events.percentile(it, 95.0) - Events.percentile(it, 5.0) }.max()!!
        val b0 = smooth(below[0], 3)
        val b1 = smooth(below[1], 3)
        val lower = DoubleArray(m) { Math.max(b0[it], b1[it]) }
        val mid = Describe.median(lower)
        val support = if (mid > 0) (Events.percentile(lower, 95.0) - Events.percentile(lower, 5.0)) / mid else 0.0
        var flight = 0.0
        if (travels) {
            val scale = Describe.median(trunk)
            val ax = arrayOf(L_ANKLE, R_ANKLE).map { a -> DoubleArray(m) { p.x[it][a] / scale } }.toTypedArray()
            val ay = arrayOf(L_ANKLE, R_ANKLE).map { a -> DoubleArray(m) { p.y[it][a] / scale } }.toTypedArray()
            flight = flight(ax, ay, 5)
        }
        return doubleArrayOf(heel, support, flight)
    }

    /** `_travels`: does the body move through the image (not a treadmill, not walking on the spot)? */
    private fun travels(hipX: DoubleArray, hipY: DoubleArray, leg: DoubleArray, size: Double): Boolean {
        val n = hipX.size
        val across = dist(hipX[n - 1] - hipX[0], hipY[n - 1] - hipY[0]) / size
        val q = Math.max(leg.size / 4, 1)
        val a = Describe.median(leg.copyOfRange(0, q))
        val b = Describe.median(leg.copyOfRange(leg.size - q, leg.size))
        val lo = Math.min(a, b)
        val grows = if (lo > 0) Math.abs(b - a) / lo else 0.0
        return across >= MIN_TRAVEL || grows >= MIN_TRAVEL / 2
    }
}
