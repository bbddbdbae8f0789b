/* llm tokenize: prints the token ids of a text, or each token with its piece. Loads only
   the model's vocabulary. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

static const char tokenize_usage[] =
    "usage: llm tokenize -m MODEL -p TEXT [--special] [--no-bos] [--pieces]\n"
    "\n"
    "Prints the token ids of TEXT on one line, separated by spaces.\n"
    "\n"
    "  -m, --model FILE   GGUF model or a name from llm ls (only its vocabulary is loaded)\n"
    "  -p, --prompt TEXT  the text\n"
    "      --special      parse special tokens (\"<s>\") in the text\n"
    "      --no-bos       do not add BOS even if the model asks for it\n"
    "      --pieces       print one \"id<TAB>piece\" line per token instead; pieces show\n"
    "                     control tokens, and C escapes (\\n, \\\\, \\xNN) for control\n"
    "                     characters, backslash and bytes that are not valid UTF-8\n"
    "  -h, --help         print this help\n";

int cmd_tokenize(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, tokenize_usage);
    const char *s, *model_path = NULL, *text = NULL;
    int special = 0, no_bos = 0, pieces = 0, flags, n, i;
    llm_model *m;
    llm_token *tokens;

    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) model_path = s;
        else if (cli_value(&a, "-p", "--prompt", &s)) text = s;
        else if (cli_flag(&a, NULL, "--special")) special = 1;
        else if (cli_flag(&a, NULL, "--no-bos")) no_bos = 1;
        else if (cli_flag(&a, NULL, "--pieces")) pieces = 1;
        else cli_unknown(&a);
    }
    if (!model_path) cli_usage_error(&a, "a model is needed (-m FILE)");
    if (!text) cli_usage_error(&a, "a text is needed (-p TEXT)");

    m = cli_load_model(model_path, 1);
    flags = (no_bos ? 0 : LLM_TOKENIZE_ADD_SPECIAL) | (special ? LLM_TOKENIZE_PARSE_SPECIAL : 0);
    n = llm_tokenize(m, text, strlen(text), NULL, 0, flags);
    if (n < 0) cli_fail("cannot tokenize: %s", llm_result_string(n));
    tokens = (llm_token *)cli_alloc((size_t)n * sizeof *tokens);
    if (llm_tokenize(m, text, strlen(text), tokens, n, flags) != n) cli_fail("the token count changed");

    for (i = 0; i < n; i++) {
        if (pieces) {
            char buf[256], *heap = NULL;
            int len = llm_token_to_piece(m, tokens[i], buf, (int)sizeof buf, LLM_PIECE_SPECIAL);
            if (len < 0) cli_fail("token %d has no piece: %s", tokens[i], llm_result_string(len));
            if (len > (int)sizeof buf) {
                heap = (char *)cli_alloc((size_t)len);
                llm_token_to_piece(m, tokens[i], heap, len, LLM_PIECE_SPECIAL);
            }
            printf("%d\t", tokens[i]);
            cli_escaped(stdout, heap ? heap : buf, (size_t)len);
            putchar('\n');
            free(heap);
        } else {
            printf(i ? " %d" : "%d", tokens[i]);
        }
    }
    if (!pieces) putchar('\n');
    if (fflush(stdout) != 0) cli_fail("cannot write the output");

    free(tokens);
    llm_model_free(m);
    return 0;
}
