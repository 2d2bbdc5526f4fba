package org.scoligait.core

/**
 * A small JSON reader (and Python-compatible writer for hashing), so the core needs no library.
 *
 * Objects parse to [LinkedHashMap] (key order kept), arrays to [ArrayList], numbers to [Double]
 * (or [Long] when written without a fraction or exponent), plus [String], [Boolean] and null.
 */
object Json {
    class JsonException(message: String) : IllegalArgumentException(message)

    fun parse(text: String): Any? {
        val p = Parser(text)
        p.skipWs()
        val v = p.value()
        p.skipWs()
        if (p.pos != text.length) throw JsonException("trailing characters at offset ${p.pos}")
        return v
    }

    private class Parser(val s: String) {
        var pos = 0

        fun skipWs() {
            while (pos < s.length && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t')) pos++
        }

        fun fail(msg: String): Nothing = throw JsonException("$msg at offset $pos")

        fun value(): Any? {
            if (pos >= s.length) fail("unexpected end of JSON")
            val c = s[pos]
            return when {
                c == '{' -> obj()
                c == '[' -> arr()
                c == '"' -> str()
                c == 't' -> literal("true", true)
                c == 'f' -> literal("false", false)
                c == 'n' -> literal("null", null)
                c == 'N' -> literal("NaN", Double.NaN)
                c == 'I' -> literal("Infinity", Double.POSITIVE_INFINITY)
                c == '-' && s.startsWith("-Infinity", pos) -> literal("-Infinity", Double.NEGATIVE_INFINITY)
                c == '-' || (c in '0'..'9') -> num()
                else -> fail("unexpected character '$c'")
            }
        }

        fun literal(word: String, v: Any?): Any? {
            if (!s.startsWith(word, pos)) fail("bad literal")
            pos += word.length
            return v
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipWs()
            if (pos < s.length && s[pos] == '}') {
                pos++
                return out
            }
            while (true) {
                skipWs()
                if (pos >= s.length || s[pos] != '"') fail("expected a key")
                val k = str()
                skipWs()
                if (pos >= s.length || s[pos] != ':') fail("expected ':'")
                pos++
                skipWs()
                out[k] = value()
                skipWs()
                if (pos >= s.length) fail("unterminated object")
                if (s[pos] == ',') {
                    pos++
                    continue
                }
                if (s[pos] == '}') {
                    pos++
                    return out
                }
                fail("expected ',' or '}'")
            }
        }

        fun arr(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipWs()
            if (pos < s.length && s[pos] == ']') {
                pos++
                return out
            }
            while (true) {
                skipWs()
                out.add(value())
                skipWs()
                if (pos >= s.length) fail("unterminated array")
                if (s[pos] == ',') {
                    pos++
                    continue
                }
                if (s[pos] == ']') {
                    pos++
                    return out
                }
                fail("expected ',' or ']'")
            }
        }

        fun str(): String {
            pos++ // opening quote
            val sb = StringBuilder()
            while (true) {
                if (pos >= s.length) fail("unterminated string")
                val c = s[pos++]
                when (c) {
                    '"' -> return sb.toString()
                    '\\' -> {
                        if (pos >= s.length) fail("bad escape")
                        val e = s[pos++]
                        when (e) {
                            '"' -> sb.append('"')
                            '\\' -> sb.append('\\')
                            '/' -> sb.append('/')
                            'b' -> sb.append('\b')
                            'f' -> sb.append('\u000C')
                            'n' -> sb.append('\n')
                            'r' -> sb.append('\r')
                            't' -> sb.append('\t')
                            'u' -> {
                                if (pos + 4 > s.length) fail("bad unicode escape")
                                sb.append(Integer.parseInt(s.substring(pos, pos + 4), 16).toChar())
                                pos += 4
                            }
                            else -> fail("bad escape '\\$e'")
                        }
                    }
                    else -> sb.append(c)
                }
            }
        }

        fun num(): Any {
            val start = pos
            if (s[pos] == '-') pos++
            var integral = true
            while (pos < s.length) {
                val c = s[pos]
                if (c in '0'..'9') {
                    pos++
                } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                    integral = false
                    pos++
                } else {
                    break
                }
            }
            val t = s.substring(start, pos)
            if (integral) {
                val asLong = t.toLongOrNull()
                if (asLong != null) return asLong
            }
            return t.toDoubleOrNull() ?: fail("bad number '$t'")
        }
    }

    // ------------------------------------------------------------------ typed access helpers
    @Suppress("UNCHECKED_CAST")
    fun obj(v: Any?, what: String = "value"): Map<String, Any?> =
        v as? Map<String, Any?> ?: throw JsonException("$what: expected an object, got ${kind(v)}")

    @Suppress("UNCHECKED_CAST")
    fun arr(v: Any?, what: String = "value"): List<Any?> =
        v as? List<Any?> ?: throw JsonException("$what: expected an array, got ${kind(v)}")

    fun str(v: Any?, what: String = "value"): String = v as? String ?: throw JsonException("$what: expected a string, got ${kind(v)}")

    fun strOrNull(v: Any?, what: String = "value"): String? = if (v == null) null else str(v, what)

    fun num(v: Any?, what: String = "value"): Double = when (v) {
        is Double -> v
        is Long -> v.toDouble()
        is Int -> v.toDouble()
        else -> throw JsonException("$what: expected a number, got ${kind(v)}")
    }

    fun numOrNull(v: Any?, what: String = "value"): Double? = if (v == null) null else num(v, what)

    fun int(v: Any?, what: String = "value"): Int = when (v) {
        is Long -> v.toInt()
        is Int -> v
        is Double -> if (v == Math.floor(v)) v.toInt() else throw JsonException("$what: expected an integer, got $v")
        else -> throw JsonException("$what: expected an integer, got ${kind(v)}")
    }

    fun bool(v: Any?, what: String = "value"): Boolean = v as? Boolean ?: throw JsonException("$what: expected true/false, got ${kind(v)}")

    private fun kind(v: Any?): String = when (v) {
        null -> "null"
        is Map<*, *> -> "an object"
        is List<*> -> "an array"
        is String -> "a string"
        is Boolean -> "a boolean"
        else -> "a number"
    }

    // ------------------------------------------------------------------ Python-compatible writing
    /**
     * `json.dumps(value, sort_keys=True)` as Python writes it (", " and ": " separators, ASCII
     * escapes), so hashes Python computes over JSON can be recomputed here. Doubles use Python's
     * repr for the values the schema uses (integral values print as "30.0"; others as the shortest
     * round-trip form, exponents as "1e-06").
     */
    fun dumpsPython(value: Any?): String {
        val sb = StringBuilder()
        writePy(sb, value)
        return sb.toString()
    }

    private fun writePy(sb: StringBuilder, v: Any?) {
        when (v) {
            null -> sb.append("null")
            is Boolean -> sb.append(if (v) "true" else "false")
            is String -> writePyString(sb, v)
            is Int -> sb.append(v.toString())
            is Long -> sb.append(v.toString())
            is Double -> sb.append(pyFloatRepr(v))
            is Float -> sb.append(pyFloatRepr(v.toDouble()))
            is Map<*, *> -> {
                sb.append('{')
                val keys = v.keys.map { it as String }.sorted()
                var first = true
                for (k in keys) {
                    if (!first) sb.append(", ")
                    first = false
                    writePyString(sb, k)
                    sb.append(": ")
                    writePy(sb, v[k])
                }
                sb.append('}')
            }
            is List<*> -> {
                sb.append('[')
                var first = true
                for (x in v) {
                    if (!first) sb.append(", ")
                    first = false
                    writePy(sb, x)
                }
                sb.append(']')
            }
            else -> throw JsonException("cannot write ${v.javaClass.name} as JSON")
        }
    }

    private const val HEX = "0123456789abcdef"

    fun writePyString(sb: StringBuilder, s: String) {
        sb.append('"')
        for (c in s) {
            when {
                c == '"' -> sb.append("\\\"")
                c == '\\' -> sb.append("\\\\")
                c == '\n' -> sb.append("\\n")
                c == '\r' -> sb.append("\\r")
                c == '\t' -> sb.append("\\t")
                c == '\b' -> sb.append("\\b")
                c == '\u000C' -> sb.append("\\f")
                c < ' ' || c > '~' -> {
                    val code = c - '\u0000'
                    sb.append("\\u")
                    sb.append(HEX[(code shr 12) and 15]).append(HEX[(code shr 8) and 15])
                    sb.append(HEX[(code shr 4) and 15]).append(HEX[code and 15])
                }
                else -> sb.append(c)
            }
        }
        sb.append('"')
    }

    fun pyFloatRepr(d: Double): String {
        if (d.isNaN()) return "NaN"
        if (d.isInfinite()) return if (d > 0) "Infinity" else "-Infinity"
        if (d == Math.floor(d) && Math.abs(d) < 1e16) {
            val l = d.toLong()
            return if (l == 0L && 1.0 / d < 0) "-0.0" else "$l.0"
        }
        val a = Math.abs(d)
        if (a >= 1e-4 && a < 1e16) { // plain digits, as Python writes them (Java would write 1.0E-4)
            return java.math.BigDecimal(d.toString()).stripTrailingZeros().toPlainString()
        }
        // scientific: Java "1.0E-6" -> Python "1e-06"
        val t = d.toString()
        val e = t.indexOf('E')
        if (e < 0) return t
        var mant = t.substring(0, e)
        if (mant.endsWith(".0")) mant = mant.substring(0, mant.length - 2)
        val exp = t.substring(e + 1).toInt()
        val sign = if (exp < 0) "-" else "+"
        val digits = Math.abs(exp).toString()
        return mant + "e" + sign + (if (digits.length < 2) "0$digits" else digits)
    }
}
