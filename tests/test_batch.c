/* Several sequences in one context: batched decoding is bit-identical to decoding each
   sequence alone, the KV block pool (full, truncate, fork with shared blocks). */

#define TB_MAX_SEQ 5
#define TB_MAX_LEN 96

typedef struct tb_case {
    llm_token tok[TB_MAX_SEQ][TB_MAX_LEN];
    int len[TB_MAX_SEQ], n_seq, n_vocab;
    float *ref[TB_MAX_SEQ]; /* [len][n_vocab]: each sequence decoded alone */
} tb_case;

static llm_context *tb_context(llm_model *m, int n_seq, int kv_block, int n_blocks, llm_kv_type kv) {
    llm_context_params cp = llm_context_default_params();
    char err[256];
    llm_context *c;
    cp.n_ctx = 128;
    cp.n_batch = 64;
    cp.n_outputs = 64;
    cp.n_threads = 2;
    cp.kv_type = kv;
    cp.n_seq_max = n_seq;
    cp.kv_block = kv_block;
    cp.n_kv_blocks = n_blocks;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_CHECK(c != NULL, "context: %s", err);
    return c;
}

static unsigned tb_rand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* Token lists of different lengths, then each decoded alone (one batch, every row). */
static int tb_prepare(tb_case *k, llm_model *m, llm_kv_type kv, unsigned seed) {
    static const int lens[TB_MAX_SEQ] = {37, 5, 90, 20, 64};
    int s, i;
    memset(k, 0, sizeof *k);
    k->n_seq = TB_MAX_SEQ;
    k->n_vocab = llm_model_n_vocab(m);
    for (s = 0; s < k->n_seq; s++) {
        llm_context *c = tb_context(m, 1, 0, 0, kv);
        k->len[s] = lens[s];
        for (i = 0; i < k->len[s]; i++) k->tok[s][i] = (llm_token)(i == 0 ? 1 : 3 + tb_rand(&seed) % (unsigned)(k->n_vocab - 3));
        if (s == 4) memcpy(k->tok[4], k->tok[2], sizeof(llm_token) * 40); /* a shared prefix */
        k->ref[s] = (float *)malloc(sizeof(float) * (size_t)k->len[s] * (size_t)k->n_vocab);
        if (!c || !k->ref[s]) return 0;
        for (i = 0; i < k->len[s]; i += 64) { /* n_batch 64: two batches for the long one */
            int n = k->len[s] - i < 64 ? k->len[s] - i : 64, r, j;
            r = llm_decode(c, k->tok[s] + i, n, LLM_DECODE_ALL_LOGITS);
            T_CHECK(r == LLM_OK, "alone: decode %d: %s", r, llm_context_error(c));
            for (j = 0; j < n && r == LLM_OK; j++)
                memcpy(k->ref[s] + (size_t)(i + j) * k->n_vocab, llm_logits(c, j), sizeof(float) * (size_t)k->n_vocab);
        }
        llm_context_free(c);
    }
    return 1;
}

static void tb_free(tb_case *k) {
    int s;
    for (s = 0; s < TB_MAX_SEQ; s++) free(k->ref[s]);
}

/* Every sequence in one context, interleaved: chunks of 1 to 9 tokens per sequence per step
   (chunked prefill beside one-token decode steps), every row compared with memcmp. */
static void tb_interleaved(llm_model *m, const char *name, llm_kv_type kv) {
    tb_case *k = (tb_case *)calloc(1, sizeof *k);
    llm_context *c;
    llm_kv_stats st;
    unsigned seed = 7;
    int done[TB_MAX_SEQ] = {0}, steps = 0, left = 1, s, i, bad = 0;
    if (!k || !tb_prepare(k, m, kv, 11) || !(c = tb_context(m, TB_MAX_SEQ, 16, 0, kv))) {
        T_CHECK(0, "%s: setup", name);
        if (k) tb_free(k);
        free(k);
        return;
    }
    while (left && steps < 1000) {
        llm_token tok[64];
        int32_t seq[64], pos[64], b_s[64], b_p[64], n = 0, r;
        int8_t want[64];
        llm_batch b;
        left = 0;
        for (s = 0; s < k->n_seq; s++) {
            int chunk = (tb_rand(&seed) % 3 == 0) ? 1 + (int)(tb_rand(&seed) % 9) : 1;
            if (tb_rand(&seed) % 5 == 0) continue; /* this sequence sits out a step */
            for (i = 0; i < chunk && done[s] + i < k->len[s] && n < 64; i++) {
                tok[n] = k->tok[s][done[s] + i];
                seq[n] = s;
                pos[n] = done[s] + i;
                want[n] = (int8_t)(tb_rand(&seed) % 4 != 0);
                b_s[n] = s, b_p[n] = done[s] + i;
                n++;
            }
            done[s] += i;
        }
        for (s = 0; s < k->n_seq; s++) left |= done[s] < k->len[s];
        steps++;
        if (n == 0) continue;
        b.n = n, b.tokens = tok, b.seq = seq, b.pos = (steps & 1) ? pos : NULL, b.logits = want;
        r = llm_decode_batch(c, &b);
        T_REQUIRE(r == LLM_OK, "%s: step %d: %d %s", name, steps, r, llm_context_error(c));
        for (i = 0; i < n; i++) {
            const float *l = llm_logits(c, i);
            if (!want[i]) {
                T_CHECK(l == NULL, "%s: row %d was not asked for", name, i);
                continue;
            }
            if (!l || memcmp(l, k->ref[b_s[i]] + (size_t)b_p[i] * k->n_vocab, sizeof(float) * (size_t)k->n_vocab) != 0) {
                if (bad++ < 5) T_CHECK(0, "%s: sequence %d position %d differs from decoding it alone (step %d)", name, b_s[i], b_p[i], steps);
            }
        }
    }
    T_CHECK(bad == 0, "%s: %d rows differ", name, bad);
    for (s = 0; s < k->n_seq; s++) T_CHECK(llm_seq_len(c, s) == k->len[s], "%s: seq %d holds %d", name, s, llm_seq_len(c, s));
    llm_context_kv_stats(c, &st);
    T_CHECK(st.n_used == 3 + 1 + 6 + 2 + 4 && st.n_seq_active == 5 && st.block_size == 16, "%s: %d blocks used", name, st.n_used);
    for (s = 0; s < k->n_seq; s++) T_CHECK(llm_seq_truncate(c, s, 0) == LLM_OK, "truncate");
    llm_context_kv_stats(c, &st);
    T_CHECK(st.n_used == 0 && st.n_seq_active == 0, "%s: %d blocks still used after clearing", name, st.n_used);
    llm_context_free(c);
    tb_free(k);
    free(k);
}

static void test_batch_identical(void) {
    static const char *models[] = {"models/stories260K.gguf", "models/synth/synth-q-Q4_K-pure.gguf", "models/synth/gemma2-Q8_0.gguf",
                                   "models/synth/qwen3moe-Q8_0.gguf"};
    int i;
    for (i = 0; i < 4; i++) {
        llm_model *m = t_load_model(models[i]);
        if (!m) continue;
        tb_interleaved(m, models[i], i == 1 ? LLM_KV_F16 : LLM_KV_F32);
        if (i == 1) tb_interleaved(m, "synth Q4_K, q8_0 cache", LLM_KV_Q8_0);
        llm_model_free(m);
    }
}

/* Decodes n tokens of seq in batches of up to 64, the last row's logits copied to out. */
static int tb_decode_seq(llm_context *c, int seq, const llm_token *t, int n, float *out) {
    int i, r = LLM_OK;
    for (i = 0; i < n && r == LLM_OK; i += 64) {
        int32_t sq[64], j, k = n - i < 64 ? n - i : 64;
        llm_batch b;
        for (j = 0; j < k; j++) sq[j] = seq;
        memset(&b, 0, sizeof b);
        b.n = k, b.tokens = t + i, b.seq = sq;
        r = llm_decode_batch(c, &b);
    }
    if (r == LLM_OK && out) memcpy(out, llm_logits(c, -1), sizeof(float) * (size_t)llm_model_n_vocab(llm_context_model(c)));
    return r;
}

/* A full pool refuses a batch without changing anything; truncating gives blocks back. */
static void test_batch_pool(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_context *c;
    llm_kv_stats st;
    llm_token t[64];
    int i, r;
    if (!m) return;
    for (i = 0; i < 64; i++) t[i] = (llm_token)(1 + i * 7 % 500);
    c = tb_context(m, 3, 16, 3, LLM_KV_F32);
    T_REQUIRE(c != NULL, "context");
    T_CHECK(tb_decode_seq(c, 0, t, 40, NULL) == LLM_OK, "40 tokens in 3 blocks");
    llm_context_kv_stats(c, &st);
    T_CHECK(st.n_used == 3 && st.n_blocks == 3, "used %d of %d", st.n_used, st.n_blocks);
    r = tb_decode_seq(c, 1, t, 1, NULL);
    T_CHECK(r == LLM_ERR_CONTEXT_FULL && strstr(llm_context_error(c), "KV pool full"), "a full pool: %d %s", r, llm_context_error(c));
    T_CHECK(llm_seq_len(c, 1) == 0 && llm_seq_len(c, 0) == 40, "nothing changed: %d %d", llm_seq_len(c, 1), llm_seq_len(c, 0));
    T_CHECK(tb_decode_seq(c, 0, t, 8, NULL) == LLM_OK, "the last block still has room");
    T_CHECK(tb_decode_seq(c, 0, t, 1, NULL) == LLM_ERR_CONTEXT_FULL, "48 positions fill 3 blocks");
    T_CHECK(llm_seq_truncate(c, 0, 20) == LLM_OK, "truncate");
    llm_context_kv_stats(c, &st);
    T_CHECK(st.n_used == 2, "after truncating to 20: %d blocks", st.n_used);
    T_CHECK(tb_decode_seq(c, 1, t, 5, NULL) == LLM_OK && tb_decode_seq(c, 2, t, 1, NULL) == LLM_ERR_CONTEXT_FULL, "one block left");
    {
        llm_batch b;
        int32_t sq[2] = {1, 7}, ps[2] = {5, 6};
        memset(&b, 0, sizeof b);
        b.n = 2, b.tokens = t, b.seq = sq;
        T_CHECK(llm_decode_batch(c, &b) == LLM_ERR_ARG, "sequence 7 of 3");
        sq[1] = 1;
        b.pos = ps;
        ps[1] = 9;
        T_CHECK(llm_decode_batch(c, &b) == LLM_ERR_ARG, "a gap in the positions");
        ps[1] = 6;
        T_CHECK(llm_decode_batch(c, &b) == LLM_OK && llm_seq_len(c, 1) == 7, "positions 5, 6: %s", llm_context_error(c));
    }
    T_CHECK(llm_seq_truncate(c, 5, 0) == LLM_ERR_ARG && llm_seq_len(c, 5) == -1, "bad sequence id");
    for (i = 0; i < 3; i++) llm_seq_truncate(c, i, 0);
    llm_context_kv_stats(c, &st);
    T_CHECK(st.n_used == 0, "all given back: %d", st.n_used);
    llm_context_free(c);
    llm_model_free(m);
}

/* A fork shares the prefix's blocks; both sequences then go on as if decoded alone. */
static void test_batch_fork(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_context *alone, *c;
    llm_kv_stats st;
    llm_token p[80], x[8], y[8];
    float *ra, *rb, *la, *lb;
    int i, n_vocab, cut;
    if (!m) return;
    n_vocab = llm_model_n_vocab(m);
    ra = (float *)malloc(sizeof(float) * (size_t)n_vocab * 4);
    rb = ra + n_vocab, la = rb + n_vocab, lb = la + n_vocab;
    for (i = 0; i < 80; i++) p[i] = (llm_token)(1 + i * 13 % 500);
    for (i = 0; i < 8; i++) x[i] = (llm_token)(20 + i), y[i] = (llm_token)(300 + i);
    for (cut = 32; cut <= 40; cut += 8) { /* on a block boundary, then inside a block */
        alone = tb_context(m, 1, 16, 0, LLM_KV_F32);
        c = tb_context(m, 2, 16, 0, LLM_KV_F32);
        T_REQUIRE(alone && c, "contexts");
        T_CHECK(tb_decode_seq(alone, 0, p, cut, NULL) == LLM_OK && tb_decode_seq(alone, 0, x, 8, ra) == LLM_OK, "alone x");
        llm_context_truncate(alone, 0);
        T_CHECK(tb_decode_seq(alone, 0, p, cut, NULL) == LLM_OK && tb_decode_seq(alone, 0, y, 8, rb) == LLM_OK, "alone y");
        T_CHECK(tb_decode_seq(c, 0, p, 60, NULL) == LLM_OK, "the prefix and more");
        T_CHECK(llm_seq_fork(c, 0, 1, cut) == LLM_OK, "fork");
        llm_context_kv_stats(c, &st);
        T_CHECK(st.n_shared == (cut + 15) / 16 && st.n_used == 4, "cut %d: %d shared, %d used", cut, st.n_shared, st.n_used);
        { /* llm_seq_blocks: the fork holds the first blocks of sequence 0, in order */
            int32_t b0[8], b1[8];
            int n0 = llm_seq_blocks(c, 0, b0, 8), n1 = llm_seq_blocks(c, 1, b1, 8);
            T_CHECK(n0 == 4 && n1 == (cut + 15) / 16 && memcmp(b0, b1, sizeof(int32_t) * (size_t)n1) == 0, "cut %d: blocks %d, %d",
                    cut, n0, n1);
            T_CHECK(llm_seq_blocks(c, 0, b0, 1) == 4 && llm_seq_blocks(c, 2, b0, 8) == -1, "llm_seq_blocks: short buffer, bad id");
        }
        llm_seq_truncate(c, 0, cut);
        T_CHECK(llm_seq_len(c, 1) == cut, "fork length");
        {
            llm_token tk[16];
            int32_t sq[16];
            int8_t want[16];
            llm_batch b;
            for (i = 0; i < 8; i++) {
                tk[2 * i] = x[i], sq[2 * i] = 0, want[2 * i] = i == 7;
                tk[2 * i + 1] = y[i], sq[2 * i + 1] = 1, want[2 * i + 1] = i == 7;
            }
            memset(&b, 0, sizeof b);
            b.n = 16, b.tokens = tk, b.seq = sq, b.logits = want;
            T_REQUIRE(llm_decode_batch(c, &b) == LLM_OK, "both go on: %s", llm_context_error(c));
            T_CHECK(memcmp(llm_logits(c, 14), ra, sizeof(float) * (size_t)n_vocab) == 0, "cut %d: sequence 0 differs", cut);
            T_CHECK(memcmp(llm_logits(c, 15), rb, sizeof(float) * (size_t)n_vocab) == 0, "cut %d: the fork differs", cut);
        }
        llm_context_kv_stats(c, &st);
        T_CHECK(st.n_shared == cut / 16, "cut %d: the partly filled block was copied: %d shared", cut, st.n_shared);
        llm_seq_truncate(c, 0, 0);
        llm_context_kv_stats(c, &st);
        T_CHECK(st.n_shared == 0 && st.n_used == 3, "the fork keeps its blocks: %d used", st.n_used);
        llm_seq_truncate(c, 1, 0);
        llm_context_kv_stats(c, &st);
        T_CHECK(st.n_used == 0, "all back: %d", st.n_used);
        (void)la, (void)lb;
        llm_context_free(alone);
        llm_context_free(c);
    }
    free(ra);
    llm_model_free(m);
}

/* Sequence 0 of a multi-sequence context still works through the single-sequence calls. */
static void test_batch_seq0_api(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_context *a, *b;
    llm_generate_params g = llm_generate_default_params();
    t_tokens *x = (t_tokens *)calloc(1, sizeof *x), *y = (t_tokens *)calloc(1, sizeof *y);
    static const llm_token other[2] = {1, 5};
    if (!m) { free(x); free(y); return; }
    a = tb_context(m, 1, 0, 0, LLM_KV_F32);
    b = tb_context(m, 4, 16, 0, LLM_KV_F32);
    g.n_predict = 40;
    g.sampler.temperature = 0;
    T_CHECK(tb_decode_seq(b, 2, other, 2, NULL) == LLM_OK, "another sequence");
    T_CHECK(llm_generate(a, "Once upon a time", &g, t_collect_tokens, x) == LLM_OK, "generate alone");
    T_CHECK(llm_generate(b, "Once upon a time", &g, t_collect_tokens, y) == LLM_OK, "generate on sequence 0");
    T_CHECK(x->n == y->n && strcmp(x->text, y->text) == 0, "'%s' vs '%s'", x->text, y->text);
    T_CHECK(llm_seq_len(b, 2) == 2 && llm_context_n_past(b) == llm_context_n_past(a), "lengths");
    free(x);
    free(y);
    llm_context_free(a);
    llm_context_free(b);
    llm_model_free(m);
}

static void tests_batch(void) {
    T_RUN(test_batch_identical);
    T_RUN(test_batch_pool);
    T_RUN(test_batch_fork);
    T_RUN(test_batch_seq0_api);
}
