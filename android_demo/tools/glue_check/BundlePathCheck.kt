// The bundle path of app/build.gradle.kts, tested without Gradle (tools/check_bundle_path.sh): the
// script compiles this file together with the block of the build file between the
// "scoligait bundle path" markers (scoligaitBundleDir, scoligaitBundleProblem, SCOLIGAIT_*), so the
// code under test is the build's own. Checked: gradle.properties read as Gradle reads it resolves to
// where the README's export writes; that export's folder, once written, is found and the copy's
// selection of it is a bundle the core's reader loads with both model files; the failure message
// names the folder and the command; the build's glue lines call the tested functions; no
// jvmToolchain; the README's model size is the file's. Exits 1 listing the problems.
import org.scoligait.core.BundleReader
import org.scoligait.core.BundleSignature
import org.scoligait.core.DirectoryBundleFiles
import org.scoligait.core.SignatureStatus
import java.io.File
import java.util.Properties
import kotlin.system.exitProcess

private val problems = ArrayList<String>()

private fun expect(ok: Boolean, what: String) {
    if (!ok) problems.add(what)
}

/** The README's export command (backslash continuations joined), and its --bundle argument. */
private fun readmeExport(readme: String): Pair<String, String> {
    val block = Regex("```bash\\n(.*?)```", RegexOption.DOT_MATCHES_ALL).findAll(readme).map { it.groupValues[1] }
        .firstOrNull { it.contains("-m scoligait_edge.export") } ?: throw IllegalStateException("README: no export command")
    val command = block.lines().filter { !it.trim().startsWith("#") }.joinToString(" ") { it.trim().removeSuffix("\\").trim() }
        .replace(Regex("\\s+"), " ").trim()
    val bundle = Regex("--bundle (\\S+)").find(command)?.groupValues?.get(1) ?: throw IllegalStateException("README export has no --bundle")
    return Pair(command, bundle)
}

// Gradle include patterns as the copy uses them: a file name, or a folder name followed by "/**".
private fun selected(rel: String, patterns: List<String>): Boolean =
    patterns.any { p -> if (p.endsWith("/**")) rel.startsWith(p.removeSuffix("**")) else rel == p }

private fun copyTree(from: File, to: File, pick: (String) -> Boolean): List<String> {
    val out = ArrayList<String>()
    from.walkTopDown().filter { it.isFile }.forEach { f ->
        val rel = f.relativeTo(from).invariantSeparatorsPath
        if (pick(rel)) {
            f.copyTo(File(to, rel), overwrite = true)
            out.add(rel)
        }
    }
    return out.sorted()
}

fun main(args: Array<String>) {
    val androidDemo = File(args[0]).absoluteFile
    val repo = androidDemo.parentFile // app/build.gradle.kts: repoRoot = rootDir.parentFile, rootDir = android_demo
    val buildFile = File(androidDemo, "app/build.gradle.kts").readText()
    val readme = File(androidDemo, "README.md").readText()
    val tmp = createTempDir("bundle-path")
    try {
        // 1. the build's glue: the tested functions are what Gradle calls
        expect(File(androidDemo, "settings.gradle.kts").isFile, "android_demo/settings.gradle.kts missing: rootDir would not be android_demo")
        for (line in listOf("val repoRoot: File = rootDir.parentFile", "providers.gradleProperty(\"scoligaitBundle\").orNull",
                "scoligaitBundleDir(repoRoot, bundleProperty)", "scoligaitBundleProblem(bundleDir, bundleProperty)",
                "include(SCOLIGAIT_BUNDLE_FILES)", "from(bundleDir)")) {
            expect(buildFile.contains(line), "app/build.gradle.kts no longer says `$line`: update tools/glue_check/BundlePathCheck.kt with it")
        }

        // 2. gradle.properties as Gradle reads it (java.util.Properties) -> where the README's export writes
        val props = Properties().apply { File(androidDemo, "gradle.properties").inputStream().use { load(it) } }
        val property: String? = props.getProperty("scoligaitBundle")
        val resolved = scoligaitBundleDir(repo, property)
        val (command, exportBundle) = readmeExport(readme)
        val exportDir = File(repo, exportBundle).normalize() // the README runs the export from the repository root
        expect(resolved == exportDir, "the build looks in $resolved (scoligaitBundle=$property), the README's export writes $exportDir")
        expect(command == SCOLIGAIT_EXPORT_COMMAND, "the build's failure message quotes\n  $SCOLIGAIT_EXPORT_COMMAND\nthe README says\n  $command")
        // the value gradle.properties used to set: resolved against the repository root it is outside it (the bug this guards)
        expect(scoligaitBundleDir(repo, "../out/android_bundle") != exportDir, "the check cannot tell a wrong relative path")
        println("bundle path: gradle.properties scoligaitBundle=${property ?: "(unset)"} -> ${resolved.relativeToOrSelf(repo)} " +
            "(the README's export: --bundle $exportBundle)")

        // 3. not exported yet: the build fails naming the folder and the command
        val freshRepo = File(tmp, "repo").apply { mkdirs() }
        val missing = scoligaitBundleDir(freshRepo, property)
        val message = scoligaitBundleProblem(missing, property)
        expect(message != null && message.contains(missing.path) && message.contains(SCOLIGAIT_EXPORT_COMMAND) &&
            message.contains("-PscoligaitBundle=scoligait_edge/assets/models/demo"),
            "the missing-bundle failure should name ${missing.path}, the export command and the demo bundle: $message")

        // 4. the README's export written (the shipped demo bundle stands in for it: the exporter's whole folder)
        val demo = File(repo, "scoligait_edge/assets/models/demo")
        copyTree(demo, missing) { true }
        expect(scoligaitBundleProblem(scoligaitBundleDir(freshRepo, property), property) == null, "the exported bundle is not found")
        val assets = File(tmp, "assets/bundle")
        val copied = copyTree(missing, assets) { selected(it, SCOLIGAIT_BUNDLE_FILES) }
        for (f in listOf("model.ort", "model.onnx", "manifest.json", "manifest.json.sig", "input_reference.json")) {
            expect(f in copied, "the copy leaves out $f")
        }
        val extra = copied.filter { it.contains("fp16") || it.contains("int8") || it.endsWith(".safetensors") || it == "model.json" }
        expect(extra.isEmpty(), "the copy takes files the app never reads: $extra")
        val keys = File(repo, "scoligait_edge/assets/keys").listFiles { f -> f.name.endsWith(".pub") }!!.map {
            BundleSignature.publicKeyFromPem(it.name, it.readText())
        }
        val loaded = BundleReader.read(DirectoryBundleFiles(assets), keys)
        expect(loaded.models == listOf("model.ort", "model.onnx"), "the app's copy has model files ${loaded.models}, want .ort then .onnx")
        expect(loaded.inputReference != null, "the app's copy has no input reference")
        expect(loaded.signature.status == SignatureStatus.VERIFIED, "the app's copy: signature ${loaded.signature}")
        println("bundle copy: ${copied.size} files (${copied.joinToString()}) -> read by the core: models ${loaded.models}, " +
            "signature ${loaded.signature.status.id}")

        // 5. -PscoligaitBundle forms
        expect(scoligaitBundleDir(repo, "scoligait_edge/assets/models/demo") == demo.normalize(), "a relative property is not resolved against the repository root")
        expect(scoligaitBundleDir(File("/elsewhere"), demo.path) == demo.normalize(), "an absolute property is not taken as it is")
        expect(scoligaitBundleProblem(scoligaitBundleDir(repo, "scoligait_edge/assets/models/demo"), "x") == null, "the shipped demo bundle is refused")
        expect(scoligaitBundleDir(repo, "  ") == exportDir, "a blank property does not mean the default")

        // 6. the Gradle files: the JDK Android Studio bundles builds them (no toolchain), bytecode 17
        for (f in listOf("build.gradle.kts", "app/build.gradle.kts", "core/build.gradle.kts", "settings.gradle.kts")) {
            expect(!File(androidDemo, f).readText().contains("jvmToolchain("), "$f asks for a jvmToolchain")
        }
        expect(buildFile.contains("jvmTarget = \"17\""), "app/build.gradle.kts: jvmTarget 17 missing")
        val core = File(androidDemo, "core/build.gradle.kts").readText()
        expect(core.contains("JvmTarget.JVM_17") && core.contains("JavaVersion.VERSION_17"), "core/build.gradle.kts: jvmTarget / Java 17 missing")

        // 7. the README's model size is the file's
        val size = File(demo, "model.ort").length()
        val quoted = Regex("`model\\.ort` \\(([0-9,]+) bytes").findAll(readme).map { it.groupValues[1].replace(",", "").toLong() }.toList()
        expect(quoted.isNotEmpty(), "the README quotes no size for model.ort")
        expect(quoted.all { it == size }, "the README says model.ort is $quoted bytes; the file has $size")
    } finally {
        tmp.deleteRecursively()
    }
    if (problems.isNotEmpty()) {
        for (p in problems) println("FAIL $p")
        exitProcess(1)
    }
    println("bundle path: the build resolves the README's export, finds it, and copies a bundle the app reads")
}
