/* Hardening: allocation-failure injection from load to generation, decoding that allocates
   nothing, four threads generating at once on one shared model (the TSan target runs this),
   and the fuzz regression inputs replayed.

   th_heap counts allocations through llm_allocator: n_alloc (every call), live (not yet
   freed), fail_at (the allocation, 1-based, that returns NULL; 0 = none). */

#if defined(_WIN32)
#include <windows.h>
#else
#include <pthread.h>
#include <dirent.h>
#endif

typedef struct th_heap {
    long live, n_alloc, fail_at;
} th_heap;

static void *th_alloc(size_t size, void *user) {
    th_heap *h = (th_heap *)user;
    void *p;
    h->n_alloc++;
    if (h->fail_at && h->n_alloc == h->fail_at) return NULL;
    p = malloc(size ? size : 1);
    if (p) h->live++;
    return p;
}
static void th_free(void *p, void *user) {
    th_heap *h = (th_heap *)user;
    if (!p) return;
    h->live--;
    free(p);
}

typedef struct th_text {
    char s[1024];
    int n;
} th_text;
static int th_collect(llm_token t, const char *piece, int len, void *user) {
    th_text *x = (th_text *)user;
    (void)t;
    if (x->n + len < (int)sizeof x->s) {
        memcpy(x->s + x->n, piece, (size_t)len);
        x->n += len;
        x->s[x->n] = 0;
    }
    return 0;
}

/* Several sequences on the context: a batch over sequences 0 and 1 (every row's logits), a
   fork of 5 tokens of 0 into 2 (a partly filled block shared), then a batch writing into
   that block from both (copy on write). Returns 0, or 4 when a call failed. */
static int th_sequences(llm_context *c) {
    static const llm_token tok[8] = {1, 20, 30, 40, 50, 60, 70, 80};
    static const int32_t seq1[8] = {0, 0, 0, 0, 0, 1, 1, 1}, seq2[2] = {2, 0};
    static const int8_t all[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    llm_batch b;
    memset(&b, 0, sizeof b);
    llm_context_truncate(c, 0);
    b.n = 8;
    b.tokens = tok;
    b.seq = seq1;
    b.logits = all;
    if (llm_decode_batch(c, &b) != LLM_OK || !llm_logits(c, 7)) return 4;
    if (llm_seq_fork(c, 0, 2, 5) != LLM_OK || llm_seq_len(c, 2) != 5) return 4;
    b.n = 2;
    b.seq = seq2;
    b.logits = NULL;
    if (llm_decode_batch(c, &b) != LLM_OK || llm_seq_len(c, 2) != 6 || llm_seq_len(c, 0) != 6) return 4;
    if (llm_seq_truncate(c, 1, 0) != LLM_OK || llm_seq_truncate(c, 2, 0) != LLM_OK) return 4;
    return 0;
}

/* One run: load stories260K, make a context of 3 sequences, generate 12 greedy tokens on
   sequence 0, then th_sequences. Returns the first failing stage (0 = none: 1 load,
   2 context, 3 generate, 4 several sequences); *after_ctx gets n_alloc after the context
   was made and *in_steps the allocations the generation's steps and th_sequences made. */
static int th_pipeline(const char *path, th_heap *h, long *after_ctx, long *in_steps, th_text *out) {
    llm_model_params mp;
    llm_context_params cp = llm_context_default_params();
    llm_generate_params g = llm_generate_default_params();
    llm_model *m;
    llm_context *c;
    char err[256];
    int r, stage = 0;
    long before;
    memset(&mp, 0, sizeof mp);
    mp.allocator.alloc = th_alloc;
    mp.allocator.free = th_free;
    mp.allocator.user = h;
    err[0] = 0;
    m = llm_model_load(path, &mp, err, sizeof err);
    if (!m) {
        T_CHECK(err[0] != 0, "allocation %ld failing: load refused without a message", h->fail_at);
        return 1;
    }
    cp.n_ctx = 64;
    cp.n_threads = 2;
    cp.n_seq_max = 3;
    cp.kv_block = 16;
    cp.n_outputs = 8;
    err[0] = 0;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) {
        T_CHECK(err[0] != 0, "allocation %ld failing: context refused without a message", h->fail_at);
        llm_model_free(m);
        return 2;
    }
    if (after_ctx) *after_ctx = h->n_alloc;
    { /* a decode allocates nothing */
        llm_token t = 1;
        before = h->n_alloc;
        r = llm_decode(c, &t, 1, 0);
        T_CHECK(r == LLM_OK, "decode: %s", llm_context_error(c));
        T_CHECK(h->n_alloc == before, "llm_decode made %ld allocations", h->n_alloc - before);
        llm_context_truncate(c, 0);
    }
    g.n_predict = 12;
    g.sampler.temperature = 0;
    r = llm_generate_begin(c, "Once upon a time", &g, th_collect, out);
    if (r < 0) {
        T_CHECK(llm_context_error(c)[0] != 0, "allocation %ld failing: begin gave %d without a message", h->fail_at, r);
        stage = 3;
    } else {
        before = h->n_alloc;
        while ((r = llm_step(c, 4)) > 0) {
        }
        if (r < 0) stage = 3;
        else {
            stage = th_sequences(c);
            T_CHECK(stage == 0 || h->fail_at, "several sequences: %s", llm_context_error(c));
        }
        if (in_steps) *in_steps = h->n_alloc - before;
    }
    llm_context_free(c);
    llm_model_free(m);
    return stage;
}

/* Every allocation of load + context (3 sequences over a block pool) + generation + batched
   decoding, fork and copy on write failing in turn: an error each time, and nothing leaked.
   The decoding calls allocate nothing (checked), so their failures all come at load and
   context creation. One allocation is only for speed, the weights' huge-page arena (with
   AVX2, on Linux): without it the model runs from the file, and must give the same text. */
static void test_harden_out_of_memory(void) {
    const char *path = t_shared("models/stories260K.gguf");
    th_heap h;
    th_text ref, x;
    long n, after_ctx = -1, in_steps = -1, k, stages[5] = {0, 0, 0, 0, 0}, want_absorbed = 0;
#if defined(__linux__)
    want_absorbed = (llm_cpu_features() & LLM_CPU_AVX2) != 0;
#endif
    if (!path) return;
    memset(&h, 0, sizeof h);
    memset(&ref, 0, sizeof ref);
    T_REQUIRE(th_pipeline(path, &h, &after_ctx, &in_steps, &ref) == 0, "the run without failures failed");
    T_CHECK(h.live == 0, "%ld allocations not freed", h.live);
    T_CHECK(in_steps == 0, "llm_step and the batched decodes made %ld allocations", in_steps);
    T_CHECK(ref.n > 0, "no text generated");
    n = h.n_alloc;
    T_CHECK(n > after_ctx, "generation allocated nothing (%ld, %ld after the context)", n, after_ctx);
    for (k = 1; k <= n; k++) {
        int stage;
        memset(&h, 0, sizeof h);
        memset(&x, 0, sizeof x);
        h.fail_at = k;
        stage = th_pipeline(path, &h, NULL, NULL, &x);
        T_CHECK(stage != 0 || (x.n == ref.n && memcmp(x.s, ref.s, (size_t)ref.n) == 0),
                "allocation %ld of %ld failing: every stage succeeded, with other text", k, n);
        T_CHECK(h.live == 0, "allocation %ld of %ld failing: %ld allocations not freed", k, n, h.live);
        stages[stage]++;
    }
    T_CHECK(stages[0] == want_absorbed, "%ld of %ld allocations failed with every stage succeeding (%ld expected)",
            stages[0], n, want_absorbed);
    if (getenv("LLM_TEST_VERBOSE"))
        printf("    %ld allocations (%ld through the context); failures caught at load %ld, context %ld, "
               "generation %ld, sequences %ld; absorbed %ld\n", n, after_ctx, stages[1], stages[2], stages[3], stages[4], stages[0]);
}

/* ---- four threads, each with its own context on one model ---------------------------- */

typedef struct th_job {
    llm_model *m;
    th_text out;
    int rc;
} th_job;

#if defined(_WIN32)
static DWORD WINAPI th_run(LPVOID arg)
#else
static void *th_run(void *arg)
#endif
{
    th_job *j = (th_job *)arg;
    llm_context_params cp = llm_context_default_params();
    llm_generate_params g = llm_generate_default_params();
    llm_context *c;
    char err[256];
    cp.n_ctx = 128;
    cp.n_threads = 2; /* each context has its own pool */
    c = llm_context_new(j->m, &cp, err, sizeof err);
    j->rc = LLM_ERR_NOMEM;
    if (c) {
        g.n_predict = 24;
        g.sampler.temperature = 0;
        j->rc = llm_generate(c, "Once upon a time", &g, th_collect, &j->out);
        llm_context_free(c);
    }
#if defined(_WIN32)
    return 0;
#else
    return NULL;
#endif
}

static void test_harden_threads(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    th_job ref, jobs[4];
    int i;
    if (!m) return;
    memset(&ref, 0, sizeof ref);
    ref.m = m;
    th_run(&ref);
    T_REQUIRE(ref.rc == LLM_OK && ref.out.n > 0, "single run: %d", ref.rc);
    memset(jobs, 0, sizeof jobs);
    {
#if defined(_WIN32)
        HANDLE th[4];
        for (i = 0; i < 4; i++) {
            jobs[i].m = m;
            th[i] = CreateThread(NULL, 0, th_run, &jobs[i], 0, NULL);
            T_REQUIRE(th[i] != NULL, "CreateThread");
        }
        WaitForMultipleObjects(4, th, TRUE, INFINITE);
        for (i = 0; i < 4; i++) CloseHandle(th[i]);
#else
        pthread_t th[4];
        for (i = 0; i < 4; i++) {
            jobs[i].m = m;
            T_REQUIRE(pthread_create(&th[i], NULL, th_run, &jobs[i]) == 0, "pthread_create");
        }
        for (i = 0; i < 4; i++) pthread_join(th[i], NULL);
#endif
    }
    for (i = 0; i < 4; i++) {
        T_CHECK(jobs[i].rc == LLM_OK, "thread %d: %d", i, jobs[i].rc);
        T_CHECK(strcmp(jobs[i].out.s, ref.out.s) == 0, "thread %d generated \"%s\", alone \"%s\"", i, jobs[i].out.s,
                ref.out.s);
    }
    llm_model_free(m);
}

/* ---- fuzz regressions ------------------------------------------------------------------ */

/* Each file under tests/fuzz/regressions/<harness>/ once crashed that harness; it is loaded
   again here as a GGUF file (from memory, and vocab-only) and must load or be refused with a
   message. The harnesses themselves replay them too (make fuzz-replay). */
static void test_harden_fuzz_regressions(void) {
#if !defined(_WIN32)
    DIR *d = opendir("tests/fuzz/regressions/gguf");
    struct dirent *e;
    int n = 0;
    if (!d) T_SKIP("no tests/fuzz/regressions/gguf");
    while ((e = readdir(d)) != NULL) {
        char p[1024], err[256];
        size_t size = 0;
        unsigned char *data;
        int vo;
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "tests/fuzz/regressions/gguf/%s", e->d_name);
        data = t_read_file(p, &size);
        if (!data) continue;
        for (vo = 0; vo < 2; vo++) {
            th_heap h;
            llm_model_params mp;
            llm_model *m;
            memset(&h, 0, sizeof h);
            memset(&mp, 0, sizeof mp);
            mp.allocator.alloc = th_alloc;
            mp.allocator.free = th_free;
            mp.allocator.user = &h;
            mp.vocab_only = vo;
            err[0] = 0;
            m = llm_model_load_memory(data, size, &mp, err, sizeof err);
            T_CHECK(m || err[0], "%s: refused without a message", p);
            llm_model_free(m);
            T_CHECK(h.live == 0, "%s: %ld allocations not freed", p, h.live);
        }
        free(data);
        n++;
    }
    closedir(d);
    if (n == 0) T_SKIP("no regression inputs");
#else
    T_SKIP("directory listing not written for Windows");
#endif
}

static void tests_harden(void) {
    T_RUN(test_harden_out_of_memory);
    T_RUN(test_harden_threads);
    T_RUN(test_harden_fuzz_regressions);
}
