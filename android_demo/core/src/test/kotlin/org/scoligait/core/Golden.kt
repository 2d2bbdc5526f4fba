package org.scoligait.core

import java.io.File

/**
 * The golden fixtures written by `android_demo/tools/make_golden.py` (Python, the reference).
 * Found on the test classpath under `golden/` (Gradle's test resources; the plain script puts
 * `src/test/resources` on the classpath) or in the folder named by `-Dscoligait.golden`.
 */
object Golden {
    const val TOL = 1e-4

    fun bytes(name: String): ByteArray {
        val dir = System.getProperty("scoligait.golden")
        if (dir != null) return File(dir, name).readBytes()
        val s = Golden::class.java.getResourceAsStream("/golden/$name")
            ?: throw IllegalStateException("golden fixture $name not found on the classpath; regenerate with " +
                "`.venv/bin/python android_demo/tools/make_golden.py`")
        return s.use { it.readBytes() }
    }

    fun text(name: String): String = String(bytes(name), Charsets.UTF_8)

    fun npy(name: String): NpyArray = NpyArray.parse(bytes(name), name)

    val index: Map<String, Any?> by lazy { Json.obj(Json.parse(text("index.json")), "index.json") }

    fun section(name: String): Map<String, Any?> = Json.obj(index[name], name)

    val mapCases: List<Map<String, Any?>> by lazy { Json.arr(index["map_cases"], "map_cases").map { Json.obj(it, "case") } }

    /** The repository root (for the bundled text table): `-Dscoligait.repoRoot`, else found above the working dir. */
    fun repoRoot(): File {
        System.getProperty("scoligait.repoRoot")?.let { return File(it) }
        var d: File? = File("").absoluteFile
        while (d != null) {
            if (File(d, "scoligait_edge/assets/text").isDirectory) return d
            d = d.parentFile
        }
        throw IllegalStateException("repository root not found; pass -Dscoligait.repoRoot=<repo>")
    }

    /** Keypoint frames `[T][J * 3]` of a stored `[T, J, 3]` array. */
    fun frames(a: NpyArray): List<DoubleArray> {
        val d = a.doubles()
        val per = a.shape[1] * a.shape[2]
        return List(a.shape[0]) { d.copyOfRange(it * per, (it + 1) * per) }
    }

    /** The real video's stored landmarks as [PoseLandmarks] (null where no subject was tracked). */
    fun realLandmarks(): List<PoseLandmarks?> {
        val s = section("skeleton_real")
        val lm = npy(Json.str(s["landmarks"]))
        val has = npy(Json.str(s["has_subject"])).booleans()
        val f = lm.floats()
        val t = lm.shape[0]
        return List(t) { i ->
            if (!has[i]) null else {
                val base = i * 33 * 4
                PoseLandmarks(
                    FloatArray(33) { f[base + 4 * it] }, FloatArray(33) { f[base + 4 * it + 1] },
                    FloatArray(33) { f[base + 4 * it + 2] }, FloatArray(33) { f[base + 4 * it + 3] }
                )
            }
        }
    }

    fun imageSize(): IntArray {
        val s = Json.arr(section("skeleton_real")["image_size"])
        return intArrayOf(Json.int(s[0]), Json.int(s[1]))
    }

    /** (timestamps, COCO-21 frames) fed to the map chain for a case; the real video goes through [Skeleton]. */
    fun caseInput(case: Map<String, Any?>): Pair<DoubleArray, List<DoubleArray>> {
        if (Json.bool(case["from_landmarks"])) {
            val s = section("skeleton_real")
            val ts = npy(Json.str(s["timestamps_ms"])).doubles()
            val size = imageSize()
            return Pair(ts, realLandmarks().map { Skeleton.subjectKeypoints(it, size[0], size[1]) })
        }
        return Pair(npy(Json.str(case["timestamps_ms"])).doubles(), frames(npy(Json.str(case["keypoints"]))))
    }
}

/** Max |a - b| over entries where both are finite; throws if the NaN patterns differ. */
fun maxAbsDiffNaNAware(a: DoubleArray, b: DoubleArray, what: String): Double {
    if (a.size != b.size) throw AssertionError("$what: ${a.size} values vs ${b.size} expected")
    var m = 0.0
    for (i in a.indices) {
        val an = a[i].isNaN()
        val bn = b[i].isNaN()
        if (an != bn) throw AssertionError("$what: NaN pattern differs at flat index $i (got ${a[i]}, expected ${b[i]})")
        if (!an) m = Math.max(m, Math.abs(a[i] - b[i]))
    }
    return m
}

/** Parity figures, printed as `PARITY <fixture> <quantity> max_abs=<x>` and summarised by run_jvm_tests.sh. */
object Parity {
    fun report(fixture: String, quantity: String, maxAbs: Double) {
        println("PARITY $fixture $quantity max_abs=${"%.3e".format(maxAbs)}")
    }
}
