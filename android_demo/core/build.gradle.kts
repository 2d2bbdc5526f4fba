// The pure-Kotlin core (no Android classes): skeleton conversion, 30 Hz resampling, gap filling, the
// 238-feature knowledge map, windows, text lookup/description, silhouettes, result parsing.
// Its tests compare it with the Python golden vectors in src/test/resources/golden.
// Without Gradle: ./run_jvm_tests.sh (Debian's kotlinc + junit4).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

// No jvmToolchain: it would ask Gradle for a JDK 17 it may not have (recent Android Studio runs Gradle
// on its bundled JDK 21, and no toolchain resolver is configured). The JDK that runs Gradle compiles,
// and the bytecode targets 17, as the app's does.
java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

tasks.withType<org.jetbrains.kotlin.gradle.tasks.KotlinCompile>().configureEach {
    compilerOptions.jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // the text test reads the bundled embedding table from the Python package's assets
    systemProperty("scoligait.repoRoot", rootDir.parentFile.absolutePath)
}
