/* Chat templates: a system, user, assistant, user conversation rendered by every template,
   spelled out as each family publishes it (without the leading BOS, which tokenizing adds);
   recognition from template texts; snprintf behaviour; bad arguments. */

static const llm_chat_message t_chat_conv[4] = {
    {"system", "You are a helpful assistant."},
    {"user", "Hello!"},
    {"assistant", "Hi there."},
    {"user", "What is 2+2?"},
};

typedef struct t_chat_case {
    const char *name, *want;
} t_chat_case;

#define T_EOS_DS "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"

static const t_chat_case t_chat_cases[] = {
    {"chatml", "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
               "<|im_start|>assistant\nHi there.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
               "<|im_start|>assistant\n"},
    {"llama2", "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST] Hi there. </s>"
               "<s>[INST] What is 2+2? [/INST]"},
    {"llama3", "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"gemma", "<start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n"
              "<start_of_turn>model\nHi there.<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
              "<start_of_turn>model\n"},
    {"phi3", "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi there.<|end|>\n"
             "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n"},
    {"zephyr", "<|system|>\nYou are a helpful assistant.</s>\n<|user|>\nHello!</s>\n<|assistant|>\nHi there.</s>\n"
               "<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n"},
    {"mistral-v1", " [INST] Hello! [/INST] Hi there.</s> [INST] You are a helpful assistant.\n\nWhat is 2+2? [/INST]"},
    {"mistral-v3", "[INST] Hello![/INST] Hi there.</s>[INST] You are a helpful assistant.\n\nWhat is 2+2?[/INST]"},
    {"mistral-v3-tekken", "[INST]Hello![/INST]Hi there.</s>[INST]You are a helpful assistant.\n\nWhat is 2+2?[/INST]"},
    {"mistral-v7", "[SYSTEM_PROMPT] You are a helpful assistant.[/SYSTEM_PROMPT][INST] Hello![/INST] Hi there.</s>"
                   "[INST] What is 2+2?[/INST]"},
    {"mistral-v7-tekken", "[SYSTEM_PROMPT]You are a helpful assistant.[/SYSTEM_PROMPT][INST]Hello![/INST]Hi there.</s>"
                          "[INST]What is 2+2?[/INST]"},
    {"deepseek", "You are a helpful assistant.### Instruction:\nHello!\n### Response:\nHi there.\n<|EOT|>\n"
                 "### Instruction:\nWhat is 2+2?\n### Response:\n"},
    {"deepseek2", "You are a helpful assistant.\n\nUser: Hello!\n\nAssistant: Hi there." T_EOS_DS "User: What is 2+2?\n\nAssistant:"},
    {"command-r", "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant.<|END_OF_TURN_TOKEN|>"
                  "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello!<|END_OF_TURN_TOKEN|>"
                  "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there.<|END_OF_TURN_TOKEN|>"
                  "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>What is 2+2?<|END_OF_TURN_TOKEN|>"
                  "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
    {"deepseek3", "You are a helpful assistant.<\xEF\xBD\x9CUser\xEF\xBD\x9C>Hello!<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>Hi there." T_EOS_DS
                  "<\xEF\xBD\x9CUser\xEF\xBD\x9C>What is 2+2?<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>"},
};

static void test_chat_templates(void) {
    size_t c;
    for (c = 0; c < sizeof t_chat_cases / sizeof t_chat_cases[0]; c++) {
        const t_chat_case *k = &t_chat_cases[c];
        char buf[2048], small[8];
        int n = llm_chat_format(NULL, k->name, t_chat_conv, 4, 1, buf, sizeof buf), need, len = (int)strlen(k->want);
        T_CHECK(n == len && strcmp(buf, k->want) == 0, "%s: got %d bytes\n%s\nexpected %d bytes\n%s", k->name, n, n > 0 ? buf : "", len,
                k->want);
        /* snprintf-like: NULL/0 asks for the size; a short buffer is cut and terminated. */
        need = llm_chat_format(NULL, k->name, t_chat_conv, 4, 1, NULL, 0);
        T_CHECK(need == len, "%s: size query %d, expected %d", k->name, need, len);
        n = llm_chat_format(NULL, k->name, t_chat_conv, 4, 1, small, sizeof small);
        T_CHECK(n == len && small[7] == 0 && memcmp(small, k->want, 7) == 0, "%s: short buffer", k->name);
        T_CHECK(llm_chat_template_name(NULL, k->name) && strcmp(llm_chat_template_name(NULL, k->name), k->name) == 0,
                "%s: name", k->name);
    }
    /* Without the generation prompt the text ends with the last user turn. */
    {
        char buf[512];
        int n = llm_chat_format(NULL, "chatml", t_chat_conv + 1, 1, 0, buf, sizeof buf);
        T_CHECK(n > 0 && strcmp(buf, "<|im_start|>user\nHello!<|im_end|>\n") == 0, "chatml without generation prompt: %s", buf);
    }
}

/* Template texts as models ship them (abridged to their distinctive parts). */
static void test_chat_detect(void) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
         "chatml"},
        {"{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
         "message['content'] | trim + '<|eot_id|>' }}{% endfor %}",
         "llama3"},
        {"{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + messages[0]['content'] | trim + "
         "'\\n<</SYS>>\\n\\n' %}{% endif %}{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}",
         "llama2"},
        {"{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
         "'<end_of_turn>\\n' }}{% endfor %}",
         "gemma"},
        {"{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>\\n' }}{% endfor "
         "%}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
         "phi3"},
        {"{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}{% "
         "elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endfor %}",
         "zephyr"},
        {"{{ bos_token }}{% for message in loop_messages %}{% if message['role'] == 'user' %}{{ ' [INST] ' + message['content'] + "
         "' [/INST]' }}{% else %}{{ ' ' + message['content'] + eos_token}}{% endif %}{% endfor %}",
         "mistral-v1"},
        {"{%- if message['role'] == 'user' %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- elif message['role'] == "
         "'assistant' %}{{- ' ' + message['content'] + eos_token}}",
         "mistral-v3"},
        {"{{- '[SYSTEM_PROMPT] ' + system_message + '[/SYSTEM_PROMPT]' }}{{- '[INST] ' + message['content'] + '[/INST]' }}",
         "mistral-v7"},
        {"{% if message['role'] == 'user' %}{{'### Instruction:\\n' + message['content'] + '\\n'}}{% else %}{{'### Response:\\n' + "
         "message['content'] + '\\n<|EOT|>\\n'}}{% endif %}",
         "deepseek"},
        {"{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' "
         "%}{{ 'Assistant: ' + message['content'] + eos_token }}{% endif %}",
         "deepseek2"},
        {"{{'<\xEF\xBD\x9CUser\xEF\xBD\x9C>' + message['content']}}{{'<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>' + content + "
         "'<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>'}}",
         "deepseek3"},
    };
    size_t i;
    char buf[64];
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = llm_chat_template_name(NULL, cases[i].text);
        T_CHECK(got && strcmp(got, cases[i].want) == 0, "template %d: recognised as %s, expected %s", (int)i, got ? got : "nothing",
                cases[i].want);
    }
    /* Unknown: a clear error, and the caller's fallback works. */
    T_CHECK(llm_chat_template_name(NULL, "{{ messages }}") == NULL, "unknown template recognised");
    T_CHECK(llm_chat_format(NULL, "{{ messages }}", t_chat_conv, 4, 1, buf, sizeof buf) == LLM_ERR_UNSUPPORTED, "unknown template");
    T_CHECK(llm_chat_format(NULL, NULL, t_chat_conv, 4, 1, buf, sizeof buf) == LLM_ERR_UNSUPPORTED, "no model, no template");
    /* Bad arguments. */
    {
        llm_chat_message bad[1] = {{"tool", "x"}}, nul[1] = {{"user", NULL}};
        T_CHECK(llm_chat_format(NULL, "llama2", bad, 1, 1, buf, sizeof buf) == LLM_ERR_ARG, "llama2 with a tool role");
        T_CHECK(llm_chat_format(NULL, "chatml", bad, 1, 0, buf, sizeof buf) == (int)strlen("<|im_start|>tool\nx<|im_end|>\n"),
                "chatml passes roles through");
        T_CHECK(llm_chat_format(NULL, "chatml", nul, 1, 0, buf, sizeof buf) == LLM_ERR_ARG, "NULL content");
        T_CHECK(llm_chat_format(NULL, "chatml", t_chat_conv, -1, 0, buf, sizeof buf) == LLM_ERR_ARG, "negative count");
    }
}

/* Models' own templates, where the shared vocabularies carry one. */
static void test_chat_models(void) {
    static const struct {
        const char *vocab, *want;
    } cases[] = {{"qwen2", "chatml"}, {"llama-bpe", "llama3"}, {"command-r", "command-r"}, {"phi-3", "phi3"}};
    size_t i;
    int n_with = 0;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[200];
        const char *mp, *got;
        llm_model *m;
        snprintf(rel, sizeof rel, "models/llama.cpp-vocab/ggml-vocab-%s.gguf", cases[i].vocab);
        if (!(mp = t_shared(rel)) || !(m = t_tok_load(mp))) continue;
        if (llm_model_meta_find(m, "tokenizer.chat_template") >= 0) {
            n_with++;
            got = llm_chat_template_name(m, NULL);
            printf("  %s: chat template recognised as %s\n", cases[i].vocab, got ? got : "(unknown)");
            if (cases[i].want) T_CHECK(got && strcmp(got, cases[i].want) == 0, "%s: %s", cases[i].vocab, got ? got : "unknown");
        }
        llm_model_free(m);
    }
    if (n_with == 0) printf("  (no shared vocabulary carries tokenizer.chat_template)\n");
}

/* llm chat: greedy replies repeat after /reset, a full context is reported, a model without
   a template is refused with advice. */
static void test_chat_cli(void) {
    char out[8192];
    const char *nl;
    FILE *f;
    int st;
    if (!t_shared("models/stories260K.gguf")) return;
    if (!(f = fopen("build/llm", "rb"))) T_SKIP("build/llm not built");
    fclose(f);
    st = t_sh("printf 'Hello\\n/reset\\nHello\\n/quit\\n' | build/llm chat -m ../shared/models/stories260K.gguf "
                   "--template llama2 -n 8 --temp 0 -c 256 2>/dev/null",
                   out, sizeof out);
    T_CHECK(st == 0, "exit status %d", st);
    nl = strchr(out, '\n');
    T_CHECK(nl && nl > out && strlen(nl + 1) == (size_t)(nl - out) + 1 && memcmp(out, nl + 1, (size_t)(nl - out)) == 0,
            "greedy replies before and after /reset differ: '%s'", out);
    st = t_sh("printf 'Hello there\\n' | build/llm chat -m ../shared/models/stories260K.gguf --template chatml -c 16 2>&1", out,
                   sizeof out);
    T_CHECK(st == 0 && strstr(out, "the context is full"), "full context: status %d, '%s'", st, out);
    st = t_sh("build/llm chat -m ../shared/models/stories260K.gguf < /dev/null 2>&1", out, sizeof out);
    T_CHECK(st != 0 && strstr(out, "--template"), "no template: status %d, '%s'", st, out);
}

static void tests_chat(void) {
    T_RUN(test_chat_templates);
    T_RUN(test_chat_detect);
    T_RUN(test_chat_models);
    T_RUN(test_chat_cli);
}
