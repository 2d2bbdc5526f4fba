// The demo app: CameraX -> MediaPipe PoseLandmarker -> :core (map, windows, text) -> ONNX Runtime (.ort).
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

val repoRoot: File = rootDir.parentFile
val bundleDir: File = file(providers.gradleProperty("scoligaitBundle").getOrElse("../out/android_bundle"))
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
 * The copy step: the pose model (.task, same bundle as the Python side), the Python package's
 * sentence-embedding table (fallback when the bundle has none) and the model bundle folder
 * (manifest.json, model.ort, text/...) go into the app's assets. The app verifies every bundle file
 * against manifest.json and the feature-schema hash against its own at start-up.
 */
val copyScoligaitAssets by tasks.registering(Copy::class) {
    description = "Copies the pose model, the text table and the model bundle into the app's assets"
    from(File(repoRoot, "scoligait_edge/assets/pose_models")) {
        include("pose_landmarker_lite.task", "pose_landmarker_full.task", "LICENSE.Apache-2.0")
        into("pose")
    }
    from(File(repoRoot, "scoligait_edge/assets/text")) {
        include("sentences_v*.json", "sentence_embeddings_v*.npy")
        into("text")
    }
    from(bundleDir) {
        exclude("engines/**") // TensorRT engines are device-specific desktop caches
        into("bundle")
    }
    into(generatedAssets)
    doFirst {
        if (!File(bundleDir, "manifest.json").isFile) {
            logger.warn("scoligait: no model bundle at $bundleDir (manifest.json missing). The app will start and " +
                "say so. Export one with the Python package (see android_demo/README.md) or pass -PscoligaitBundle=<dir>.")
        }
    }
}

tasks.named("preBuild") {
    dependsOn(copyScoligaitAssets)
}

dependencies {
    implementation(project(":core"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.lifecycle.runtime)
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.mediapipe.tasks.vision)
    implementation(libs.onnxruntime.android)
}
