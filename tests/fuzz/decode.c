/* Fuzzes decoding on a tiny synthetic model (../shared/models/synth/llama-Q8_0.gguf, loaded
   once; one context, one thread, n_ctx 32, n_batch 8): the input is a program of 3-byte
   steps: op, then a 16-bit operand. Ops: decode a batch of ids (in range or not), truncate,
   shift, save and restore the state. Every call returns LLM_OK or an error code; logits
   are finite after a successful decode. */
#include "fuzz.h"
#include <math.h>

static llm_model *fz_m;
static llm_context *fz_c;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t at;
    int nv;
    if (!fz_m) {
        llm_context_params cp = llm_context_default_params();
        char err[256];
        fz_m = fz_load_once("models/synth/llama-Q8_0.gguf", 0);
        cp.n_ctx = 32;
        cp.n_batch = 8;
        cp.n_threads = 1; /* the pool under contention makes this 10x slower; check-tsan covers threads */
        cp.n_outputs = 8;
        fz_c = llm_context_new(fz_m, &cp, err, sizeof err);
        FZ_CHECK(fz_c != NULL, "context: %s", err);
    }
    nv = llm_model_n_vocab(fz_m);
    llm_context_truncate(fz_c, 0);
    for (at = 0; at + 3 <= size; at += 3) {
        int op = data[at] % 6, arg = data[at + 1] | data[at + 2] << 8;
        if (op <= 2) { /* a batch of 1..8 ids taken from the following bytes */
            llm_token t[9];
            int n = 1 + (arg & 7), i, r, past = llm_context_n_past(fz_c);
            for (i = 0; i < n; i++) {
                size_t k = at + 3 + (size_t)i;
                int b = k < size ? data[k] : i;
                t[i] = (arg & 0x8000) && i == 0 ? (llm_token)(arg - 0x10000) : (llm_token)(b % (nv + 1));
            }
            r = llm_decode(fz_c, t, n, op == 2 ? LLM_DECODE_ALL_LOGITS : 0);
            if (r == LLM_OK) {
                const float *l = llm_logits(fz_c, -1);
                FZ_CHECK(l != NULL, "no logits after a decode");
                for (i = 0; i < nv; i++) FZ_CHECK(isfinite(l[i]), "logit %d not finite", i);
                FZ_CHECK(llm_context_n_past(fz_c) == past + n, "n_past %d after %d + %d", llm_context_n_past(fz_c), past, n);
            } else {
                FZ_CHECK(r < 0, "decode returned %d", r);
                FZ_CHECK(llm_context_n_past(fz_c) == past, "a failed decode moved n_past");
            }
        } else if (op == 3) {
            llm_context_truncate(fz_c, arg % 40);
        } else if (op == 4) {
            (void)llm_context_shift(fz_c, arg & 31, (arg >> 5) & 31);
        } else {
            size_t sz = llm_context_state_size(fz_c); /* grows with n_past */
            unsigned char *fz_state = (unsigned char *)malloc(sz ? sz : 1);
            FZ_CHECK(fz_state != NULL, "malloc");
            if (arg & 1) {
                FZ_CHECK(llm_context_state_save(fz_c, fz_state, sz) == sz, "state save");
                FZ_CHECK(llm_context_state_load(fz_c, fz_state, sz) == LLM_OK, "state load");
            } else {
                FZ_CHECK(llm_context_state_save(fz_c, fz_state, sz) == sz, "state save");
                FZ_CHECK(llm_context_state_load(fz_c, fz_state, (size_t)(arg % 64) % sz) != LLM_OK, "truncated state loaded");
            }
            free(fz_state);
        }
    }
    return 0;
}
