package org.scoligait.core

/**
 * The session's error state for work done on worker threads (camera frames, pose results, the
 * model thread, UI callbacks): nothing thrown there may end the process, so each callback catches
 * and reports here, and the live screen shows [current]. An error stays on screen [showForMs]
 * after it last happened; the same error again is counted ("(3 times)") instead of replacing the
 * text. [clock] is milliseconds (a fake in tests). Thread-safe.
 */
class WorkerErrors @JvmOverloads constructor(
    val showForMs: Long = 10_000,
    private val clock: () -> Long = { System.nanoTime() / 1_000_000L }
) {
    /** One kind of error: where it happened, what it said, how often, when last. */
    class Report(@JvmField val source: String, @JvmField val message: String, @JvmField val count: Int, @JvmField val lastMs: Long) {
        val text: String get() = "Problem in $source: $message" + if (count > 1) " ($count times)" else ""
        override fun toString(): String = text
    }

    private var last: Report? = null
    private var totalCount = 0

    /** Errors reported since the last [clear]. */
    val total: Int @Synchronized get() = totalCount

    /** The latest report (whether or not it is still shown). */
    val latest: Report? @Synchronized get() = last

    /** Report [t] thrown in [source]; returns the text the screen shows now. */
    fun report(source: String, t: Throwable): String = report(source, describe(t))

    @Synchronized
    fun report(source: String, message: String): String {
        val now = clock()
        val prev = last
        val count = if (prev != null && prev.source == source && prev.message == message && now - prev.lastMs <= showForMs) prev.count + 1 else 1
        val r = Report(source, message, count, now)
        last = r
        totalCount++
        return r.text
    }

    /** What the live screen shows now: the latest error while it is recent, else null. */
    @Synchronized
    fun current(): String? {
        val r = last ?: return null
        return if (clock() - r.lastMs <= showForMs) r.text else null
    }

    /** Next subject: nothing about the last one stays on screen. */
    @Synchronized
    fun clear() {
        last = null
        totalCount = 0
    }

    companion object {
        @JvmStatic
        fun describe(t: Throwable): String = t.javaClass.simpleName + (t.message?.let { ": $it" } ?: "")
    }
}

/**
 * What set-up made, closed by shutdown whatever the timing. Set-up (a background thread) builds
 * its resources and [publish]es them; shutdown (`ViewModel.onCleared`) calls [close]. Whichever
 * comes second closes the value, exactly once, with [closer]: a screen closed while the model is
 * still loading leaves nothing open, and a value published after shutdown is closed at once.
 * Set-up may poll [isClosed] to stop early (closing what it made so far itself).
 */
class Lifetime<T : Any>(private val closer: (T) -> Unit) {
    private var value: T? = null
    private var closed = false

    /** Shutdown has begun. */
    val isClosed: Boolean @Synchronized get() = closed

    /** The published value while it is live, else null. */
    val current: T? @Synchronized get() = value

    /** Set-up finished with [v]: true when it is now live; false (and [v] closed) when [close] came first. */
    fun publish(v: T): Boolean {
        synchronized(this) {
            check(value == null) { "publish() twice" }
            if (!closed) {
                value = v
                return true
            }
        }
        closer(v)
        return false
    }

    /** Shutdown: closes the published value (once); a value published later is closed by [publish]. */
    fun close() {
        val v = synchronized(this) {
            if (closed) return
            closed = true
            value.also { value = null }
        }
        if (v != null) closer(v)
    }
}
