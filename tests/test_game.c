/* The embedding API a game uses: stepping, cancelling, saving and restoring the KV cache,
   context shift. */

typedef struct t_tokens {
    llm_token ids[4096];
    int n;
    char text[8192];
    size_t len;
    llm_context *cancel_ctx; /* cancel after cancel_at pieces */
    int cancel_at;
} t_tokens;

static int t_collect_tokens(llm_token t, const char *piece, int n, void *user) {
    t_tokens *s = (t_tokens *)user;
    if (s->n < 4096) s->ids[s->n++] = t;
    if (s->len + (size_t)n < sizeof s->text) {
        memcpy(s->text + s->len, piece, (size_t)n);
        s->len += (size_t)n;
        s->text[s->len] = 0;
    }
    if (s->cancel_ctx && s->n == s->cancel_at) llm_generate_cancel(s->cancel_ctx);
    return 0;
}

static llm_context *t_context(llm_model *m, int n_ctx, llm_kv_type kv) {
    llm_context_params cp = llm_context_default_params();
    char err[256];
    llm_context *c;
    cp.n_ctx = n_ctx;
    cp.kv_type = kv;
    cp.n_threads = 2;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_CHECK(c != NULL, "context: %s", err);
    return c;
}

/* llm_step with a budget of 1 gives exactly the tokens of llm_generate, greedy and sampled. */
static void test_step_equals_generate(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    int temp, r, steps;
    if (!m) return;
    for (temp = 0; temp <= 1; temp++) {
        llm_generate_params g = llm_generate_default_params();
        llm_context *a = t_context(m, 256, LLM_KV_F16), *b = t_context(m, 256, LLM_KV_F16);
        t_tokens *x = (t_tokens *)calloc(1, sizeof *x), *y = (t_tokens *)calloc(1, sizeof *y);
        g.n_predict = 60;
        g.sampler.temperature = temp ? 0.9f : 0.0f;
        g.sampler.seed = 99;
        T_CHECK(llm_generate(a, "Once upon a time", &g, t_collect_tokens, x) == LLM_OK, "generate");
        T_CHECK(llm_generate_begin(b, "Once upon a time", &g, t_collect_tokens, y) == LLM_OK, "begin");
        for (steps = 0; (r = llm_step(b, 1)) == 1; steps++) {
        }
        T_CHECK(r == LLM_OK, "step ended with %d: %s", r, llm_context_error(b));
        T_CHECK(steps >= 60, "%d steps for 60 tokens", steps);
        T_CHECK(x->n == y->n && memcmp(x->ids, y->ids, sizeof(llm_token) * (size_t)x->n) == 0 && strcmp(x->text, y->text) == 0,
                "temp %d: stepping gave '%s', generate '%s'", temp, y->text, x->text);
        T_CHECK(llm_context_n_past(a) == llm_context_n_past(b), "n_past %d vs %d", llm_context_n_past(a), llm_context_n_past(b));
        T_CHECK(!llm_generate_active(b) && llm_step(b, 1) == LLM_ERR_ARG, "a finished generation takes no steps");
        llm_context_free(a);
        llm_context_free(b);
        free(x);
        free(y);
    }
    llm_model_free(m);
}

static void test_generate_cancel(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_generate_params g = llm_generate_default_params();
    llm_context *c;
    t_tokens *x = (t_tokens *)calloc(1, sizeof *x);
    if (!m) return;
    c = t_context(m, 256, LLM_KV_F16);
    g.n_predict = 100;
    g.sampler.temperature = 0;
    x->cancel_ctx = c;
    x->cancel_at = 5;
    T_CHECK(llm_generate(c, "Once upon a time", &g, t_collect_tokens, x) == LLM_ERR_CANCELLED, "cancel");
    T_CHECK(x->n >= 5 && x->n <= 7, "%d pieces after cancelling at 5", x->n);
    T_CHECK(!llm_generate_active(c), "still active");
    llm_context_free(c);
    llm_model_free(m);
    free(x);
}

/* Greedy continuation of n tokens from the context's last logits. */
static void t_continue(llm_context *c, int n, llm_token *out) {
    int i, j, nv = llm_model_n_vocab(llm_context_model(c));
    for (i = 0; i < n; i++) {
        const float *l = llm_logits(c, -1);
        llm_token t = 0;
        for (j = 1; j < nv; j++)
            if (l[j] > l[t]) t = j;
        out[i] = t;
        if (llm_decode(c, &t, 1, 0) != LLM_OK) break;
    }
}

/* Save, continue; restore into a fresh context, continue: the same tokens, the same bits. */
static void test_state_save_restore(void) {
    llm_model *m = t_load_model("models/reference/TinyStories-656K-Q8_0.gguf");
    int kv;
    if (!m) return;
    for (kv = LLM_KV_F32; kv <= LLM_KV_F16; kv++) {
        llm_context *a = t_context(m, 128, (llm_kv_type)kv), *b = t_context(m, 128, (llm_kv_type)kv), *w;
        llm_token prompt[6] = {1, 403, 407, 261, 378, 300}, ta[30], tb[30];
        size_t need, got;
        unsigned char *buf;
        T_CHECK(llm_decode(a, prompt, 6, 0) == LLM_OK, "decode");
        t_continue(a, 10, ta);
        need = llm_context_state_size(a);
        T_CHECK(llm_context_state_save(a, NULL, 0) == need, "size query");
        buf = (unsigned char *)malloc(need);
        got = llm_context_state_save(a, buf, need);
        T_CHECK(got == need, "saved %zu of %zu", got, need);
        t_continue(a, 30, ta);
        T_CHECK(llm_context_state_load(b, buf, need) == LLM_OK, "load: %s", llm_context_error(b));
        T_CHECK(llm_context_n_past(b) == 16, "n_past %d", llm_context_n_past(b));
        t_continue(b, 30, tb);
        T_CHECK(memcmp(ta, tb, sizeof ta) == 0, "kv %d: continuation after restore differs", kv);
        T_CHECK(memcmp(llm_logits(a, -1), llm_logits(b, -1), sizeof(float) * (size_t)llm_model_n_vocab(m)) == 0, "logits differ");
        { /* into blocks of 8 positions (a context's own layout): the state keeps a position's
             heads side by side, whatever the blocks, so the continuation is the same */
            llm_context_params cp = llm_context_default_params();
            char err[256];
            cp.n_ctx = 128;
            cp.kv_type = (llm_kv_type)kv;
            cp.kv_block = 8;
            w = llm_context_new(m, &cp, err, sizeof err);
            T_CHECK(w && llm_context_state_load(w, buf, need) == LLM_OK, "load into 8-position blocks: %s", w ? llm_context_error(w) : err);
            if (w) {
                t_continue(w, 30, tb);
                T_CHECK(memcmp(ta, tb, sizeof ta) == 0, "kv %d: continuation in 8-position blocks differs", kv);
                llm_context_free(w);
            }
        }
        /* refusals: truncated, corrupted, another cache type */
        T_CHECK(llm_context_state_load(b, buf, need - 1) == LLM_ERR_FORMAT, "truncated state accepted");
        buf[0] = 'X';
        T_CHECK(llm_context_state_load(b, buf, need) == LLM_ERR_FORMAT, "bad magic accepted");
        buf[0] = 'L';
        w = t_context(m, 128, kv == LLM_KV_F32 ? LLM_KV_F16 : LLM_KV_F32);
        T_CHECK(llm_context_state_load(w, buf, need) == LLM_ERR_ARG, "another cache type accepted");
        llm_context_free(w);
        w = t_context(m, 8, (llm_kv_type)kv);
        T_CHECK(llm_context_state_load(w, buf, need) == LLM_ERR_CONTEXT_FULL, "too small a context accepted");
        llm_context_free(w);
        free(buf);
        llm_context_free(a);
        llm_context_free(b);
    }
    llm_model_free(m);
}

/* After a shift the kept keys are those of their tokens at the new positions: layer 0's keys
   depend only on the token and the position, so they match a fresh decode of the tokens
   that remain. Generation with context_shift runs past the window. */
static void test_context_shift(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_context *a, *b;
    llm_token seq[8] = {1, 403, 407, 261, 378, 300, 301, 302}, kept[5] = {1, 378, 300, 301, 302};
    llm_generate_params g = llm_generate_default_params();
    t_tokens *x = (t_tokens *)calloc(1, sizeof *x);
    if (!m) return;
    a = t_context(m, 64, LLM_KV_F32);
    b = t_context(m, 64, LLM_KV_F32);
    T_CHECK(llm_decode(a, seq, 8, 0) == LLM_OK && llm_decode(b, kept, 5, 0) == LLM_OK, "decode");
    T_CHECK(llm_context_shift(a, 1, 3) == LLM_OK, "shift: %s", llm_context_error(a));
    T_CHECK(llm_context_n_past(a) == 5, "n_past %d", llm_context_n_past(a));
    {
        int p, i, n = a->model->n_kv;
        double md = 0, mx = 0;
        for (p = 0; p < 5; p++) { /* layer 0's keys, a position's heads at a time */
            float ka[4096], kb[4096];
            T_CHECK(n <= 4096, "n_kv %d", n);
            if (n > 4096) break;
            llm__kv_row_get(a, a->k_cache, 0, p, ka);
            llm__kv_row_get(b, b->k_cache, 0, p, kb);
            for (i = 0; i < n; i++) {
                if (fabs(ka[i] - kb[i]) > md) md = fabs(ka[i] - kb[i]);
                if (fabs(kb[i]) > mx) mx = fabs(kb[i]);
            }
        }
        T_CHECK(md <= 1e-5 * mx, "layer 0 keys after the shift differ by %.3g of max %.3g", md, mx);
    }
    T_CHECK(llm_context_shift(a, 2, 4) == LLM_ERR_ARG, "shift past the end accepted");
    llm_context_free(a);
    llm_context_free(b);
    a = t_context(m, 48, LLM_KV_F16);
    g.n_predict = 150;
    g.sampler.temperature = 0;
    g.ignore_eos = 1;
    g.context_shift = 1;
    T_CHECK(llm_generate(a, "Once upon a time", &g, t_collect_tokens, x) == LLM_OK, "generate with shift: %s", llm_context_error(a));
    T_CHECK(llm_context_n_past(a) <= 48, "n_past %d", llm_context_n_past(a));
    g.context_shift = 0;
    llm_context_truncate(a, 0);
    T_CHECK(llm_generate(a, "Once upon a time", &g, NULL, NULL) == LLM_ERR_CONTEXT_FULL, "without shift the context fills");
    llm_context_free(a);
    llm_model_free(m);
    free(x);
}

/* A host job system: runs the items on two threads of its own. */
typedef struct t_host_job {
    llm_job_fn job;
    void *arg;
    int from, to;
} t_host_job;
static void *t_host_thread(void *a) {
    t_host_job *j = (t_host_job *)a;
    int i;
    for (i = j->from; i < j->to; i++) j->job(j->arg, i);
    return NULL;
}
static int t_host_calls;
static void t_host_jobs(void *user, int n, llm_job_fn job, void *arg) {
    t_host_job a, b;
    (void)user;
    t_host_calls++;
    a.job = b.job = job;
    a.arg = b.arg = arg;
    a.from = 0, a.to = n / 2, b.from = n / 2, b.to = n;
#if defined(_WIN32) /* one after the other: the contract lets the host choose */
    t_host_thread(&b);
    t_host_thread(&a);
#else
    {
        pthread_t th;
        pthread_create(&th, NULL, t_host_thread, &b);
        t_host_thread(&a);
        pthread_join(th, NULL);
    }
#endif
}

/* A context running on the host's jobs gives the same bits as our own threads. */
static void test_host_jobs(void) {
    llm_model *m = t_load_model("models/reference/TinyStories-656K-Q8_0.gguf");
    llm_context_params cp = llm_context_default_params();
    llm_context *a, *b;
    llm_token ids[24];
    char err[256];
    int i, nv;
    if (!m) return;
    nv = llm_model_n_vocab(m);
    for (i = 0; i < 24; i++) ids[i] = 3 + i * 41 % 2000;
    cp.n_ctx = 64;
    cp.n_outputs = 24;
    cp.n_threads = 2;
    a = llm_context_new(m, &cp, err, sizeof err);
    cp.jobs = t_host_jobs;
    cp.n_threads = 3;
    b = llm_context_new(m, &cp, err, sizeof err);
    T_REQUIRE(a && b, "%s", err);
    t_host_calls = 0;
    T_CHECK(llm_decode(a, ids, 24, LLM_DECODE_ALL_LOGITS) == LLM_OK && llm_decode(b, ids, 24, LLM_DECODE_ALL_LOGITS) == LLM_OK, "decode");
    T_CHECK(t_host_calls > 0, "the host's job system was not used");
    for (i = 0; i < 24; i++)
        T_CHECK(memcmp(llm_logits(a, i), llm_logits(b, i), sizeof(float) * (size_t)nv) == 0, "row %d differs", i);
    llm_context_free(a);
    llm_context_free(b);
    llm_model_free(m);
    T_CHECK(llm_default_threads() >= 1 && llm_default_threads() <= 64, "default threads %d", llm_default_threads());
}

/* The worker thread gives the same text as llm_generate, polled a little at a time; a
   cancelled worker ends; a model loads through a read callback. */
typedef struct t_stream {
    const unsigned char *p;
    size_t n, at, chunk;
} t_stream;
static long long t_read_chunks(void *user, void *buf, size_t size) {
    t_stream *s = (t_stream *)user;
    size_t n = s->n - s->at < size ? s->n - s->at : size;
    if (n > s->chunk) n = s->chunk; /* a stream hands out small pieces */
    memcpy(buf, s->p + s->at, n);
    s->at += n;
    return (long long)n;
}

static void test_worker_and_callback_load(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_generate_params g = llm_generate_default_params();
    llm_context *a, *b;
    llm_worker *w;
    t_tokens *x = (t_tokens *)calloc(1, sizeof *x);
    char got[8192], piece[7];
    size_t len = 0, size;
    int r = 1, polls = 0;
    const char *path = t_shared("models/stories260K.gguf");
    if (!m || !path) return;
    a = t_context(m, 256, LLM_KV_F16);
    b = t_context(m, 256, LLM_KV_F16);
    g.n_predict = 80;
    g.sampler.seed = 5;
    T_CHECK(llm_generate(a, "Once upon a time", &g, t_collect_tokens, x) == LLM_OK, "generate");
    w = llm_worker_start(b, "Once upon a time", &g);
    T_REQUIRE(w, "worker: %s", llm_context_error(b));
    while (!llm_worker_done(w, &r) && polls < 2000000) {
        int n = llm_worker_poll(w, piece, (int)sizeof piece); /* a tiny buffer: characters must stay whole */
        if (len + (size_t)n < sizeof got) memcpy(got + len, piece, (size_t)n), len += (size_t)n;
        polls++;
    }
    got[len] = 0;
    T_CHECK(r == LLM_OK, "worker result %d", r);
    T_CHECK(strcmp(got, x->text) == 0, "worker text '%s', generate '%s'", got, x->text);
    llm_worker_free(w);
    /* cancel */
    llm_context_truncate(b, 0);
    g.n_predict = 0;
    g.ignore_eos = 1;
    w = llm_worker_start(b, "Once upon a time", &g);
    T_REQUIRE(w, "worker");
    llm_worker_cancel(w);
    for (polls = 0; !llm_worker_done(w, &r) && polls < 100000000; polls++) llm_worker_poll(w, got, (int)sizeof got);
    T_CHECK(r == LLM_ERR_CANCELLED, "cancelled worker returned %d", r);
    llm_worker_free(w);
    llm_context_free(a);
    llm_context_free(b);
    llm_model_free(m);
    /* load through a callback that hands out 1000 bytes at a time */
    {
        t_stream st;
        char err[256];
        llm_model *mc;
        st.p = t_read_file(path, &size);
        st.n = size;
        st.at = 0;
        st.chunk = 1000;
        mc = llm_model_load_callback(t_read_chunks, &st, NULL, err, sizeof err);
        T_CHECK(mc && llm_model_n_vocab(mc) == 512, "callback load: %s", err);
        llm_model_free(mc);
        st.at = 0;
        st.n = size / 2; /* a truncated stream is refused */
        mc = llm_model_load_callback(t_read_chunks, &st, NULL, err, sizeof err);
        T_CHECK(!mc && err[0], "truncated stream accepted");
        free((void *)st.p);
    }
    free(x);
}

/* A Q8_0 KV cache: close to F32's logits, the same bits across threads and batch splits,
   refused for heads that are not whole blocks. */
static void test_kv_q8_0(void) {
    llm_model *m = t_load_model("models/synth/synth-q-F32.gguf"), *m16;
    int ids[40], i, nv;
    double se = 0, sr = 0;
    if (!m) return;
    nv = llm_model_n_vocab(m);
    for (i = 0; i < 40; i++) ids[i] = 1 + (i * 37) % 500;
    {
        float *f = t_decode_all(m, ids, 40, 1, LLM_KV_F32, 0, 0), *a = t_decode_all(m, ids, 40, 1, LLM_KV_Q8_0, 0, 0);
        float *b = t_decode_all(m, ids, 40, 2, LLM_KV_Q8_0, 0, 1);
        size_t k, bytes = (size_t)40 * nv * sizeof(float);
        T_REQUIRE(f && a && b, "decode");
        for (k = 0; k < bytes / 4; k++) se += (double)(a[k] - f[k]) * (a[k] - f[k]), sr += (double)f[k] * f[k];
        T_CHECK(sqrt(se / sr) < 3e-2, "Q8_0 KV nrmse %.3g from F32 KV", sqrt(se / sr));
        T_CHECK(memcmp(a, b, bytes) == 0, "Q8_0 KV: 1 thread batch vs 2 threads token by token differ");
        printf("       Q8_0 KV cache: nrmse %.2e from the F32 cache over 40 positions\n", sqrt(se / sr));
        free(f);
        free(a);
        free(b);
    }
    llm_model_free(m);
    m16 = t_load_model("models/stories260K.gguf"); /* head size 8 */
    if (m16) {
        llm_context_params cp = llm_context_default_params();
        char err[256];
        cp.kv_type = LLM_KV_Q8_0;
        T_CHECK(llm_context_new(m16, &cp, err, sizeof err) == NULL && strstr(err, "multiple of 32"), "small heads accepted: %s", err);
        llm_model_free(m16);
    }
}

static void tests_game(void) {
    T_RUN(test_kv_q8_0);
    T_RUN(test_worker_and_callback_load);
    T_RUN(test_host_jobs);
    T_RUN(test_step_equals_generate);
    T_RUN(test_generate_cancel);
    T_RUN(test_state_save_restore);
    T_RUN(test_context_shift);
}
