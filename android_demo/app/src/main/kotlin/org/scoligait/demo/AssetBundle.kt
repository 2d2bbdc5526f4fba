package org.scoligait.demo

import android.content.res.AssetManager
import org.scoligait.core.BundleFiles
import org.scoligait.core.BundleReader
import org.scoligait.core.BundleSignature
import org.scoligait.core.LoadedBundle
import java.io.FileNotFoundException

/**
 * The model bundle the Gradle task `copyScoligaitAssets` put under `assets/bundle/`, read by the
 * core's [BundleReader] (the same reader the JVM tests run on the shipped demo bundle), with the
 * package's public keys from `assets/keys/` as the trusted signers.
 */
object AssetBundle {
    private const val DIR = "bundle"
    private const val KEYS = "keys"

    /** Throws [org.scoligait.core.BundleException] with a message for the screen. Call off the main thread. */
    fun load(assets: AssetManager): LoadedBundle {
        val files = object : BundleFiles {
            override fun read(name: String): ByteArray? = try {
                assets.open("$DIR/$name").use { it.readBytes() }
            } catch (e: FileNotFoundException) {
                null
            }
        }
        val keys = (assets.list(KEYS) ?: emptyArray()).filter { it.endsWith(".pub") }.map { name ->
            BundleSignature.publicKeyFromPem(name, assets.open("$KEYS/$name").use { it.readBytes().toString(Charsets.UTF_8) })
        }
        return BundleReader.read(files, keys)
    }
}
