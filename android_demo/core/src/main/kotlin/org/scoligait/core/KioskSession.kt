package org.scoligait.core

/** The kiosk's screens, in order; [SUMMARY] -> [IDLE] is "next subject". */
enum class KioskState { IDLE, GUIDING, RECORDING, SUMMARY }

/** What the live screen tells the subject (or the operator) to do now. */
enum class Guidance(val message: String) {
    NO_PERSON("Nobody in view: stand 3-5 m from the camera"),
    BODY_NOT_FULLY_VISIBLE("Whole body not in view: head to feet must be in the picture"),
    HOLD_STILL_IN_VIEW("Good, whole body in view: get ready to walk"),
    NOT_WALKING_YET("Please walk across the camera (or toward it) at your usual pace"),
    RECORDING("Recording: keep walking"),
    PAUSED("Paused")
}

/**
 * Consent taken on the consent screen, before the camera starts. A minor needs a guardian's
 * consent as well as their own assent ([GeneratedSessionRules.MINOR_NEEDS_GUARDIAN_CONSENT], the
 * shared session rules); nothing is recorded without it.
 */
class Consent(@JvmField val subjectIsMinor: Boolean, @JvmField val subjectConsents: Boolean, @JvmField val guardianConsents: Boolean) {
    /** `SessionRules.consent_valid` of the Python station, with the shared rules. */
    val valid: Boolean
        get() = subjectConsents && (guardianConsents || !(subjectIsMinor && GeneratedSessionRules.MINOR_NEEDS_GUARDIAN_CONSENT))
}

/**
 * A window handed to the model: answer with [KioskSession.onModelResult] or [KioskSession.onModelError].
 * [inputUnusual]: the window's out-of-distribution flag ([InputReference]; null when not scored).
 */
class WindowTicket @JvmOverloads constructor(@JvmField val generation: Long, @JvmField val inputs: ModelInputs,
                                             @JvmField val inputUnusual: Boolean? = null)

/** What one camera frame changed: the state, what to tell the subject, windows for the model. */
class KioskUpdate(
    @JvmField val state: KioskState,
    @JvmField val guidance: Guidance?,
    @JvmField val toScreen: List<WindowTicket>,
    @JvmField val windowProgress: Double,
    @JvmField val subjectKeypoints: DoubleArray?
)

/**
 * One screening kiosk's session, pure Kotlin (the app adds camera, pose model and ONNX Runtime):
 *
 * IDLE --[begin(consent)]--> GUIDING --[whole body in view for [settleFrames] frames]--> RECORDING
 * --[[targetScreened] screened windows, or [maxRecordingS], or [stop]]--> SUMMARY --[nextSubject]--> IDLE.
 *
 * The defaults of [settleFrames], [targetScreened] and [maxRecordingS] are the shared session rules
 * ([GeneratedSessionRules], generated from `scoligait_edge/assets/session_rules.json`, which the Python
 * station follows too); pass other values only in tests.
 *
 * RECORDING feeds frames to a [ScreeningSession]; windows that pass the quality check go to the
 * model as [WindowTicket]s, skipped ones are counted at once. The decision is Python's session
 * rule ([SessionStats]), shown only on the summary. [pause] / [resume] (the app left the
 * foreground) start a new stream segment instead of replaying the gap; tickets of an earlier
 * subject are ignored. Memory does not grow with the session length.
 */
class KioskSession @JvmOverloads constructor(
    private val manifest: BundleManifest,
    private val table: SentenceEmbeddingTable? = null,
    private val reference: ReferenceStats? = null,
    /** The bundle's `input_reference.json`: windows unlike the training data are flagged, and the summary says so. */
    private val inputReference: InputReference? = null,
    val settleFrames: Int = GeneratedSessionRules.SETTLE_FRAMES,
    val targetScreened: Int = GeneratedSessionRules.TARGET_SCREENED_WINDOWS,
    val maxRecordingS: Double = GeneratedSessionRules.MAX_RECORDING_S,
    val maxPending: Int = 4
) {
    var state = KioskState.IDLE
        private set
    var consent: Consent? = null
        private set
    var paused = false
        private set

    /** The session's summary once in [KioskState.SUMMARY], else null. */
    var summary: SessionSummary? = null
        private set

    private var generation = 0L
    private var session: ScreeningSession? = null
    private var stats = SessionStats()
    private var inView = 0
    private var pending = 0
    private var stopping = false
    private var frames = 0
    private var framesWithSubject = 0
    private var firstTs = Double.NaN
    private var lastTs = Double.NaN
    private var lastVerdictWalking = true

    /** Live totals, for the progress line. */
    val liveStats: SessionStats get() = stats

    /** Windows sent to the model and not answered yet. */
    val pendingWindows: Int get() = pending

    /** The stream under the session (null outside RECORDING), for inspection and tests. */
    val screeningSession: ScreeningSession? get() = session

    /** IDLE -> GUIDING, with valid consent (throws otherwise: the camera must not start without it). */
    fun begin(c: Consent) {
        check(state == KioskState.IDLE) { "begin() from $state: call nextSubject() first" }
        require(c.valid) { if (c.subjectIsMinor && !c.guardianConsents) "a minor needs a guardian's consent" else "the subject has not consented" }
        consent = c
        state = KioskState.GUIDING
    }

    /** A camera frame's subject keypoints `[21 * 3]` (all missing when nobody was found). */
    @JvmOverloads
    fun onFrame(timestampMs: Double, keypoints: DoubleArray, silhouette: IntArray? = null, silhouetteUsable: Boolean = false): KioskUpdate {
        val found = keypoints.indices.step(3).any { Keypoints.isFinite(keypoints[it]) }
        if (paused || (state != KioskState.GUIDING && state != KioskState.RECORDING) || stopping) {
            return KioskUpdate(state, if (paused) Guidance.PAUSED else null, emptyList(), progress(), if (found) keypoints else null)
        }
        val whole = wholeBodyInView(keypoints)
        if (state == KioskState.GUIDING) {
            inView = if (whole) inView + 1 else 0
            if (inView < settleFrames) {
                val g = if (!found) Guidance.NO_PERSON else if (!whole) Guidance.BODY_NOT_FULLY_VISIBLE else Guidance.HOLD_STILL_IN_VIEW
                return KioskUpdate(state, g, emptyList(), 0.0, if (found) keypoints else null)
            }
            state = KioskState.RECORDING // the recording starts with the whole body in view
            session = ScreeningSession(manifest, table, reference)
        }
        val s = session!!
        frames++
        if (found) framesWithSubject++
        if (firstTs.isNaN()) firstTs = timestampMs
        lastTs = timestampMs
        val tickets = handle(s.onFrame(timestampMs, keypoints, silhouette, silhouetteUsable))
        if (stats.screened + pending >= targetScreened || (lastTs - firstTs) / 1000.0 >= maxRecordingS) stop()
        val g = when {
            !found -> Guidance.NO_PERSON
            !whole -> Guidance.BODY_NOT_FULLY_VISIBLE
            !lastVerdictWalking -> Guidance.NOT_WALKING_YET
            else -> Guidance.RECORDING
        }
        return KioskUpdate(state, g, tickets, progress(), if (found) keypoints else null)
    }

    private fun handle(u: SessionUpdate): List<WindowTicket> {
        for (strikes in u.heelStrikes) for ((side, frames) in strikes) stats.steps.add(side, frames)
        for ((_, v) in u.skipped) {
            stats.add(WindowOutcome.skipped(v.flags))
            lastVerdictWalking = "not_walking" !in v.flags
        }
        val out = ArrayList<WindowTicket>()
        for (x in u.ready) {
            lastVerdictWalking = true
            if (pending >= maxPending) { // the model cannot keep up: count it, never queue without bound
                stats.add(WindowOutcome.failed("model busy: window dropped"))
                continue
            }
            pending++
            out.add(WindowTicket(generation, x, inputReference?.scoreWindow(x.window)?.flagged))
        }
        return out
    }

    /** The model's result for a ticket; ignored when the ticket belongs to an earlier subject. */
    fun onModelResult(ticket: WindowTicket, result: ScreeningResult) = answer(ticket, WindowOutcome.screened(result))


    fun onModelError(ticket: WindowTicket, message: String) = answer(ticket, WindowOutcome.failed(message))

    /** Same, from a probability and its top features (tests, or a caller with its own result type). */
    fun onModelOutcome(ticket: WindowTicket, outcome: WindowOutcome) = answer(ticket, outcome)

    private fun answer(ticket: WindowTicket, outcome: WindowOutcome): Boolean {
        if (ticket.generation != generation || state == KioskState.IDLE || state == KioskState.SUMMARY) return false
        pending--
        stats.add(if (outcome.inputUnusual == null) outcome.withInputUnusual(ticket.inputUnusual) else outcome)
        if (stopping && pending == 0) toSummary()
        return true
    }

    /** End the recording (operator, or the targets reached): SUMMARY once every window sent to the model is answered. */
    fun stop() {
        if (state == KioskState.GUIDING) {
            toSummary()
            return
        }
        if (state != KioskState.RECORDING || stopping) return
        stopping = true
        if (pending == 0) toSummary()
    }

    /** The model did not answer in time (shutdown, a hung session): count the missing windows as failed and summarise. */
    fun abandonPending(reason: String) {
        if (!stopping && state != KioskState.RECORDING) return
        repeat(pending) { stats.add(WindowOutcome.failed(reason)) }
        pending = 0
        if (stopping) toSummary()
    }

    private fun toSummary() {
        generation++ // late model answers for this subject are dropped
        pending = 0
        stopping = false
        val duration = if (firstTs.isNaN()) 0.0 else (lastTs - firstTs) / 1000.0
        summary = stats.summary(manifest.threshold, frames, framesWithSubject, duration, manifest.windowFrames, inputReference != null)
        session = null
        state = KioskState.SUMMARY
    }

    /** The app left the foreground (camera stopped): frames are ignored until [resume]. */
    fun pause() {
        paused = true
    }

    /**
     * Back in the foreground: the stream starts a new segment (the gap is not replayed); totals
     * are kept. Returns the windows the rows held before the pause completed (screen them too).
     */
    fun resume(): List<WindowTicket> {
        if (!paused) return emptyList()
        paused = false
        inView = 0
        val s = session ?: return emptyList()
        val tickets = handle(s.finish())
        s.resetStream()
        return tickets
    }

    /** "Next subject": everything about the last one is cleared (consent, totals, stream, summary). */
    fun nextSubject() {
        generation++
        state = KioskState.IDLE
        consent = null
        summary = null
        session = null
        stats = SessionStats()
        inView = 0
        pending = 0
        stopping = false
        paused = false
        frames = 0
        framesWithSubject = 0
        firstTs = Double.NaN
        lastTs = Double.NaN
        lastVerdictWalking = true
    }

    private fun progress(): Double = if (state == KioskState.RECORDING) {
        Math.min(1.0, (stats.screened + pending).toDouble() / targetScreened)
    } else if (state == KioskState.SUMMARY) 1.0 else 0.0

    companion object {
        /** Every core joint (shoulders to ankles) present: the per-frame "whole body in view" of the guidance. */
        @JvmStatic
        fun wholeBodyInView(keypoints: DoubleArray): Boolean =
            GeneratedSchema.CORE_JOINTS.all { Keypoints.present(keypoints, it) }
    }
}
