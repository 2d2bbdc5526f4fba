package org.scoligait.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import org.scoligait.core.GeneratedSchema
import kotlin.math.max

/**
 * Draws the subject's COCO-21 skeleton (the core's bones) over the camera preview. Keypoints are
 * pixels of the analysed, upright image; they are scaled like PreviewView's default FILL_CENTER.
 */
class SkeletonOverlayView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private var keypoints: DoubleArray? = null
    private var imageW = 1
    private var imageH = 1
    private val bone = Paint().apply { color = Color.rgb(0, 230, 118); strokeWidth = 6f; isAntiAlias = true }
    private val joint = Paint().apply { color = Color.WHITE; style = Paint.Style.FILL; isAntiAlias = true }
    private val weak = Paint().apply { color = Color.argb(160, 255, 193, 7); strokeWidth = 4f; isAntiAlias = true }

    fun show(kp: DoubleArray?, width: Int, height: Int) {
        keypoints = kp
        imageW = max(width, 1)
        imageH = max(height, 1)
        postInvalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val kp = keypoints ?: return
        val scale = max(width.toFloat() / imageW, height.toFloat() / imageH)
        val dx = (width - imageW * scale) / 2f
        val dy = (height - imageH * scale) / 2f
        fun x(j: Int) = (kp[3 * j] * scale + dx).toFloat()
        fun y(j: Int) = (kp[3 * j + 1] * scale + dy).toFloat()
        fun ok(j: Int) = !kp[3 * j].isNaN() && !kp[3 * j + 1].isNaN()
        val bones = GeneratedSchema.BONES_FLAT
        var b = 0
        while (b < bones.size) {
            val a = bones[b]
            val c = bones[b + 1]
            if (ok(a) && ok(c)) {
                val p = if (kp[3 * a + 2] >= 0.3 && kp[3 * c + 2] >= 0.3) bone else weak
                canvas.drawLine(x(a), y(a), x(c), y(c), p)
            }
            b += 2
        }
        for (j in 0 until kp.size / 3) if (ok(j)) canvas.drawCircle(x(j), y(j), 7f, joint)
    }
}
