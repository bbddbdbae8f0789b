/* chat.c - a conversation with a chat model: the model's template formats the messages, each
   turn decodes only what is new, and the reply streams as it is generated.

     cc -O2 -std=c11 examples/chat.c -o chat -lm -lpthread
     ./chat MODEL.gguf                     (type a line per message; end of input quits) */
#define LLM_IMPLEMENTATION
#include "../llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char reply[8192]; /* the assistant's text of this turn */
static size_t reply_len;

static int on_token(llm_token t, const char *piece, int len, void *user) {
    (void)t, (void)user;
    fwrite(piece, 1, (size_t)len, stdout);
    fflush(stdout);
    if (reply_len + (size_t)len < sizeof reply) memcpy(reply + reply_len, piece, (size_t)len), reply_len += (size_t)len;
    return 0;
}

int main(int argc, char **argv) {
    static char line[16][1024], answers[16][8192], text[65536];
    llm_chat_message msgs[32];
    int n = 0, done = 0, rc = 0;
    char err[256];
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]); return 2; }
    llm_model *m = llm_model_load(argv[1], NULL, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); return 1; }
    /* The model's template, or ChatML when it has none we know (the caller's choice). */
    const char *tmpl = llm_chat_template_name(m, NULL) ? NULL : "chatml";
    llm_context *c = llm_context_new(m, NULL, err, sizeof err);
    if (!c) { fprintf(stderr, "%s\n", err); llm_model_free(m); return 1; }
    llm_generate_params g = llm_generate_default_params();
    g.parse_special = 1; /* the template's markers are special tokens */
    msgs[n].role = "system", msgs[n++].content = "You are a helpful assistant.";
    for (int turn = 0; turn < 16 && fgets(line[turn], sizeof line[turn], stdin); turn++) {
        line[turn][strcspn(line[turn], "\r\n")] = 0;
        msgs[n].role = "user", msgs[n++].content = line[turn];
        int len = llm_chat_format(m, tmpl, msgs, n, 1, text, sizeof text);
        if (len < 0 || len >= (int)sizeof text) { fprintf(stderr, "cannot format the chat (%d)\n", len); rc = 1; break; }
        /* Decode only what follows the text already in the context. */
        g.no_bos = done > 0;
        reply_len = 0;
        rc = llm_generate(c, text + done, &g, on_token, NULL);
        printf("\n");
        if (rc != LLM_OK) { fprintf(stderr, "%s\n", llm_context_error(c)); break; }
        memcpy(answers[turn], reply, reply_len), answers[turn][reply_len] = 0;
        msgs[n].role = "assistant", msgs[n++].content = answers[turn];
        done = len + (int)reply_len; /* the prompt and the reply are in the context now */
    }
    llm_context_free(c);
    llm_model_free(m);
    return rc == LLM_OK ? 0 : 1;
}
