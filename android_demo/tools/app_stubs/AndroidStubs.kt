// Stand-ins for the few Android / AndroidX / CameraX classes the app's glue touches, so that glue
// (AssetBundle, ScreeningViewModel) type-checks against the core with plain kotlinc.
// Signatures only; nothing here runs. Used by check_app_glue.sh, never packaged.
@file:Suppress("unused", "UNUSED_PARAMETER")

package android.util

object Log {
    // Java's android.util.Log takes a platform-typed Throwable: null is accepted, as here
    @JvmStatic fun e(tag: String, msg: String, t: Throwable?): Int = 0
    @JvmStatic fun w(tag: String, msg: String): Int = 0
    @JvmStatic fun w(tag: String, msg: String, t: Throwable?): Int = 0
}
