/* llm chat: an interactive conversation with the model's own chat template. Replies stream
   to stdout; the prompt marker, settings and messages go to stderr. */
#include "common.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char chat_usage[] =
    "usage: llm chat -m MODEL [--system TEXT] [options]\n"
    "\n"
    "Talks with the model, one line per message, using its chat template\n"
    "(tokenizer.chat_template). Commands: /reset starts over, /quit (or end of input) leaves.\n"
    "\n"
    "  -m, --model FILE          GGUF model, or a name from llm ls\n"
    "      --system TEXT         system message at the start of the conversation\n"
    "      --template NAME       use this template: llama2, llama3, chatml, gemma, phi3,\n"
    "                            mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7,\n"
    "                            mistral-v7-tekken, deepseek, deepseek2, deepseek3, zephyr,\n"
    "                            command-r\n"
    "                            (needed when the model's template is not recognised)\n"
    "  -n, --n-predict N         most tokens per reply; -1 = until the end of the turn (default)\n"
    "  -c, --ctx-size N          context in tokens, K suffix allowed (default: the training\n"
    "                            context, at most 4096)\n"
    "  -t, --threads N           threads (default: every CPU this process may use)\n"
    "  -ngl N                    layers to run on a GPU through Vulkan (0 = none, 99 = all)\n"
    "      --temp T              temperature; 0 = greedy (default 0.8)\n"
    "      --seed S              random seed (default: from the clock)\n"
    "  -h, --help                print this help\n";

/* The conversation: messages with owned copies of their texts. */
typedef struct chat_history {
    llm_chat_message *msg;
    int n, cap;
} chat_history;

static void chat_add(chat_history *h, const char *role, const char *text, size_t len) {
    char *copy = (char *)cli_alloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = 0;
    if (h->n == h->cap) {
        llm_chat_message *m;
        h->cap = h->cap ? h->cap * 2 : 16;
        m = (llm_chat_message *)cli_alloc(sizeof *m * (size_t)h->cap);
        if (h->n) memcpy(m, h->msg, sizeof *m * (size_t)h->n);
        free(h->msg);
        h->msg = m;
    }
    h->msg[h->n].role = role;
    h->msg[h->n].content = copy;
    h->n++;
}

static void chat_clear(chat_history *h, int keep) {
    while (h->n > keep) free((void *)h->msg[--h->n].content);
}

/* A growing string. */
typedef struct chat_text {
    char *s;
    size_t len, cap;
} chat_text;

static void chat_text_add(chat_text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        char *p;
        while (cap < t->len + n + 1) cap *= 2;
        p = (char *)cli_alloc(cap);
        if (t->len) memcpy(p, t->s, t->len);
        free(t->s);
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

/* Streams each piece and keeps the reply's text. */
static int chat_on_token(llm_token t, const char *piece, int len, void *user) {
    (void)t;
    if (len > 0) {
        fwrite(piece, 1, (size_t)len, stdout);
        chat_text_add((chat_text *)user, piece, (size_t)len);
    }
    fflush(stdout);
    return 0;
}

/* The conversation formatted with the generation prompt, into *out. */
static void chat_format(const char *tmpl, const chat_history *h, chat_text *out) {
    int n = llm_chat_format(NULL, tmpl, h->msg, h->n, 1, NULL, 0);
    if (n < 0) cli_fail("cannot format the conversation: %s", llm_result_string(n));
    out->len = 0;
    chat_text_add(out, "", 0);
    if ((size_t)n + 1 > out->cap) {
        free(out->s);
        out->cap = (size_t)n + 1;
        out->s = (char *)cli_alloc(out->cap);
    }
    llm_chat_format(NULL, tmpl, h->msg, h->n, 1, out->s, n + 1);
    out->len = (size_t)n;
}

int cmd_chat(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, chat_usage);
    int gpu_layers = 0;
    const char *s, *model_path = NULL, *system = NULL, *tmpl = NULL;
    char err[512], line[8192];
    long n_predict = -1;
    int seed_given = 0, n_keep;
    llm_model *m;
    llm_context *c;
    llm_context_params cp = llm_context_default_params();
    llm_generate_params g = llm_generate_default_params();
    chat_history h;
    chat_text fed, full, reply;
    llm_generate_stats stats;

    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) model_path = s;
        else if (cli_value(&a, NULL, "--system", &s)) system = s;
        else if (cli_value(&a, NULL, "--template", &s)) tmpl = s;
        else if (cli_value(&a, "-n", "--n-predict", &s)) n_predict = cli_int(&a, s, -1, INT_MAX);
        else if (cli_value(&a, "-c", "--ctx-size", &s)) cp.n_ctx = (int32_t)cli_size(&a, s, 0, INT32_MAX);
        else if (cli_value(&a, "-t", "--threads", &s)) cp.n_threads = (int32_t)cli_int(&a, s, 0, 4096);
        else if (cli_value(&a, "-ngl", "--gpu-layers", &s)) gpu_layers = (int)cli_int(&a, s, 0, 100000);
        else if (cli_value(&a, NULL, "--temp", &s)) g.sampler.temperature = (float)cli_float(&a, s, 0, 1e6);
        else if (cli_value(&a, NULL, "--seed", &s)) g.sampler.seed = cli_size(&a, s, 0, UINT64_MAX), seed_given = 1;
        else cli_unknown(&a);
    }
    if (!model_path) cli_usage_error(&a, "a model is needed (-m FILE)");
    if (n_predict == 0) cli_usage_error(&a, "-n: give -1 or a count of at least 1");
    if (tmpl && !llm_chat_template_name(NULL, tmpl)) cli_usage_error(&a, "--template: unknown template '%s'", tmpl);

    m = cli_load_model_gpu(model_path, gpu_layers);
    if (!tmpl) {
        tmpl = llm_chat_template_name(m, NULL);
        if (!tmpl)
            cli_fail("%s's chat template is %s; choose one with --template NAME (see llm chat -h)", model_path,
                     llm_model_meta_find(m, "tokenizer.chat_template") >= 0 ? "not one llm knows" : "missing");
    }
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) cli_fail("%s", err);
    if (!seed_given) g.sampler.seed = (uint64_t)time(NULL) ^ (uint64_t)clock() << 32;
    g.n_predict = n_predict < 0 ? 0 : (int32_t)n_predict;
    g.parse_special = 1; /* the template's markers are special tokens */
    g.stats = &stats;
    fprintf(stderr, "llm: %s, template %s, context %d tokens; /reset starts over, /quit leaves\n", model_path, tmpl,
            llm_context_n_ctx(c));

    memset(&h, 0, sizeof h);
    memset(&fed, 0, sizeof fed);
    memset(&full, 0, sizeof full);
    memset(&reply, 0, sizeof reply);
    if (system) chat_add(&h, "system", system, strlen(system));
    n_keep = h.n;
    chat_text_add(&fed, "", 0);

    for (;;) {
        size_t len;
        int rc;
        const char *delta;
        fprintf(stderr, "> ");
        fflush(stderr);
        if (!fgets(line, sizeof line, stdin)) break;
        len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (strcmp(line, "/quit") == 0 || strcmp(line, "/exit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            chat_clear(&h, n_keep);
            llm_context_truncate(c, 0);
            fed.len = 0;
            chat_text_add(&fed, "", 0);
            fprintf(stderr, "llm: conversation cleared\n");
            continue;
        }
        if (len == 0) continue;
        chat_add(&h, "user", line, len);
        chat_format(tmpl, &h, &full);
        /* Only the text after what the context already holds is decoded; if the template
           rewrote earlier turns (trimming, moving the system text), start over. */
        if (fed.len <= full.len && memcmp(full.s, fed.s, fed.len) == 0 && llm_context_n_past(c) > 0) {
            delta = full.s + fed.len;
            g.no_bos = 1;
        } else {
            llm_context_truncate(c, 0);
            delta = full.s;
            g.no_bos = 0;
        }
        reply.len = 0;
        chat_text_add(&reply, "", 0);
        rc = llm_generate(c, delta, &g, chat_on_token, &reply);
        fputc('\n', stdout);
        fflush(stdout);
        if (rc == LLM_ERR_CONTEXT_FULL) {
            fprintf(stderr, "llm: the context is full (%d tokens): /reset to start over, or run with a larger -c\n",
                    llm_context_n_ctx(c));
            chat_clear(&h, h.n - 1); /* forget the message that did not fit */
            fed.len = 0;             /* the context no longer matches the text: re-decode next time */
            chat_text_add(&fed, "", 0);
            llm_context_truncate(c, 0);
            continue;
        }
        if (rc != LLM_OK) cli_fail("%s", llm_context_error(c)[0] ? llm_context_error(c) : llm_result_string(rc));
        chat_add(&h, "assistant", reply.s, reply.len);
        fed.len = 0;
        /* A reply cut by -n leaves its last token undecoded: then the next turn re-decodes. */
        if (g.n_predict == 0 || stats.n_generated < g.n_predict) {
            chat_text_add(&fed, full.s, full.len);
            chat_text_add(&fed, reply.s, reply.len);
        } else {
            chat_text_add(&fed, "", 0);
        }
    }
    chat_clear(&h, 0);
    free(h.msg);
    free(fed.s);
    free(full.s);
    free(reply.s);
    llm_context_free(c);
    llm_model_free(m);
    return 0;
}
