package org.scoligait.core

/**
 * The inputs of one window for the exported graph (batch 1), named as in the manifest:
 * `km` `[1, T, 238]`, `km_mask` `[1, T]`, and when the model has them `video` `[1, T, 1, 64, 44]`,
 * `text` `[1, S, 384]`, `text_mask` `[1, S]`.
 */
class ModelInputs(
    @JvmField val window: MapWindow,
    @JvmField val km: FloatArray,
    @JvmField val kmMask: BooleanArray,
    @JvmField val video: ByteArray?, // uint8 silhouettes; Silhouette.toFloatInput for float32 graphs
    @JvmField val text: FloatArray?,
    @JvmField val textMask: BooleanArray?,
    @JvmField val description: WindowDescription?
) {
    val textTokens: Int get() = textMask?.size ?: 0
}

/**
 * What [ScreeningSession.onFrame] reports: rows added, and windows ready for the model (or
 * skipped, with why). [heelStrikes]: for every window completed (ready and skipped, in order),
 * the heel strikes detected in it per side, as session row indices (Python's
 * `SessionHistory.add_heel_strikes` input, what [StepCounter] counts).
 */
class SessionUpdate @JvmOverloads constructor(
    @JvmField val rows: List<MapRow>,
    @JvmField val ready: List<ModelInputs>,
    @JvmField val skipped: List<Pair<MapWindow, WindowVerdict>>,
    @JvmField val heelStrikes: List<Map<String, List<Int>>> = emptyList()
)

/** The verdict of a window: validity always, gait (steps, cycles) when the session judges it. */
private fun verdictOf(q: GaitWindowQuality): WindowVerdict {
    val flags = ArrayList<String>()
    if (!q.walking) flags.add("not_walking")
    if (!q.wholeBodyVisible) flags.add("body_not_fully_visible")
    if (!q.enoughCycles) flags.add("too_few_gait_cycles")
    return WindowVerdict(q.ok, q.validFraction, if (q.ok) null else q.reasons.joinToString("; "), flags)
}

/**
 * Everything between the pose model and ONNX Runtime, in pure Kotlin: COCO-21 keypoints with
 * timestamps -> [MapStream] (30 Hz, gap filling, the 238-column map) -> [WindowBuffer] (96 rows,
 * every [hop] rows) -> window verdict (>= 90 % valid rows; with [judgeGait] also >= 2 steps and a
 * complete gait cycle, from gait events detected over the last [gaitHistoryFrames] grid frames, as
 * the Python `assess_window` does over a whole clip) -> text description and embedding lookup,
 * silhouettes on the same rows -> [ModelInputs].
 *
 * Checks at construction that the bundle's model reads this core's knowledge-map schema and
 * that the text table and reference statistics belong to this build.
 */
class ScreeningSession @JvmOverloads constructor(
    val manifest: BundleManifest,
    val table: SentenceEmbeddingTable? = null,
    val reference: ReferenceStats? = null,
    val hop: Int = 16,
    val maxSentences: Int = 4,
    val minValidFraction: Double = WindowBuffer.MIN_VALID_FRACTION,
    val judgeGait: Boolean = true,
    val gaitHistoryFrames: Int = 600
) {
    val usesVideo: Boolean = manifest.input("video") != null
    val usesText: Boolean = manifest.input("text") != null
    var mapStream = MapStream(GeneratedSchema.NUM_COCO_FEET)
        private set
    val windows = WindowBuffer(manifest.windowFrames, hop)
    var silhouettes = SilhouetteTrack()
        private set
    private val rowVideo = java.util.ArrayDeque<ByteArray>() // silhouettes of the last windowFrames rows
    private val grid = java.util.ArrayDeque<DoubleArray>() // resampled frames (before gap filling) for gait events
    private val rowKeypoints = java.util.ArrayDeque<DoubleArray>() // gap-filled frames of the last windowFrames rows
    private val filledQueue = java.util.ArrayDeque<DoubleArray>() // gap-filled frames of rows not consumed yet
    private var gridSeen = 0
    private var lastTimestampMs = Double.NaN

    /** Stream segments started so far after the first (pauses, [resetStream]); as Python's `Screener.segments`. */
    var segments = 0
        private set

    /**
     * Map rows of the earlier segments (Python `_row_offset`): [SessionUpdate.heelStrikes] are
     * session row indices, unique across segments.
     */
    var rowOffset = 0
        private set

    /** Grid frames held for gait-event detection now (bounded by [gaitHistoryFrames]). */
    val gridFramesHeld: Int get() = grid.size

    /** The gait events last detected (over the recent grid history; frame indices from the stream start). */
    var lastEvents: GaitEvents? = null
        private set

    init {
        manifest.checkFeatureSchema()
        if (manifest.input("km") == null) throw BundleException("this app feeds the knowledge map; the model has no 'km' input")
        if (usesVideo) {
            val shape = manifest.input("video")!!.shape
            if (shape.size != 5 || shape[2] != 1 || shape[3] != Silhouette.SIZE || shape[4] != Silhouette.WIDTH) {
                throw BundleException("video input $shape: this app makes 1-channel 64 x 44 silhouettes")
            }
        }
        wireStream()
        if (usesText) {
            val t = table ?: throw BundleException("the model reads text: the sentence embedding table is missing")
            val r = reference ?: throw BundleException("the model reads text: the reference statistics are missing")
            t.check()
            r.checkCompatible()
        }
    }

    /**
     * One camera frame's subject keypoints `[21 * 3]` (pixels, score; all-missing when nobody was
     * found) at [timestampMs], with the subject's silhouette when the model uses video.
     */
    @JvmOverloads
    fun onFrame(timestampMs: Double, keypoints: DoubleArray, silhouette: IntArray? = null, silhouetteUsable: Boolean = false): SessionUpdate {
        var before: SessionUpdate? = null
        if (!lastTimestampMs.isNaN() && timestampMs - lastTimestampMs > MAX_SEGMENT_GAP_MS) {
            before = finish() // as Python's `_new_segment`: no grid rows are made for the pause
            resetStream()
        }
        if (usesVideo) silhouettes.push(timestampMs, silhouette, silhouetteUsable)
        val now = consume(mapStream.push(timestampMs, keypoints))
        lastTimestampMs = timestampMs
        return if (before == null) now else SessionUpdate(before.rows + now.rows, before.ready + now.ready, before.skipped + now.skipped,
            before.heelStrikes + now.heelStrikes)
    }

    /** End of a recording: the rows the gap filler still held. */
    fun finish(): SessionUpdate = consume(mapStream.flush())

    /**
     * Start a new stream segment: resampler, gap filler, map, windows, grid history and
     * silhouettes start again, so the next frame is not joined to the last one (a pause or a
     * resume would otherwise be replayed as one 30 Hz row per missed 33 ms). Call [finish] first
     * to keep the rows the gap filler holds.
     */
    fun resetStream() {
        rowOffset += windows.rowsSeen
        mapStream = MapStream(GeneratedSchema.NUM_COCO_FEET)
        windows.reset()
        silhouettes = SilhouetteTrack()
        rowVideo.clear()
        rowKeypoints.clear()
        filledQueue.clear()
        grid.clear()
        gridSeen = 0
        lastEvents = null
        lastTimestampMs = Double.NaN
        segments++
        wireStream()
    }

    private fun wireStream() {
        mapStream.onGridSample = { g ->
            grid.addLast(g.keypoints)
            gridSeen++
            while (grid.size > gaitHistoryFrames) grid.removeFirst()
        }
        mapStream.onFilledFrame = { f -> filledQueue.addLast(f) } // taken off one per row in consume()
    }

    private fun consume(rows: List<MapRow>): SessionUpdate {
        val ready = ArrayList<ModelInputs>()
        val skipped = ArrayList<Pair<MapWindow, WindowVerdict>>()
        val strikes = ArrayList<Map<String, List<Int>>>()
        for (row in rows) {
            filledQueue.pollFirst()?.let { f ->
                rowKeypoints.addLast(f)
                while (rowKeypoints.size > manifest.windowFrames) rowKeypoints.removeFirst()
            }
            if (usesVideo) {
                val sil = silhouettes.at(row.timestampMs)
                rowVideo.addLast(Silhouette.toModelInput(sil, sil != null)) // zeros where no close usable frame
                while (rowVideo.size > manifest.windowFrames) rowVideo.removeFirst()
            }
            val w = windows.push(row) ?: continue
            strikes.add(windowHeelStrikes(w))
            val verdict = if (judgeGait) verdictOf(gaitQuality(w)) else w.quality(minValidFraction)
            if (!verdict.ok) {
                skipped.add(Pair(w, verdict))
                continue
            }
            ready.add(inputsFor(w))
        }
        return SessionUpdate(rows, ready, skipped, strikes)
    }

    /**
     * The heel strikes in [w]'s own gap-filled keypoints, as session row indices: what the Python
     * Screener's `_screen` counts steps from (`detect_gait_events(w.keypoints)` per window).
     */
    private fun windowHeelStrikes(w: MapWindow): Map<String, List<Int>> {
        if (rowKeypoints.size != w.length) return GaitEvents.SIDES.associateWith { emptyList<Int>() }
        val ev = Events.detect(ArrayList(rowKeypoints), GeneratedSchema.MAP_FPS)
        val base = rowOffset + w.start
        return GaitEvents.SIDES.associateWith { s -> ev.heelStrikes.getValue(s).map { it + base } }
    }

    /**
     * `assess_window` of a window with gait events detected over the grid history (which reaches
     * a few frames past the window: the gap filler holds rows back); the walking gate judges the
     * window's own keypoints, as the Python Screener's does.
     */
    fun gaitQuality(w: MapWindow): GaitWindowQuality {
        val first = gridSeen - grid.size // stream index of the oldest frame held
        val ev = Events.detect(ArrayList(grid), GeneratedSchema.MAP_FPS)
        fun shift(m: Map<String, List<Int>>) = GaitEvents.SIDES.associateWith { s -> m.getValue(s).map { it + first } }
        lastEvents = GaitEvents(shift(ev.heelStrikes), shift(ev.toeOffs), ev.view, ev.fps, first + ev.nFrames)
        // Judged in window coordinates (the verdict only counts events inside the window, so a shift
        // changes nothing) so nothing allocated here grows with the session.
        val offset = w.start - first
        fun local(m: Map<String, List<Int>>) = GaitEvents.SIDES.associateWith { s -> m.getValue(s).map { it - offset } }
        val events = GaitEvents(local(ev.heelStrikes), local(ev.toeOffs), ev.view, ev.fps, ev.nFrames - offset)
        return Events.assessWindow(w.valid, events, 0, w.length, minValidFraction, 1, ArrayList(rowKeypoints))
    }

    companion object {
        /** A pause longer than this ends a segment (Python `MAX_SEGMENT_GAP_MS`): the next frame starts a new stream. */
        const val MAX_SEGMENT_GAP_MS = 10_000.0
    }

    /** The model inputs of a window (text described from the window's own map, as in training). */
    fun inputsFor(w: MapWindow): ModelInputs {
        var video: ByteArray? = null
        if (usesVideo) {
            val per = Silhouette.SIZE * Silhouette.WIDTH
            video = ByteArray(w.length * per)
            var t = 0
            for (frame in rowVideo) {
                System.arraycopy(frame, 0, video, t * per, per)
                t++
            }
        }
        var text: FloatArray? = null
        var mask: BooleanArray? = null
        var description: WindowDescription? = null
        if (usesText) {
            description = Describe.describeWindow(w.values, w.valid, reference!!, maxSentences)
            val (ids, m) = Describe.paddedIds(description, maxSentences)
            text = table!!.lookup(ids, m)
            mask = m
        }
        return ModelInputs(w, w.values, w.valid, video, text, mask, description)
    }
}
