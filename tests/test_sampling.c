/* Sampling: the RNG, each stage of the chain, and determinism. */

static void test_rng(void) {
    uint64_t x = 0;
    llm__rng a, b;
    int i, same = 1;
    /* splitmix64's published first output for state 0 */
    T_CHECK(llm__splitmix64(&x) == 0xE220A8397B1DCDAFull, "splitmix64");
    llm__rng_seed(&a, 42);
    llm__rng_seed(&b, 42);
    for (i = 0; i < 1000; i++) {
        float f = llm__rng_float(&a);
        same &= f == llm__rng_float(&b);
        T_CHECK(f >= 0.0f && f < 1.0f, "draw %d = %g", i, f);
    }
    T_CHECK(same, "same seed, different draws");
}

static llm_model *t_vocab_model(void) {
    llm_model_params p = llm_model_default_params();
    char err[256];
    const char *path = t_shared("models/stories260K.gguf");
    llm_model *m;
    if (!path) return NULL;
    p.vocab_only = 1;
    m = llm_model_load(path, &p, err, sizeof err);
    T_CHECK(m != NULL, "%s", err);
    return m;
}

/* Logits with probabilities (after softmax) p0 > p1 > p2 > ..., the rest negligible. */
static void t_logits3(float *l, int n, float a, float b, float c) {
    int i;
    for (i = 0; i < n; i++) l[i] = -1e9f;
    l[10] = logf(a);
    l[20] = logf(b);
    l[30] = logf(c);
}

static void test_sampler_chain(void) {
    llm_model *m = t_vocab_model();
    llm_sampler_params sp;
    llm_sampler *s;
    float l[512];
    int i, counts[3] = {0, 0, 0}, nv;
    if (!m) return;
    nv = llm_model_n_vocab(m);
    T_REQUIRE(nv == 512, "vocab %d", nv);
    /* greedy: the largest, lowest id on ties; penalties apply first */
    memset(&sp, 0, sizeof sp);
    s = llm_sampler_new(m, &sp);
    t_logits3(l, nv, 0.2f, 0.5f, 0.3f);
    T_CHECK(llm_sampler_sample(s, l) == 20, "greedy");
    l[5] = l[20];
    T_CHECK(llm_sampler_sample(s, l) == 5, "greedy tie goes to the lowest id");
    llm_sampler_free(s);
    sp.repeat_penalty = 2.0f;
    s = llm_sampler_new(m, &sp);
    for (i = 0; i < nv; i++) l[i] = (float)(i % 7);
    l[100] = 10.0f;
    l[101] = 9.0f;
    llm_sampler_accept(s, 100);
    T_CHECK(llm_sampler_sample(s, l) == 101, "repeat penalty halves a positive logit");
    llm_sampler_free(s);
    memset(&sp, 0, sizeof sp);
    sp.frequency_penalty = 0.6f;
    s = llm_sampler_new(m, &sp);
    llm_sampler_accept(s, 100);
    llm_sampler_accept(s, 100);
    T_CHECK(llm_sampler_sample(s, l) == 101, "frequency penalty 2 x 0.6 > the gap of 1");
    llm_sampler_free(s);
    /* temperature 1: frequencies follow the probabilities */
    memset(&sp, 0, sizeof sp);
    sp.temperature = 1.0f;
    sp.seed = 7;
    s = llm_sampler_new(m, &sp);
    t_logits3(l, nv, 0.6f, 0.3f, 0.1f);
    for (i = 0; i < 20000; i++) {
        llm_token t = llm_sampler_sample(s, l);
        counts[t == 10 ? 0 : t == 20 ? 1 : 2]++;
    }
    T_CHECK(fabs(counts[0] / 20000.0 - 0.6) < 0.02 && fabs(counts[1] / 20000.0 - 0.3) < 0.02 &&
                fabs(counts[2] / 20000.0 - 0.1) < 0.02,
            "frequencies %d %d %d", counts[0], counts[1], counts[2]);
    llm_sampler_free(s);
    /* top-k 1, top-p 0.5 and min-p 0.6 each leave only the first */
    for (i = 0; i < 3; i++) {
        int j, only_first = 1;
        memset(&sp, 0, sizeof sp);
        sp.temperature = 1.5f;
        if (i == 0) sp.top_k = 1;
        if (i == 1) sp.top_p = 0.5f;
        if (i == 2) sp.min_p = 0.6f;
        s = llm_sampler_new(m, &sp);
        for (j = 0; j < 500; j++) only_first &= llm_sampler_sample(s, l) == 10;
        T_CHECK(only_first, "stage %d let another token through", i);
        llm_sampler_free(s);
    }
    /* min-p 0.4 keeps 10 and 20 (0.3 >= 0.24) but never 30 */
    {
        int j, seen20 = 0, seen30 = 0;
        memset(&sp, 0, sizeof sp);
        sp.temperature = 1.0f;
        sp.min_p = 0.4f;
        s = llm_sampler_new(m, &sp);
        for (j = 0; j < 2000; j++) {
            llm_token t = llm_sampler_sample(s, l);
            seen20 += t == 20;
            seen30 += t == 30;
        }
        T_CHECK(seen20 > 0 && seen30 == 0, "min-p: %d, %d", seen20, seen30);
        llm_sampler_free(s);
    }
    /* the same seed after a reset gives the same tokens */
    {
        llm_token first[50];
        int j, same = 1;
        sp = llm_sampler_default_params();
        sp.seed = 1234;
        s = llm_sampler_new(m, &sp);
        for (j = 0; j < nv; j++) l[j] = (float)((j * 7919) % 97) / 10.0f;
        for (j = 0; j < 50; j++) first[j] = llm_sampler_sample(s, l);
        llm_sampler_reset(s);
        for (j = 0; j < 50; j++) same &= first[j] == llm_sampler_sample(s, l);
        T_CHECK(same, "reset did not reproduce the draws");
        llm_sampler_free(s);
    }
    llm_model_free(m);
}

static void tests_sampling(void) {
    T_RUN(test_rng);
    T_RUN(test_sampler_chain);
}
