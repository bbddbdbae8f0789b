/* Fuzzes the tokenizers: the first byte picks a vocabulary (SentencePiece stories260K,
   byte-level BPE gpt-2, llama-bpe and qwen2, WordPiece bert-bge; loaded once, vocab_only)
   and the flags; the rest is the text, any bytes. The count agrees between asking and
   writing, every id is in range, and detokenizing the ids succeeds. */
#include "fuzz.h"

static const char *const fz_vocabs[] = {"models/stories260K.gguf", "models/llama.cpp-vocab/ggml-vocab-gpt-2.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-llama-bpe.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-qwen2.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-bert-bge.gguf",
                                        "models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"};
#define FZ_NV ((int)(sizeof fz_vocabs / sizeof fz_vocabs[0]))
static llm_model *fz_models[FZ_NV];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llm_model *m;
    const char *text;
    size_t len;
    int flags, n, n2, i, nv, max;
    llm_token *out;
    char *back;
    if (size < 1) return 0;
    if (!fz_models[0])
        for (i = 0; i < FZ_NV; i++) fz_models[i] = fz_load_once(fz_vocabs[i], 1);
    m = fz_models[data[0] % FZ_NV];
    flags = (data[0] / FZ_NV) & 3;
    text = (const char *)data + 1;
    len = size - 1;
    nv = llm_model_n_vocab(m);
    n = llm_tokenize(m, text, len, NULL, 0, flags);
    if (n < 0) return 0; /* an error code, e.g. a vocabulary it cannot run */
    max = n + 1;
    out = (llm_token *)malloc(sizeof(llm_token) * (size_t)max);
    FZ_CHECK(out != NULL, "malloc");
    n2 = llm_tokenize(m, text, len, out, max, flags);
    FZ_CHECK(n2 == n, "count %d when asked, %d when written", n, n2);
    for (i = 0; i < n; i++) FZ_CHECK(out[i] >= 0 && out[i] < nv, "token %d = %d of %d", i, out[i], nv);
    if (n > 1) { /* a short buffer: the same full count, nothing past max */
        int n3;
        out[n] = 0x7eadbeef;
        n3 = llm_tokenize(m, text, len, out, n / 2, flags);
        FZ_CHECK(n3 == n, "count %d with a short buffer, %d otherwise", n3, n);
    }
    n2 = llm_detokenize(m, out, n, NULL, 0, LLM_DETOKENIZE_SPECIAL);
    FZ_CHECK(n2 >= 0, "detokenize of the tokenizer's own ids failed: %d", n2);
    back = (char *)malloc((size_t)n2 + 1);
    FZ_CHECK(back != NULL, "malloc");
    FZ_CHECK(llm_detokenize(m, out, n, back, n2 + 1, LLM_DETOKENIZE_SPECIAL) == n2, "detokenize length changed");
    FZ_CHECK(back[n2] == 0, "not NUL-terminated");
    free(back);
    free(out);
    return 0;
}
