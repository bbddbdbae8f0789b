/* Fuzzes the server's request handling without a socket or a model run: the bytes are an
   HTTP request as a client would send it, taken through the same steps as handle_connection
   (tools/llm/server.c, included here for its static functions): the head within max_header
   (else 431), parse_head, the route and method, the API key, Content-Length / chunked /
   body limits, the JSON reader, then parse_generate, which checks the OpenAI fields
   (messages, prompt, max_tokens, temperature, top_p, seed, n, stop, stream), formats the
   chat template and tokenizes the prompt over stories260K (vocab_only), and makes the
   stream that the scheduler would run. The first byte picks the chat template and whether
   an API key is needed.

   Invariants: every answer is a status the server sends (200 or 4xx/5xx as listed below)
   with a message; parsed method, path and auth are NUL-terminated within their fields;
   the head and body lengths lie within the input; a parsed JSON value written back with
   the server's own string writer parses again to the same tree; an accepted request has
   a prompt of 1 .. n_ctx - 1 tokens in range, at most 4 stop strings and max_tokens within
   the limit; nothing leaks (ASan). */
#include "fuzz.h"

#include <math.h>

#include "../../tools/llm/server.c"

#define FZ_MAX_HEADER 4096

static srv_server fz_s;

static void fz_init(void) {
    fz_s.model = fz_load_once("models/stories260K.gguf", 1);
    fz_s.p = srv_default_params();
    fz_s.p.max_header = FZ_MAX_HEADER;
    fz_s.p.n_ctx = 256;
    fz_s.p.max_tokens = 256;
    fz_s.kv_block = 16;
    fz_s.pool_blocks = 8; /* 128 tokens: fewer than the context, so both limits are reached */
    snprintf(fz_s.model_id, sizeof fz_s.model_id, "stories260K");
    pthread_mutex_init(&fz_s.mu, NULL);
}

/* The same tree (strings compared after the writer: it replaces invalid UTF-8 and a key
   cannot hold a NUL, so compare the second writing with the first). */
static void fz_roundtrip(const jnode *req) {
    sbuf a, b;
    const char *jerr = NULL;
    jnode *again;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    j_write(&a, req);
    FZ_CHECK(!a.oom, "writer out of memory");
    again = j_parse(a.s, a.len, &jerr);
    FZ_CHECK(again != NULL, "written JSON does not parse: %s: %.*s", jerr ? jerr : "?", (int)(a.len > 200 ? 200 : a.len), a.s);
    j_write(&b, again);
    FZ_CHECK(a.len == b.len && memcmp(a.s, b.s, a.len) == 0, "JSON written twice differs");
    j_free(again);
    free(a.s);
    free(b.s);
}

static void fz_body(const char *body, size_t len, int chat) {
    const char *jerr = NULL;
    char msg[1024];
    int stream = 0, code, i;
    uint64_t seed = 0;
    srv_stream *x = NULL;
    jnode *req = j_parse(body, len, &jerr);
    if (!req) {
        FZ_CHECK(jerr != NULL && *jerr, "j_parse failed without a message");
        return;
    }
    fz_roundtrip(req);
    msg[0] = 0;
    code = parse_generate(&fz_s, req, chat, &x, &stream, &seed, msg, sizeof msg);
    if (code) {
        FZ_CHECK(code == 400 || code == 500, "status %d", code);
        FZ_CHECK(x == NULL, "a stream with an error");
        FZ_CHECK(msg[0] != 0 && memchr(msg, 0, sizeof msg), "an error without a message");
    } else {
        int nv = llm_model_n_vocab(fz_s.model);
        FZ_CHECK(x != NULL, "no stream");
        FZ_CHECK(x->n_prompt >= 1 && x->n_prompt < fz_s.p.n_ctx && x->n_prompt < fz_s.pool_blocks * fz_s.kv_block,
                 "prompt of %d tokens", x->n_prompt);
        FZ_CHECK(x->n_tok == x->n_prompt && x->cap > x->n_prompt, "n_tok %d cap %d", x->n_tok, x->cap);
        for (i = 0; i < x->n_prompt; i++) FZ_CHECK(x->tok[i] >= 0 && x->tok[i] < nv, "token %d", x->tok[i]);
        FZ_CHECK(x->n_stop >= 0 && x->n_stop <= 4, "%d stops", x->n_stop);
        for (i = 0; i < x->n_stop; i++) FZ_CHECK(x->stops[i] && x->stops[i][0], "empty stop string");
        FZ_CHECK(x->max_tokens >= 0 && x->max_tokens <= fz_s.p.max_tokens, "max_tokens %d", x->max_tokens);
        FZ_CHECK(stream == 0 || stream == 1, "stream %d", stream);
        FZ_CHECK(x->state == ST_WAITING && x->seq == -1 && x->smp != NULL, "stream state");
        llm_sampler_free(x->smp);
        llm_grammar_free(x->grammar);
        free(x->tok);
        free(x->pend.s);
        free(x->out.s);
        free(x);
    }
    j_free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const tmpls[4] = {"chatml", "llama3", "gemma", "llama2"};
    char *buf, *end;
    size_t n, head_len, have;
    http_req r;
    int code, route, post;
    if (size < 1) return 0;
    if (!fz_s.model) fz_init();
    fz_s.tmpl = tmpls[data[0] & 3];
    fz_s.p.api_key = (data[0] & 4) ? "sk-fuzz" : NULL;
    data++, size--;

    /* the head: what read_head keeps of the bytes (recv stops at the first blank line's
       buffer, a NUL ends strstr's search) */
    n = size < FZ_MAX_HEADER ? size : FZ_MAX_HEADER;
    buf = (char *)malloc(FZ_MAX_HEADER + 1);
    FZ_CHECK(buf != NULL, "malloc");
    memcpy(buf, data, n);
    buf[n] = 0;
    end = strstr(buf, "\r\n\r\n");
    if (!end) { /* 431 when the buffer is full, else the client went away (closed silently) */
        free(buf);
        return 0;
    }
    head_len = (size_t)(end - buf) + 4;
    FZ_CHECK(head_len <= n, "head of %zu bytes in %zu", head_len, n);
    *end = 0;
    code = parse_head(&r, buf);
    FZ_CHECK(code == 0 || code == 400, "parse_head: %d", code);
    free(buf);
    if (code) return 0;
    FZ_CHECK(memchr(r.method, 0, sizeof r.method) && memchr(r.path, 0, sizeof r.path) && memchr(r.auth, 0, sizeof r.auth),
             "unterminated field");
    FZ_CHECK(r.content_length >= -1, "content length %lld", r.content_length);

    route = route_of(r.path, &post);
    FZ_CHECK(route >= -1 && route <= 3 && post == (route >= 2), "route %d post %d", route, post);
    if (route < 0) return 0;                                   /* 404 */
    if (strcmp(r.method, post ? "POST" : "GET") != 0) return 0; /* 405 */
    if (route != 0 && !auth_ok(&fz_s, r.auth)) return 0;       /* 401 */
    FZ_CHECK(!fz_s.p.api_key || route == 0 || (ieq_prefix(r.auth, "bearer ") && strcmp(r.auth + 7, "sk-fuzz") == 0),
             "key accepted: %s", r.auth);
    if (!post) return 0;                                       /* 200 */
    if (r.chunked || r.content_length < 0) return 0;           /* 411 */
    if ((unsigned long long)r.content_length > fz_s.p.max_body) return 0; /* 413 */
    have = size - head_len;
    if (have < (size_t)r.content_length) return 0; /* the client went away before the body's end */
    {
        size_t len = (size_t)r.content_length;
        char *body = (char *)malloc(len + 1);
        FZ_CHECK(body != NULL, "malloc");
        memcpy(body, data + head_len, len);
        body[len] = 0;
        fz_body(body, len, route == 2);
        free(body);
    }
    return 0;
}
