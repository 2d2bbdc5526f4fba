package org.scoligait.demo

import android.content.res.AssetManager
import org.scoligait.core.BundleException
import org.scoligait.core.BundleManifest
import org.scoligait.core.Json
import org.scoligait.core.ReferenceStats
import org.scoligait.core.SentenceEmbeddingTable
import java.io.FileNotFoundException

/**
 * The model bundle copied into `assets/bundle/` by the Gradle task `copyScoligaitAssets`:
 * manifest.json checked (format, feature-schema hash against this app's own), every listed file
 * present in the assets verified against its sha256, the model bytes (`model.ort`, else
 * `model.onnx`), and for a text model the sentence table and the reference statistics.
 */
class AssetBundle private constructor(
    val manifest: BundleManifest,
    val modelBytes: ByteArray,
    val modelFile: String,
    val table: SentenceEmbeddingTable?,
    val reference: ReferenceStats?
) {
    companion object {
        private const val DIR = "bundle"

        fun load(assets: AssetManager): AssetBundle {
            val manifestText = try {
                read(assets, "$DIR/manifest.json").toString(Charsets.UTF_8)
            } catch (e: FileNotFoundException) {
                throw BundleException("no model bundle in the app (assets/bundle/manifest.json). Export one with the " +
                    "Python package and build again with -PscoligaitBundle=<folder>; see android_demo/README.md")
            }
            val manifest = BundleManifest.parse(manifestText)
            manifest.checkFeatureSchema() // a model for another knowledge-map schema would misread its inputs

            val modelFile = when {
                manifest.formats.containsKey("ort") -> manifest.formatFile("ort")
                manifest.formats.containsKey("onnx") -> manifest.formatFile("onnx")
                else -> throw BundleException("the bundle has neither an .ort nor an .onnx model; export one with " +
                    "`python -m scoligait_edge.export --bundle <bundle> --formats ort`")
            }
            val modelBytes = read(assets, "$DIR/$modelFile")
            manifest.verifyFile(modelFile, modelBytes)

            var table: SentenceEmbeddingTable? = null
            var reference: ReferenceStats? = null
            if (manifest.input("text") != null) {
                val refName = manifest.referenceStatistics
                    ?: throw BundleException("the model reads text but the bundle lists no reference statistics")
                val refBytes = read(assets, "$DIR/$refName")
                manifest.verifyFile(refName, refBytes)
                reference = ReferenceStats.parse(refBytes.toString(Charsets.UTF_8))
                table = loadTable(assets, manifest)
            }
            return AssetBundle(manifest, modelBytes, modelFile, table, reference)
        }

        /** The bundle's sentence table if it carries one (meta + .npy beside it), else the app's own copy. */
        private fun loadTable(assets: AssetManager, manifest: BundleManifest): SentenceEmbeddingTable {
            val metaName = manifest.sentenceTable
            if (metaName != null) {
                val metaBytes = read(assets, "$DIR/$metaName")
                manifest.verifyFile(metaName, metaBytes)
                val meta = Json.obj(Json.parse(metaBytes.toString(Charsets.UTF_8)))
                val npyName = metaName.substringBeforeLast('/', "").let { if (it.isEmpty()) "" else "$it/" } +
                    Json.str(meta["embeddings_file"])
                val npy = try { read(assets, "$DIR/$npyName") } catch (e: FileNotFoundException) { null }
                if (npy != null) {
                    if (manifest.files.containsKey(npyName)) manifest.verifyFile(npyName, npy)
                    return SentenceEmbeddingTable.load(metaBytes.toString(Charsets.UTF_8), npy).also { it.check() }
                }
            }
            val meta = read(assets, "text/sentences_v1.json").toString(Charsets.UTF_8)
            return SentenceEmbeddingTable.load(meta, read(assets, "text/sentence_embeddings_v1.npy")).also { it.check() }
        }

        private fun read(assets: AssetManager, path: String): ByteArray = assets.open(path).use { it.readBytes() }
    }
}
