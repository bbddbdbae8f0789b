/* server.c - embed the OpenAI-compatible server of `llm serve` in your own program.

   The server core (tools/llm/server.c, POSIX sockets and pthreads) answers
   POST /v1/chat/completions, POST /v1/completions, GET /v1/models and GET /health; this
   program loads a model, starts it on 127.0.0.1:8080 decoding two streams at once and stops on Ctrl-C.

     cc -O2 -std=c11 examples/server.c -o server -lm -lpthread
     ./server [MODEL.gguf]                (default: ../shared/models/stories260K.gguf)
     curl http://127.0.0.1:8080/v1/chat/completions -d '{"messages":[{"role":"user","content":"Hi"}]}' */
#define _POSIX_C_SOURCE 200809L
#define LLM_IMPLEMENTATION
#include "../llm.h"
#include "../tools/llm/server.c"

#include <signal.h>
#include <stdio.h>

static srv_server *server;

static void on_signal(int sig) {
    (void)sig;
    srv_stop(server); /* async-signal-safe: srv_run returns soon after */
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/models/stories260K.gguf";
    char err[256];
    llm_model *m = llm_model_load(path, NULL, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); return 1; }

    srv_params p = srv_default_params(); /* 127.0.0.1:8080, limits on body, header, queue */
    p.n_parallel = 2;                    /* two streams decoded at once, in one batched pass     */
    server = srv_new(m, "my-model", &p, err, sizeof err);
    if (!server) { fprintf(stderr, "%s\n", err); llm_model_free(m); return 1; }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is a failed write, not the end of us */
#endif
    fprintf(stderr, "serving %s on http://127.0.0.1:%d\n", path, srv_port(server));
    int rc = srv_run(server);
    srv_free(server);
    if (rc == 0) llm_model_free(m);
    return rc;
}
