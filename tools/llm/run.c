/* llm run: generates text from a prompt. stdout gets only the generated text and one
   newline; the settings and the statistics go to stderr. */
#include "common.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char run_usage[] =
    "usage: llm run -m MODEL [-p TEXT | -f FILE] [-n N] [options]\n"
    "\n"
    "Generates text after the prompt and prints it (without the prompt) on stdout.\n"
    "Settings and statistics go to stderr.\n"
    "\n"
    "  -m, --model FILE          GGUF model, or a name from llm ls\n"
    "  -p, --prompt TEXT         prompt (default: empty, the model starts from BOS)\n"
    "  -f, --file FILE           read the prompt from FILE (one trailing newline is dropped)\n"
    "  -n, --n-predict N         tokens to generate; -1 = until end of generation or a full\n"
    "                            context (default 256)\n"
    "  -c, --ctx-size N          context in tokens, K suffix allowed (default: the training\n"
    "                            context, at most 4096)\n"
    "  -t, --threads N           threads (default: every CPU this process may use)\n"
    "  -ngl N                    layers to run on a GPU through Vulkan (0 = none, 99 = all)\n"
    "      --kv-type T           KV cache type: f16 (default), f32, q8_0\n"
    "      --temp T              temperature; 0 = greedy (default 0.8)\n"
    "      --top-k K             keep the K most likely tokens; 0 = off (default 40)\n"
    "      --top-p P             keep the most likely tokens up to mass P; 1 = off (default 0.95)\n"
    "      --min-p P             drop tokens less likely than P times the top one; 0 = off\n"
    "                            (default 0.05)\n"
    "      --repeat-penalty F    penalize repeated tokens; 1 = off (default 1)\n"
    "      --frequency-penalty F subtract F per earlier occurrence (default 0)\n"
    "      --presence-penalty F  subtract F once if the token occurred (default 0)\n"
    "      --seed S              random seed (default: from the clock, printed on stderr)\n"
    "      --special             parse special tokens (\"<s>\") in the prompt and print\n"
    "                            control tokens\n"
    "      --no-bos              do not add BOS to the prompt\n"
    "      --ignore-eos          keep generating past end-of-generation tokens\n"
    "      --grammar FILE        constrain the text to a GBNF grammar (rule \"root\")\n"
    "      --json-schema FILE    constrain the text to JSON valid under a JSON schema\n"
    "      --json                constrain the text to one JSON value\n"
    "  -h, --help                print this help\n";

/* What run_on_token saw: the pieces printed, and when the first came (ms after main began). */
typedef struct run_out {
    int pieces;
    double first_ms;
} run_out;

/* Prints each piece as it comes, so the text streams. */
static int run_on_token(llm_token t, const char *piece, int len, void *user) {
    run_out *o = (run_out *)user;
    (void)t;
    if (o->pieces++ == 0) o->first_ms = cli_now_ms() - cli_start_ms;
    if (len > 0) fwrite(piece, 1, (size_t)len, stdout);
    fflush(stdout);
    return 0;
}

/* Tokens per second, or 0 when nothing was timed. */
static double run_rate(int n, double ms) { return n > 0 && ms > 0 ? n * 1000.0 / ms : 0.0; }

int cmd_run(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, run_usage);
    int gpu_layers = 0;
    const char *s, *model_path = NULL, *prompt = NULL, *prompt_file = NULL, *grammar_file = NULL, *schema_file = NULL;
    int json_mode = 0;
    llm_grammar *grammar = NULL;
    char *file_text = NULL, err[512];
    long n_predict = 256;
    int special = 0, seed_given = 0, full, rc;
    run_out out = {0, 0.0};
    double t0, load_ms;
    llm_model *m;
    llm_context *c;
    llm_context_params cp = llm_context_default_params();
    llm_generate_params g = llm_generate_default_params();
    llm_generate_stats stats;

    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) model_path = s;
        else if (cli_value(&a, "-p", "--prompt", &s)) prompt = s;
        else if (cli_value(&a, "-f", "--file", &s)) prompt_file = s;
        else if (cli_value(&a, "-n", "--n-predict", &s)) n_predict = cli_int(&a, s, -1, INT_MAX);
        else if (cli_value(&a, "-c", "--ctx-size", &s)) cp.n_ctx = (int32_t)cli_size(&a, s, 0, INT32_MAX);
        else if (cli_value(&a, "-t", "--threads", &s)) cp.n_threads = (int32_t)cli_int(&a, s, 0, 4096);
        else if (cli_value(&a, "-ngl", "--gpu-layers", &s)) gpu_layers = (int)cli_int(&a, s, 0, 100000);
        else if (cli_value(&a, NULL, "--kv-type", &s)) cp.kv_type = cli_kv_type(&a, s);
        else if (cli_value(&a, NULL, "--temp", &s)) g.sampler.temperature = (float)cli_float(&a, s, 0, 1e6);
        else if (cli_value(&a, NULL, "--top-k", &s)) g.sampler.top_k = (int32_t)cli_int(&a, s, 0, INT32_MAX);
        else if (cli_value(&a, NULL, "--top-p", &s)) g.sampler.top_p = (float)cli_float(&a, s, 0, 1);
        else if (cli_value(&a, NULL, "--min-p", &s)) g.sampler.min_p = (float)cli_float(&a, s, 0, 1);
        else if (cli_value(&a, NULL, "--repeat-penalty", &s))
            g.sampler.repeat_penalty = (float)cli_float(&a, s, 0, 1e6);
        else if (cli_value(&a, NULL, "--frequency-penalty", &s))
            g.sampler.frequency_penalty = (float)cli_float(&a, s, -1e6, 1e6);
        else if (cli_value(&a, NULL, "--presence-penalty", &s))
            g.sampler.presence_penalty = (float)cli_float(&a, s, -1e6, 1e6);
        else if (cli_value(&a, NULL, "--seed", &s)) g.sampler.seed = cli_size(&a, s, 0, UINT64_MAX), seed_given = 1;
        else if (cli_flag(&a, NULL, "--special")) special = 1;
        else if (cli_flag(&a, NULL, "--no-bos")) g.no_bos = 1;
        else if (cli_flag(&a, NULL, "--ignore-eos")) g.ignore_eos = 1;
        else if (cli_value(&a, NULL, "--grammar", &s)) grammar_file = s;
        else if (cli_value(&a, NULL, "--json-schema", &s)) schema_file = s;
        else if (cli_flag(&a, NULL, "--json")) json_mode = 1;
        else cli_unknown(&a);
    }
    if (!model_path) cli_usage_error(&a, "a model is needed (-m FILE)");
    if (prompt && prompt_file) cli_usage_error(&a, "give -p or -f, not both");
    if (n_predict == 0) cli_usage_error(&a, "-n: give -1 or a count of at least 1");
    if (prompt_file) {
        size_t len;
        file_text = cli_read_file(prompt_file, &len);
        if (strlen(file_text) != len) cli_fail("'%s' contains a NUL byte", prompt_file);
        if (len > 0 && file_text[len - 1] == '\n') file_text[--len] = 0;
        prompt = file_text;
    }
    if (!prompt) prompt = "";
    if ((grammar_file != NULL) + (schema_file != NULL) + json_mode > 1)
        cli_usage_error(&a, "give one of --grammar, --json-schema and --json");
    if (grammar_file || schema_file) {
        size_t len;
        const char *path = grammar_file ? grammar_file : schema_file;
        char *text = cli_read_file(path, &len);
        if (strlen(text) != len) cli_fail("'%s' contains a NUL byte", path);
        grammar = grammar_file ? llm_grammar_new(text, "root", err, sizeof err)
                               : llm_grammar_from_json_schema(text, err, sizeof err);
        free(text);
        if (!grammar) cli_fail("%s: %s", path, err);
    } else if (json_mode && !(grammar = llm_grammar_json()))
        cli_fail("out of memory");
    g.sampler.grammar = grammar;
    if (!seed_given) g.sampler.seed = (uint64_t)time(NULL) ^ (uint64_t)clock() << 32;
    g.n_predict = n_predict < 0 ? 0 : (int32_t)n_predict;
    g.parse_special = g.render_special = special;
    memset(&stats, 0, sizeof stats);
    g.stats = &stats;

    t0 = cli_now_ms();
    m = cli_load_model_gpu(model_path, gpu_layers);
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) cli_fail("%s", err);
    load_ms = cli_now_ms() - t0;
    fprintf(stderr, "llm: %s (%s, %d layers), context %d tokens, threads %d, KV %s, seed %llu\n", model_path,
            llm_model_arch(m), llm_model_n_layer(m), llm_context_n_ctx(c), llm_context_n_threads(c),
            cp.kv_type == LLM_KV_F32 ? "f32" : "f16", (unsigned long long)g.sampler.seed);

    rc = llm_generate(c, prompt, &g, run_on_token, &out);
    full = rc == LLM_ERR_CONTEXT_FULL && stats.n_generated > 0; /* what fit was generated */
    if (rc == LLM_OK || full || out.pieces > 0) fputc('\n', stdout);  /* ends the text */
    fflush(stdout);
    if (full) fprintf(stderr, "llm: the context is full (%d tokens)\n", llm_context_n_ctx(c));
    if (grammar && stats.grammar_incomplete)
        fprintf(stderr, "llm: warning: the text stopped before the grammar was complete (truncated)\n");
    else if (rc != LLM_OK)
        cli_fail("%s", llm_context_error(c)[0] ? llm_context_error(c) : llm_result_string(rc));

    fprintf(stderr, "load time:           %10.2f ms\n", load_ms);
    fprintf(stderr, "time to first token: %10.2f ms\n", stats.prompt_ms);
    if (out.pieces > 0) fprintf(stderr, "first token at:      %10.2f ms after the start (load, prompt and all)\n", out.first_ms);
    fprintf(stderr, "prompt:              %10.2f tokens/s (%d tokens)\n", run_rate(stats.n_prompt, stats.prompt_ms),
            stats.n_prompt);
    /* generate_ms times the tokens after the first, which came with the prompt's logits */
    fprintf(stderr, "generation:          %10.2f tokens/s (%d tokens)\n",
            run_rate(stats.n_generated - 1, stats.generate_ms), stats.n_generated);

    llm_context_free(c);
    llm_model_free(m);
    llm_grammar_free(grammar);
    free(file_text);
    return 0;
}
