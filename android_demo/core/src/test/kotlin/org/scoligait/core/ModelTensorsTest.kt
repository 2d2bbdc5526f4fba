package org.scoligait.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * The tensors the app's OrtScreener hands to ONNX Runtime ([ModelTensors]) against the shipped
 * demo bundle's manifest (issue 27, point 5): names in the manifest's order, dtypes, shapes and
 * element counts, on a window the session made from walking keypoints. (check_app_glue.sh runs
 * OrtScreener itself on ONNX Runtime stubs with the same manifest.)
 */
class ModelTensorsTest {
    private val demoDir = File(Golden.repoRoot(), "scoligait_edge/assets/models/demo")
    private val demo: LoadedBundle by lazy { BundleReader.read(DirectoryBundleFiles(demoDir)) }
    private val manifestText: String by lazy { File(demoDir, "manifest.json").readText() }

    private val window: ModelInputs by lazy {
        val walk = Golden.frames(Golden.npy("sim_long_30fps.keypoints.npy"))
        val s = ScreeningSession(demo.manifest, demo.table, demo.reference)
        var i = 0
        while (true) {
            val ready = s.onFrame(i * 1000.0 / 30.0, walk[i]).ready
            if (ready.isNotEmpty()) return@lazy ready[0]
            i++
        }
        @Suppress("UNREACHABLE_CODE")
        throw IllegalStateException("no window")
    }

    private fun expectRefused(manifest: BundleManifest, vararg words: String) {
        try {
            ModelTensors.inputs(manifest, window)
            fail("accepted: ${words.toList()}")
        } catch (e: BundleException) {
            for (w in words) assertTrue("'${e.message}' should mention '$w'", e.message!!.contains(w))
        }
    }

    @Test
    fun tensorsMatchTheShippedManifest() {
        val m = demo.manifest
        assertEquals("the demo model reads all five inputs", listOf("km", "km_mask", "video", "text", "text_mask"), m.inputs.map { it.name })
        val tensors = ModelTensors.inputs(m, window)
        assertEquals(m.inputs.map { it.name }, tensors.map { it.name })
        val dims = HashMap<String, Long>() // named dynamic axes must agree across inputs
        for ((spec, t) in m.inputs.zip(tensors)) {
            assertEquals("${spec.name} dtype", spec.dtype, t.dtype)
            assertEquals("${spec.name} rank", spec.shape.size, t.shape.size)
            for ((i, d) in spec.shape.withIndex()) {
                when (d) {
                    is Int -> assertEquals("${spec.name} dimension $i", d.toLong(), t.shape[i])
                    "batch" -> assertEquals("${spec.name} batch", 1L, t.shape[i])
                    else -> {
                        val name = d as String
                        assertTrue(t.shape[i] > 0)
                        assertEquals("axis $name", dims.getOrPut(name) { t.shape[i] }, t.shape[i])
                    }
                }
            }
            assertEquals("${spec.name} elements", t.elements, t.dataLength.toLong())
            when (t.dtype) {
                "float32" -> assertTrue(t.floats != null && t.bytes == null && t.bools == null)
                "uint8" -> assertTrue(t.bytes != null && t.floats == null && t.bools == null)
                "bool" -> assertTrue(t.bools != null && t.floats == null && t.bytes == null)
                else -> fail("dtype ${t.dtype}")
            }
            println("TENSOR $t (manifest: ${spec})")
        }
        val byName = tensors.associateBy { it.name }
        assertArrayEquals(window.km, byName.getValue("km").floats!!, 0f)
        assertArrayEquals(window.kmMask, byName.getValue("km_mask").bools!!)
        assertArrayEquals(window.video!!, byName.getValue("video").bytes!!)
        assertEquals(GeneratedText.EMBEDDING_DIM.toLong(), byName.getValue("text").shape[2])
    }

    @Test
    fun olderBundlesAndManifestsTheAppCannotFeedAreHandled() {
        // before the graph took uint8 silhouettes: float32 0..1
        val video = Regex("""("name": "video",\s*"shape": \[[^\]]*\],\s*"dtype": )"uint8"""")
        assertTrue(video.containsMatchIn(manifestText))
        val old = BundleManifest.parse(manifestText.replace(video, "$1\"float32\""))
        val v = ModelTensors.inputs(old, window).first { it.name == "video" }
        assertEquals("float32", v.dtype)
        val bytes = window.video!!
        for (i in bytes.indices step 97) assertEquals((bytes[i].toInt() and 0xff) / 255f, v.floats!![i], 0f)
        // a window length the model was not exported for, a dtype the app does not make, an input it does not know
        expectRefused(BundleManifest.parse(manifestText.replaceFirst("\"batch\",\n        96,\n        238", "\"batch\",\n        64,\n        238")),
            "km", "dimension 1 is 96", "says 64")
        val mask = Regex("""("name": "km_mask",\s*"shape": \[[^\]]*\],\s*"dtype": )"bool"""")
        expectRefused(BundleManifest.parse(manifestText.replace(mask, "$1\"int64\"")), "km_mask", "dtype bool", "int64")
        expectRefused(BundleManifest.parse(manifestText.replace("\"name\": \"text_mask\"", "\"name\": \"prompt_mask\"")), "prompt_mask")
    }
}
