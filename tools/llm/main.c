/* llm - run GGUF language models from the command line: dispatches to a subcommand.
   Exit status: 0 success, 1 failure (one line "llm: error: ..."), 2 usage error. */
#include "common.h"

#include <string.h>

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_dequant(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_devices(int argc, char **argv);

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "talk with a model, using its chat template"},
    {"info", cmd_info, "show a model's metadata, hyper-parameters, tensors and memory needs"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"logits", cmd_logits, "decode a sequence in one batch and print or save every position's logits"},
    {"bench", cmd_bench, "measure memory bandwidth and prompt/generation tokens/s"},
    {"serve", cmd_serve, "serve a model over HTTP with the OpenAI API"},
    {"synth", cmd_synth, "write a seeded random-weight model of any architecture and type"},
    {"dequant", cmd_dequant, "dequantize tensors to float32, or fingerprint them (--sha256)"},
    {"quantize", cmd_quantize, "write a model in another quantization type or mix"},
    {"perplexity", cmd_perplexity, "perplexity of a text, and KL divergence from a saved base run"},
    {"pull", cmd_pull, "download a GGUF model (a URL or hf:OWNER/REPO/FILE.gguf) into the store"},
    {"ls", cmd_ls, "list the models of the store: size, architecture, parameters, quantization"},
    {"rm", cmd_rm, "remove models from the store"},
    {"devices", cmd_devices, "list the Vulkan devices and whether each passed the self-test"},
};

static void usage(FILE *f) {
    size_t i;
    fprintf(f, "usage: llm COMMAND [options]     (llm COMMAND -h for its options)\n\ncommands:\n");
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  --version  print the version\n  -h, --help print this help\n");
}

int main(int argc, char **argv) {
    size_t i;
    cli_start_ms = cli_now_ms();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("llm %d.%d.%d\n", LLM_VERSION_MAJOR, LLM_VERSION_MINOR, LLM_VERSION_PATCH);
        return 0;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "llm: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
