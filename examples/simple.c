/* simple.c - the smallest complete program: load a model, generate text, free everything.

   Shows the quick start of llm.h: llm_model_load, llm_context_new, llm_generate with a
   callback that prints each piece as it comes, and the error reporting of each call.

     cc -O2 -std=c11 examples/simple.c -o simple -lm -lpthread
     ./simple [MODEL.gguf] [PROMPT]                (default: ../shared/models/stories260K.gguf) */
#define LLM_IMPLEMENTATION
#include "../llm.h"

#include <stdio.h>

/* Called with each piece of generated text (whole UTF-8 characters). */
static int on_token(llm_token t, const char *piece, int len, void *user) {
    (void)t, (void)user;
    fwrite(piece, 1, (size_t)len, stdout);
    fflush(stdout);
    return 0; /* nonzero would stop generation */
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/models/stories260K.gguf";
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
    char err[256];
    int rc;

    llm_model *m = llm_model_load(path, NULL, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); return 1; }
    llm_context *c = llm_context_new(m, NULL, err, sizeof err);
    if (!c) { fprintf(stderr, "%s\n", err); llm_model_free(m); return 1; }
    llm_generate_params g = llm_generate_default_params();
    g.n_predict = 64;
    printf("%s", prompt);
    rc = llm_generate(c, prompt, &g, on_token, NULL);
    printf("\n");
    if (rc != LLM_OK) fprintf(stderr, "%s\n", llm_context_error(c));
    llm_context_free(c);
    llm_model_free(m);
    return rc == LLM_OK ? 0 : 1;
}
