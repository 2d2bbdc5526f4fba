// Runs the app's real OrtScreener (app/.../OrtScreener.kt) against the ONNX Runtime stubs
// (tools/ort_stubs/) on a window the core built from walking keypoints, and checks what it hands to
// ONNX Runtime against the shipped demo bundle's manifest: input names (all of them, no others),
// the OnnxJavaType each dtype becomes, shapes (batch 1, fixed dimensions as listed), element counts,
// and that the outputs come back by name and everything is closed. Called by check_app_glue.sh;
// exits 1 with the problems listed.
package org.scoligait.demo.check

import ai.onnxruntime.OnnxJavaType
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtStubs
import org.scoligait.core.BundleException
import org.scoligait.core.BundleManifest
import org.scoligait.core.BundleReader
import org.scoligait.core.DirectoryBundleFiles
import org.scoligait.core.GeneratedSchema
import org.scoligait.core.ModelInputs
import org.scoligait.core.NpyArray
import org.scoligait.core.ScreeningSession
import org.scoligait.demo.OrtScreener
import java.io.File
import kotlin.system.exitProcess

object OrtScreenerCheck {
    private val problems = ArrayList<String>()

    private fun expect(ok: Boolean, what: String) {
        if (!ok) problems.add(what)
    }

    private val JAVA_TYPE = mapOf("float32" to OnnxJavaType.FLOAT, "uint8" to OnnxJavaType.UINT8, "bool" to OnnxJavaType.BOOL)

    /** A window the core's session makes from the stored simulated walk (the one the JVM tests use). */
    private fun window(repo: File, manifest: BundleManifest, bundle: org.scoligait.core.LoadedBundle): ModelInputs {
        val kp = NpyArray.parse(File(repo, "android_demo/core/src/test/resources/golden/sim_long_30fps.keypoints.npy").readBytes())
        val d = kp.doubles()
        val per = kp.shape[1] * kp.shape[2]
        val s = ScreeningSession(manifest, bundle.table, bundle.reference)
        for (i in 0 until kp.shape[0]) {
            val u = s.onFrame(i * 1000.0 / 30.0, d.copyOfRange(i * per, (i + 1) * per))
            if (u.ready.isNotEmpty()) return u.ready[0]
        }
        throw IllegalStateException("no window passed the quality check on the stored walk")
    }

    /** Run OrtScreener once on [x] and compare every tensor it created with [manifest]'s inputs. */
    private fun checkRun(label: String, manifest: BundleManifest, modelBytes: ByteArray, x: ModelInputs) {
        OrtStubs.reset()
        OrtStubs.inputNames = manifest.inputs.map { it.name }.toSet()
        val n = x.window.length
        OrtStubs.outputs = linkedMapOf("logit" to floatArrayOf(0.4f), "prob" to floatArrayOf(0.6f), "cobb" to floatArrayOf(12f),
            "km_attention" to FloatArray(n * GeneratedSchema.NUM_FEATURES) { it * 1e-6f })
        val screener = OrtScreener(modelBytes, manifest)
        val out = screener.run(x)
        val fed = OrtStubs.lastRun ?: throw IllegalStateException("$label: OrtScreener never called session.run")
        expect(fed.keys.toList() == manifest.inputs.map { it.name }, "$label: inputs ${fed.keys} != the manifest's ${manifest.inputs.map { it.name }}")
        val lines = ArrayList<String>()
        for (spec in manifest.inputs) {
            val t = fed[spec.name] as? OnnxTensor ?: continue
            val shape = t.info.shape
            lines.add("${spec.name} ${shape.joinToString(", ", "[", "]")} ${t.info.type}")
            expect(t.info.type == JAVA_TYPE[spec.dtype], "$label: ${spec.name} is ${t.info.type}, the manifest's ${spec.dtype} is ${JAVA_TYPE[spec.dtype]}")
            expect(shape.size == spec.shape.size, "$label: ${spec.name} has rank ${shape.size}, the manifest ${spec.shape}")
            for ((i, dim) in spec.shape.withIndex()) {
                if (i >= shape.size) break
                when {
                    dim is Int -> expect(shape[i] == dim.toLong(), "$label: ${spec.name} dimension $i is ${shape[i]}, the manifest says $dim")
                    dim == "batch" -> expect(shape[i] == 1L, "$label: ${spec.name} batch is ${shape[i]}")
                    else -> expect(shape[i] > 0, "$label: ${spec.name} dimension $i ($dim) is ${shape[i]}")
                }
            }
        }
        // the dynamic text_tokens axis must be the same in text and text_mask
        val tokens = listOf("text", "text_mask").mapNotNull { (fed[it] as? OnnxTensor)?.info?.shape?.get(1) }.toSet()
        expect(tokens.size <= 1, "$label: text and text_mask disagree on text_tokens: $tokens")
        expect(out.keys == OrtStubs.outputs.keys, "$label: outputs ${out.keys} != ${OrtStubs.outputs.keys}")
        expect(out.getValue("prob")[0] == 0.6f && out.getValue("km_attention").size == n * GeneratedSchema.NUM_FEATURES,
            "$label: outputs not read back as float32")
        expect(OrtStubs.created.all { it.closed }, "$label: ${OrtStubs.created.count { !it.closed }} tensor(s) left open")
        screener.close()
        expect(OrtStubs.sessionsClosed == 1 && OrtStubs.optionsClosed == 1, "$label: close() closed ${OrtStubs.sessionsClosed} session(s) " +
            "and ${OrtStubs.optionsClosed} option set(s), want 1 and 1")
        println("OrtScreener ($label): ${lines.joinToString("; ")}")
    }

    @JvmStatic
    fun main(args: Array<String>) {
        val repo = File(args.getOrNull(0) ?: ".").absoluteFile
        val bundle = BundleReader.read(DirectoryBundleFiles(File(repo, "scoligait_edge/assets/models/demo")))
        val manifest = bundle.manifest
        val x = window(repo, manifest, bundle)
        val bytes = bundle.readModel(bundle.modelFile)
        checkRun("demo bundle, ${bundle.modelFile}", manifest, bytes, x)

        // a bundle exported before the graph took uint8 silhouettes: the video input is float32 0..1
        val text = String(File(repo, "scoligait_edge/assets/models/demo/manifest.json").readBytes(), Charsets.UTF_8)
        val video = Regex("""("name": "video",\s*"shape": \[[^\]]*\],\s*"dtype": )"uint8"""")
        expect(video.containsMatchIn(text), "the demo manifest's video input is not uint8 (the float32 variant below is built from it)")
        checkRun("float32 video", BundleManifest.parse(text.replace(video, "$1\"float32\"")), bytes, x)

        // a model file without an input the manifest lists is refused at load, and the session closed
        OrtStubs.reset()
        OrtStubs.inputNames = manifest.inputs.map { it.name }.filter { it != "text_mask" }.toSet()
        try {
            OrtScreener(bytes, manifest)
            problems.add("a model lacking text_mask was accepted")
        } catch (e: BundleException) {
            expect(e.message!!.contains("text_mask"), "the missing-input message does not name text_mask: ${e.message}")
            expect(OrtStubs.sessionsClosed == 1, "the refused session was not closed")
        }

        if (problems.isNotEmpty()) {
            for (p in problems) println("FAIL $p")
            exitProcess(1)
        }
        println("OrtScreener: names, dtypes and shapes match ${manifest.inputs.size} manifest inputs of the demo bundle")
    }
}
