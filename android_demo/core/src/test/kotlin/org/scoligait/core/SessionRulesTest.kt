package org.scoligait.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import java.security.MessageDigest

/**
 * One written rule set for both stations: the Kotlin kiosk follows `scoligait_edge/assets/session_rules.json`
 * (the Python station's `SessionRules`) through the generated [GeneratedSessionRules], and nothing else.
 * The JSON file is read here, so a rule changed on the Python side fails this test until the Kotlin table is
 * regenerated (`.venv/bin/python android_demo/tools/make_golden.py`).
 */
class SessionRulesTest {
    private val file: File by lazy { File(Golden.repoRoot(), GeneratedSessionRules.SOURCE_PATH) }
    private val rules: Map<String, Any?> by lazy { Json.obj(Json.parse(file.readText(Charsets.UTF_8)), file.path) }
    private val demo: LoadedBundle by lazy {
        BundleReader.read(DirectoryBundleFiles(File(Golden.repoRoot(), "scoligait_edge/assets/models/demo")))
    }

    @Test
    fun theGeneratedTableIsTheJsonFile() {
        val sha = MessageDigest.getInstance("SHA-256").digest(file.readBytes()).joinToString("") { "%02x".format(it) }
        assertEquals("session_rules.json changed since the Kotlin table was generated: run make golden", GeneratedSessionRules.SOURCE_SHA256, sha)
        assertEquals(GeneratedSessionRules.SCHEMA, Json.str(rules["schema"]))
        assertEquals(GeneratedSessionRules.SETTLE_FRAMES, Json.int(rules["settle_frames"]))
        assertEquals(GeneratedSessionRules.TARGET_SCREENED_WINDOWS, Json.int(rules["target_screened_windows"]))
        assertEquals(GeneratedSessionRules.MAX_RECORDING_S, Json.num(rules["max_recording_s"]), 0.0)
        assertEquals(GeneratedSessionRules.MINOR_NEEDS_GUARDIAN_CONSENT, Json.bool(rules["minor_needs_guardian_consent"]))
        assertEquals(GeneratedSessionRules.ADULT_AGE, Json.int(rules["adult_age"]))
        val known = setOf("schema", "settle_frames", "target_screened_windows", "max_recording_s", "minor_needs_guardian_consent", "adult_age")
        assertEquals("a rule the Kotlin side does not know: add it to gen_kotlin_tables.py and KioskSession", known, rules.keys)
    }

    @Test
    fun theKioskUsesTheSharedRulesByDefault() {
        val k = KioskSession(demo.manifest, demo.table, demo.reference, demo.inputReference)
        assertEquals(Json.int(rules["settle_frames"]), k.settleFrames)
        assertEquals(Json.int(rules["target_screened_windows"]), k.targetScreened)
        assertEquals(Json.num(rules["max_recording_s"]), k.maxRecordingS, 0.0)
    }

    @Test
    fun consentFollowsTheSharedRuleAsPythonsConsentValid() {
        val guardianRule = Json.bool(rules["minor_needs_guardian_consent"])
        for (minor in listOf(false, true)) for (subject in listOf(false, true)) for (guardian in listOf(false, true)) {
            // scoligait_edge.session_rules.SessionRules.consent_valid, written out
            val python = subject && (guardian || !(minor && guardianRule))
            assertEquals("minor=$minor subject=$subject guardian=$guardian", python, Consent(minor, subject, guardian).valid)
        }
        assertTrue("the shipped rules ask a guardian for a minor", guardianRule)
        assertFalse(Consent(true, true, false).valid)
    }

    @Test
    fun recordingStartsAfterTheSettleFramesOfTheRules() {
        val walk = Golden.frames(Golden.npy("sim_long_30fps.keypoints.npy"))
        val k = KioskSession(demo.manifest, demo.table, demo.reference)
        k.begin(Consent(false, true, false))
        val settle = Json.int(rules["settle_frames"])
        for (i in 0 until settle) {
            val u = k.onFrame(i * 1000.0 / 30.0, walk[i])
            assertEquals("frame $i of $settle", if (i < settle - 1) KioskState.GUIDING else KioskState.RECORDING, u.state)
        }
    }
}
