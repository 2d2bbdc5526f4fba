package org.scoligait.core

/**
 * The JSON the operator may export after a session (nothing is written unless asked): the
 * summary, why windows were skipped, the model's provenance and the notices. Field names follow
 * Python's `SessionSummary` so the same tools read both. No frames, keypoints, images or names:
 * the kiosk stores nothing that identifies the subject.
 */
object SummaryExport {
    const val FORMAT = "scoligait-session-summary"

    @JvmStatic
    @JvmOverloads
    fun toJson(s: SessionSummary, manifest: BundleManifest, signature: SignatureCheck?, consent: Consent?, createdUtc: String? = null): String {
        fun feature(f: FeatureEvidence) = linkedMapOf<String, Any?>("name" to f.name, "domain" to f.domain, "meaning" to f.meaning,
            "clinical_prior" to f.clinicalPrior, "start_s" to f.startS, "stop_s" to f.stopS, "evidence" to f.evidence)
        val doc = linkedMapOf<String, Any?>(
            "format" to FORMAT,
            "created_utc" to createdUtc,
            "decision" to s.decision,
            "reason" to s.reason,
            "probability_mean" to s.probabilityMean,
            "probability_sd" to s.probabilitySd,
            "probability_min" to s.probabilityMin,
            "probability_max" to s.probabilityMax,
            "threshold" to s.threshold,
            "threshold_source" to manifest.thresholdSource,
            "decision_rule" to "mean probability of the screened windows >= threshold -> refer",
            "windows_total" to s.windowsTotal,
            "windows_screened" to s.windowsScreened,
            "windows_skipped" to s.windowsSkipped,
            "windows_failed" to s.windowsFailed,
            "gait_cycles" to s.gaitCycles,
            "steps" to s.steps,
            "windows_input_unusual" to s.windowsInputUnusual,
            "notes" to s.notes,
            "quality_flags" to LinkedHashMap<String, Any?>(s.qualityFlags),
            "quality_reasons" to s.qualityReasons(),
            "top_features" to s.topFeatures.map { feature(it) },
            "frames_processed" to s.framesProcessed,
            "frames_with_subject" to s.framesWithSubject,
            "duration_s" to s.durationS,
            "model" to linkedMapOf<String, Any?>("feature_schema" to manifest.featureSchemaVersion,
                "feature_schema_hash" to manifest.featureSchemaHash, "modalities" to manifest.modalities,
                "signature" to signature?.status?.id),
            "provenance" to (manifest.provenanceNotice ?: manifest.provenance["data"]),
            "simulated_data_model" to manifest.isSimulated,
            "consent" to consent?.let { linkedMapOf<String, Any?>("subject" to it.subjectConsents, "minor" to it.subjectIsMinor,
                "guardian" to it.guardianConsents) },
            "notice" to GeneratedText.SCREENING_NOTICE
        )
        return Json.dumpsPython(doc)
    }
}
