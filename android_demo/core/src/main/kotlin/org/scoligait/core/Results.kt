package org.scoligait.core

/** One knowledge-map column the model leaned on, with its time span (port of `SalientFeature`). */
class SalientFeature(
    @JvmField val domain: String,
    @JvmField val rank: Int,
    @JvmField val featureIndex: Int,
    @JvmField val peakEvidence: Double,
    @JvmField val meanEvidence: Double,
    @JvmField val peakFrame: Int,
    @JvmField val frameStart: Int,
    @JvmField val frameStop: Int,
    @JvmField val tiedIndices: IntArray,
    @JvmField val fps: Double
) {
    val name: String get() = GeneratedSchema.FEATURE_NAMES[featureIndex]
    val meaning: String get() = GeneratedSchema.FEATURE_MEANINGS[featureIndex]
    val clinicalPrior: String? get() = GeneratedSchema.FEATURE_PRIORS[featureIndex]
    val startS: Double get() = frameStart / fps
    val stopS: Double get() = frameStop / fps

    /** One line for the screen: name, domain, seconds. */
    fun describe(): String = "$name [$domain]: $meaning; ${"%.2f".format(startS)}-${"%.2f".format(stopS)} s" +
        (if (tiedIndices.isNotEmpty()) " (+${tiedIndices.size} tied)" else "")
}

/**
 * Parsing the model's outputs (port of `evaluation/interpret.py:top_features` and the bundle's
 * threshold rule): probability, label, Cobb estimate and the evidence on the map.
 */
object Results {
    /**
     * The [perDomain] columns of each domain with the highest positive evidence, in domain order.
     * [attention] is `km_attention` of one window `[T * 238]`, [valid] its `km_mask` `[T]`.
     * A column's score is its peak positive evidence over valid frames (ties: integrated positive
     * evidence, then a clinical prior, then index); its span is the contiguous run of valid frames
     * around the peak where the evidence stays >= [spanFraction] x peak.
     */
    @JvmStatic
    @JvmOverloads
    fun topFeatures(attention: FloatArray, valid: BooleanArray, fps: Double = GeneratedSchema.MAP_FPS, perDomain: Int = 1,
                    windowStartFrame: Int = 0, spanFraction: Double = 0.5): List<SalientFeature> {
        val nf = GeneratedSchema.NUM_FEATURES
        val t = valid.size
        require(t > 0 && attention.size == t * nf) { "km_attention must be [T, $nf] for T = $t, got ${attention.size} values" }
        require(perDomain >= 1) { "perDomain must be >= 1" }
        require(spanFraction > 0.0 && spanFraction <= 1.0) { "spanFraction must be in (0, 1]" }
        for (v in attention) require(Keypoints.isFinite(v.toDouble())) { "km_attention contains NaN/inf" }
        val pos = DoubleArray(t * nf)
        for (i in 0 until t) if (valid[i]) for (c in 0 until nf) pos[i * nf + c] = Math.max(attention[i * nf + c].toDouble(), 0.0)
        val peak = DoubleArray(nf)
        val total = DoubleArray(nf)
        for (c in 0 until nf) {
            var p = Double.NEGATIVE_INFINITY
            var s = 0.0
            for (i in 0 until t) {
                val v = pos[i * nf + c]
                if (v > p) p = v
                s += v
            }
            peak[c] = p
            total[c] = s
        }
        val out = ArrayList<SalientFeature>()
        for (d in GeneratedSchema.DOMAINS.indices) {
            val r = Schema.domainRange(d)
            val cols = (r[0] until r[1]).toList()
            var best = Double.NEGATIVE_INFINITY
            for (c in cols) if (peak[c] > best) best = peak[c]
            if (best <= 0.0) continue
            val order = cols.sortedWith(Comparator { a, b ->
                var k = java.lang.Double.compare(-peak[a], -peak[b])
                if (k == 0) k = java.lang.Double.compare(-total[a], -total[b])
                if (k == 0) k = java.lang.Boolean.compare(GeneratedSchema.FEATURE_PRIORS[a] == null, GeneratedSchema.FEATURE_PRIORS[b] == null)
                if (k == 0) k = Integer.compare(a, b)
                k
            })
            val used = HashSet<Int>()
            var rank = 0
            for (c in order) {
                if (rank >= perDomain || peak[c] <= 0.0) break
                if (c in used) continue
                val tied = cols.filter { o -> o != c && o !in used && allClose(pos, o, c, t, nf) }
                used.add(c)
                used.addAll(tied)
                rank++
                out.add(salient(c, GeneratedSchema.DOMAINS[d], rank, pos, valid, tied.toIntArray(), fps, windowStartFrame, spanFraction))
            }
        }
        return out
    }

    /** `np.allclose(pos[:, a], pos[:, b], rtol=1e-6, atol=1e-12)`. */
    private fun allClose(pos: DoubleArray, a: Int, b: Int, t: Int, nf: Int): Boolean {
        for (i in 0 until t) {
            val x = pos[i * nf + a]
            val y = pos[i * nf + b]
            if (Math.abs(x - y) > 1e-12 + 1e-6 * Math.abs(y)) return false
        }
        return true
    }

    private fun salient(c: Int, domain: String, rank: Int, pos: DoubleArray, valid: BooleanArray, tied: IntArray,
                        fps: Double, offset: Int, spanFraction: Double): SalientFeature {
        val nf = GeneratedSchema.NUM_FEATURES
        val t = valid.size
        fun col(i: Int) = pos[i * nf + c]
        var tPeak = 0
        for (i in 1 until t) if (col(i) > col(tPeak)) tPeak = i
        val cut = spanFraction * col(tPeak)
        var lo = tPeak
        while (lo > 0 && valid[lo - 1] && col(lo - 1) >= cut) lo--
        var hi = tPeak + 1
        while (hi < t && valid[hi] && col(hi) >= cut) hi++
        var s = 0.0
        for (i in lo until hi) s += col(i)
        return SalientFeature(domain, rank, c, col(tPeak), s / (hi - lo), offset + tPeak, offset + lo, offset + hi, tied, fps)
    }

    @JvmStatic
    fun sigmoid(x: Double): Double = if (x >= 0) 1.0 / (1.0 + Math.exp(-x)) else Math.exp(x) / (1.0 + Math.exp(x))
}

/**
 * What the screen shows for one window: probability, the decision at the bundle's threshold
 * (`prob >= threshold` -> refer), the Cobb estimate and the top features.
 */
class ScreeningResult(
    @JvmField val windowStart: Int,
    @JvmField val prob: Double,
    @JvmField val logit: Double,
    @JvmField val cobbDeg: Double,
    @JvmField val threshold: Double,
    @JvmField val label: String,
    @JvmField val refer: Boolean,
    @JvmField val topFeatures: List<SalientFeature>
) {
    companion object {
        /**
         * From the model's outputs for ONE window (batch 1): `prob` (or `logit`), `cobb`,
         * optionally `km_attention` `[1 * T * 238]`. [labels] are the manifest's
         * (`no_referral`, `refer`).
         */
        @JvmStatic
        @JvmOverloads
        fun fromOutputs(outputs: Map<String, FloatArray>, window: MapWindow, threshold: Double,
                        labels: List<String> = listOf("no_referral", "refer"), perDomain: Int = 1): ScreeningResult {
            val logit = outputs["logit"]?.get(0)?.toDouble() ?: Double.NaN
            val prob = outputs["prob"]?.get(0)?.toDouble()
                ?: if (!logit.isNaN()) Results.sigmoid(logit) else throw BundleException("the model returned neither prob nor logit")
            require(prob >= 0.0 && prob <= 1.0) { "prob $prob is not a probability" }
            val cobb = outputs["cobb"]?.get(0)?.toDouble() ?: Double.NaN
            val att = outputs["km_attention"]
            val top = if (att != null && att.size == window.values.size) {
                Results.topFeatures(att, window.valid, GeneratedSchema.MAP_FPS, perDomain, window.start)
            } else emptyList()
            val refer = prob >= threshold
            return ScreeningResult(window.start, prob, logit, cobb, threshold, labels[if (refer) 1 else 0], refer, top)
        }
    }
}
