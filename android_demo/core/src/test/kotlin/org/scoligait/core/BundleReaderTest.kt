package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * The bundle reader on the bundle the repository ships (`scoligait_edge/assets/models/demo`, the
 * one the Python Screener loads), not a hand-written manifest: issue 15, defect 1.
 */
class BundleReaderTest {
    private val root = Golden.repoRoot()
    private val demo = DirectoryBundleFiles(File(root, "scoligait_edge/assets/models/demo"))
    private val key = BundleSignature.publicKeyFromPem("demo_ed25519.pub",
        File(root, "scoligait_edge/assets/keys/demo_ed25519.pub").readText())

    /** The demo bundle with some files replaced (null = removed). */
    private fun patched(vararg files: Pair<String, ByteArray?>): BundleFiles {
        val m = mapOf(*files)
        return object : BundleFiles {
            override fun read(name: String): ByteArray? = if (m.containsKey(name)) m[name] else demo.read(name)
        }
    }

    private fun expectBundleError(what: String, files: BundleFiles, vararg words: String) {
        try {
            BundleReader.read(files, listOf(key))
            fail("$what: the bundle was accepted")
        } catch (e: BundleException) {
            for (w in words) assertTrue("$what: '${e.message}' should mention '$w'", e.message!!.contains(w))
        }
    }

    @Test
    fun readsTheShippedDemoBundleAndVerifiesItsSignature() {
        val b = BundleReader.read(demo, listOf(key), requireSignature = true)
        assertEquals(SignatureStatus.VERIFIED, b.signature.status)
        assertEquals("model.ort", b.modelFile)
        assertEquals(b.manifest.files.getValue("model.ort").second, b.modelBytes.size.toLong())
        assertEquals("text/sentence_embeddings_v1.npy", b.manifest.sentenceTable)
        val table = b.table!!
        assertEquals(GeneratedText.SENTENCES.size, table.rows)
        assertEquals(384, table.dim)
        assertNotNull(b.reference)
        assertTrue(b.manifest.isSimulated)
        assertEquals(0.5248761400580406, b.manifest.threshold, 0.0)
        assertEquals(96, b.manifest.windowFrames)
        // a session can be built from it: schema, text table and reference statistics all fit
        ScreeningSession(b.manifest, b.table, b.reference)
        println("BUNDLE demo: ${b.modelFile} ${b.modelBytes.size} bytes, table ${table.rows}x${table.dim}, signature ${b.signature}")
    }

    @Test
    fun theKeyIdIsPythonsKeyId() {
        val sig = Json.obj(Json.parse(String(demo.read("manifest.json.sig")!!, Charsets.UTF_8)))
        assertEquals(Json.str(sig["key_id"]), key.id)
    }

    @Test
    fun aModifiedManifestIsRefused() {
        val text = String(demo.read("manifest.json")!!, Charsets.UTF_8).replace("0.5248761400580406", "0.0500000000000000")
        expectBundleError("lowered threshold", patched("manifest.json" to text.toByteArray()), "signature", "modified after signing")
    }

    @Test
    fun unsignedAndUnknownKeyBundlesLoadOnlyWhenASignatureIsNotRequired() {
        val unsigned = patched("manifest.json.sig" to null)
        assertEquals(SignatureStatus.UNSIGNED, BundleReader.read(unsigned, listOf(key)).signature.status)
        try {
            BundleReader.read(unsigned, listOf(key), requireSignature = true)
            fail("unsigned bundle accepted with requireSignature")
        } catch (e: BundleException) {
            assertTrue(e.message!!.contains("unsigned"))
        }
        assertEquals(SignatureStatus.UNKNOWN_KEY, BundleReader.read(demo, emptyList()).signature.status)
    }

    @Test
    fun aDamagedModelOrTableIsRefused() {
        val model = demo.read("model.ort")!!.copyOf()
        model[model.size / 2] = (model[model.size / 2].toInt() xor 1).toByte()
        expectBundleError("model", patched("model.ort" to model), "model.ort", "sha256")
        expectBundleError("missing table", patched("text/sentence_embeddings_v1.npy" to null), "sentence_embeddings_v1.npy", "missing")
    }

    /** The old failure: a manifest naming the JSON metadata as the table. Now a clear message, not a JSON error at offset 0. */
    @Test
    fun aJsonSentenceTableIsRefusedWithAMessageThatSaysWhy() {
        val meta = File(root, "scoligait_edge/assets/text/sentences_v1.json").readBytes()
        val text = String(demo.read("manifest.json")!!, Charsets.UTF_8)
            .replace("\"sentence_table\": \"text/sentence_embeddings_v1.npy\"", "\"sentence_table\": \"text/sentences_v1.json\"")
            .replace("\"files\": {", "\"files\": {\n    \"text/sentences_v1.json\": {\"sha256\": \"${Schema.sha256Hex(meta)}\", \"size\": ${meta.size}},")
        val files = patched("manifest.json" to text.toByteArray(), "manifest.json.sig" to null, "text/sentences_v1.json" to meta)
        expectBundleError("json table", files, "sentences_v1.json", "not a .npy")
    }

    @Test
    fun aTableOfAnotherSentenceSetIsRefused() {
        val npy = demo.read("text/sentence_embeddings_v1.npy")!!.copyOf()
        npy[npy.size - 1] = (npy[npy.size - 1].toInt() xor 1).toByte()
        try {
            SentenceEmbeddingTable.fromRows(npy, "table")
            fail("a different table was accepted")
        } catch (e: TableMismatchException) {
            assertTrue(e.message!!.contains("not the embedding table"))
        }
    }
}
