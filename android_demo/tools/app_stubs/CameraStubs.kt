@file:Suppress("unused")

package androidx.camera.core

interface ImageProxy : AutoCloseable {
    override fun close()
}
