package org.scoligait.core

/** A bundle the app cannot use: another knowledge-map schema, a damaged file, a missing format. */
class BundleException(message: String) : IllegalStateException(message)

/** One graph input or output: name, shape (an Int, or a String for a dynamic axis) and dtype. */
class TensorSpec(@JvmField val name: String, @JvmField val shape: List<Any>, @JvmField val dtype: String) {
    override fun toString(): String = "$name ${shape.joinToString(", ", "[", "]")} $dtype"
}

/**
 * `manifest.json` of a model bundle (`scoligait_edge/export/bundle.py`): what the app needs to
 * run the model and to refuse one built for another knowledge-map schema.
 */
class BundleManifest(
    @JvmField val bundleSchemaVersion: Int,
    @JvmField val featureSchemaVersion: String,
    @JvmField val featureSchemaHash: String,
    @JvmField val modalities: String,
    @JvmField val inputs: List<TensorSpec>,
    @JvmField val outputs: List<TensorSpec>,
    @JvmField val windowFrames: Int,
    @JvmField val windowFps: Double,
    @JvmField val threshold: Double,
    @JvmField val thresholdSource: String,
    @JvmField val labels: List<String>,
    @JvmField val formats: Map<String, String>,
    @JvmField val files: Map<String, Pair<String, Long>>,
    @JvmField val sentenceTable: String?,
    @JvmField val referenceStatistics: String?,
    @JvmField val provenance: Map<String, Any?>,
    /** `input_reference.json` (the out-of-distribution check, [InputReference]); null in bundles exported without it. */
    @JvmField val inputReference: String? = null
) {
    /** True when the model was trained on simulated data (the demo model is). */
    val isSimulated: Boolean get() = (provenance["data"] as? String ?: "").trim().startsWith("sim")

    /** The provenance's notice, e.g. "trained on simulated gait; not clinically validated". */
    val provenanceNotice: String? get() = provenance["notice"] as? String

    fun input(name: String): TensorSpec? = inputs.firstOrNull { it.name == name }
    fun output(name: String): TensorSpec? = outputs.firstOrNull { it.name == name }

    /** Throws [BundleException] unless the model reads the knowledge-map schema this core computes. */
    fun checkFeatureSchema() {
        if (featureSchemaHash != Schema.HASH) {
            throw BundleException(
                "the model was built for knowledge-map schema $featureSchemaVersion (hash ${featureSchemaHash.take(12)}), " +
                    "but this app computes schema ${Schema.VERSION} (hash ${Schema.HASH.take(12)}); its inputs would be " +
                    "misread. Export the model with the Python package version this app was generated from"
            )
        }
        if (windowFps != GeneratedSchema.MAP_FPS) {
            throw BundleException("the model expects windows at $windowFps fps; this app builds the map at ${GeneratedSchema.MAP_FPS}")
        }
    }

    /** Throws [BundleException] unless [bytes] are the listed file [name] (size and sha256). */
    fun verifyFile(name: String, bytes: ByteArray) {
        val e = files[name] ?: throw BundleException("$name is not listed in manifest.json")
        if (bytes.size.toLong() != e.second) {
            throw BundleException("$name is ${bytes.size} bytes, manifest says ${e.second}; the bundle is damaged or was modified")
        }
        val sha = Schema.sha256Hex(bytes)
        if (sha != e.first) throw BundleException("$name does not match its sha256 in manifest.json (${sha.take(12)}... != ${e.first.take(12)}...)")
    }

    /** The file of one format (`ort`, `onnx`, ...). */
    fun formatFile(fmt: String): String =
        formats[fmt] ?: throw BundleException("the bundle has no '$fmt' model (it has: ${formats.keys.sorted().joinToString()}); " +
            "export it with `python -m scoligait_edge.export --bundle <bundle> --formats $fmt`")

    companion object {
        const val FORMAT = "scoligait-bundle"
        const val SUPPORTED_SCHEMA_VERSION = 1

        @JvmStatic
        fun parse(json: String): BundleManifest {
            val o = Json.obj(Json.parse(json), "manifest.json")
            if (o["format"] != FORMAT) throw BundleException("manifest.json is not a $FORMAT manifest")
            val version = Json.int(o["bundle_schema_version"], "bundle_schema_version")
            if (version != SUPPORTED_SCHEMA_VERSION) {
                throw BundleException("bundle schema version $version, this app reads version $SUPPORTED_SCHEMA_VERSION")
            }
            val fs = Json.obj(o["feature_schema"], "feature_schema")
            val model = Json.obj(o["model"], "model")
            val window = Json.obj(o["window"], "window")
            val thr = Json.obj(o["threshold"], "threshold")
            val text = o["text"]?.let { Json.obj(it, "text") }
            val files = LinkedHashMap<String, Pair<String, Long>>()
            for ((k, v) in Json.obj(o["files"] ?: emptyMap<String, Any?>(), "files")) {
                val e = Json.obj(v, "files.$k")
                files[k] = Pair(Json.str(e["sha256"], "sha256"), Json.num(e["size"], "size").toLong())
            }
            val formats = LinkedHashMap<String, String>()
            for ((k, v) in Json.obj(o["formats"] ?: emptyMap<String, Any?>(), "formats")) formats[k] = Json.str(v, "formats.$k")
            return BundleManifest(
                version, Json.str(fs["version"], "feature_schema.version"), Json.str(fs["hash"], "feature_schema.hash"),
                (model["modalities"] as? String) ?: "km+video+text",
                specs(o["inputs"], "inputs"), specs(o["outputs"], "outputs"),
                Json.int(window["frames"], "window.frames"), Json.num(window["fps"], "window.fps"),
                Json.num(thr["value"], "threshold.value"), Json.str(thr["source"], "threshold.source"),
                Json.arr(o["labels"] ?: listOf("no_referral", "refer"), "labels").map { Json.str(it, "label") },
                formats, files,
                text?.let { Json.strOrNull(it["sentence_table"], "text.sentence_table") },
                text?.let { Json.strOrNull(it["reference_statistics"], "text.reference_statistics") },
                Json.obj(o["provenance"], "provenance"),
                Json.strOrNull(o["input_reference"], "input_reference")
            )
        }

        private fun specs(v: Any?, what: String): List<TensorSpec> = Json.arr(v, what).map { x ->
            val s = Json.obj(x, what)
            val shape = Json.arr(s["shape"], "$what.shape").map { d -> if (d is String) d else Json.int(d, "dim") as Any }
            TensorSpec(Json.str(s["name"], "$what.name"), shape, Json.str(s["dtype"], "$what.dtype"))
        }
    }
}
