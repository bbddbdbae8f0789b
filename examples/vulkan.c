/* vulkan.c - offload a model's layers to a GPU through Vulkan (llm_vulkan.h), or run on the CPU
   when there is none: the same program either way, linking nothing new (the Vulkan loader is
   opened at run time).

   Shows llm_vk_new (device choice and self-test), the backend table and gpu_layers in the
   model parameters, and the log callback that says why the CPU was used.

     cc -O2 -std=c11 examples/vulkan.c -o vulkan -lm -lpthread -ldl
     ./vulkan [MODEL.gguf] [GPU_LAYERS] [DEVICE]   (DEVICE: a name such as "llvmpipe" to use a
                                                  CPU device; default: the best GPU) */
#define LLM_IMPLEMENTATION
#define LLM_VULKAN_IMPLEMENTATION
#include "../llm_vulkan.h"

#include <stdio.h>
#include <stdlib.h>

static void on_log(int level, const char *msg, void *user) {
    (void)user;
    if (level <= LLM_LOG_INFO) fprintf(stderr, "[%s] %s\n", level == LLM_LOG_INFO ? "info" : "warn", msg);
}

static int on_token(llm_token t, const char *piece, int len, void *user) {
    (void)t, (void)user;
    fwrite(piece, 1, (size_t)len, stdout);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/models/stories260K.gguf";
    char err[256];
    int rc;

    /* 1. a device: NULL (with the reason logged) means no GPU, and the CPU does the work */
    llm_vk_params vp = llm_vk_default_params();
    vp.device_name = argc > 3 ? argv[3] : NULL;
    vp.log = on_log;
    llm_vk *vk = llm_vk_new(&vp, err, sizeof err);

    /* 2. the model with its last layers (and the output head) on the device */
    llm_model_params mp = llm_model_default_params();
    mp.log = on_log;
    if (vk) {
        mp.backend = llm_vk_backend(vk);
        mp.gpu_layers = argc > 2 ? atoi(argv[2]) : 99; /* more than n_layer: all of them */
    }
    llm_model *m = llm_model_load(path, &mp, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); llm_vk_free(vk); return 1; }
    llm_context *c = llm_context_new(m, NULL, err, sizeof err);
    if (!c) { fprintf(stderr, "%s\n", err); llm_model_free(m); llm_vk_free(vk); return 1; }

    /* 3. generation as usual; a lost device would give LLM_ERR_DEVICE, and the next call runs on the CPU */
    llm_generate_params g = llm_generate_default_params();
    g.n_predict = 48;
    g.sampler.temperature = 0; /* greedy: the same text on the GPU and the CPU */
    rc = llm_generate(c, "Once upon a time", &g, on_token, NULL);
    printf("\n");
    if (rc != LLM_OK) fprintf(stderr, "%s\n", llm_context_error(c));

    llm_context_free(c);
    llm_model_free(m); /* before the device it uses */
    llm_vk_free(vk);
    return rc == LLM_OK ? 0 : 1;
}
