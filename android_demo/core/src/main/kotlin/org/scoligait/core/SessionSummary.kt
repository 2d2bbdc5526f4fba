package org.scoligait.core

import java.util.Locale

/** A feature the model leaned on in a window (Python `FeatureHighlight`); [evidence] is its peak evidence. */
class FeatureEvidence(
    @JvmField val name: String,
    @JvmField val domain: String,
    @JvmField val meaning: String,
    @JvmField val clinicalPrior: String?,
    @JvmField val startS: Double,
    @JvmField val stopS: Double,
    @JvmField val evidence: Double
) {
    companion object {
        @JvmStatic
        fun of(f: SalientFeature) = FeatureEvidence(f.name, f.domain, f.meaning, f.clinicalPrior, f.startS, f.stopS, f.peakEvidence)
    }
}

/**
 * What one window contributed to the session: screened (with its probability), skipped (why) or
 * failed. [inputUnusual]: the window's input was unlike the training data ([InputReference];
 * null when not scored, e.g. the bundle has no input reference).
 */
class WindowOutcome private constructor(
    @JvmField val status: String,
    @JvmField val probability: Double?,
    @JvmField val qualityFlags: List<String>,
    @JvmField val topFeatures: List<FeatureEvidence>,
    @JvmField val error: String?,
    @JvmField val inputUnusual: Boolean? = null
) {
    /** The same outcome with the window's out-of-distribution flag. */
    fun withInputUnusual(flag: Boolean?): WindowOutcome = WindowOutcome(status, probability, qualityFlags, topFeatures, error, flag)

    companion object {
        const val SCREENED = "screened"
        const val SKIPPED = "skipped"
        const val FAILED = "error"

        @JvmStatic
        fun screened(probability: Double, topFeatures: List<FeatureEvidence>) = WindowOutcome(SCREENED, probability, emptyList(), topFeatures, null)

        @JvmStatic
        fun screened(r: ScreeningResult) = screened(r.prob, r.topFeatures.map { FeatureEvidence.of(it) })

        @JvmStatic
        fun skipped(flags: List<String>) = WindowOutcome(SKIPPED, null, flags, emptyList(), null)

        @JvmStatic
        fun failed(error: String) = WindowOutcome(FAILED, null, emptyList(), emptyList(), error)
    }
}

/** The session's result (Python `SessionSummary`, the fields the decision needs and the screen shows). */
class SessionSummary(
    @JvmField val decision: String?,
    @JvmField val reason: String?,
    @JvmField val probabilityMean: Double?,
    @JvmField val probabilitySd: Double?,
    @JvmField val probabilityMin: Double?,
    @JvmField val probabilityMax: Double?,
    @JvmField val threshold: Double,
    @JvmField val windowsTotal: Int,
    @JvmField val windowsScreened: Int,
    @JvmField val windowsSkipped: Int,
    @JvmField val windowsFailed: Int,
    @JvmField val qualityFlags: Map<String, Int>,
    @JvmField val topFeatures: List<FeatureEvidence>,
    @JvmField val framesProcessed: Int,
    @JvmField val framesWithSubject: Int,
    @JvmField val durationS: Double,
    /** Heel strikes counted once over the session (Python `steps`) and `max(left, right) - 1` ([gaitCycles]). */
    @JvmField val steps: Int = 0,
    @JvmField val gaitCycles: Int = 0,
    /** Screened windows whose input was unlike the training data; null when the bundle has no input reference. */
    @JvmField val windowsInputUnusual: Int? = null,
    /** Python's `notes`: "input unlike the training data: ..." when most screened windows were flagged. */
    @JvmField val notes: List<String> = emptyList()
) {
    val refer: Boolean get() = decision == "refer"

    /** The plain-words reasons windows were skipped, most frequent first (for the summary screen). */
    fun qualityReasons(): List<String> = qualityFlags.entries.sortedByDescending { it.value }
        .map { "${SessionStats.FLAG_WORDS[it.key] ?: it.key} in ${it.value} window(s)" }
}

/**
 * Running totals over a session's windows and the session decision, ported from Python
 * `SessionStats` + `Screener.summary()`: the mean probability of the SCREENED windows against the
 * bundle's threshold decides (`mean >= threshold` -> refer), so one window cannot flip it; no
 * screened window -> no decision, with the reason. Memory is constant: counters, and one entry
 * per distinct top feature (at most the 238 map columns).
 */
class SessionStats {
    var windowsTotal = 0
        private set
    var screened = 0
        private set
    private var probSum = 0.0
    private var probSq = 0.0
    private var probMin = Double.POSITIVE_INFINITY
    private var probMax = Double.NEGATIVE_INFINITY
    var skipped = 0
        private set
    var failed = 0
        private set
    private var lastError: String? = null
    private val flags = LinkedHashMap<String, Int>() // insertion order = Python Counter's tie order
    private val featureCounts = LinkedHashMap<String, Int>()
    private val featureInfo = HashMap<String, FeatureEvidence>() // evidence field holds the running sum
    /** Screened windows flagged as unlike the training data (Python `n_unusual`). */
    var unusual = 0
        private set
    /** Steps and gait cycles from the windows' heel strikes (Python `SessionHistory.add_heel_strikes`). */
    val steps = StepCounter()

    /** Distinct top features held (bounded by the number of map columns). */
    val featuresHeld: Int get() = featureCounts.size

    fun add(o: WindowOutcome) {
        windowsTotal++
        when (o.status) {
            WindowOutcome.SCREENED -> {
                val p = o.probability!!
                screened++
                if (o.inputUnusual == true) unusual++
                probSum += p
                probSq += p * p
                probMin = Math.min(probMin, p)
                probMax = Math.max(probMax, p)
                for (f in o.topFeatures) {
                    featureCounts[f.name] = (featureCounts[f.name] ?: 0) + 1
                    val old = featureInfo[f.name]
                    featureInfo[f.name] = if (old == null) f else FeatureEvidence(old.name, old.domain, old.meaning, old.clinicalPrior,
                        Math.min(old.startS, f.startS), Math.max(old.stopS, f.stopS), old.evidence + f.evidence)
                }
            }
            WindowOutcome.SKIPPED -> {
                skipped++
                for (f in o.qualityFlags) flags[f] = (flags[f] ?: 0) + 1
            }
            else -> {
                failed++
                lastError = o.error
            }
        }
    }

    /**
     * The summary: [frames] processed, [framesWithSubject] of them with a person, [durationS]
     * from the first to the last frame, [windowFrames] the window length (for the reason text).
     */
    @JvmOverloads
    fun summary(threshold: Double, frames: Int, framesWithSubject: Int, durationS: Double, windowFrames: Int,
                hasInputReference: Boolean = false): SessionSummary {
        val n = screened
        val mean: Double? = if (n > 0) probSum / n else null
        val sd: Double? = when {
            n > 1 -> Math.sqrt(Math.max(probSq - n * mean!! * mean, 0.0) / (n - 1))
            n == 1 -> 0.0
            else -> null
        }
        val decision = if (mean == null) null else if (mean >= threshold) "refer" else "no_referral"
        val reason = if (n > 0) null else noDecisionReason(frames, framesWithSubject, windowFrames)
        val top = mostCommon(featureCounts, 3).map { (name, count) ->
            val f = featureInfo.getValue(name)
            FeatureEvidence(f.name, f.domain, f.meaning, f.clinicalPrior, f.startS, f.stopS, f.evidence / count)
        }
        val notes = ArrayList<String>()
        if (n > 0 && hasInputReference && unusual * 2 > n) notes.add(unusualNote(unusual, n))
        return SessionSummary(decision, reason, mean, sd, if (n > 0) probMin else null, if (n > 0) probMax else null, threshold,
            windowsTotal, n, skipped, failed, LinkedHashMap(flags), top, frames, framesWithSubject, durationS,
            steps.steps, steps.gaitCycles, if (hasInputReference) unusual else null, notes)
    }

    /** Python `Screener._no_decision_reason`, word for word. */
    private fun noDecisionReason(frames: Int, framesWithSubject: Int, windowFrames: Int): String {
        if (frames == 0) return "no frames were processed"
        if (framesWithSubject == 0) return "no person was found in any frame"
        if (windowsTotal == 0) {
            return "the subject was not followed long enough for one ${String.format(Locale.ROOT, "%.1f", windowFrames / GeneratedSchema.MAP_FPS)} s window"
        }
        if (lastError != null && flags.isEmpty()) return "inference failed on every window ($lastError)"
        val top = mostCommon(flags, 3).joinToString(", ") { (k, v) -> "${FLAG_WORDS[k] ?: k} in $v window(s)" }
        return "no window passed the quality check: $top"
    }

    companion object {
        /** Python `Screener.summary()`'s note, word for word. */
        @JvmStatic
        fun unusualNote(unusual: Int, screened: Int): String =
            "input unlike the training data: $unusual of $screened screened windows lie far outside " +
                "the model's training statistics (camera view, orientation or subject unlike training); " +
                "treat the decision with caution"

        @JvmField val FLAG_WORDS = mapOf("not_walking" to "no walking", "body_not_fully_visible" to "body not fully visible",
            "too_few_gait_cycles" to "too few gait cycles")

        /** `Counter.most_common(k)`: count descending, ties in first-seen order (a stable sort). */
        private fun mostCommon(m: Map<String, Int>, k: Int): List<Pair<String, Int>> =
            m.entries.map { Pair(it.key, it.value) }.sortedByDescending { it.second }.take(k)
    }
}

/**
 * Steps over a session, ported from Python `SessionHistory.add_heel_strikes`: overlapping windows
 * see the same heel strike (give or take a frame), so a strike within 3 frames of one of the last
 * 8 counted on that side is counted once. Frames are session row indices (they keep growing
 * across stream segments). Memory is constant: 8 recent strikes per side.
 */
class StepCounter {
    private val recent = mapOf("left" to java.util.ArrayDeque<Int>(), "right" to java.util.ArrayDeque<Int>())
    private val counts = linkedMapOf("left" to 0, "right" to 0)

    val steps: Int get() = counts.getValue("left") + counts.getValue("right")

    val gaitCycles: Int get() = Math.max(Math.max(counts.getValue("left"), counts.getValue("right")) - 1, 0)

    fun count(side: String): Int = counts[side] ?: throw IllegalArgumentException("side must be left or right, got $side")

    /** One window's heel strikes on [side] (session row indices, any order). */
    fun add(side: String, frames: List<Int>) {
        val seen = recent[side] ?: throw IllegalArgumentException("side must be left or right, got $side")
        for (f in frames.sorted()) {
            if (seen.none { Math.abs(f - it) <= 3 }) {
                seen.addLast(f)
                while (seen.size > RECENT) seen.removeFirst()
                counts[side] = counts.getValue(side) + 1
            }
        }
    }

    companion object {
        /** Python checks the last 8 strikes counted on the side (`list(seen)[-8:]`). */
        const val RECENT = 8
    }
}
