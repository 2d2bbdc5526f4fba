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
        assertEquals("both model files, .ort first (the app falls back to .onnx)", listOf("model.ort", "model.onnx"), b.models)
        val ort = b.readModel("model.ort")
        assertEquals(b.manifest.files.getValue("model.ort").second, ort.size.toLong())
        assertEquals(File(root, "scoligait_edge/assets/models/demo/model.ort").length(), ort.size.toLong())
        assertEquals(GeneratedSchema.NUM_FEATURES, b.inputReference!!.nColumns)
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
        println("BUNDLE demo: ${b.modelFile} ${ort.size} bytes, table ${table.rows}x${table.dim}, signature ${b.signature}")
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

    /** Issue 27, point 3: when the device's ONNX Runtime cannot read the .ort, the app opens the .onnx. */
    @Test
    fun theOnnxModelIsTheFallbackWhenTheOrtCannotBeOpened() {
        val b = BundleReader.read(demo, listOf(key))
        val tried = ArrayList<String>()
        val opened = b.openModel { name, bytes ->
            tried.add(name)
            if (name.endsWith(".ort")) throw IllegalStateException("OrtException: unsupported model IR version")
            bytes.size
        }
        assertEquals(listOf("model.ort", "model.onnx"), tried)
        assertEquals("model.onnx", opened.file)
        assertEquals(File(root, "scoligait_edge/assets/models/demo/model.onnx").length().toInt(), opened.model)
        assertTrue(opened.note, opened.note.contains("model.onnx") && opened.note.contains("model.ort: OrtException"))
        // the .ort opens: no fallback
        val first = b.openModel { name, _ -> name }
        assertEquals("model.ort", first.model)
        assertEquals("model: model.ort", first.note)
        // neither opens: one message with both reasons
        try {
            b.openModel<Int> { name, _ -> throw IllegalStateException("cannot read $name") }
            fail("no model opened, no error")
        } catch (e: BundleException) {
            assertTrue(e.message!!, e.message!!.contains("cannot read model.ort") && e.message!!.contains("cannot read model.onnx"))
        }
        // an app built with only the .onnx copied still loads (the .ort listed but absent)
        val onlyOnnx = BundleReader.read(patched("model.ort" to null), listOf(key))
        assertEquals(listOf("model.onnx"), onlyOnnx.models)
        assertEquals(listOf("model.ort"), onlyOnnx.missingModels)
        // a damaged fallback is refused when the bundle is read, not skipped over
        val onnx = demo.read("model.onnx")!!.copyOf()
        onnx[100] = (onnx[100].toInt() xor 1).toByte()
        expectBundleError("damaged onnx", patched("model.onnx" to onnx), "model.onnx", "sha256")
        expectBundleError("no model at all", patched("model.ort" to null, "model.onnx" to null), "model.ort", "model.onnx", "missing")
    }

    /**
     * Issue 27, point 4: a provider that has Ed25519 but fails to set up the check (here: its key
     * parser gives a key no Signature takes, or verify throws) says nothing about the bundle: "cannot verify on
     * this device", the bundle loads; only a check that runs and says no is "modified after signing".
     */
    @Test
    fun aBrokenEd25519ProviderIsCannotVerifyNotModified() {
        val manifest = demo.read("manifest.json")!!
        val sig = demo.read("manifest.json.sig")!!
        assertEquals(SignatureStatus.VERIFIED, BundleSignature.check(manifest, sig, listOf(key)).status)
        for (provider in listOf(BrokenEd25519.keyFactoryProvider(), BrokenEd25519.signatureProvider())) {
            java.security.Security.insertProviderAt(provider, 1)
            try {
                val c = BundleSignature.check(manifest, sig, listOf(key))
                assertEquals(provider.name, SignatureStatus.UNVERIFIABLE, c.status)
                assertTrue(c.reason, c.reason.contains("cannot verify") && !c.reason.contains("modified"))
                val b = BundleReader.read(demo, listOf(key))
                assertEquals(SignatureStatus.UNVERIFIABLE, b.signature.status)
                // requireSignature still refuses what could not be checked
                expectBundleErrorRequiringSignature("cannot verify")
            } finally {
                java.security.Security.removeProvider(provider.name)
            }
        }
        // a working provider: a manifest changed after signing is refused as modified (as before)
        val changed = String(manifest, Charsets.UTF_8).replace("0.5248761400580406", "0.0500000000000000").toByteArray()
        val c = BundleSignature.check(changed, sig, listOf(key))
        assertEquals(SignatureStatus.INVALID, c.status)
        assertTrue(c.reason.contains("modified after signing"))
        // a signature of the wrong length is malformed, whatever the provider
        val o = Json.obj(Json.parse(String(sig, Charsets.UTF_8)))
        val short = String(sig, Charsets.UTF_8).replace(Json.str(o["signature"]), "AAAA")
        assertEquals(SignatureStatus.INVALID, BundleSignature.check(manifest, short.toByteArray(), listOf(key)).status)
    }

    private fun expectBundleErrorRequiringSignature(word: String) {
        try {
            BundleReader.read(demo, listOf(key), requireSignature = true)
            fail("an unverified bundle was accepted with requireSignature")
        } catch (e: BundleException) {
            assertTrue(e.message!!, e.message!!.contains(word))
        }
    }
}

/** Ed25519 providers that fail the way some Android providers do (registered ahead of the JDK's in the test). */
object BrokenEd25519 {
    fun keyFactoryProvider(): java.security.Provider = object : java.security.Provider("BrokenEd25519KeyFactory", 1.0, "test: unusable Ed25519 keys") {
        init {
            put("KeyFactory.Ed25519", BrokenKeyFactory::class.java.name)
        }
    }

    fun signatureProvider(): java.security.Provider = object : java.security.Provider("BrokenEd25519Signature", 1.0, "test: verify throws") {
        init {
            put("Signature.Ed25519", ThrowingSignature::class.java.name)
        }
    }
}

/**
 * An Ed25519 key parser that "succeeds" with a key no installed Signature can use (JCA would fail
 * over to the next provider if it threw): `initVerify` then throws InvalidKeyException.
 */
class BrokenKeyFactory : java.security.KeyFactorySpi() {
    override fun engineGeneratePublic(keySpec: java.security.spec.KeySpec?): java.security.PublicKey = object : java.security.PublicKey {
        override fun getAlgorithm(): String = "Ed25519"
        override fun getFormat(): String = "RAW"
        override fun getEncoded(): ByteArray = byteArrayOf(1, 2, 3)
    }

    override fun engineGeneratePrivate(keySpec: java.security.spec.KeySpec?): java.security.PrivateKey =
        throw java.security.spec.InvalidKeySpecException("no private keys")

    override fun <T : java.security.spec.KeySpec?> engineGetKeySpec(key: java.security.Key?, keySpec: Class<T>?): T =
        throw java.security.spec.InvalidKeySpecException("no key specs")

    override fun engineTranslateKey(key: java.security.Key?): java.security.Key = throw java.security.InvalidKeyException("no translation")
}

class ThrowingSignature : java.security.SignatureSpi() {
    override fun engineInitVerify(publicKey: java.security.PublicKey?) {}
    override fun engineInitSign(privateKey: java.security.PrivateKey?) = throw java.security.InvalidKeyException("verify only")
    override fun engineUpdate(b: Byte) {}
    override fun engineUpdate(b: ByteArray?, off: Int, len: Int) {}
    override fun engineSign(): ByteArray = throw java.security.SignatureException("verify only")
    override fun engineVerify(sigBytes: ByteArray?): Boolean = throw java.security.SignatureException("Ed25519 engine not initialised")
    @Deprecated("JCA") override fun engineSetParameter(param: String?, value: Any?) {}
    @Deprecated("JCA") override fun engineGetParameter(param: String?): Any? = null
}
