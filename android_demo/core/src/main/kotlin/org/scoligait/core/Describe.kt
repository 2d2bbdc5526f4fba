package org.scoligait.core

/** One text feature's statistics in one view stratum (the fields `describe_window` uses). */
class FeatureReference(
    @JvmField val median: Double,
    @JvmField val scale: Double,
    @JvmField val magnitudeEffectSize: Double?
) {
    fun z(value: Double): Double = (value - median) / scale
}

class ReferenceMismatchException(message: String) : IllegalStateException(message)

/**
 * Reference statistics of the text features, fitted on training windows by the Python side
 * (`scoligait_edge/text/reference.py`, shipped in the bundle as JSON). Only what the
 * description needs is read.
 */
class ReferenceStats(
    @JvmField val kmapSchemaHash: String,
    @JvmField val textFeaturesHash: String,
    @JvmField val strata: Map<String, Map<String, FeatureReference>>
) {
    /** The view's statistics if fitted, else the pooled ones, else null. */
    fun referenceFor(feature: String, view: String?): FeatureReference? {
        if (view != null) {
            val s = strata[view]
            if (s != null && s.containsKey(feature)) return s[feature]
        }
        return strata[POOLED]?.get(feature)
    }

    /** Throws [ReferenceMismatchException] unless fitted for this knowledge map and text schema. */
    fun checkCompatible() {
        if (kmapSchemaHash != GeneratedSchema.PYTHON_SCHEMA_HASH) {
            throw ReferenceMismatchException("reference statistics were fitted on knowledge-map schema ${kmapSchemaHash.take(12)}, " +
                "this build computes ${GeneratedSchema.PYTHON_SCHEMA_HASH.take(12)}: refit them")
        }
        if (textFeaturesHash != GeneratedText.TEXT_FEATURES_HASH) {
            throw ReferenceMismatchException("reference statistics were fitted for text features ${textFeaturesHash.take(12)}, " +
                "this build has ${GeneratedText.TEXT_FEATURES_HASH.take(12)}: refit them")
        }
    }

    companion object {
        const val POOLED = "all"

        @JvmStatic
        fun parse(json: String): ReferenceStats {
            val o = Json.obj(Json.parse(json), "reference statistics")
            val strata = LinkedHashMap<String, Map<String, FeatureReference>>()
            for ((name, s) in Json.obj(o["strata"], "strata")) {
                val m = LinkedHashMap<String, FeatureReference>()
                for ((fid, r) in Json.obj(s, "stratum $name")) {
                    val f = Json.obj(r, "$name.$fid")
                    m[fid] = FeatureReference(
                        Json.num(f["median"], "median"), Json.num(f["scale"], "scale"),
                        Json.numOrNull(f["magnitude_effect_size"], "magnitude_effect_size")
                    )
                }
                strata[name] = m
            }
            return ReferenceStats(Json.str(o["kmap_schema_hash"], "kmap_schema_hash"),
                Json.str(o["text_features_hash"], "text_features_hash"), strata)
        }
    }
}

/** One text feature of one window compared with the reference (see `scoligait_edge/text/describe.py`). */
class Finding(
    @JvmField val feature: String,
    @JvmField val value: Double,
    @JvmField val z: Double,
    @JvmField val severity: String,
    @JvmField val sign: Int,
    @JvmField val sentenceId: Int,
    @JvmField val score: Double
)

/** The sentences chosen for one window, and the evidence behind them. */
class WindowDescription(
    @JvmField val view: String?,
    @JvmField val sentenceIds: IntArray,
    @JvmField val values: DoubleArray,
    @JvmField val zScores: DoubleArray,
    @JvmField val findings: List<Finding>
) {
    val texts: List<String> get() = sentenceIds.map { GeneratedText.SENTENCES[it].text }
    val text: String get() = texts.joinToString("; ")
}

/**
 * Per-window clinical description: which sentences of the finite set a window gets (port of
 * `text/features.py` and `text/describe.py`). No label is taken, the result is deterministic,
 * and the ids index the stored embedding table.
 */
object Describe {
    private val FRONTAL = setOf("toward", "away")

    /** [km] `[T * 238]` float32 rows, [valid] `[T]` -> per text feature value (NaN = not observable) and the view. */
    @JvmStatic
    fun textFeatureValues(km: FloatArray, valid: BooleanArray): Pair<DoubleArray, String?> {
        val nf = GeneratedSchema.NUM_FEATURES
        val t = valid.size
        require(km.size == t * nf) { "knowledge-map window must be [T, $nf], got ${km.size} values for T = $t" }
        val feats = GeneratedText.FEATURES
        val values = DoubleArray(feats.size) { Double.NaN }
        val rowIdx = ArrayList<Int>()
        for (i in 0 until t) {
            if (!valid[i]) continue
            var finite = true
            for (c in 0 until nf) if (!Keypoints.isFinite(km[i * nf + c].toDouble())) { finite = false; break }
            if (finite) rowIdx.add(i)
        }
        if (rowIdx.size < GeneratedText.MIN_VALID_ROWS) return Pair(values, null)
        fun v(r: Int, c: Int): Double = km[r * nf + c].toDouble()
        // `lateral_width`: subject-left-minus-right x over shoulders and hips (positive: the subject's left is at image right)
        val width = median(DoubleArray(rowIdx.size) {
            var acc = 0.0
            for (j in GeneratedText.WIDTH_COLS.indices) acc += v(rowIdx[it], GeneratedText.WIDTH_COLS[j]) * GeneratedText.WIDTH_WEIGHTS[j]
            acc
        })
        val view = if (Math.abs(width) >= GeneratedText.FRONTAL_MIN_WIDTH) {
            if (width > 0) "toward" else "away"
        } else {
            val k0 = GeneratedText.KNEE_COLS[0]
            val k1 = GeneratedText.KNEE_COLS[1]
            val knee = median(DoubleArray(rowIdx.size) { v(rowIdx[it], k0) + v(rowIdx[it], k1) })
            if (knee < 0) "side_right" else "side_left"
        }
        val leftSign = if (width > 0) 1.0 else -1.0
        for ((k, f) in feats.withIndex()) {
            if (f.frontalOnly && view !in FRONTAL) continue
            val rows = rowIdx.filter { r -> f.presence.all { c -> v(r, c) != 0.0 } }
            if (rows.size < GeneratedText.MIN_VALID_ROWS) continue
            val signal = DoubleArray(rows.size)
            for ((i, r) in rows.withIndex()) {
                var acc = 0.0
                for (j in f.columns.indices) {
                    val x = v(r, f.columns[j])
                    acc += (if (f.magnitude[j]) Math.abs(x) else x) * f.coefs[j]
                }
                signal[i] = acc
            }
            val value = if (f.statisticStd) std(signal) else mean(signal)
            values[k] = if (f.mirror) leftSign * value else value
        }
        return Pair(values, view)
    }

    /**
     * `describe_window`: findings (|z| >= the "mild" threshold, in a direction that has sentences)
     * first, best score first; with [fillTypical] the remaining slots get "typical" sentences of
     * the observable features with the largest training effect size. A window with no observable
     * feature gets the "not assessable" sentence.
     */
    @JvmStatic
    @JvmOverloads
    fun describeWindow(km: FloatArray, valid: BooleanArray, ref: ReferenceStats, maxSentences: Int = 4,
                       fillTypical: Boolean = true): WindowDescription {
        require(maxSentences >= 1) { "maxSentences must be >= 1, got $maxSentences" }
        ref.checkCompatible()
        val (values, view) = textFeatureValues(km, valid)
        val feats = GeneratedText.FEATURES
        val z = DoubleArray(feats.size) { Double.NaN }
        val found = ArrayList<Pair<Int, Finding>>()
        val typical = ArrayList<Pair<Int, Finding>>()
        for ((k, f) in feats.withIndex()) {
            val v = values[k]
            val fr = if (Keypoints.isFinite(v)) ref.referenceFor(f.id, view) else null
            if (fr == null) continue
            val zk = fr.z(v)
            z[k] = zk
            val weight = 1.0 + clip(fr.magnitudeEffectSize ?: 0.0, 0.0, GeneratedText.MAX_EFFECT_WEIGHT)
            val sign = if (zk > 0) 1 else -1
            val sev = severity(Math.abs(zk))
            if (sev != "typical" && f.hasDirection(sign)) {
                found.add(Pair(k, Finding(f.id, v, zk, sev, sign, sentenceId(f.id, sign, sev), Math.abs(zk) * weight)))
            } else {
                typical.add(Pair(k, Finding(f.id, v, zk, "typical", 0, sentenceId(f.id, 0, "typical"), weight)))
            }
        }
        val order = Comparator<Pair<Int, Finding>> { a, b ->
            val c = java.lang.Double.compare(-a.second.score, -b.second.score)
            if (c != 0) c else Integer.compare(a.first, b.first)
        }
        found.sortWith(order)
        typical.sortWith(order)
        val ordered = found.map { it.second } + typical.map { it.second }
        val chosen = ArrayList<Finding>(found.map { it.second }.take(maxSentences))
        if (fillTypical || chosen.isEmpty()) chosen.addAll(typical.map { it.second }.take(maxSentences - chosen.size))
        val ids = if (chosen.isEmpty()) intArrayOf(GeneratedText.NOT_ASSESSABLE_ID) else chosen.map { it.sentenceId }.toIntArray()
        return WindowDescription(view, ids, values, z, ordered)
    }

    /** Id of [feature]'s sentence for a direction sign (+1/-1) and severity; "typical" ignores the sign. */
    @JvmStatic
    fun sentenceId(feature: String, sign: Int, severity: String): Int {
        val s = if (severity == "typical") 0 else sign
        for (x in GeneratedText.SENTENCES) {
            if (x.feature == feature && x.sign == s && x.severity == severity) return x.id
        }
        throw NoSuchElementException("no sentence for feature=$feature sign=$sign severity=$severity")
    }

    /**
     * `describe_batch` for one window as model input: ids `[S]` and mask `[S]`, padding slots hold
     * the "not assessable" id with mask false.
     */
    @JvmStatic
    fun paddedIds(d: WindowDescription, slots: Int): Pair<IntArray, BooleanArray> {
        val ids = IntArray(slots) { GeneratedText.NOT_ASSESSABLE_ID }
        val mask = BooleanArray(slots)
        for (i in 0 until Math.min(slots, d.sentenceIds.size)) {
            ids[i] = d.sentenceIds[i]
            mask[i] = true
        }
        return Pair(ids, mask)
    }

    private fun severity(absZ: Double): String {
        var out = "typical"
        for (i in GeneratedText.SEVERITIES.indices) if (absZ >= GeneratedText.SEVERITY_THRESHOLDS[i]) out = GeneratedText.SEVERITIES[i]
        return out
    }

    private fun clip(v: Double, lo: Double, hi: Double): Double = if (v < lo) lo else if (v > hi) hi else v

    @JvmStatic
    fun median(x: DoubleArray): Double {
        if (x.isEmpty()) return Double.NaN
        val s = x.copyOf()
        java.util.Arrays.sort(s)
        val n = s.size
        return if (n % 2 == 1) s[n / 2] else (s[n / 2 - 1] + s[n / 2]) / 2.0
    }

    @JvmStatic
    fun mean(x: DoubleArray): Double {
        var acc = 0.0
        for (v in x) acc += v
        return acc / x.size
    }

    /** Population standard deviation (numpy's default, ddof = 0). */
    @JvmStatic
    fun std(x: DoubleArray): Double {
        val m = mean(x)
        var acc = 0.0
        for (v in x) acc += (v - m) * (v - m)
        return Math.sqrt(acc / x.size)
    }
}
