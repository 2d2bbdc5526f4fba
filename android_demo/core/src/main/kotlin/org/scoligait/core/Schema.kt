package org.scoligait.core

import java.security.MessageDigest

/** The knowledge-map schema this core computes, and its fingerprint. */
object Schema {
    const val VERSION = GeneratedSchema.VERSION
    const val NUM_FEATURES = GeneratedSchema.NUM_FEATURES

    /**
     * sha256 over the schema and the parameters that change its numbers, recomputed here from the
     * generated tables exactly as `scoligait_edge.kinematics.schema.schema_hash()` does in Python.
     */
    @JvmStatic
    fun computeHash(): String {
        val features = ArrayList<Any?>()
        for (i in 0 until GeneratedSchema.NUM_FEATURES) {
            val f = LinkedHashMap<String, Any?>()
            f["index"] = i
            f["name"] = GeneratedSchema.FEATURE_NAMES[i]
            f["domain"] = GeneratedSchema.FEATURE_DOMAINS[i]
            f["unit"] = GeneratedSchema.FEATURE_UNITS[i]
            f["meaning"] = GeneratedSchema.FEATURE_MEANINGS[i]
            f["clinical_prior"] = GeneratedSchema.FEATURE_PRIORS[i]
            features.add(f)
        }
        val payload = LinkedHashMap<String, Any?>()
        payload["version"] = GeneratedSchema.VERSION
        payload["fps"] = GeneratedSchema.MAP_FPS
        payload["cross_window"] = GeneratedSchema.CROSS_WINDOW
        payload["size_window"] = GeneratedSchema.SIZE_WINDOW
        payload["max_lag"] = GeneratedSchema.MAX_LAG
        payload["min_cross_frames"] = GeneratedSchema.MIN_CROSS_FRAMES
        payload["min_lag_pairs"] = GeneratedSchema.MIN_LAG_PAIRS
        payload["min_peak"] = GeneratedSchema.MIN_PEAK
        payload["velocity_step"] = GeneratedSchema.VELOCITY_STEP
        payload["features"] = features
        return sha256Hex(Json.dumpsPython(payload).toByteArray(Charsets.UTF_8))
    }

    /** The schema hash this build computes (checked once against the generated Python hash). */
    @JvmStatic
    val HASH: String by lazy {
        val h = computeHash()
        check(h == GeneratedSchema.PYTHON_SCHEMA_HASH) {
            "the generated schema tables are inconsistent: recomputed hash $h, Python wrote ${GeneratedSchema.PYTHON_SCHEMA_HASH}"
        }
        h
    }

    /** Column index of a feature name, -1 if unknown. */
    @JvmStatic
    fun indexOf(name: String): Int = GeneratedSchema.FEATURE_NAMES.indexOf(name)

    /** The domain of a column range: (start, stop) per domain in map order. */
    @JvmStatic
    fun domainRange(domain: Int): IntArray {
        var start = 0
        for (d in 0 until domain) start += GeneratedSchema.DOMAIN_SIZES[d]
        return intArrayOf(start, start + GeneratedSchema.DOMAIN_SIZES[domain])
    }

    @JvmStatic
    fun sha256Hex(bytes: ByteArray): String {
        val d = MessageDigest.getInstance("SHA-256").digest(bytes)
        val hex = "0123456789abcdef"
        val sb = StringBuilder(64)
        for (b in d) {
            val v = b.toInt() and 0xff
            sb.append(hex[v shr 4]).append(hex[v and 15])
        }
        return sb.toString()
    }
}
