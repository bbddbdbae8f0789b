/* LLM_MAX_* set small at compile time: stories260K (512 tokens, 48 tensors, 20+ metadata
   entries) is refused cleanly with a message, and a context beyond LLM_MAX_CTX is refused.
   Built four times by `make check-limits`, once per limit:
     cc -DLLM_MAX_KV=8 tests/limits.c       (also LLM_MAX_TENSORS=8, LLM_MAX_VOCAB=256, LLM_MAX_CTX=64) */
#define LLM_IMPLEMENTATION
#include "../llm.h"
#include <stdio.h>

int main(void) {
    const char *path = "../shared/models/stories260K.gguf";
    char err[256] = "";
    llm_model *m = llm_model_load(path, NULL, err, sizeof err);
#if LLM_MAX_CTX < 1024 /* the context build; the others keep the default */
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    if (!m) return printf("limits: %s refused: %s\n", path, err), 1;
    cp.n_ctx = LLM_MAX_CTX + 1;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (c || !err[0]) return printf("limits: n_ctx %d accepted (LLM_MAX_CTX %d)\n", cp.n_ctx, LLM_MAX_CTX), 1;
    printf("limits: n_ctx %d refused: %s\n", cp.n_ctx, err);
    cp.n_ctx = LLM_MAX_CTX;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) return printf("limits: n_ctx %d refused: %s\n", cp.n_ctx, err), 1;
    llm_context_free(c);
    llm_model_free(m);
    return 0;
#else
    if (m || !err[0]) return printf("limits: %s loaded despite the small limit\n", path), 1;
    printf("limits: refused: %s\n", err);
    return 0;
#endif
}
