// The pure-Kotlin core (no Android classes): skeleton conversion, 30 Hz resampling, gap filling, the
// 238-feature knowledge map, windows, text lookup/description, silhouettes, result parsing.
// Its tests compare it with the Python golden vectors in src/test/resources/golden.
// Without Gradle: ./run_jvm_tests.sh (Debian's kotlinc + junit4).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // the text test reads the bundled embedding table from the Python package's assets
    systemProperty("scoligait.repoRoot", rootDir.parentFile.absolutePath)
}
