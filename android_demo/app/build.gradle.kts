// The demo app: CameraX -> MediaPipe PoseLandmarker -> :core (map, windows, text) -> ONNX Runtime (.ort).
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

val repoRoot: File = rootDir.parentFile
// The README's export writes <repo>/out/android_bundle; -PscoligaitBundle=<dir> (relative to the repository root,
// or absolute) takes another, e.g. the shipped demo bundle scoligait_edge/assets/models/demo.
val bundleDir: File = providers.gradleProperty("scoligaitBundle").map { File(it).let { f -> if (f.isAbsolute) f else File(repoRoot, it) } }
    .getOrElse(File(repoRoot, "out/android_bundle"))
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
 * manifest and signature, its `.ort` model (else `.onnx`) and its text tables, and the package's
 * public keys (the trusted bundle signers). No fp16/int8 variants, no checkpoint, no TensorRT
 * engines. A missing bundle fails the build: an APK without a model cannot screen anyone.
 * The app verifies every file it reads against manifest.json at start-up.
 */
val copyScoligaitAssets by tasks.registering(Copy::class) {
    description = "Copies the lite pose model, the model bundle (.ort + text tables) and the signing keys into the app's assets"
    val manifest = File(bundleDir, "manifest.json")
    doFirst {
        if (!manifest.isFile) {
            throw GradleException("scoligait: no model bundle at $bundleDir (manifest.json missing). Export one as " +
                "android_demo/README.md shows (it writes <repo>/out/android_bundle), or build with " +
                "-PscoligaitBundle=scoligait_edge/assets/models/demo for the shipped demo bundle.")
        }
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
        // the model file the app runs: .ort when the bundle has one, else .onnx (same preference as BundleReader)
        val model = if (File(bundleDir, "model.ort").isFile) "model.ort" else "model.onnx"
        include("manifest.json", "manifest.json.sig", model, "text/**")
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
