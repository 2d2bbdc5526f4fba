package org.scoligait.core

import java.security.GeneralSecurityException
import java.security.KeyFactory
import java.security.NoSuchAlgorithmException
import java.security.Signature
import java.security.SignatureException
import java.security.spec.X509EncodedKeySpec

/** How a bundle's `manifest.json.sig` checked out ([id]: Python's `SignatureCheck.status`); only [VERIFIED] is trusted. */
enum class SignatureStatus(val id: String) {
    VERIFIED("verified"), UNSIGNED("unsigned"), UNKNOWN_KEY("unknown-key"), INVALID("invalid"),
    /** Signed by a trusted key, but this device cannot check Ed25519 (none before Android 13, or a provider that fails): present, not checked. */
    UNVERIFIABLE("unverifiable")
}

/** The outcome and, for the screen, why ([reason]) and by which key ([keyId], hex sha256 of the raw key). */
class SignatureCheck(@JvmField val status: SignatureStatus, @JvmField val reason: String, @JvmField val keyId: String? = null) {
    val verified: Boolean get() = status == SignatureStatus.VERIFIED
    override fun toString(): String = "$status: $reason"
}

/**
 * Port of `scoligait_edge/bundle/signing.py` (the verifying half): Ed25519 over
 * `b"scoligait-bundle-manifest-v1\n" + manifest bytes`, the signature in `manifest.json.sig`
 * (`format`, `version` 1, `algorithm` "ed25519", `key_id`, base64 `signature`). The manifest
 * lists every file's sha256, so a verified manifest plus verified file hashes covers the bundle.
 *
 * Ed25519 comes from `java.security` (JDK 15+, Android 13+); where the runtime lacks it, or its
 * provider fails to set up the check (cannot parse the key, ...), the signature is reported
 * [SignatureStatus.UNVERIFIABLE] ("cannot verify on this device": present, not checked) instead of
 * failing. Only a check that runs and answers "no" is [SignatureStatus.INVALID] ("modified").
 */
object BundleSignature {
    const val FILE = "manifest.json.sig"
    const val FORMAT = "scoligait-bundle-signature"
    const val MAX_BYTES = 16 * 1024
    /** An Ed25519 signature is 64 bytes (RFC 8032); any other length is a malformed signature file. */
    const val SIGNATURE_BYTES = 64
    private val DOMAIN = "scoligait-bundle-manifest-v1\n".toByteArray(Charsets.US_ASCII)
    /** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows. */
    private val SPKI_PREFIX = byteArrayOf(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00)

    /** A trusted key: its SubjectPublicKeyInfo DER and its id (sha256 of the raw key, as Python's `key_id`). */
    class PublicKey(@JvmField val name: String, @JvmField val spki: ByteArray) {
        val raw: ByteArray = spki.copyOfRange(SPKI_PREFIX.size, spki.size)
        val id: String = Schema.sha256Hex(raw)
    }

    /** An Ed25519 public key from a `*.pub` PEM file's text (SubjectPublicKeyInfo). */
    @JvmStatic
    fun publicKeyFromPem(name: String, pem: String): PublicKey {
        val body = pem.lineSequence().map { it.trim() }.filter { it.isNotEmpty() && !it.startsWith("-----") }.joinToString("")
        val der = Base64Lite.decode(body) ?: throw BundleException("$name is not a PEM public key")
        if (der.size != SPKI_PREFIX.size + 32 || (SPKI_PREFIX.indices).any { der[it] != SPKI_PREFIX[it] }) {
            throw BundleException("$name is not an Ed25519 public key")
        }
        return PublicKey(name, der)
    }

    /** Check the signature file's bytes (null: absent) against [trusted] keys. Never throws for a bad signature. */
    @JvmStatic
    fun check(manifestBytes: ByteArray, signatureBytes: ByteArray?, trusted: List<PublicKey>): SignatureCheck {
        if (signatureBytes == null) return SignatureCheck(SignatureStatus.UNSIGNED, "the bundle has no $FILE (it is unsigned)")
        if (signatureBytes.size > MAX_BYTES) return SignatureCheck(SignatureStatus.INVALID, "$FILE is too large to be a signature file")
        val kid: String
        val sig: ByteArray
        try {
            val o = Json.obj(Json.parse(signatureBytes.toString(Charsets.UTF_8)), FILE)
            if (o["format"] != FORMAT) throw IllegalArgumentException("not a $FORMAT file")
            if (Json.int(o["version"], "version") != 1 || o["algorithm"] != "ed25519") throw IllegalArgumentException("not version 1 / ed25519")
            kid = Json.str(o["key_id"], "key_id")
            sig = Base64Lite.decode(Json.str(o["signature"], "signature")) ?: throw IllegalArgumentException("signature is not base64")
        } catch (e: IllegalArgumentException) {
            return SignatureCheck(SignatureStatus.INVALID, "$FILE is malformed (${e.message})")
        }
        val key = trusted.firstOrNull { it.id == kid }
            ?: return SignatureCheck(SignatureStatus.UNKNOWN_KEY, "signed with key ${kid.take(16)}..., which this app does not trust", kid)
        if (sig.size != SIGNATURE_BYTES) {
            return SignatureCheck(SignatureStatus.INVALID, "$FILE holds a ${sig.size}-byte signature; Ed25519 signatures are $SIGNATURE_BYTES bytes", kid)
        }
        // Setting up the verifier is the runtime's part: no Ed25519 at all (Android before 13), or a provider
        // that has it but cannot parse the key, says nothing about the bundle. Only verify() returning false does.
        val verifier: Signature
        try {
            verifier = Signature.getInstance("Ed25519")
            verifier.initVerify(KeyFactory.getInstance("Ed25519").generatePublic(X509EncodedKeySpec(key.spki)))
            verifier.update(DOMAIN)
            verifier.update(manifestBytes)
        } catch (e: NoSuchAlgorithmException) {
            return cannotVerify(key, kid, "it has no Ed25519")
        } catch (e: GeneralSecurityException) {
            return cannotVerify(key, kid, "its Ed25519 provider failed (${e.javaClass.simpleName}: ${e.message})")
        } catch (e: RuntimeException) { // a broken provider (ProviderException, ...)
            return cannotVerify(key, kid, "its Ed25519 provider failed (${e.javaClass.simpleName}: ${e.message})")
        }
        val ok = try {
            verifier.verify(sig)
        } catch (e: SignatureException) { // a well-formed 64-byte signature: the provider, not the bundle
            return cannotVerify(key, kid, "its Ed25519 provider failed (${e.javaClass.simpleName}: ${e.message})")
        } catch (e: RuntimeException) {
            return cannotVerify(key, kid, "its Ed25519 provider failed (${e.javaClass.simpleName}: ${e.message})")
        }
        return if (ok) SignatureCheck(SignatureStatus.VERIFIED, "signed by ${key.name} (${kid.take(16)}...)", kid)
        else SignatureCheck(SignatureStatus.INVALID, "the signature by ${key.name} does not match manifest.json: " +
            "the manifest was modified after signing", kid)
    }

    /** Signed by a trusted key, but this runtime cannot check Ed25519: loaded as unchecked, never as "modified". */
    private fun cannotVerify(key: PublicKey, kid: String, why: String) = SignatureCheck(SignatureStatus.UNVERIFIABLE,
        "signed by ${key.name} (${kid.take(16)}...), but this device cannot verify the signature ($why); the file hashes were checked", kid)
}

/** Standard base64 without `java.util.Base64` (Android API 26+; the app supports 24). Null when malformed. */
internal object Base64Lite {
    private const val ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    fun decode(text: String): ByteArray? {
        val s = text.trimEnd('=')
        if (text.length % 4 != 0 || text.length - s.length > 2) return null
        val out = java.io.ByteArrayOutputStream(s.length * 3 / 4)
        var buf = 0
        var bits = 0
        for (ch in s) {
            val v = ALPHABET.indexOf(ch)
            if (v < 0) return null
            buf = (buf shl 6) or v
            bits += 6
            if (bits >= 8) {
                bits -= 8
                out.write((buf shr bits) and 0xff)
            }
        }
        return out.toByteArray()
    }
}
