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
    @JvmField val video: FloatArray?,
    @JvmField val text: FloatArray?,
    @JvmField val textMask: BooleanArray?,
    @JvmField val description: WindowDescription?
) {
    val textTokens: Int get() = textMask?.size ?: 0
}

/** What [ScreeningSession.onFrame] reports: rows added, and windows ready for the model (or skipped, with why). */
class SessionUpdate(
    @JvmField val rows: List<MapRow>,
    @JvmField val ready: List<ModelInputs>,
    @JvmField val skipped: List<Pair<MapWindow, WindowVerdict>>
)

/** The verdict of a window: validity always, gait (steps, cycles) when the session judges it. */
private fun verdictOf(q: GaitWindowQuality): WindowVerdict =
    WindowVerdict(q.ok, q.validFraction, if (q.ok) null else q.reasons.joinToString("; "))

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
    val mapStream = MapStream(GeneratedSchema.NUM_COCO_FEET)
    val windows = WindowBuffer(manifest.windowFrames, hop)
    val silhouettes = SilhouetteTrack()
    private val rowVideo = java.util.ArrayDeque<FloatArray>() // silhouettes of the last windowFrames rows
    private val grid = java.util.ArrayDeque<DoubleArray>() // resampled frames (before gap filling) for gait events
    private var gridSeen = 0

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
        mapStream.onGridSample = { g ->
            grid.addLast(g.keypoints)
            gridSeen++
            while (grid.size > gaitHistoryFrames) grid.removeFirst()
        }
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
        if (usesVideo) silhouettes.push(timestampMs, silhouette, silhouetteUsable)
        return consume(mapStream.push(timestampMs, keypoints))
    }

    /** End of a recording: the rows the gap filler still held. */
    fun finish(): SessionUpdate = consume(mapStream.flush())

    private fun consume(rows: List<MapRow>): SessionUpdate {
        val ready = ArrayList<ModelInputs>()
        val skipped = ArrayList<Pair<MapWindow, WindowVerdict>>()
        for (row in rows) {
            if (usesVideo) {
                val sil = silhouettes.at(row.timestampMs)
                rowVideo.addLast(Silhouette.toModelInput(sil, sil != null)) // zeros where no close usable frame
                while (rowVideo.size > manifest.windowFrames) rowVideo.removeFirst()
            }
            val w = windows.push(row) ?: continue
            val verdict = if (judgeGait) verdictOf(gaitQuality(w)) else w.quality(minValidFraction)
            if (!verdict.ok) {
                skipped.add(Pair(w, verdict))
                continue
            }
            ready.add(inputsFor(w))
        }
        return SessionUpdate(rows, ready, skipped)
    }

    /**
     * `assess_window` of a window with gait events detected over the grid history (which reaches
     * a few frames past the window: the gap filler holds rows back).
     */
    fun gaitQuality(w: MapWindow): GaitWindowQuality {
        val first = gridSeen - grid.size // stream index of the oldest frame held
        val ev = Events.detect(ArrayList(grid), GeneratedSchema.MAP_FPS)
        fun shift(m: Map<String, List<Int>>) = GaitEvents.SIDES.associateWith { s -> m.getValue(s).map { it + first } }
        val events = GaitEvents(shift(ev.heelStrikes), shift(ev.toeOffs), ev.view, ev.fps, first + ev.nFrames)
        lastEvents = events
        val valid = BooleanArray(w.start + w.length)
        System.arraycopy(w.valid, 0, valid, w.start, w.length)
        return Events.assessWindow(valid, events, w.start, w.start + w.length, minValidFraction)
    }

    /** The model inputs of a window (text described from the window's own map, as in training). */
    fun inputsFor(w: MapWindow): ModelInputs {
        var video: FloatArray? = null
        if (usesVideo) {
            val per = Silhouette.SIZE * Silhouette.WIDTH
            video = FloatArray(w.length * per)
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
