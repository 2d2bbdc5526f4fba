package org.scoligait.core

/**
 * One model input window: [length] map rows `[length * 238]` float32 (row-major, what the `km`
 * input takes), their validity (the `km_mask` input) and grid timestamps. [start] is the index of
 * its first row in the stream.
 */
class MapWindow(
    @JvmField val start: Int,
    @JvmField val length: Int,
    @JvmField val values: FloatArray,
    @JvmField val valid: BooleanArray,
    @JvmField val timestampsMs: DoubleArray
) {
    /** Fraction of valid rows (the "whole body visible" part of the Python window verdict). */
    val validFraction: Double
        get() {
            var k = 0
            for (v in valid) if (v) k++
            return k.toDouble() / length
        }

    fun row(t: Int): FloatArray = values.copyOfRange(t * GeneratedSchema.NUM_FEATURES, (t + 1) * GeneratedSchema.NUM_FEATURES)

    /** Window verdict from validity only: whole body visible in at least [minValidFraction] of its rows. */
    @JvmOverloads
    fun quality(minValidFraction: Double = WindowBuffer.MIN_VALID_FRACTION): WindowVerdict {
        val f = validFraction
        return if (f >= minValidFraction) WindowVerdict(true, f, null)
        else WindowVerdict(false, f, "whole body visible in only ${Math.rint(100 * f).toLong()}% of the frames " +
            "(need ${Math.rint(100 * minValidFraction).toLong()}%)")
    }
}

/** Whether a window is worth screening; [reason] says why not. Gait events (steps, cycles) are not judged here. */
/** [flags]: the Python `quality_flags` codes of a skipped window (`not_walking`, `body_not_fully_visible`, `too_few_gait_cycles`). */
class WindowVerdict @JvmOverloads constructor(
    @JvmField val ok: Boolean,
    @JvmField val validFraction: Double,
    @JvmField val reason: String?,
    @JvmField val flags: List<String> = emptyList()
)

/**
 * The last [length] map rows; emits a window every [hop] rows once [length] rows are in, at the
 * starts the Python `window_starts(n, length, hop)` gives (0, hop, 2 hop, ...).
 */
class WindowBuffer @JvmOverloads constructor(val length: Int = 96, val hop: Int = 16) {
    private val nf = GeneratedSchema.NUM_FEATURES
    private val values = FloatArray(length * nf)
    private val valid = BooleanArray(length)
    private val times = DoubleArray(length)
    private var head = 0 // slot of the oldest row
    var rowsSeen = 0
        private set

    init {
        require(length > 0 && hop > 0) { "window length and hop must be positive" }
    }

    /** Rows held now (at most [length]). */
    val filled: Int get() = Math.min(rowsSeen, length)

    /** Rows still needed before the next window is emitted. */
    val rowsUntilNextWindow: Int
        get() {
            if (rowsSeen < length) return length - rowsSeen
            val r = Math.floorMod(-(rowsSeen - length), hop)
            return if (r == 0) hop else r
        }

    /** Progress towards the next window, 0..1 (for a progress bar). */
    val progress: Double
        get() = if (rowsSeen < length) rowsSeen.toDouble() / length else (hop - rowsUntilNextWindow).toDouble() / hop

    fun reset() {
        rowsSeen = 0
        head = 0
    }

    /** Add the next row (rows must come in order, index = rows pushed so far); returns a window when one completes. */
    fun push(row: MapRow): MapWindow? {
        require(row.values.size == nf) { "a map row has $nf values, got ${row.values.size}" }
        require(row.index == rowsSeen) { "rows must come in order: expected row $rowsSeen, got ${row.index}" }
        val slot: Int
        if (rowsSeen < length) {
            slot = rowsSeen
        } else {
            slot = head
            head = (head + 1) % length
        }
        System.arraycopy(row.values, 0, values, slot * nf, nf)
        valid[slot] = row.valid
        times[slot] = row.timestampMs
        rowsSeen++
        val start = rowsSeen - length
        if (start < 0 || start % hop != 0) return null
        return snapshot(start)
    }

    private fun snapshot(start: Int): MapWindow {
        val v = FloatArray(length * nf)
        val ok = BooleanArray(length)
        val ts = DoubleArray(length)
        for (t in 0 until length) {
            val slot = (head + t) % length
            System.arraycopy(values, slot * nf, v, t * nf, nf)
            ok[t] = valid[slot]
            ts[t] = times[slot]
        }
        return MapWindow(start, length, v, ok, ts)
    }

    companion object {
        /** `clip_windows`' default: a window is screened when >= 90 % of its rows are valid. */
        const val MIN_VALID_FRACTION = 0.9

        /** `window_starts(n, length, hop)`. */
        @JvmStatic
        @JvmOverloads
        fun windowStarts(nFrames: Int, length: Int = 96, hop: Int = 16): IntArray {
            require(length > 0 && hop > 0) { "window length and hop must be positive" }
            val n = Math.max(nFrames - length + 1, 0)
            return IntArray((n + hop - 1) / hop) { it * hop }
        }
    }
}
