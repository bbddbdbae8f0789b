/* Fuzzes detokenization and pieces: the first byte picks a vocabulary and flags, the rest
   is token ids (int32 little-endian, any value, in range or not). A bad id gives a negative
   result; otherwise the length agrees between asking and writing and the text is
   NUL-terminated when it fits. */
#include "fuzz.h"

static const char *const fz_vocabs[] = {"models/stories260K.gguf", "models/llama.cpp-vocab/ggml-vocab-gpt-2.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-llama-bpe.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-qwen2.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-bert-bge.gguf"};
#define FZ_NV ((int)(sizeof fz_vocabs / sizeof fz_vocabs[0]))
static llm_model *fz_models[FZ_NV];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llm_model *m;
    int flags, n, i, len, len2, nv;
    llm_token *ids;
    char small[7], *buf;
    if (size < 1) return 0;
    if (!fz_models[0])
        for (i = 0; i < FZ_NV; i++) fz_models[i] = fz_load_once(fz_vocabs[i], 1);
    m = fz_models[data[0] % FZ_NV];
    flags = (data[0] / FZ_NV) & 3;
    nv = llm_model_n_vocab(m);
    n = (int)((size - 1) / 4);
    ids = (llm_token *)malloc(sizeof(llm_token) * (size_t)(n + 1));
    FZ_CHECK(ids != NULL, "malloc");
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, data + 1 + 4 * i, 4);
        /* mostly in range, sometimes anything */
        ids[i] = (u >> 28) == 0xF ? (llm_token)u : (llm_token)(u % (uint32_t)(nv + 2));
    }
    for (i = 0; i < n; i++) {
        int pl = llm_token_to_piece(m, ids[i], small, (int)sizeof small, flags & 1);
        if (ids[i] < 0 || ids[i] >= nv) FZ_CHECK(pl < 0, "piece of invalid id %d: %d", ids[i], pl);
        (void)llm_token_text(m, ids[i]);
        (void)llm_token_is_eog(m, ids[i]);
        (void)llm_token_is_control(m, ids[i]);
    }
    len = llm_detokenize(m, ids, n, small, (int)sizeof small, flags);
    if (len >= 0) {
        FZ_CHECK(memchr(small, 0, sizeof small) != NULL || len >= (int)sizeof small, "short buffer");
        buf = (char *)malloc((size_t)len + 1);
        FZ_CHECK(buf != NULL, "malloc");
        len2 = llm_detokenize(m, ids, n, buf, len + 1, flags);
        FZ_CHECK(len2 == len, "length %d, then %d", len, len2);
        FZ_CHECK(buf[len] == 0 && strlen(buf) <= (size_t)len, "not NUL-terminated");
        free(buf);
    }
    free(ids);
    return 0;
}
