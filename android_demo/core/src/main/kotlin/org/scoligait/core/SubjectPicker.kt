package org.scoligait.core

/**
 * Keeps one subject across live frames when MediaPipe finds several people.
 *
 * A deliberately simple stand-in for the Python `SubjectTracker` (which scores who *walks*): it
 * starts with the largest person and then follows whoever's hip centre stays within [gateBody]
 * body sizes of the subject's last position; a subject unseen for [maxLostMs] is dropped and the
 * largest person is taken again. Not parity-tested against the Python tracker.
 */
class SubjectPicker @JvmOverloads constructor(val gateBody: Double = 1.0, val maxLostMs: Double = 1000.0) {
    private var lastHip: DoubleArray? = null
    private var lastSize = 0.0
    private var lastSeenMs = Double.NEGATIVE_INFINITY

    fun reset() {
        lastHip = null
    }

    /** Index of the subject among [people] in a `width x height` frame at [timestampMs], or -1. */
    fun pick(people: List<PoseLandmarks>, width: Int, height: Int, timestampMs: Double): Int {
        if (lastHip != null && timestampMs - lastSeenMs > maxLostMs) lastHip = null
        if (people.isEmpty()) return -1
        val prev = lastHip
        var best = -1
        if (prev == null) {
            var bestSize = -1.0
            for ((i, p) in people.withIndex()) {
                val s = p.bodySize(width, height)
                if (s > bestSize) {
                    bestSize = s
                    best = i
                }
            }
        } else {
            var bestD = Double.POSITIVE_INFINITY
            for ((i, p) in people.withIndex()) {
                val h = p.hipCenter(width, height)
                val d = Math.sqrt((h[0] - prev[0]) * (h[0] - prev[0]) + (h[1] - prev[1]) * (h[1] - prev[1]))
                if (d < bestD) {
                    bestD = d
                    best = i
                }
            }
            if (bestD > gateBody * Math.max(lastSize, 1.0)) return -1
        }
        val chosen = people[best]
        lastHip = chosen.hipCenter(width, height)
        lastSize = chosen.bodySize(width, height)
        lastSeenMs = timestampMs
        return best
    }
}
