/* llm serve end to end: tests/serve_test.sh starts build/llm serve on 127.0.0.1 (a free
   port), drives it with curl, python3 and the openai npm client, and prints one
   "ok NAME" / "FAIL NAME: why" / "skip NAME: why" line per check; each FAIL is a failure
   here. Skipped visibly when build/llm, bash or the model is missing. */
#if !defined(_WIN32)
static void test_serve(void) {
    const char *model = t_shared("models/stories260K.gguf");
    char cmd[1024], line[4096];
    FILE *p, *f;
    int n_ok = 0, status;
    if (!model) return;
    f = fopen("build/llm", "rb");
    if (!f) T_SKIP("build/llm missing (make build/llm)");
    fclose(f);
    if (system("command -v bash >/dev/null 2>&1") != 0) T_SKIP("bash not installed");
    snprintf(cmd, sizeof cmd, "timeout 120 bash tests/serve_test.sh %s 2>&1", model);
    p = popen(cmd, "r");
    T_REQUIRE(p != NULL, "cannot run %s", cmd);
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "ok ", 3) == 0) n_ok++;
        else if (strncmp(line, "skip ", 5) == 0) printf("  %s\n", line);
        else T_CHECK(0, "%s", line);
    }
    status = pclose(p);
    T_CHECK(status == 0, "tests/serve_test.sh exited with status %d", status);
    T_CHECK(n_ok >= 20, "only %d checks passed", n_ok);
}

/* Continuous batching: tests/serve_batch_test.sh (16 streams at once equal each alone, a
   small pool, preemption, a prompt longer than the pool, a flood of 200), same protocol. */
static void test_serve_batch(void) {
    const char *model = t_shared("models/stories260K.gguf");
    char cmd[1024], line[4096];
    FILE *p, *f;
    int n_ok = 0, status;
    if (!model) return;
    f = fopen("build/llm", "rb");
    if (!f) T_SKIP("build/llm missing (make build/llm)");
    fclose(f);
    if (system("command -v bash >/dev/null 2>&1") != 0) T_SKIP("bash not installed");
    snprintf(cmd, sizeof cmd, "timeout 300 bash tests/serve_batch_test.sh %s 2>&1", model);
    p = popen(cmd, "r");
    T_REQUIRE(p != NULL, "cannot run %s", cmd);
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "ok ", 3) == 0) n_ok++;
        else if (strncmp(line, "skip ", 5) == 0) printf("  %s\n", line);
        else T_CHECK(0, "%s", line);
    }
    status = pclose(p);
    T_CHECK(status == 0, "tests/serve_batch_test.sh exited with status %d", status);
    T_CHECK(n_ok >= 13, "only %d checks passed", n_ok);
}
#endif

static void tests_serve(void) {
#if !defined(_WIN32)
    T_RUN(test_serve);
    T_RUN(test_serve_batch);
#endif
}
