/* Fuzzes decoding on a tiny synthetic model (../shared/models/synth/llama-Q8_0.gguf, loaded
   once; one context, one thread, n_ctx 32, n_batch 8, 3 sequences sharing a pool of 6 blocks
   of 8 positions): the input is a program of 3-byte steps: op, then a 16-bit operand. Ops:
   decode a batch of ids (in range or not), truncate, shift, save and restore the state (all on
   sequence 0); a batch over several sequences (with positions, right or wrong), fork, truncate
   a sequence. Every call returns LLM_OK or an error code; logits are finite after a
   successful decode; the pool never holds more blocks than it has, and none once every
   sequence is cleared. */
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
        cp.n_seq_max = 3;
        cp.kv_block = 8;
        cp.n_kv_blocks = 6; /* less than 3 full sequences: the pool fills */
        fz_c = llm_context_new(fz_m, &cp, err, sizeof err);
        FZ_CHECK(fz_c != NULL, "context: %s", err);
    }
    nv = llm_model_n_vocab(fz_m);
    {
        llm_kv_stats st;
        int s;
        for (s = 0; s < 3; s++) FZ_CHECK(llm_seq_truncate(fz_c, s, 0) == LLM_OK, "clear sequence %d", s);
        llm_context_kv_stats(fz_c, &st);
        FZ_CHECK(st.n_used == 0 && st.n_shared == 0, "%d blocks held with every sequence cleared", st.n_used);
    }
    for (at = 0; at + 3 <= size; at += 3) {
        int op = data[at] % 9, arg = data[at + 1] | data[at + 2] << 8;
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
        } else if (op == 6) { /* 1..8 tokens over sequences 0..3 (3 is out of range), positions maybe given */
            llm_token t[8];
            int32_t sq[8], ps[8], len[4], i, r, n = 1 + (arg & 7), s;
            llm_batch b;
            llm_kv_stats st;
            for (s = 0; s < 4; s++) len[s] = llm_seq_len(fz_c, s);
            for (i = 0; i < n; i++) {
                size_t k = at + 3 + (size_t)i;
                int v = k < size ? data[k] : i;
                t[i] = (llm_token)(v % nv);
                sq[i] = (arg >> (3 + 2 * (i % 6))) & 3;
                if (sq[i] == 3 && !(arg & 0x8000)) sq[i] = 0;
                ps[i] = (v & 0x80) ? v % 40 : -1;
            }
            for (s = 0; s < 3; s++) { /* right positions, unless a byte said otherwise */
                int p = len[s];
                for (i = 0; i < n; i++)
                    if (sq[i] == s && ps[i] < 0) ps[i] = p++;
                    else if (sq[i] == s) p++;
            }
            memset(&b, 0, sizeof b);
            b.n = n, b.tokens = t, b.seq = sq, b.pos = (arg & 0x4000) ? ps : NULL;
            r = llm_decode_batch(fz_c, &b);
            llm_context_kv_stats(fz_c, &st);
            FZ_CHECK(st.n_used <= st.n_blocks && st.n_used >= 0, "%d of %d blocks used", st.n_used, st.n_blocks);
            if (r == LLM_OK) {
                const float *l = llm_logits(fz_c, n - 1);
                FZ_CHECK(l != NULL, "no logits for the last token");
                for (i = 0; i < nv; i++) FZ_CHECK(isfinite(l[i]), "logit %d not finite", i);
            } else {
                FZ_CHECK(r < 0, "decode_batch returned %d", r);
                for (s = 0; s < 3; s++) FZ_CHECK(llm_seq_len(fz_c, s) == len[s], "a failed batch changed sequence %d", s);
            }
        } else if (op == 7) {
            (void)llm_seq_fork(fz_c, arg & 3, (arg >> 2) & 3, (arg >> 4) % 40);
        } else if (op == 8) {
            (void)llm_seq_truncate(fz_c, arg & 3, (arg >> 2) % 40);
        } else {
            size_t sz = llm_context_state_size(fz_c); /* grows with n_past */
            unsigned char *fz_state = (unsigned char *)malloc(sz ? sz : 1);
            FZ_CHECK(fz_state != NULL, "malloc");
            if (arg & 1) {
                int past = llm_context_n_past(fz_c), r;
                FZ_CHECK(llm_context_state_save(fz_c, fz_state, sz) == sz, "state save");
                r = llm_context_state_load(fz_c, fz_state, sz); /* a forked sequence 0 may need blocks the pool lacks */
                FZ_CHECK(r == LLM_OK || r == LLM_ERR_CONTEXT_FULL, "state load: %d", r);
                FZ_CHECK(llm_context_n_past(fz_c) == past, "n_past %d after loading %d", llm_context_n_past(fz_c), past);
            } else {
                FZ_CHECK(llm_context_state_save(fz_c, fz_state, sz) == sz, "state save");
                FZ_CHECK(llm_context_state_load(fz_c, fz_state, (size_t)(arg % 64) % sz) != LLM_OK, "truncated state loaded");
            }
            free(fz_state);
        }
    }
    return 0;
}
