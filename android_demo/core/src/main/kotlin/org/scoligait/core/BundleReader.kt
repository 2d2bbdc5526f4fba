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
    @JvmField val modelFile: String,
    @JvmField val modelBytes: ByteArray,
    @JvmField val table: SentenceEmbeddingTable?,
    @JvmField val reference: ReferenceStats?,
    @JvmField val signature: SignatureCheck
)

/**
 * The one bundle reader (the app uses it on its assets, the tests on the shipped demo bundle):
 * `manifest.json` parsed, its Ed25519 signature checked ([BundleSignature]; a signature that does
 * not match is refused, an unsigned bundle loads and says so), the feature-schema hash against
 * this core's, the model (`.ort`, else `.onnx`) and the text files against their sha256 and size,
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

        val fmt = MODEL_FORMATS.firstOrNull { manifest.formats.containsKey(it) } ?: throw BundleException(
            "the bundle has neither an .ort nor an .onnx model; export one with `python -m scoligait_edge.export --bundle <bundle> --formats ort`")
        val modelFile = manifest.formatFile(fmt)
        val modelBytes = verified(files, manifest, modelFile)

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
        return LoadedBundle(manifest, modelFile, modelBytes, table, reference, signature)
    }

    /** A listed file's bytes, checked against its size and sha256 in the manifest. */
    private fun verified(files: BundleFiles, manifest: BundleManifest, name: String): ByteArray {
        val bytes = files.read(name) ?: throw BundleException("$name is listed in $MANIFEST but missing from the bundle")
        manifest.verifyFile(name, bytes)
        return bytes
    }
}
