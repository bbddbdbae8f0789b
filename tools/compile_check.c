/* Compile check: llm.h's implementation (and llm_vulkan.h's) must build as C11 and C++17 with
   every warning as an error, with and without LLM_NO_THREADS and LLM_NO_SIMD (see `make test`). */
#define LLM_IMPLEMENTATION
#include "../llm.h"
#define LLM_VULKAN_IMPLEMENTATION
#include "../llm_vulkan.h"

int compile_check_vulkan(void);

/* The companion's API: device list, a device, its backend table in the model parameters. */
int compile_check_vulkan(void) {
    llm_vk_device_info info[4];
    llm_model_params mp = llm_model_default_params();
    llm_vk *vk = llm_vk_new(NULL, NULL, 0);
    int n = llm_vk_devices(NULL, info, 4, NULL, 0);
    mp.backend = llm_vk_backend(vk);
    mp.gpu_layers = 99;
    if (vk) llm_vk_info(vk, &info[0]);
    n += llm_vk_validation_errors(vk) + (mp.backend != NULL);
    llm_vk_free(vk);
    return n;
}

int compile_check(const char *path);

static int on_token(llm_token t, const char *piece, int len, void *user) {
    (void)t, (void)piece, (void)len;
    return ++*(int *)user >= 4; /* stop after four pieces */
}

/* Touches each part of the API so that its declarations and definitions are used. */
int compile_check(const char *path) {
    char err[128];
    llm_model_params mp = llm_model_default_params();
    llm_context_params cp = llm_context_default_params();
    llm_generate_params gp = llm_generate_default_params();
    llm_memory_estimate est;
    llm_token tokens[16];
    llm_model *m;
    llm_context *c;
    int n, rc, pieces = 0;

    mp.vocab_only = 0;
    m = llm_model_load(path, &mp, err, sizeof err);
    if (!m) return LLM_ERR_IO;
    rc = llm_context_estimate(m, &cp, &est);
    c = rc == LLM_OK ? llm_context_new(m, &cp, err, sizeof err) : NULL;
    n = llm_tokenize(m, "hi", 2, tokens, 16, LLM_TOKENIZE_ADD_SPECIAL);
    if (c && n > 0 && n <= 16 && llm_decode(c, tokens, n, 0) == LLM_OK && llm_logits(c, -1)) {
        gp.n_predict = 4;
        rc = llm_generate(c, "", &gp, on_token, &pieces);
    }
    llm_context_free(c);
    llm_model_free(m);
    return rc;
}
