// ScoliGait Android demo: the app (:app) and its pure-Kotlin core (:core, JVM-tested against Python).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "scoligait-android-demo"
include(":core", ":app")
