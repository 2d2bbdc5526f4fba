package org.scoligait.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class SchemaAndIoTest {
    @Test
    fun kotlinRecomputesThePythonSchemaHash() {
        assertEquals(GeneratedSchema.PYTHON_SCHEMA_HASH, Schema.computeHash())
        assertEquals("golden fixtures were made for another schema: run make_golden.py",
            Json.str(Golden.index["schema_hash"]), Schema.HASH)
        assertEquals(Json.str(Golden.index["schema_version"]), Schema.VERSION)
        assertEquals(Json.str(Golden.index["sentence_set_hash"]), GeneratedText.SENTENCE_SET_HASH)
        assertEquals(Json.str(Golden.index["text_features_hash"]), GeneratedText.TEXT_FEATURES_HASH)
    }

    @Test
    fun featureTablesMatchTheGoldenNames() {
        val names = Json.arr(Golden.index["feature_names"]).map { Json.str(it) }
        assertEquals(238, GeneratedSchema.NUM_FEATURES)
        assertEquals(names, GeneratedSchema.FEATURE_NAMES.toList())
        assertEquals(238, GeneratedSchema.DOMAIN_SIZES.sum())
        assertEquals(GeneratedSchema.NUM_FEATURES, Features.NUM_MOTION + GeneratedSchema.NUM_ANGLES + 3 * GeneratedSchema.NUM_CROSS_PAIRS)
        assertEquals(GeneratedSchema.DOMAIN_SIZES[0], Features.NUM_MOTION)
        assertEquals(GeneratedSchema.NUM_FEATURES, Features.C_CROSS + 3 * GeneratedSchema.NUM_CROSS_PAIRS)
        // the builder's blocks sit where the schema names them
        assertEquals(0, Schema.indexOf("nose.x"))
        assertEquals(Features.C_VELOCITY, Schema.indexOf("vel:nose.x"))
        assertEquals(Features.C_VELOCITY + Features.VELOCITY_MID_HIP, Schema.indexOf("vel:mid_hip.x"))
        assertEquals(Features.C_DISTANCE, Schema.indexOf("dist[left_eye | right_eye]"))
        assertEquals(Features.C_ANGLE, Schema.indexOf("angle:trunk_lean"))
        assertEquals(140, Schema.indexOf("angle:trunk_lean"))
        assertEquals(Features.C_CROSS, Schema.indexOf("xcorr_peak[left_wrist.x | right_wrist.x]"))
        assertEquals(Features.C_CROSS + 1, Schema.indexOf("xcorr_lag[left_wrist.x | right_wrist.x]"))
        assertEquals(Features.C_CROSS + 2, Schema.indexOf("xcorr0[left_wrist.x | right_wrist.x]"))
        assertEquals(-1, Schema.indexOf("mid_hip->mid_shoulder.dx")) // a v1 column
        assertArrayEquals(intArrayOf(140, 172), Schema.domainRange(1))
    }

    @Test
    fun jsonParsesAndWritesLikePython() {
        val v = Json.obj(Json.parse("""{"a": [1, 2.5, -3e-2, true, null, "x\"\u00e9\n"], "b": {"c": NaN}}"""))
        val a = Json.arr(v["a"])
        assertEquals(1L, a[0])
        assertEquals(2.5, a[1])
        assertEquals(-0.03, Json.num(a[2]), 0.0)
        assertEquals(true, a[3])
        assertNull(a[4])
        assertEquals("x\"\u00e9\n", a[5])
        assertTrue(Json.num(Json.obj(v["b"])["c"]).isNaN())
        // json.dumps({"b": 1, "a": [30.0, 0.5, 1e-06, 0.0001, 12345678.5, None, "\u00e9"]}, sort_keys=True)
        val m = linkedMapOf<String, Any?>("b" to 1, "a" to listOf(30.0, 0.5, 1e-6, 0.0001, 12345678.5, null, "\u00e9"))
        assertEquals("{\"a\": [30.0, 0.5, 1e-06, 0.0001, 12345678.5, null, \"\\u00e9\"], \"b\": 1}", Json.dumpsPython(m))
        try {
            Json.parse("{\"a\": [1, 2}")
            fail("malformed JSON must throw")
        } catch (e: Json.JsonException) {
            assertTrue(e.message!!.contains("offset"))
        }
    }

    @Test
    fun npyReaderReadsEveryFixtureDtype() {
        val grid = Golden.npy("sim_side_30fps.grid_ms.npy")
        assertEquals("<f8", grid.dtype)
        assertEquals(0.0, grid.doubles()[0], 1e-9)
        val valid = Golden.npy("sim_side_30fps.valid.npy")
        assertEquals("|b1", valid.dtype)
        assertEquals(grid.shape[0], valid.booleans().size)
        val starts = Golden.npy("sim_side_30fps.window_starts.npy")
        assertEquals("<i8", starts.dtype)
        assertEquals(16L, starts.longs()[1])
        val lm = Golden.npy("real.landmarks.npy")
        assertEquals("<f4", lm.dtype)
        assertArrayEquals(intArrayOf(lm.shape[0], 33, 4), lm.shape)
        try {
            NpyArray.parse(byteArrayOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))
            fail("not an npy file")
        } catch (e: IllegalArgumentException) {
            assertFalse(e.message.isNullOrEmpty())
        }
    }
}
