package org.scoligait.core

/**
 * The out-of-distribution check, ported from `scoligait_edge/bundle/input_reference.py`: per map
 * column, the robust centre (median) and scale (1.4826 x MAD, floored) of the TRAINING windows'
 * column means. A column is *far* when the window's column mean lies more than [farZ] robust
 * standard deviations from the centre; the window is *flagged* (input unlike the training data)
 * when more than [flagFraction] of the scored columns are far. The bundle carries it as
 * `input_reference.json` (listed and hashed in the manifest, so covered by its signature).
 */
class InputReference(
    @JvmField val nWindows: Int,
    @JvmField val center: DoubleArray,
    @JvmField val scale: DoubleArray,
    @JvmField val farZ: Double,
    @JvmField val flagFraction: Double,
    @JvmField val source: String
) {
    /** A window's score: [fraction] of scored columns far from the training centre, [flagged] when above the bundle's share. */
    class Score(@JvmField val fraction: Double, @JvmField val flagged: Boolean)

    val nColumns: Int get() = center.size

    init {
        require(center.size == scale.size) { "center has ${center.size} columns but scale has ${scale.size}" }
        require(center.all { !it.isNaN() && !it.isInfinite() } && scale.all { !it.isNaN() && !it.isInfinite() && it > 0 }) {
            "center and scale must be finite and every scale > 0"
        }
        require(farZ > 0 && flagFraction > 0 && flagFraction < 1) { "far_z must be > 0 and flag_fraction in (0, 1)" }
    }

    /**
     * Python `score_window(km, valid)` for one window (`values` row-major `[length, columns]`):
     * null when no row is valid or no column can be scored (Python's `(None, None)`).
     */
    fun scoreWindow(values: FloatArray, valid: BooleanArray): Score? {
        val length = valid.size
        require(values.size == length * nColumns) { "window has ${values.size / Math.max(length, 1)} columns, the input reference $nColumns" }
        var scored = 0
        var far = 0
        for (c in 0 until nColumns) {
            var sum = 0.0
            var count = 0
            for (t in 0 until length) {
                if (!valid[t]) continue
                val v = values[t * nColumns + c].toDouble()
                if (v.isNaN() || v.isInfinite()) continue
                sum += v
                count++
            }
            if (count == 0) continue
            val z = (sum / count - center[c]) / scale[c]
            if (z.isNaN() || z.isInfinite()) continue
            scored++
            if (Math.abs(z) > farZ) far++
        }
        if (scored == 0) return null
        val fraction = far.toDouble() / scored
        return Score(fraction, fraction > flagFraction)
    }

    fun scoreWindow(w: MapWindow): Score? = scoreWindow(w.values, w.valid)

    companion object {
        const val KIND = "scoligait-input-reference/1"
        const val STATISTIC = "window column mean over valid rows"

        @JvmStatic
        fun parse(json: String): InputReference {
            val o = Json.obj(Json.parse(json), "input reference")
            if (o["kind"] != KIND) throw IllegalArgumentException("not a $KIND file")
            if (o["statistic"] != STATISTIC) throw IllegalArgumentException("statistic '${o["statistic"]}', this app computes '$STATISTIC'")
            fun doubles(k: String) = Json.arr(o[k], k).map { Json.num(it, k) }.toDoubleArray()
            return InputReference(Json.int(o["n_windows"], "n_windows"), doubles("center"), doubles("scale"),
                Json.numOrNull(o["far_z"], "far_z") ?: 8.0, Json.numOrNull(o["flag_fraction"], "flag_fraction") ?: 0.06,
                Json.strOrNull(o["source"], "source") ?: "")
        }
    }
}
