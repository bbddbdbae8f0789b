/* llm serve: an OpenAI-compatible HTTP server (tools/llm/server.c is the core). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "common.h"
#include "server.h"

#include <limits.h>
#include <signal.h>
#include <string.h>

static const char serve_usage[] =
    "usage: llm serve -m MODEL [options]\n"
    "\n"
    "Serves the model over HTTP with the OpenAI API: POST /v1/chat/completions,\n"
    "POST /v1/completions, GET /v1/models, GET /health. SIGINT or SIGTERM stops it.\n"
    "\n"
    "  -m, --model FILE          GGUF model, or a name from llm ls\n"
    "      --host ADDR           address to listen on (default 127.0.0.1)\n"
    "      --port N              port (default 8080; 0 = any free port, printed on stderr)\n"
    "  -np, --parallel N         streams decoded at once, in one batched pass (default 1)\n"
    "  -c, --ctx-size N          most tokens of one stream, K suffix allowed (default: the\n"
    "                            training context, at most 4096)\n"
    "  -b, --batch N             tokens per step: one per generating stream, then prompt\n"
    "                            chunks (default 256)\n"
    "      --kv-blocks N         KV cache blocks in the pool the streams share (default:\n"
    "                            enough for --parallel full contexts)\n"
    "      --kv-mem SIZE         the pool's size in bytes instead, K/M/G suffix allowed\n"
    "      --kv-block N          positions per block, a power of two (default 32)\n"
    "      --prompt-cache N      finished requests whose KV blocks are kept, while the pool\n"
    "                            has room, for later prompts that start with the same tokens\n"
    "                            (a conversation's next turn, a common system prompt); 0 = off\n"
    "                            (default: --parallel; 0 with -ngl, which takes one sequence)\n"
    "  -t, --threads N           threads (default: the physical cores)\n"
    "  -ngl N                    layers to run on a GPU through Vulkan (0 = none, 99 = all;\n"
    "                            with --parallel 1: offload takes one sequence)\n"
    "      --api-key KEY         require \"Authorization: Bearer KEY\" (all routes but /health)\n"
    "      --template NAME       chat template (default: the model's; chatml when it has none)\n"
    "      --alias NAME          model id in responses (default: the file name without .gguf)\n"
    "      --queue N             connections waiting beyond the running streams before 503\n"
    "                            (default 64)\n"
    "      --max-body SIZE       largest request body, K/M suffix allowed (default 1M)\n"
    "      --max-header SIZE     largest request head (default 16K)\n"
    "      --max-tokens N        most tokens a request may ask for (default: the context)\n"
    "      --timeout S           seconds a slow client may take to send or receive (default 30)\n"
    "      --kv-type f32|f16     KV cache type (default f16)\n"
    "  -v, --verbose             one line per request on stderr\n"
    "  -h, --help                print this help\n";

#ifdef _WIN32
int cmd_serve(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, serve_usage);
    while (cli_next(&a)) {}
    cli_fail("serve is not supported on Windows (it needs POSIX sockets)");
}
#else

static srv_server *serve_server;

static void serve_on_signal(int sig) {
    (void)sig;
    if (serve_server) srv_stop(serve_server);
}

int cmd_serve(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, serve_usage);
    int gpu_layers = 0;
    srv_params p = srv_default_params();
    const char *s, *model_path = NULL, *alias = NULL;
    char id[256], err[512];
    llm_model *m;
    struct sigaction sa;
    int rc;

    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) model_path = s;
        else if (cli_value(&a, NULL, "--host", &s)) p.host = s;
        else if (cli_value(&a, NULL, "--port", &s)) p.port = (int)cli_int(&a, s, 0, 65535);
        else if (cli_value(&a, "-np", "--parallel", &s)) p.n_parallel = (int)cli_int(&a, s, 1, 256);
        else if (cli_value(&a, "-c", "--ctx-size", &s)) p.n_ctx = (int)cli_size(&a, s, 0, INT32_MAX);
        else if (cli_value(&a, "-t", "--threads", &s)) p.n_threads = (int)cli_int(&a, s, 0, 4096);
        else if (cli_value(&a, "-b", "--batch", &s)) p.n_batch = (int)cli_int(&a, s, 1, 1 << 20);
        else if (cli_value(&a, NULL, "--kv-blocks", &s)) p.kv_blocks = (int)cli_int(&a, s, 1, 1 << 30);
        else if (cli_value(&a, NULL, "--kv-mem", &s)) p.kv_mem = cli_size(&a, s, 1, (uint64_t)1 << 50);
        else if (cli_value(&a, NULL, "--kv-block", &s)) p.kv_block = (int)cli_int(&a, s, 1, 65536);
        else if (cli_value(&a, NULL, "--prompt-cache", &s)) p.prompt_cache = (int)cli_int(&a, s, 0, 256);
        else if (cli_value(&a, "-ngl", "--gpu-layers", &s)) gpu_layers = (int)cli_int(&a, s, 0, 100000);
        else if (cli_value(&a, NULL, "--api-key", &s)) p.api_key = s;
        else if (cli_value(&a, NULL, "--template", &s)) p.tmpl = s;
        else if (cli_value(&a, NULL, "--alias", &s)) alias = s;
        else if (cli_value(&a, NULL, "--queue", &s)) p.max_queue = (int)cli_int(&a, s, 0, 4096);
        else if (cli_value(&a, NULL, "--max-body", &s)) p.max_body = (size_t)cli_size(&a, s, 1, (uint64_t)1 << 30);
        else if (cli_value(&a, NULL, "--max-header", &s)) p.max_header = (size_t)cli_size(&a, s, 256, (uint64_t)1 << 20);
        else if (cli_value(&a, NULL, "--max-tokens", &s)) p.max_tokens = (int)cli_int(&a, s, 1, INT_MAX);
        else if (cli_value(&a, NULL, "--timeout", &s)) p.timeout_s = (int)cli_int(&a, s, 1, 3600);
        else if (cli_value(&a, NULL, "--kv-type", &s)) p.kv_type = cli_kv_type(&a, s);
        else if (cli_flag(&a, "-v", "--verbose")) p.verbose = 1;
        else cli_unknown(&a);
    }
    if (!model_path) cli_usage_error(&a, "a model is needed (-m FILE)");
    if (gpu_layers > 0 && p.prompt_cache < 0) p.prompt_cache = 0; /* offload takes a one-sequence context */
    if (p.tmpl && !llm_chat_template_name(NULL, p.tmpl)) cli_usage_error(&a, "--template: unknown template '%s'", p.tmpl);
    if (!alias) {
        const char *base = strrchr(model_path, '/');
        size_t n;
        base = base ? base + 1 : model_path;
        n = strlen(base);
        if (n > 5 && strcmp(base + n - 5, ".gguf") == 0) n -= 5;
        snprintf(id, sizeof id, "%.*s", (int)n, base);
        alias = id;
    }

    m = cli_load_model_gpu(model_path, gpu_layers);
    if (!p.tmpl && !llm_chat_template_name(m, NULL))
        fprintf(stderr, "llm: warning: %s has %s chat template; chat requests use chatml (choose one with --template)\n",
                model_path, llm_model_meta_find(m, "tokenizer.chat_template") >= 0 ? "an unrecognised" : "no");
    serve_server = srv_new(m, alias, &p, err, sizeof err);
    if (!serve_server) cli_fail("%s", err);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = serve_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    fprintf(stderr, "llm: serving %s as \"%s\" on http://%s%s%s:%d (%d stream%s at once)\n", model_path, alias,
            strchr(p.host, ':') ? "[" : "", p.host, strchr(p.host, ':') ? "]" : "", srv_port(serve_server),
            p.n_parallel, p.n_parallel == 1 ? "" : "s");
    rc = srv_run(serve_server);
    fprintf(stderr, "llm: stopped\n");
    srv_free(serve_server);
    serve_server = NULL;
    if (rc == 0) llm_model_free(m);
    return rc;
}
#endif
