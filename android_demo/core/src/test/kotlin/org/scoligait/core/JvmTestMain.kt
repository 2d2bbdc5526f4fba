package org.scoligait.core

import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * Runs JUnit 4 test classes through [JUnitCore] (used by `run_jvm_tests.sh`; Gradle runs the
 * same classes with its own runner) and ends with `N passed, M failed`. Arguments: class names,
 * or a test jar whose `*Test` classes are all run.
 */
object JvmTestMain {
    private fun testClassNames(jar: String): List<String> = java.util.zip.ZipFile(jar).use { z ->
        z.entries().toList().map { it.name }
            .filter { it.endsWith("Test.class") && !it.contains('$') }
            .map { it.removeSuffix(".class").replace('/', '.') }
            .sorted()
    }

    @JvmStatic
    fun main(args: Array<String>) {
        val names = args.flatMap { if (it.endsWith(".jar")) testClassNames(it) else listOf(it) }
        val classes = names.map { Class.forName(it) }.toTypedArray()
        val core = JUnitCore()
        core.addListener(object : RunListener() {
            override fun testFailure(failure: Failure) {
                println("FAIL ${failure.testHeader}: ${failure.message}")
            }
        })
        val result = core.run(*classes)
        for (f in result.failures) {
            println("---- ${f.testHeader}")
            println(f.trace)
        }
        val failed = result.failureCount
        val passed = result.runCount - failed
        println("${classes.size} test classes, ${"%.1f".format(result.runTime / 1000.0)} s")
        println("$passed passed, $failed failed")
        exitProcess(if (failed == 0 && result.runCount > 0) 0 else 1)
    }
}
