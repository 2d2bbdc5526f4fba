// The demo app: CameraX -> MediaPipe PoseLandmarker -> :core (map, windows, text) -> ONNX Runtime (.ort).
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

val repoRoot: File = rootDir.parentFile

// --- scoligait bundle path: plain Kotlin, compiled and tested by tools/check_bundle_path.sh (CI) ---
/** Where the README's export writes the bundle, relative to the repository root: the default. */
val SCOLIGAIT_DEFAULT_BUNDLE = "out/android_bundle"

/** The README's export command (run from the repository root); the build failure quotes it. */
val SCOLIGAIT_EXPORT_COMMAND = ".venv/bin/python -m scoligait_edge.export --checkpoint runs/demo_model/model " +
    "--bundle out/android_bundle --simulated --sentence-table scoligait_edge/assets/text/sentence_embeddings_v1.npy " +
    "--reference-statistics runs/demo_model/reference_stats.json --formats onnx,ort"

/** What the app reads from the bundle (Gradle include patterns): both model formats, so the app can fall back to .onnx. */
val SCOLIGAIT_BUNDLE_FILES = listOf("manifest.json", "manifest.json.sig", "model.ort", "model.onnx", "input_reference.json", "text/**")

/** The bundle folder: the `scoligaitBundle` property (absolute, or relative to [repoRoot]), else the README's export. */
fun scoligaitBundleDir(repoRoot: File, property: String?): File {
    val p = property?.trim()
    if (p == null || p.isEmpty()) return File(repoRoot, SCOLIGAIT_DEFAULT_BUNDLE).normalize()
    val f = File(p)
    return (if (f.isAbsolute) f else File(repoRoot, p)).normalize()
}

/** Null when [dir] holds a bundle the app can run, else why not: the build fails with this message. */
fun scoligaitBundleProblem(dir: File, property: String?): String? {
    val where = if (property == null || property.trim().isEmpty()) "the default bundle folder" else "scoligaitBundle=$property"
    if (!File(dir, "manifest.json").isFile) {
        return "scoligait: no model bundle in ${dir.path} ($where; manifest.json missing). Write it with the export in " +
            "android_demo/README.md, from the repository root:\n    $SCOLIGAIT_EXPORT_COMMAND\nor build with the bundle the " +
            "repository ships: -PscoligaitBundle=scoligait_edge/assets/models/demo"
    }
    if (!File(dir, "model.ort").isFile && !File(dir, "model.onnx").isFile) {
        return "scoligait: the bundle in ${dir.path} ($where) has neither model.ort nor model.onnx; export it with --formats onnx,ort"
    }
    return null
}
// --- end scoligait bundle path ---

// -PscoligaitBundle=<dir>, ~/.gradle/gradle.properties or android_demo/gradle.properties (none set by default)
val bundleProperty: String? = providers.gradleProperty("scoligaitBundle").orNull
val bundleDir: File = scoligaitBundleDir(repoRoot, bundleProperty)
val generatedAssets = layout.buildDirectory.dir("generated/scoligaitAssets")

android {
    namespace = "org.scoligait.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.scoligait.demo"
        minSdk = 24 // MediaPipe Tasks needs 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }

    androidResources {
        // memory-mapped / read whole: keep the models uncompressed in the APK
        noCompress += listOf("task", "ort", "onnx", "npy")
    }

    sourceSets["main"].java.srcDir("src/main/kotlin")
    sourceSets["main"].assets.srcDir(generatedAssets)
}

/**
 * The copy step, only what the app reads: the lite pose model (+ its licence), the bundle's
 * manifest and signature, its `.ort` and `.onnx` models (whichever it has: the app runs the
 * `.ort` and falls back to the `.onnx` when the device's ONNX Runtime cannot read the `.ort`), its
 * input reference and text tables, and the package's public keys (the trusted bundle signers). No
 * fp16/int8 variants, no checkpoint, no TensorRT engines. A missing bundle fails the build, naming
 * the folder it looked in and the command that writes it: an APK without a model cannot screen
 * anyone. The app verifies every file it reads against manifest.json at start-up.
 */
val copyScoligaitAssets by tasks.registering(Copy::class) {
    description = "Copies the lite pose model, the model bundle (.ort and .onnx, text tables) and the signing keys into the app's assets"
    val problem = scoligaitBundleProblem(bundleDir, bundleProperty)
    doFirst {
        if (problem != null) throw GradleException(problem)
    }
    from(File(repoRoot, "scoligait_edge/assets/pose_models")) {
        include("pose_landmarker_lite.task", "LICENSE.Apache-2.0")
        into("pose")
    }
    from(File(repoRoot, "scoligait_edge/assets/keys")) {
        include("*.pub")
        into("keys")
    }
    from(bundleDir) {
        include(SCOLIGAIT_BUNDLE_FILES)
        into("bundle")
    }
    into(generatedAssets)
}

tasks.named("preBuild") {
    dependsOn(copyScoligaitAssets)
}

dependencies {
    implementation(project(":core"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.lifecycle.runtime)
    implementation(libs.androidx.lifecycle.viewmodel)
    implementation(libs.androidx.lifecycle.livedata)
    implementation(libs.androidx.activity)
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.mediapipe.tasks.vision)
    implementation(libs.onnxruntime.android)
}
