package org.scoligait.core

import java.io.File

/** Where a bundle's files come from: a folder (JVM tests, desktop) or the Android app's assets. */
interface BundleFiles {
    /** The bytes of [name] (relative to the bundle root, `/`-separated), or null when it does not exist. */
    fun read(name: String): ByteArray?
}

/** A bundle folder on disk. */
class DirectoryBundleFiles(private val root: File) : BundleFiles {
    override fun read(name: String): ByteArray? {
        val f = File(root, name)
        return if (f.isFile) f.readBytes() else null
    }
}

/** A bundle read and checked by [BundleReader]: everything the app needs to screen. */
class LoadedBundle(
    @JvmField val manifest: BundleManifest,
    /** The model files in the bundle, preferred first (`.ort`, then `.onnx`), each checked against the manifest. */
    @JvmField val models: List<String>,
    @JvmField val table: SentenceEmbeddingTable?,
    @JvmField val reference: ReferenceStats?,
    @JvmField val signature: SignatureCheck,
    /** The out-of-distribution check (`input_reference.json`); null when the bundle has none. */
    @JvmField val inputReference: InputReference? = null,
    /** Model files the manifest lists that are not in the bundle (e.g. an APK built with only the `.onnx`). */
    @JvmField val missingModels: List<String> = emptyList(),
    private val files: BundleFiles? = null
) {
    /** The preferred model file (`model.ort` when the bundle has one). */
    val modelFile: String get() = models[0]

    /** A model file's bytes, checked again against its size and sha256 in the manifest. */
    fun readModel(name: String): ByteArray {
        require(name in models) { "$name is not one of this bundle's model files $models" }
        val f = files ?: throw BundleException("this bundle was built without its files: cannot read $name")
        val bytes = f.read(name) ?: throw BundleException("$name is listed in ${BundleReader.MANIFEST} but missing from the bundle")
        manifest.verifyFile(name, bytes)
        return bytes
    }

    /**
     * Open the model with [open] (the app: an ONNX Runtime session), trying the files in order:
     * when the runtime cannot read the `.ort` (an `.ort` written by a newer converter, a runtime
     * without ORT-format support), the `.onnx` is tried next. A file that fails its checksum is
     * never skipped over: the bundle is damaged, and that is reported. Throws [BundleException]
     * naming every file tried and why it failed.
     */
    fun <T> openModel(open: (String, ByteArray) -> T): OpenedModel<T> {
        val failed = ArrayList<String>()
        for (name in models) {
            val bytes = readModel(name)
            try {
                return OpenedModel(open(name, bytes), name, failed)
            } catch (e: Exception) {
                failed.add("$name: ${e.message ?: e.javaClass.simpleName}")
            }
        }
        throw BundleException("no model file of the bundle could be opened (${failed.joinToString("; ")})" +
            if (missingModels.isEmpty()) "" else "; not in the app: ${missingModels.joinToString()}")
    }
}

/** The model [openModel] opened, from [file]; [failed]: the files tried before it and why they failed. */
class OpenedModel<T>(@JvmField val model: T, @JvmField val file: String, @JvmField val failed: List<String>) {
    /** For the screen: which file runs, and why not the preferred one. */
    val note: String get() = if (failed.isEmpty()) "model: $file" else "model: $file (fallback; ${failed.joinToString("; ")})"
}

/**
 * The one bundle reader (the app uses it on its assets, the tests on the shipped demo bundle):
 * `manifest.json` parsed, its Ed25519 signature checked ([BundleSignature]; a signature that does
 * not match is refused, an unsigned bundle loads and says so), the feature-schema hash against
 * this core's, the model files (`.ort` and `.onnx`, whichever the bundle has) and the text files
 * against their sha256 and size, the input reference (out-of-distribution check),
 * the sentence table in the exporter's format (`.npy` float32 rows, [SentenceEmbeddingTable.fromRows])
 * and the reference statistics against this build's text features. Every failure is a
 * [BundleException] whose message says what to do.
 */
object BundleReader {
    const val MANIFEST = "manifest.json"

    /** The model formats the app runs, preferred first. */
    @JvmField val MODEL_FORMATS = listOf("ort", "onnx")

    @JvmStatic
    @JvmOverloads
    fun read(files: BundleFiles, trustedKeys: List<BundleSignature.PublicKey> = emptyList(), requireSignature: Boolean = false): LoadedBundle {
        val manifestBytes = files.read(MANIFEST) ?: throw BundleException(
            "no model bundle ($MANIFEST missing). Export one with the Python package (android_demo/README.md) and build again")
        val signature = BundleSignature.check(manifestBytes, files.read(BundleSignature.FILE), trustedKeys)
        if (signature.status == SignatureStatus.INVALID) throw BundleException("bundle signature: ${signature.reason}")
        if (requireSignature && !signature.verified) throw BundleException("the bundle must be signed by a trusted key: ${signature.reason}")
        val manifest = try {
            BundleManifest.parse(manifestBytes.toString(Charsets.UTF_8))
        } catch (e: IllegalArgumentException) {
            throw BundleException("$MANIFEST is malformed: ${e.message}")
        }
        manifest.checkFeatureSchema() // a model for another knowledge-map schema would misread its inputs

        // every model file the bundle has, preferred first: the app falls back to the next when the runtime cannot open one
        val listed = MODEL_FORMATS.filter { manifest.formats.containsKey(it) }.map { manifest.formatFile(it) }
        if (listed.isEmpty()) throw BundleException(
            "the bundle has neither an .ort nor an .onnx model; export one with `python -m scoligait_edge.export --bundle <bundle> --formats ort,onnx`")
        val models = ArrayList<String>()
        val missing = ArrayList<String>()
        for (name in listed) {
            val bytes = files.read(name)
            if (bytes == null) missing.add(name) else {
                manifest.verifyFile(name, bytes) // a damaged file is refused, never skipped over
                models.add(name)
            }
        }
        if (models.isEmpty()) throw BundleException("${listed.joinToString(" and ")} ${if (listed.size > 1) "are" else "is"} listed in $MANIFEST but missing from the bundle")

        var inputReference: InputReference? = null
        manifest.inputReference?.let { name ->
            inputReference = try {
                InputReference.parse(verified(files, manifest, name).toString(Charsets.UTF_8))
            } catch (e: IllegalArgumentException) {
                throw BundleException("$name: ${e.message}")
            }
            if (inputReference!!.nColumns != GeneratedSchema.NUM_FEATURES) {
                throw BundleException("$name has ${inputReference!!.nColumns} columns, the map ${GeneratedSchema.NUM_FEATURES}")
            }
        }

        var table: SentenceEmbeddingTable? = null
        var reference: ReferenceStats? = null
        if (manifest.input("text") != null) {
            val tableName = manifest.sentenceTable ?: throw BundleException("the model reads text but the bundle has no sentence table")
            val refName = manifest.referenceStatistics ?: throw BundleException("the model reads text but the bundle has no reference statistics")
            table = try {
                SentenceEmbeddingTable.fromRows(verified(files, manifest, tableName), tableName)
            } catch (e: TableMismatchException) {
                throw BundleException(e.message ?: "sentence table mismatch")
            }
            reference = try {
                ReferenceStats.parse(verified(files, manifest, refName).toString(Charsets.UTF_8)).also { it.checkCompatible() }
            } catch (e: IllegalArgumentException) {
                throw BundleException("$refName: ${e.message}")
            } catch (e: IllegalStateException) {
                throw BundleException("$refName: ${e.message}")
            }
        }
        return LoadedBundle(manifest, models, table, reference, signature, inputReference, missing, files)
    }

    /** A listed file's bytes, checked against its size and sha256 in the manifest. */
    private fun verified(files: BundleFiles, manifest: BundleManifest, name: String): ByteArray {
        val bytes = files.read(name) ?: throw BundleException("$name is listed in $MANIFEST but missing from the bundle")
        manifest.verifyFile(name, bytes)
        return bytes
    }
}
