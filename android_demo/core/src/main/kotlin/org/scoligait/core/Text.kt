package org.scoligait.core

/** A text feature of the finite sentence set, compiled to knowledge-map column indices (generated). */
class TextFeatureDef(
    @JvmField val id: String,
    @JvmField val label: String,
    @JvmField val prior: String?,
    @JvmField val columns: IntArray,
    @JvmField val coefs: DoubleArray,
    @JvmField val magnitude: BooleanArray,
    @JvmField val statisticStd: Boolean,
    @JvmField val frontalOnly: Boolean,
    @JvmField val mirror: Boolean,
    @JvmField val presence: IntArray,
    @JvmField val hasPositive: Boolean,
    @JvmField val hasNegative: Boolean
) {
    fun hasDirection(sign: Int): Boolean = if (sign > 0) hasPositive else hasNegative
}

/** One sentence of the set; [id] is also its row in the embedding table. */
class SentenceDef(
    @JvmField val id: Int,
    @JvmField val text: String,
    @JvmField val feature: String?,
    @JvmField val direction: String?,
    @JvmField val sign: Int,
    @JvmField val severity: String?
)

class TableMismatchException(message: String) : IllegalStateException(message)

/**
 * The stored all-MiniLM-L6-v2 sentence embedding table (`sentences_v<N>.json` + `.npy`, see
 * `scoligait_edge/text/embeddings.py`): row i embeds the sentence with id i, so a window's
 * sentence ids index it and no text transformer runs on the phone.
 */
class SentenceEmbeddingTable(
    @JvmField val embeddings: FloatArray,
    @JvmField val rows: Int,
    @JvmField val dim: Int,
    @JvmField val sentenceSetHash: String,
    @JvmField val texts: List<String>
) {
    init {
        require(embeddings.size == rows * dim) { "embeddings must be [rows, dim]" }
    }

    /** Throws [TableMismatchException] unless the table belongs to this build's sentence set. */
    fun check() {
        if (sentenceSetHash != GeneratedText.SENTENCE_SET_HASH || rows != GeneratedText.SENTENCES.size) {
            throw TableMismatchException(
                "embedding table ($rows rows, sentence hash ${sentenceSetHash.take(12)}) does not match sentence set " +
                    "v${GeneratedText.TEXT_SCHEMA_VERSION} (${GeneratedText.SENTENCES.size} sentences, " +
                    "${GeneratedText.SENTENCE_SET_HASH.take(12)}); copy the table of the Python build that made the model"
            )
        }
    }

    /**
     * Sentence ids `[B * S]` (+ mask, true = real sentence) -> embeddings `[B * S * dim]` float32,
     * padding rows zero: the `text` input of the model (`text_mask` is the mask itself).
     */
    @JvmOverloads
    fun lookup(ids: IntArray, mask: BooleanArray? = null): FloatArray {
        require(mask == null || mask.size == ids.size) { "mask (${mask?.size}) must match ids (${ids.size})" }
        val out = FloatArray(ids.size * dim)
        for (i in ids.indices) {
            val id = ids[i]
            if (id < 0 || id >= rows) throw IndexOutOfBoundsException("sentence ids must be in [0, $rows), got $id")
            if (mask != null && !mask[i]) continue
            System.arraycopy(embeddings, id * dim, out, i * dim, dim)
        }
        return out
    }

    companion object {
        /**
         * The table a bundle ships (`text.sentence_table`, what the Python exporter writes and the
         * Screener `np.load`s): float32 rows `[sentences, 384]`, row i = sentence id i. Accepted only
         * if its raw bytes are this build's table ([GeneratedText.EMBEDDINGS_SHA256]), the check the
         * Python Screener makes against its own copy; the texts come from the generated sentence set.
         */
        @JvmStatic
        fun fromRows(npyBytes: ByteArray, name: String = "sentence table"): SentenceEmbeddingTable {
            val npy = try { NpyArray.parse(npyBytes, name) } catch (e: IllegalArgumentException) {
                throw TableMismatchException("$name is not a .npy array (${e.message}); the bundle's sentence table must be " +
                    "the float32 rows the exporter writes")
            }
            val n = GeneratedText.SENTENCES.size
            val dim = GeneratedText.EMBEDDING_DIM
            if (npy.dtype != "<f4" || npy.shape.size != 2 || npy.shape[0] != n || npy.shape[1] != dim) {
                throw TableMismatchException("$name is ${npy.dtype} ${npy.shape.toList()}, this build needs float32 [$n, $dim]")
            }
            val sha = Schema.sha256Hex(npy.rawBytes())
            if (sha != GeneratedText.EMBEDDINGS_SHA256) {
                throw TableMismatchException("$name (${sha.take(12)}) is not the embedding table of sentence set " +
                    "v${GeneratedText.TEXT_SCHEMA_VERSION} (${GeneratedText.EMBEDDINGS_SHA256.take(12)}); re-export the bundle " +
                    "with the Python package this app was generated from")
            }
            return SentenceEmbeddingTable(npy.floats(), n, dim, GeneratedText.SENTENCE_SET_HASH, GeneratedText.SENTENCES.map { it.text })
        }

        /**
         * Load from the JSON metadata and the `.npy` bytes. Checks the array against the sha256 the
         * metadata records and the sentence-set hash against the ids and texts it lists.
         */
        @JvmStatic
        fun load(metaJson: String, npyBytes: ByteArray): SentenceEmbeddingTable {
            val meta = Json.obj(Json.parse(metaJson), "sentence table metadata")
            val npy = NpyArray.parse(npyBytes, Json.str(meta["embeddings_file"], "embeddings_file"))
            if (npy.dtype != "<f4" || npy.shape.size != 2) throw TableMismatchException("embeddings must be float32 [n, dim]")
            val sentences = Json.arr(meta["sentences"], "sentences")
            val dim = Json.int(meta["dim"], "dim")
            if (npy.shape[0] != sentences.size || npy.shape[1] != dim) {
                throw TableMismatchException("embeddings ${npy.shape.toList()} do not match ${sentences.size} sentences x $dim")
            }
            val sha = Schema.sha256Hex(npy.rawBytes())
            if (sha != Json.str(meta["embeddings_sha256"], "embeddings_sha256")) {
                throw TableMismatchException("${meta["embeddings_file"]} does not match its sha256 in the metadata")
            }
            val texts = ArrayList<String>()
            val pairs = ArrayList<Any?>()
            for ((i, s) in sentences.withIndex()) {
                val o = Json.obj(s, "sentence $i")
                val id = Json.int(o["id"], "sentence id")
                if (id != i) throw TableMismatchException("sentence $i has id $id")
                val text = Json.str(o["text"], "sentence text")
                texts.add(text)
                pairs.add(listOf(id, text))
            }
            val version = Json.int(meta["text_schema_version"], "text_schema_version")
            val payload = LinkedHashMap<String, Any?>()
            payload["version"] = version
            payload["sentences"] = pairs
            val recomputed = Schema.sha256Hex(Json.dumpsPython(payload).toByteArray(Charsets.UTF_8))
            val recorded = Json.str(meta["sentence_set_hash"], "sentence_set_hash")
            if (recomputed != recorded) {
                throw TableMismatchException("sentence_set_hash ${recorded.take(12)} does not match the listed sentences (${recomputed.take(12)})")
            }
            return SentenceEmbeddingTable(npy.floats(), npy.shape[0], dim, recorded, texts)
        }
    }
}
