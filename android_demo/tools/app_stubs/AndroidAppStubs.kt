@file:Suppress("unused", "UNUSED_PARAMETER")

package android.app

open class Context {
    // Java's getAssets(), seen from Kotlin as the property `assets`
    val assets: android.content.res.AssetManager get() = android.content.res.AssetManager()
}

open class Application : Context()
