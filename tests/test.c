/* The test runner: one binary with every test, reaching llm.h internals.

     build/test [FILTER...]     runs the tests whose name contains any FILTER (all if none)

   The last line is "N passed, N failed, N skipped". A test that needs a missing file or
   tool says "skipped: <why>"; under CI=true a missing ../shared file is a failure. */
#define _POSIX_C_SOURCE 200809L /* popen, for tests that run the llm command */
#define LLM_IMPLEMENTATION
#include "../llm.h"
#define LLM_VULKAN_IMPLEMENTATION
#include "../llm_vulkan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- runner --------------------------------------------------------------------------- */

static int t_failed_now, t_skipped_now; /* state of the running test */
static int t_n_pass, t_n_fail, t_n_skip;
static const char *t_name;
static int t_argc;
static char **t_argv;

/* Records a failure with its figures; the test goes on (use T_REQUIRE to stop). */
#define T_CHECK(cond, ...)                                                                     \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            t_failed_now++;                                                                    \
            if (t_failed_now <= 20) {                                                          \
                printf("  FAIL %s (%s:%d): ", t_name, __FILE__, __LINE__);                     \
                printf(__VA_ARGS__);                                                           \
                printf("\n");                                                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)
#define T_REQUIRE(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            T_CHECK(0, __VA_ARGS__);                                                           \
            return;                                                                            \
        }                                                                                      \
    } while (0)
#define T_SKIP(...)                                                                            \
    do {                                                                                       \
        printf("  %s skipped: ", t_name);                                                      \
        printf(__VA_ARGS__);                                                                   \
        printf("\n");                                                                          \
        t_skipped_now = 1;                                                                     \
        return;                                                                                \
    } while (0)

/* Arguments pick tests by substring of their names; an argument -S leaves out those whose
   names contain S. No positive argument: every test not left out. */
static int t_selected(const char *name) {
    int i, any = 0, hit = 0;
    for (i = 1; i < t_argc; i++) {
        if (t_argv[i][0] == '-') {
            if (strstr(name, t_argv[i] + 1)) return 0;
        } else {
            any = 1;
            hit |= strstr(name, t_argv[i]) != NULL;
        }
    }
    return !any || hit;
}

/* Runs one test; a pass that took a second or more says how long (to see where CI time goes). */
static void t_run(const char *name, void (*fn)(void)) {
    double t0, s;
    if (!t_selected(name)) return;
    t_name = name;
    t_failed_now = t_skipped_now = 0;
    t0 = llm__now_ms();
    fn();
    s = (llm__now_ms() - t0) / 1000.0;
    if (t_failed_now) {
        t_n_fail++;
        printf("FAIL %s (%d checks failed)\n", name, t_failed_now);
    } else if (t_skipped_now) {
        t_n_skip++;
    } else {
        t_n_pass++;
        if (s >= 1) printf("ok   %s (%.1f s)\n", name, s);
        else printf("ok   %s\n", name);
    }
    fflush(stdout);
}
#define T_RUN(fn) t_run(#fn, fn)

/* Path of a file under ../shared (relative to the project root, where tests run), or NULL
   after marking the test skipped (failed under CI=true) when it is missing. */
static const char *t_shared(const char *rel) {
    static char path[8][1024];
    static int slot;
    char *p = path[slot++ & 7];
    FILE *f;
    snprintf(p, 1024, "../shared/%s", rel);
    f = fopen(p, "rb");
    if (f) {
        fclose(f);
        return p;
    }
    if (getenv("CI") && strcmp(getenv("CI"), "true") == 0) {
        t_failed_now++;
        printf("  FAIL %s: missing %s (CI=true)\n", t_name, p);
    } else {
        printf("  %s skipped: missing %s\n", t_name, p);
        t_skipped_now = 1;
    }
    return NULL;
}

/* Reads a whole file; *size gets its length. Caller frees. NULL if unreadable. */
static unsigned char *t_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *size = (size_t)n;
    return buf;
}

/* Loads a model from ../shared (a missing file skips, see t_shared); NULL on failure. */
static llm_model *t_load_model(const char *rel) {
    char err[256];
    const char *path = t_shared(rel);
    llm_model *m;
    if (!path) return NULL;
    m = llm_model_load(path, NULL, err, sizeof err);
    T_CHECK(m != NULL, "load %s: %s", rel, err);
    return m;
}

/* Runs cmd through the shell, its stdout into out (NUL-terminated, truncated to size); returns
   pclose's status, or -1 when it cannot run. */
static int t_sh(const char *cmd, char *out, size_t size) {
    FILE *p = popen(cmd, "r");
    size_t n = 0, k;
    if (!p) return -1;
    while (n + 1 < size && (k = fread(out + n, 1, size - 1 - n, p)) > 0) n += k;
    out[n] = 0;
    return pclose(p);
}

/* ---- test files, by subject ---------------------------------------------------------- */

#if !defined(_WIN32)
/* Runs a test script that drives build/llm (tests/NAME.sh MODEL under `timeout`): it prints
   one "ok NAME" / "FAIL NAME: why" / "skip NAME: why" line per check, and "# ..." notes.
   Each FAIL is a failure here; at least min_ok checks must pass, unless the script skipped
   everything (a tool missing). Skipped visibly when build/llm, bash or the model is missing. */
static void t_script(const char *script, int timeout_s, int min_ok) {
    const char *model = t_shared("models/stories260K.gguf");
    char cmd[1024], line[4096];
    FILE *p, *f;
    int n_ok = 0, n_skip = 0, status;
    if (!model) return;
    f = fopen("build/llm", "rb");
    if (!f) T_SKIP("build/llm missing (make build/llm)");
    fclose(f);
    if (system("command -v bash >/dev/null 2>&1") != 0) T_SKIP("bash not installed");
    snprintf(cmd, sizeof cmd, "timeout %d bash %s %s 2>&1", timeout_s, script, model);
    p = popen(cmd, "r");
    T_REQUIRE(p != NULL, "cannot run %s", cmd);
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "ok ", 3) == 0) n_ok++;
        else if (strncmp(line, "skip ", 5) == 0) printf("  %s\n", line), n_skip++;
        else if (line[0] == '#') printf("  %s\n", line);
        else T_CHECK(0, "%s", line);
    }
    status = pclose(p);
    T_CHECK(status == 0, "%s exited with status %d", script, status);
    if (n_ok == 0 && n_skip > 0) T_SKIP("%s: a tool it needs is missing (above)", script);
    T_CHECK(n_ok >= min_ok, "only %d checks of %s passed", n_ok, script);
}
#endif

#include "test_json.c"      /* a tiny JSON reader for the reference files */
#include "test_gguf.c"      /* GGUF reader: valid files, every value type, malformed files */
#include "test_kernels.c"   /* type table, dequantization, mat-vec against refs, per ISA */
#include "test_tokenizer.c" /* SentencePiece vectors, round trips, pieces */
#include "test_bpe.c"       /* byte-level BPE vectors, round trips, Unicode table */
#include "test_chat.c"      /* chat templates */
#include "test_model.c"     /* logits against refs, greedy ids, batch/thread identity */
#include "test_arch.c"      /* every architecture of refs/arch */
#include "test_quants_k.c" /* K-quants Q2_K..Q5_K: dequant, mat-vec, logits, SIMD, quantizer */
#include "test_quants_k2.c" /* Q6_K, IQ4_XS, TQ1_0, TQ2_0 */
#include "test_quants_q32.c" /* Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL and Q8_1: kernels, logits, quantizers */
#include "test_vulkan.c"     /* llm_vulkan.h on lavapipe: mat-vec, logits, fallbacks, self-test */
#include "test_cli_quant.c" /* llm dequant, quantize, perplexity: against refs/quants, KL */
#include "test_sampling.c"  /* samplers, RNG, generation */
#include "test_game.c"      /* stepping, cancel, state save/restore, context shift */
#include "test_batch.c"     /* several sequences in one context: batched decoding, the KV pool */
#include "test_serve.c"     /* llm serve on loopback: curl, the openai client, errors, memory */
#include "test_grammar.c"   /* grammars, JSON schemas, constrained sampling */
#include "test_harden.c"    /* allocation failures end to end, threads, fuzz regressions */
#include "test_pull.c"      /* llm pull/ls/rm on loopback, the cost arithmetic of bench --cost */

int main(int argc, char **argv) {
    t_argc = argc;
    t_argv = argv;
    tests_gguf();
    tests_kernels();
    tests_tokenizer();
    tests_bpe();
    tests_chat();
    tests_model();
    tests_arch();
    tests_quants_k();
    tests_quants_k2();
    tests_quants_q32();
    tests_vulkan();
    tests_cli_quant();
    tests_sampling();
    tests_game();
    tests_batch();
    tests_serve();
    tests_grammar();
    tests_harden();
    tests_pull();
    printf("%d passed, %d failed, %d skipped\n", t_n_pass, t_n_fail, t_n_skip);
    return t_n_fail ? 1 : 0;
}
