/* Fuzzes the GGUF loader from memory: any bytes load or are refused with a message; a loaded
   model answers every query in range, dequantizes its tensors' first rows, and (when small
   enough) makes a context and decodes a token; nothing leaks. */
#include "fuzz.h"

static void fz_exercise(llm_model *m, const uint8_t *data, size_t size) {
    char buf[64];
    int i, n = llm_model_meta_count(m), nt = llm_model_tensor_count(m);
    float *row = NULL;
    (void)data;
    for (i = 0; i < n; i++) {
        int len = llm_model_meta_value(m, i, buf, sizeof buf);
        FZ_CHECK(len >= 0 && memchr(buf, 0, sizeof buf), "meta %d", i);
        FZ_CHECK(llm_model_meta_find(m, llm_model_meta_key(m, i)) >= 0, "meta_find %d", i);
    }
    for (i = 0; i < nt; i++) {
        llm_tensor_info ti;
        FZ_CHECK(llm_model_tensor_info(m, i, &ti) == LLM_OK, "tensor_info %d", i);
        FZ_CHECK(ti.offset <= size && ti.size_bytes <= size, "tensor %d outside the file", i);
        if (ti.ne[0] > 0 && ti.ne[0] <= (1 << 16)) {
            row = (float *)realloc(row, (size_t)ti.ne[0] * sizeof(float));
            if (row) (void)llm_model_tensor_dequantize(m, i, 0, 1, row);
        }
    }
    free(row);
    for (i = 0; i < 64; i++) {
        const char *name = NULL;
        if (!llm_model_hparam(m, i, &name, buf, sizeof buf)) break;
        FZ_CHECK(name != NULL && memchr(buf, 0, sizeof buf), "hparam %d", i);
    }
    if (!llm_model_vocab_only(m)) {
        llm_token t[8];
        int k = llm_tokenize(m, "Hello <s> world", 15, t, 8, LLM_TOKENIZE_ADD_SPECIAL | LLM_TOKENIZE_PARSE_SPECIAL);
        if (k >= 0) (void)llm_detokenize(m, t, k < 8 ? k : 8, buf, sizeof buf, LLM_DETOKENIZE_SPECIAL);
    }
    if (!llm_model_vocab_only(m) && llm_model_size_bytes(m) <= (1u << 20) && llm_model_n_embd(m) <= 1024 &&
        llm_model_n_vocab(m) <= 65536) {
        llm_context_params cp = llm_context_default_params();
        llm_context *c;
        char err[256];
        cp.n_ctx = 8;
        cp.n_threads = 1;
        c = llm_context_new(m, &cp, err, sizeof err);
        if (c) {
            llm_token t = 1 % llm_model_n_vocab(m);
            (void)llm_decode(c, &t, 1, 0);
            llm_context_free(c);
        } else FZ_CHECK(err[0] != 0, "context refused without a message");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int vo;
    for (vo = 0; vo < 2; vo++) {
        fz_heap h;
        llm_model_params p;
        llm_model *m;
        char err[256];
        memset(&h, 0, sizeof h);
        h.budget = (size_t)64 << 20;
        memset(&p, 0, sizeof p);
        p.allocator = fz_allocator(&h);
        p.vocab_only = vo;
        err[0] = 0;
        m = llm_model_load_memory(data, size, &p, err, sizeof err);
        if (m) fz_exercise(m, data, size);
        else FZ_CHECK(err[0] != 0, "refused without a message");
        llm_model_free(m);
        FZ_CHECK(h.live == 0, "%ld allocations leaked", h.live);
        FZ_CHECK(h.max_size <= 64 * size + ((size_t)1 << 20), "one allocation of %zu bytes for %zu bytes",
                 h.max_size, size);
        if (!m && vo == 0) {
            /* refused as a whole model: vocab_only may still load it */
        }
    }
    return 0;
}
