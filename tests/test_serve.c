/* llm serve end to end: tests/serve_test.sh starts build/llm serve on 127.0.0.1 (a free
   port), drives it with curl, python3 and the openai npm client, and prints one
   "ok NAME" / "FAIL NAME: why" / "skip NAME: why" line per check; each FAIL is a failure
   here. Skipped visibly when build/llm, bash or the model is missing. */
#if !defined(_WIN32)
static void test_serve(void) { t_script("tests/serve_test.sh", 120, 20); }

/* Continuous batching: tests/serve_batch_test.sh (16 streams at once equal each alone, a
   small pool, preemption, a prompt longer than the pool, a flood of 200), same protocol. */
static void test_serve_batch(void) { t_script("tests/serve_batch_test.sh", 300, 17); }
#endif

static void tests_serve(void) {
#if !defined(_WIN32)
    T_RUN(test_serve);
    T_RUN(test_serve_batch);
#endif
}
