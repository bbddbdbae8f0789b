/* SentencePiece tokenizer: llama.cpp's vectors, round trips, pieces, special tokens, robustness.

   Vectors: <model>.inp holds inputs each followed by "\n__ggml_vocab_test__\n"; <model>.out one
   line per input, each id preceded by a space (refs/README.md §2.3), tokenized without BOS and
   without special parsing. Inputs listed in <model>.out.skipped made llama.cpp throw (no byte
   tokens in the vocabulary); DESIGN §10 spells out what we produce for them instead. */

#define T_TOK_SEP "\n__ggml_vocab_test__\n"
#define T_TOK_MAX_INPUTS 256

/* A vector file set in memory: the inputs and their expected ids. */
typedef struct t_tok_vectors {
    unsigned char *inp, *out, *skipped;
    size_t inp_size, out_size, skipped_size;
    int n;
    const char *text[T_TOK_MAX_INPUTS];
    size_t len[T_TOK_MAX_INPUTS];
    const char *line[T_TOK_MAX_INPUTS]; /* start of the .out line (NUL-terminated) */
    int is_skipped[T_TOK_MAX_INPUTS];
} t_tok_vectors;

static void t_tok_vectors_free(t_tok_vectors *tv) {
    free(tv->inp);
    free(tv->out);
    free(tv->skipped);
}

/* Reads base.inp, base.out and (when present) base.out.skipped. Returns 0 after T_CHECK. */
static int t_tok_vectors_read(const char *inp_path, const char *out_path, t_tok_vectors *tv) {
    char skipped_path[1100];
    size_t sep = strlen(T_TOK_SEP), pos = 0, i;
    unsigned char *p, *end;
    int line = 0;
    memset(tv, 0, sizeof *tv);
    tv->inp = t_read_file(inp_path, &tv->inp_size);
    tv->out = t_read_file(out_path, &tv->out_size);
    if (!tv->inp || !tv->out) {
        T_CHECK(0, "cannot read %s or %s", inp_path, out_path);
        return 0;
    }
    /* Each input ends with the separator; text after the last one is not an input. */
    while (tv->n < T_TOK_MAX_INPUTS) {
        const char *hit = NULL;
        for (i = pos; i + sep <= tv->inp_size; i++)
            if (memcmp(tv->inp + i, T_TOK_SEP, sep) == 0) {
                hit = (const char *)tv->inp + i;
                break;
            }
        if (!hit) break;
        tv->text[tv->n] = (const char *)tv->inp + pos;
        tv->len[tv->n] = (size_t)(hit - (const char *)tv->inp) - pos;
        tv->n++;
        pos = (size_t)(hit - (const char *)tv->inp) + sep;
    }
    /* .out lines, NUL-terminated in place (the buffer gets one spare byte at the end). */
    p = (unsigned char *)realloc(tv->out, tv->out_size + 1);
    if (!p) {
        T_CHECK(0, "out of memory");
        return 0;
    }
    tv->out = p;
    tv->out[tv->out_size] = 0;
    end = tv->out + tv->out_size;
    while (p < end && line < T_TOK_MAX_INPUTS) {
        unsigned char *nl = (unsigned char *)memchr(p, '\n', (size_t)(end - p));
        tv->line[line++] = (const char *)p;
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
    }
    T_CHECK(line >= tv->n, "%s has %d lines for %d inputs", out_path, line, tv->n);
    if (line < tv->n) return 0;
    snprintf(skipped_path, sizeof skipped_path, "%s.skipped", out_path);
    tv->skipped = t_read_file(skipped_path, &tv->skipped_size);
    if (tv->skipped) {
        /* "# comment" then "index<TAB>reason" lines. */
        char *s = (char *)realloc(tv->skipped, tv->skipped_size + 1), *q;
        if (!s) return 0;
        tv->skipped = (unsigned char *)s;
        s[tv->skipped_size] = 0;
        for (q = s; *q;) {
            if (*q != '#') {
                int idx = atoi(q);
                if (idx >= 0 && idx < tv->n) tv->is_skipped[idx] = 1;
            }
            q = strchr(q, '\n');
            if (!q) break;
            q++;
        }
    }
    return 1;
}

/* Parses " 1 2 3" into ids; returns the count. */
static int t_tok_parse_ids(const char *line, llm_token *ids, int max) {
    int n = 0;
    char *endp;
    for (;;) {
        long v = strtol(line, &endp, 10);
        if (endp == line) break;
        if (n < max) ids[n] = (llm_token)v;
        n++;
        line = endp;
    }
    return n;
}

/* Prints up to 24 ids into buf. */
static const char *t_tok_ids_str(const llm_token *ids, int n, char *buf, size_t size) {
    size_t used = 0;
    int i;
    buf[0] = 0;
    for (i = 0; i < n && i < 24 && used + 16 < size; i++) used += (size_t)snprintf(buf + used, size - used, " %d", (int)ids[i]);
    if (n > 24 && used + 8 < size) snprintf(buf + used, size - used, " ...");
    return buf;
}

static llm_model *t_tok_load(const char *path) {
    char err[256];
    llm_model_params p = llm_model_default_params();
    llm_model *m;
    p.vocab_only = 1;
    m = llm_model_load(path, &p, err, sizeof err);
    T_CHECK(m != NULL, "loading %s: %s", path, err);
    return m;
}

/* Tokenizes without BOS or special parsing into a malloc'd array; *n gets the count (< 0 on
   error, then NULL is returned). Checks that the size query agrees. */
static llm_token *t_tok_run(const llm_model *m, const char *text, size_t len, int flags, int *n) {
    int need = llm_tokenize(m, text, len, NULL, 0, flags), got;
    llm_token *ids;
    *n = need;
    if (need < 0) return NULL;
    ids = (llm_token *)malloc(sizeof(llm_token) * (size_t)(need + 1));
    if (!ids) {
        *n = -1;
        return NULL;
    }
    got = llm_tokenize(m, text, len, ids, need, flags);
    T_CHECK(got == need, "size query said %d tokens, the full call %d", need, got);
    return ids;
}

/* ---- 1. llama.cpp's vectors -------------------------------------------------------------- */

typedef struct t_tok_case {
    const char *model, *inp, *out;
} t_tok_case;

static const t_tok_case t_tok_cases[] = {
    {"models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", "models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf.inp",
     "models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf.out"},
    {"models/llama.cpp-vocab/ggml-vocab-phi-3.gguf", "models/llama.cpp-vocab/ggml-vocab-phi-3.gguf.inp",
     "models/llama.cpp-vocab/ggml-vocab-phi-3.gguf.out"},
    {"models/stories260K.gguf", "models/reference/stories260K.gguf.inp", "models/reference/stories260K.gguf.out"},
    {"models/reference/TinyStories-656K-F16.gguf", "models/reference/TinyStories-656K-F16.gguf.inp",
     "models/reference/TinyStories-656K-F16.gguf.out"},
    {"models/reference/TinyStories-656K-Q8_0.gguf", "models/reference/TinyStories-656K-Q8_0.gguf.inp",
     "models/reference/TinyStories-656K-Q8_0.gguf.out"},
    {"models/reference/TinyStories-656K-Q8_0-alt.gguf", "models/reference/TinyStories-656K-Q8_0-alt.gguf.inp",
     "models/reference/TinyStories-656K-Q8_0-alt.gguf.out"},
    {"models/reference/TinyStories-656K-Q2_K.gguf", "models/reference/TinyStories-656K-Q2_K.gguf.inp",
     "models/reference/TinyStories-656K-Q2_K.gguf.out"},
};

static void test_tok_vectors(void) {
    size_t c;
    for (c = 0; c < sizeof t_tok_cases / sizeof t_tok_cases[0]; c++) {
        const char *mp = t_shared(t_tok_cases[c].model), *ip, *op;
        t_tok_vectors tv;
        llm_model *m;
        int i, n_ok = 0, n_run = 0;
        if (!mp) continue;
        ip = t_shared(t_tok_cases[c].inp);
        op = t_shared(t_tok_cases[c].out);
        if (!ip || !op) continue;
        m = t_tok_load(mp);
        if (!m) continue;
        if (!t_tok_vectors_read(ip, op, &tv)) {
            t_tok_vectors_free(&tv);
            llm_model_free(m);
            continue;
        }
        for (i = 0; i < tv.n; i++) {
            llm_token want[512];
            char sw[512], sg[512];
            int n_want, n_got;
            llm_token *got;
            if (tv.is_skipped[i]) continue;
            n_run++;
            n_want = t_tok_parse_ids(tv.line[i], want, 512);
            got = t_tok_run(m, tv.text[i], tv.len[i], 0, &n_got);
            if (n_got == n_want && n_want <= 512 && got && memcmp(got, want, sizeof(llm_token) * (size_t)n_want) == 0)
                n_ok++;
            else
                T_CHECK(0, "%s input %d: expected%s, got%s", t_tok_cases[c].model, i, t_tok_ids_str(want, n_want, sw, sizeof sw),
                        n_got < 0 ? " (error)" : t_tok_ids_str(got, n_got, sg, sizeof sg));
            free(got);
        }
        printf("  %s: %d/%d inputs match llama.cpp (%d skipped by llama.cpp)\n", t_tok_cases[c].model, n_ok, n_run,
               tv.n - n_run);
        T_CHECK(n_run > 0, "%s: no inputs", t_tok_cases[c].inp);
        t_tok_vectors_free(&tv);
        llm_model_free(m);
    }
}

/* ---- 1b. inputs llama.cpp could not tokenize (TinyStories: no byte tokens) ---------------- */

/* Whether the vocabulary has a token whose text is exactly s[0..n). */
static int t_tok_has_text(const llm_model *m, const char *s, size_t n) {
    int i, nv = llm_model_n_vocab(m);
    for (i = 0; i < nv; i++) {
        const char *t = llm_token_text(m, i);
        if (t && strlen(t) == n && memcmp(t, s, n) == 0) return 1;
    }
    return 0;
}

static void test_tok_uncovered(void) {
    /* Written out by hand from the vocabulary: every TinyStories score is -1000, so merges go
       strictly left to right. 80 "▁", 3 "\n", 0 <unk>; "½", "Ä", TAB, "(", "=" have no token. */
    static const llm_token want0[] = {80, 61, 92, 15, 80, 0, 80, 1225, 83, 71}; /* "ied 4 ½ months": "▁", "i", "ed▁", "4", "▁", <unk>, "▁", "mon", "th", "s" */
    static const llm_token want1[] = {80, 0, 68, 390};                           /* "Äpfel": "▁", <unk>, "p", "fel" */
    static const llm_token want6[] = {80, 0};                                    /* "\t" */
    static const llm_token want10[] = {80, 0, 3};                                /* "\t\n" */
    static const llm_token want29[] = {80, 80, 0};                               /* " (" */
    static const llm_token want30[] = {80, 3, 80, 0};                            /* "\n =" */
    static const struct {
        int index;
        const llm_token *ids;
        int n;
    } literal[] = {{0, want0, 10}, {1, want1, 4}, {6, want6, 2}, {10, want10, 3}, {29, want29, 3}, {30, want30, 4}};
    size_t c;
    for (c = 3; c < sizeof t_tok_cases / sizeof t_tok_cases[0]; c++) {
        const char *mp = t_shared(t_tok_cases[c].model), *ip, *op;
        t_tok_vectors tv;
        llm_model *m;
        int i, k, n_skipped = 0;
        if (!mp) continue;
        ip = t_shared(t_tok_cases[c].inp);
        op = t_shared(t_tok_cases[c].out);
        if (!ip || !op) continue;
        m = t_tok_load(mp);
        if (!m) continue;
        if (!t_tok_vectors_read(ip, op, &tv)) {
            t_tok_vectors_free(&tv);
            llm_model_free(m);
            continue;
        }
        T_CHECK(tv.skipped != NULL, "%s.skipped is missing", op);
        T_CHECK(llm_token_unk(m) == 0, "unk is %d", (int)llm_token_unk(m));
        for (i = 0; i < tv.n; i++) {
            int n_got, n_unk = 0, n_uncovered = 0, j, nd;
            llm_token *got;
            char *text, *kept;
            size_t p, n_kept = 0;
            if (!tv.is_skipped[i]) continue;
            n_skipped++;
            got = t_tok_run(m, tv.text[i], tv.len[i], 0, &n_got);
            T_CHECK(n_got >= 0 && got, "%s input %d: error %d", t_tok_cases[c].model, i, n_got);
            if (n_got < 0 || !got) continue;
            for (j = 0; j < n_got; j++) n_unk += got[j] == llm_token_unk(m);
            /* Characters (cut by their lead byte, as the tokenizer does) with no token of their
               own; the text without them is what detokenizing gives back. */
            text = (char *)tv.text[i];
            kept = (char *)malloc(tv.len[i] + 1);
            for (p = 0; p < tv.len[i];) {
                unsigned char b = (unsigned char)text[p];
                size_t l = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
                if (l > tv.len[i] - p) l = tv.len[i] - p;
                if (text[p] != ' ' && !t_tok_has_text(m, text + p, l)) {
                    n_uncovered++;
                } else {
                    memcpy(kept + n_kept, text + p, l);
                    n_kept += l;
                }
                p += l;
            }
            kept[n_kept] = 0;
            T_CHECK(n_unk == n_uncovered && n_unk > 0, "%s input %d: %d UNK for %d uncovered characters", t_tok_cases[c].model, i,
                    n_unk, n_uncovered);
            {
                char buf[4096];
                nd = llm_detokenize(m, got, n_got, buf, sizeof buf, 0);
                T_CHECK(nd == (int)n_kept && strcmp(buf, kept) == 0, "%s input %d: detokenized to '%s', expected '%s'",
                        t_tok_cases[c].model, i, nd >= 0 ? buf : "(error)", kept);
            }
            for (k = 0; k < (int)(sizeof literal / sizeof literal[0]); k++) {
                char sw[512], sg[512];
                if (literal[k].index != i) continue;
                T_CHECK(n_got == literal[k].n && memcmp(got, literal[k].ids, sizeof(llm_token) * (size_t)n_got) == 0,
                        "%s input %d: expected%s, got%s", t_tok_cases[c].model, i, t_tok_ids_str(literal[k].ids, literal[k].n, sw, sizeof sw),
                        t_tok_ids_str(got, n_got, sg, sizeof sg));
            }
            free(kept);
            free(got);
        }
        printf("  %s: %d inputs llama.cpp could not tokenize, each with one UNK per uncovered character\n",
               t_tok_cases[c].model, n_skipped);
        T_CHECK(n_skipped == 13, "%s: %d skipped inputs, expected 13", t_tok_cases[c].model, n_skipped);
        t_tok_vectors_free(&tv);
        llm_model_free(m);
    }
}

/* ---- 2. round trip --------------------------------------------------------------------------- */

static void test_tok_round_trip(void) {
    size_t c;
    for (c = 0; c < 3; c++) {
        const char *mp, *ip, *op;
        t_tok_vectors tv;
        llm_model *m;
        int i, n_ok = 0, flags;
        if (c == 1) continue; /* phi-3: same inputs and the same kind of vocabulary as llama-spm */
        mp = t_shared(t_tok_cases[c].model);
        ip = t_shared(t_tok_cases[c].inp);
        op = t_shared(t_tok_cases[c].out);
        if (!mp || !ip || !op) continue;
        m = t_tok_load(mp);
        if (!m) continue;
        if (!t_tok_vectors_read(ip, op, &tv)) {
            t_tok_vectors_free(&tv);
            llm_model_free(m);
            continue;
        }
        for (i = 0; i < tv.n; i++) {
            /* With and without BOS: a leading BOS is skipped and the space removal reaches the text. */
            for (flags = 0; flags <= LLM_TOKENIZE_ADD_SPECIAL; flags += LLM_TOKENIZE_ADD_SPECIAL) {
                int n_ids, need, got;
                llm_token *ids = t_tok_run(m, tv.text[i], tv.len[i], flags, &n_ids);
                char *buf;
                if (!ids) {
                    T_CHECK(0, "%s input %d: error %d", t_tok_cases[c].model, i, n_ids);
                    continue;
                }
                need = llm_detokenize(m, ids, n_ids, NULL, 0, 0);
                buf = (char *)malloc((size_t)(need > 0 ? need : 0) + 1);
                got = llm_detokenize(m, ids, n_ids, buf, need + 1, 0);
                if (got == (int)tv.len[i] && need == got && memcmp(buf, tv.text[i], tv.len[i]) == 0 && buf[got] == 0) {
                    if (flags == 0) n_ok++;
                } else {
                    T_CHECK(0, "%s input %d (flags %d): round trip gave %d bytes '%.*s', expected %d '%.*s'", t_tok_cases[c].model,
                            i, flags, got, got > 0 ? got : 0, buf, (int)tv.len[i], (int)tv.len[i], tv.text[i]);
                }
                free(buf);
                free(ids);
            }
        }
        printf("  %s: %d/%d inputs round-trip\n", t_tok_cases[c].model, n_ok, tv.n);
        t_tok_vectors_free(&tv);
        llm_model_free(m);
    }
}

/* ---- 3. pieces and detokenizing ---------------------------------------------------------- */

static void test_tok_pieces(void) {
    const char *mp = t_shared("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
    llm_model *m;
    char buf[64];
    int n, i, n_ids;
    llm_token bos, ids[16], *tk;
    if (!mp) return;
    m = t_tok_load(mp);
    if (!m) return;
    bos = llm_token_bos(m);
    T_CHECK(bos == 1, "bos %d", (int)bos);
    T_CHECK(llm_token_eos(m) == 2 && llm_token_unk(m) == 0, "eos %d unk %d", (int)llm_token_eos(m), (int)llm_token_unk(m));

    /* "▁" (29871 in llama's vocabulary) is a space; "▁Hello" (15043) a space and the word. */
    T_CHECK(llm_token_text(m, 29871) && strcmp(llm_token_text(m, 29871), "\xE2\x96\x81") == 0, "29871 is not \"▁\"");
    n = llm_token_to_piece(m, 29871, buf, sizeof buf, 0);
    T_CHECK(n == 1 && buf[0] == ' ', "piece of \"▁\": %d", n);
    n = llm_token_to_piece(m, 15043, buf, sizeof buf, 0);
    T_CHECK(n == 6 && memcmp(buf, " Hello", 6) == 0, "piece of \"▁Hello\": %d '%.*s'", n, n > 0 ? n : 0, buf);
    /* snprintf-like: the size query returns the length, a short buffer gets what fits. */
    T_CHECK(llm_token_to_piece(m, 15043, NULL, 0, 0) == 6, "size query");
    memset(buf, 'x', sizeof buf);
    n = llm_token_to_piece(m, 15043, buf, 3, 0);
    T_CHECK(n == 6 && memcmp(buf, " He", 3) == 0 && buf[3] == 'x', "short buffer: %d", n);

    /* Byte tokens: <0x00>..<0xFF> are ids 3..258 and give their byte. */
    for (i = 0; i < 256; i++) {
        char want[8];
        snprintf(want, sizeof want, "<0x%02X>", i);
        T_CHECK(llm_token_text(m, 3 + i) && strcmp(llm_token_text(m, 3 + i), want) == 0, "token %d is not %s", 3 + i, want);
        n = llm_token_to_piece(m, 3 + i, buf, sizeof buf, 0);
        T_CHECK(n == 1 && (unsigned char)buf[0] == i, "byte token %d: %d", i, n);
    }

    /* Control tokens: nothing, unless asked for. UNK is the same (llama.cpp renders UNKNOWN
       and CONTROL alike). */
    T_CHECK(llm_token_to_piece(m, bos, buf, sizeof buf, 0) == 0, "BOS without LLM_PIECE_SPECIAL");
    n = llm_token_to_piece(m, bos, buf, sizeof buf, LLM_PIECE_SPECIAL);
    T_CHECK(n == 3 && memcmp(buf, "<s>", 3) == 0, "BOS with LLM_PIECE_SPECIAL: %d", n);
    T_CHECK(llm_token_to_piece(m, 0, buf, sizeof buf, 0) == 0, "UNK without LLM_PIECE_SPECIAL");
    n = llm_token_to_piece(m, 0, buf, sizeof buf, LLM_PIECE_SPECIAL);
    T_CHECK(n == 5 && memcmp(buf, "<unk>", 5) == 0, "UNK with LLM_PIECE_SPECIAL: %d", n);
    T_CHECK(llm_token_to_piece(m, -1, buf, sizeof buf, 0) < 0, "id -1");
    T_CHECK(llm_token_to_piece(m, llm_model_n_vocab(m), buf, sizeof buf, 0) < 0, "id n_vocab");
    T_CHECK(llm_token_is_eog(m, 2) && !llm_token_is_eog(m, 1) && !llm_token_is_eog(m, 15043), "EOG flags");
    T_CHECK(llm_token_is_control(m, 1) && llm_token_is_control(m, 2) && !llm_token_is_control(m, 15043), "control flags");

    /* "ǅ" (C7 85) is not a token here: two byte tokens, reassembled by detokenizing. */
    tk = t_tok_run(m, " \xC7\x85t\xC7\x85", 6, 0, &n_ids);
    T_REQUIRE(tk && n_ids > 0, "tokenizing \" ǅtǅ\" failed: %d", n_ids);
    for (i = 0; i < n_ids; i++)
        if (tk[i] == 3 + 0xC7) break;
    T_CHECK(i + 1 < n_ids && tk[i + 1] == 3 + 0x85, "\"ǅ\" did not become <0xC7> <0x85>");
    n = llm_detokenize(m, tk, n_ids, buf, sizeof buf, 0);
    T_CHECK(n == 6 && strcmp(buf, " \xC7\x85t\xC7\x85") == 0, "detokenized \" ǅtǅ\": %d '%s'", n, buf);
    free(tk);

    /* Detokenizing: the leading space goes unless kept; BOS is skipped, or rendered. */
    ids[0] = bos;
    ids[1] = 15043; /* "▁Hello" */
    ids[2] = 3 + '!';
    n = llm_detokenize(m, ids + 1, 2, buf, sizeof buf, 0);
    T_CHECK(n == 6 && strcmp(buf, "Hello!") == 0, "detokenize: %d '%s'", n, buf);
    n = llm_detokenize(m, ids + 1, 2, buf, sizeof buf, LLM_DETOKENIZE_KEEP_PREFIX);
    T_CHECK(n == 7 && strcmp(buf, " Hello!") == 0, "KEEP_PREFIX: %d '%s'", n, buf);
    n = llm_detokenize(m, ids, 3, buf, sizeof buf, 0);
    T_CHECK(n == 6 && strcmp(buf, "Hello!") == 0, "with BOS: %d '%s'", n, buf);
    n = llm_detokenize(m, ids, 3, buf, sizeof buf, LLM_DETOKENIZE_SPECIAL);
    T_CHECK(n == 10 && strcmp(buf, "<s> Hello!") == 0, "SPECIAL: %d '%s'", n, buf);
    /* Too small: the full length is returned, what fits is written and NUL-terminated. */
    memset(buf, 'x', sizeof buf);
    n = llm_detokenize(m, ids, 3, buf, 4, 0);
    T_CHECK(n == 6 && memcmp(buf, "Hel", 3) == 0 && buf[3] == 0 && buf[4] == 'x', "short buffer: %d", n);
    T_CHECK(llm_detokenize(m, ids, 3, NULL, 0, 0) == 6, "size query");
    T_CHECK(llm_detokenize(m, NULL, 0, buf, sizeof buf, 0) == 0 && buf[0] == 0, "empty");
    ids[1] = -5;
    T_CHECK(llm_detokenize(m, ids, 3, buf, sizeof buf, 0) < 0, "bad id accepted");
    llm_model_free(m);
}

/* ---- 4. special tokens ----------------------------------------------------------------------- */

static void test_tok_special(void) {
    const char *mp = t_shared("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
    const char *pp = t_shared("models/llama.cpp-vocab/ggml-vocab-phi-3.gguf");
    llm_model *m;
    llm_token ids[64];
    int n, n2;
    if (!mp || !pp) return;
    m = t_tok_load(mp);
    if (!m) return;

    n = llm_tokenize(m, "<s>hello", 8, ids, 64, LLM_TOKENIZE_PARSE_SPECIAL);
    T_CHECK(n >= 2 && ids[0] == 1, "\"<s>hello\" with PARSE_SPECIAL: %d tokens, first %d", n, n > 0 ? (int)ids[0] : -1);
    /* After a special token the text gets the space prefix again: "hello" -> "▁hello" (22172). */
    T_CHECK(n == 2 && ids[1] == 22172, "\"<s>hello\": second token %d (%d tokens)", n > 1 ? (int)ids[1] : -1, n);
    n = llm_tokenize(m, "<s>hello", 8, ids, 64, 0);
    T_CHECK(n > 2 && ids[0] != 1, "\"<s>hello\" without PARSE_SPECIAL: %d tokens, first %d", n, n > 0 ? (int)ids[0] : -1);
    /* ADD_SPECIAL adds BOS (add_bos_token is true) and no EOS. */
    n = llm_tokenize(m, "hello", 5, ids, 64, LLM_TOKENIZE_ADD_SPECIAL);
    T_CHECK(n == 2 && ids[0] == 1 && ids[1] == 22172, "ADD_SPECIAL: %d tokens", n);
    n = llm_tokenize(m, "", 0, ids, 64, LLM_TOKENIZE_ADD_SPECIAL);
    T_CHECK(n == 1 && ids[0] == 1, "empty text with ADD_SPECIAL: %d tokens", n);
    n = llm_tokenize(m, "", 0, ids, 64, 0);
    T_CHECK(n == 0, "empty text: %d tokens", n);
    /* Every special in one text, longest first: "<unk>" is UNKNOWN, "</s>" and "<s>" CONTROL. */
    n = llm_tokenize(m, "a</s><unk><s>b", 14, ids, 64, LLM_TOKENIZE_PARSE_SPECIAL);
    T_CHECK(n == 5 && ids[1] == 2 && ids[2] == 0 && ids[3] == 1, "\"a</s><unk><s>b\": %d tokens", n);
    /* Truncation: count is still the full count; nothing written past max. */
    ids[1] = 12345;
    n2 = llm_tokenize(m, "a</s><unk><s>b", 14, ids, 1, LLM_TOKENIZE_PARSE_SPECIAL);
    T_CHECK(n2 == 5 && ids[1] == 12345, "max 1: %d, wrote past max", n2);
    T_CHECK(llm_tokenize(m, NULL, 3, ids, 64, 0) < 0, "NULL text accepted");
    T_CHECK(llm_tokenize(m, "abc", 3, NULL, 5, 0) < 0, "NULL out with max 5 accepted");
    T_CHECK(llm_tokenize(m, "abc", 3, ids, -1, 0) < 0, "max -1 accepted");
    llm_model_free(m);

    /* phi-3: "</s>" is USER_DEFINED in the file, but its text is on llama.cpp's end-of-generation
       list, which makes it CONTROL: matched only with PARSE_SPECIAL, rendered only on request. */
    m = t_tok_load(pp);
    if (!m) return;
    n = llm_tokenize(m, "a</s>b", 6, ids, 64, 0);
    T_CHECK(n > 3 && ids[1] != 2, "phi-3 \"a</s>b\": %d tokens, second %d", n, n > 1 ? (int)ids[1] : -1);
    n = llm_tokenize(m, "a</s>b", 6, ids, 64, LLM_TOKENIZE_PARSE_SPECIAL);
    T_CHECK(n == 3 && ids[1] == 2, "phi-3 \"a</s>b\" with PARSE_SPECIAL: %d tokens, second %d", n, n > 1 ? (int)ids[1] : -1);
    T_CHECK(llm_token_is_eog(m, 2) && llm_token_is_control(m, 2), "phi-3 </s> is not EOG and CONTROL");
    T_CHECK(llm_token_to_piece(m, 2, (char *)ids, 4, 0) == 0, "phi-3 </s> rendered without LLM_PIECE_SPECIAL");
    n = llm_tokenize(m, "<|end|>", 7, ids, 64, LLM_TOKENIZE_PARSE_SPECIAL);
    T_CHECK(n == 1 && ids[0] == 32007, "phi-3 <|end|>: %d tokens", n);
    n = llm_tokenize(m, "<|end|>", 7, ids, 64, 0);
    T_CHECK(n > 1, "phi-3 <|end|> without PARSE_SPECIAL: %d tokens", n);
    T_CHECK(llm_token_is_eog(m, 32007) && llm_token_is_eog(m, 32000) && !llm_token_is_eog(m, 32001), "phi-3 EOG flags");
    llm_model_free(m);
}

/* ---- 5. robustness --------------------------------------------------------------------------- */

static uint64_t t_tok_rng(uint64_t *s) {
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Well-formed UTF-8 (by structure) with no "▁" (E2 96 81) in it. */
static int t_tok_plain_utf8(const char *s, size_t len) {
    size_t i = 0, l, j;
    while (i < len) {
        unsigned char b = (unsigned char)s[i];
        l = b < 0x80 ? 1 : b >= 0xC2 && b < 0xE0 ? 2 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xF0 && b < 0xF5 ? 4 : 0;
        if (l == 0 || l > len - i) return 0;
        for (j = 1; j < l; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return 0;
        if (l == 3 && b == 0xE2 && (unsigned char)s[i + 1] == 0x96 && (unsigned char)s[i + 2] == 0x81) return 0;
        i += l;
    }
    return 1;
}

static void test_tok_random(void) {
    static const char *const models[] = {"models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf",
                                         "models/llama.cpp-vocab/ggml-vocab-phi-3.gguf", "models/stories260K.gguf",
                                         "models/reference/TinyStories-656K-F16.gguf"};
    static const char *const pieces[] = {" ", "  ", "\xE2\x96\x81", "<s>", "</s>", "<unk>", "<|end|>", "\xC3", "\xA9",
                                         "\xF0\x9F", "\xE2\x96", "\n", "the", "\0", "<0x41>", "[PAD32011]"};
    size_t k;
    uint64_t seed = 12345;
    for (k = 0; k < sizeof models / sizeof models[0]; k++) {
        const char *mp = t_shared(models[k]);
        llm_model *m;
        int iter, bad = 0, n_round = 0;
        char text[512], back[4096];
        llm_token ids[2048];
        if (!mp) continue;
        m = t_tok_load(mp);
        if (!m) continue;
        for (iter = 0; iter < 3000; iter++) {
            size_t len = (size_t)(t_tok_rng(&seed) % 300), i = 0;
            int flags = (int)(t_tok_rng(&seed) & 3), n, n2, nd;
            int mode = (int)(t_tok_rng(&seed) % 4);
            while (i < len) {
                uint64_t r = t_tok_rng(&seed);
                if (mode == 3) {
                    /* Well-formed UTF-8: ASCII, spaces, Latin, CJK, emoji. */
                    static const uint32_t lo[] = {0x20, 0x20, 0x0A, 0x61, 0xC0, 0x400, 0x4E00, 0x1F600};
                    static const uint32_t span[] = {0x5F, 1, 1, 26, 0x180, 0x100, 0x5000, 0x50};
                    int c = (int)((r >> 8) & 7);
                    uint32_t cp = lo[c] + (uint32_t)((r >> 16) % span[c]);
                    unsigned char u[4];
                    size_t ul = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
                    if (ul == 1) u[0] = (unsigned char)cp;
                    if (ul == 2) u[0] = (unsigned char)(0xC0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 63));
                    if (ul == 3)
                        u[0] = (unsigned char)(0xE0 | cp >> 12), u[1] = (unsigned char)(0x80 | (cp >> 6 & 63)),
                        u[2] = (unsigned char)(0x80 | (cp & 63));
                    if (ul == 4)
                        u[0] = (unsigned char)(0xF0 | cp >> 18), u[1] = (unsigned char)(0x80 | (cp >> 12 & 63)),
                        u[2] = (unsigned char)(0x80 | (cp >> 6 & 63)), u[3] = (unsigned char)(0x80 | (cp & 63));
                    if (i + ul > len) break;
                    memcpy(text + i, u, ul);
                    i += ul;
                    continue;
                } else if (mode == 0 || (mode == 1 && (r & 7) != 0)) {
                    text[i++] = (char)(r >> 8); /* any byte, NUL included */
                } else {
                    const char *p = pieces[(r >> 8) % (sizeof pieces / sizeof pieces[0])];
                    size_t pl = p[0] ? strlen(p) : 1;
                    if (i + pl > len) pl = len - i;
                    memcpy(text + i, p, pl);
                    i += pl;
                }
            }
            len = i;
            n = llm_tokenize(m, text, len, NULL, 0, flags);
            if (n < 0 || n > (int)(sizeof ids / sizeof ids[0])) {
                if (bad++ < 5) T_CHECK(0, "%s iteration %d: %d tokens", models[k], iter, n);
                continue;
            }
            n2 = llm_tokenize(m, text, len, ids, (int)(sizeof ids / sizeof ids[0]), flags);
            if (n2 != n && bad++ < 5) T_CHECK(0, "%s iteration %d: size query %d, full call %d", models[k], iter, n, n2);
            /* A short buffer gives the same count. */
            if (n > 3) {
                n2 = llm_tokenize(m, text, len, ids, 3, flags);
                if (n2 != n && bad++ < 5) T_CHECK(0, "%s iteration %d: max 3 gave %d, not %d", models[k], iter, n2, n);
            }
            nd = llm_detokenize(m, ids, n < 3 ? n : 3, back, sizeof back, (int)(t_tok_rng(&seed) & 3));
            if (nd < 0 && bad++ < 5) T_CHECK(0, "%s iteration %d: detokenize %d", models[k], iter, nd);
            /* Byte-exact round trip where there are byte tokens, no specials were parsed and
               the text is well-formed UTF-8 without a literal "▁" (which comes back as a space,
               as does an escaped space glued to a broken sequence: llama.cpp does the same). */
            if ((k == 0 || k == 2) && !(flags & LLM_TOKENIZE_PARSE_SPECIAL) && t_tok_plain_utf8(text, len)) {
                n2 = llm_tokenize(m, text, len, ids, (int)(sizeof ids / sizeof ids[0]), flags);
                nd = llm_detokenize(m, ids, n2, back, sizeof back, 0);
                if ((nd != (int)len || memcmp(back, text, len) != 0) && bad++ < 5)
                    T_CHECK(0, "%s iteration %d: round trip of %d bytes gave %d", models[k], iter, (int)len, nd);
                n_round++;
            }
        }
        if (k == 0 || k == 2)
            printf("  %s: 3000 random inputs, %d of them checked for a byte-exact round trip\n", models[k], n_round);
        llm_model_free(m);
    }
}

/* Long inputs stay fast: a megabyte of one repeated character, and of random words. */
static void test_tok_long(void) {
    const char *mp = t_shared("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
    llm_model *m;
    size_t len = 1 << 20, i;
    char *text;
    int n;
    double t0;
    if (!mp) return;
    m = t_tok_load(mp);
    if (!m) return;
    text = (char *)malloc(len);
    T_REQUIRE(text, "out of memory");
    memset(text, ' ', len);
    t0 = llm__now_ms();
    n = llm_tokenize(m, text, len, NULL, 0, 0);
    T_CHECK(n > 0 && n < (int)len, "1 MiB of spaces: %d tokens", n);
    for (i = 0; i < len; i++) text[i] = "ab <c>\xC3\xA9"[i % 8];
    n = llm_tokenize(m, text, len, NULL, 0, LLM_TOKENIZE_PARSE_SPECIAL);
    T_CHECK(n > 0, "1 MiB of text: %d tokens", n);
    printf("  2 MiB tokenized in %.0f ms\n", llm__now_ms() - t0);
    free(text);
    llm_model_free(m);
}

/* ---- 6. the rules, on a vocabulary made up for them --------------------------------------- */

typedef struct t_tok_entry {
    const char *text;
    float score;
    int type;
} t_tok_entry;

#define T_TOK_N LLM__TOKEN_NORMAL
static const t_tok_entry t_tok_mini[] = {
    {"<unk>", 0, LLM__TOKEN_UNKNOWN},       {"<s>", 0, LLM__TOKEN_CONTROL},        {"</s>", 0, LLM__TOKEN_CONTROL},
    {"\xE2\x96\x81", -1, T_TOK_N},          {"a", -1, T_TOK_N},                    {"b", -1, T_TOK_N},
    {"c", -1, T_TOK_N},                     {"d", -1, T_TOK_N},                    {"[U]", 0, LLM__TOKEN_USER_DEFINED},
    {"bcd", 0, LLM__TOKEN_USER_DEFINED},    {"ab", 0, LLM__TOKEN_USER_DEFINED},    {"\xE2\x96\x81" "a", -2, T_TOK_N},
    {"\xE2\x96\x81" "b", -3, T_TOK_N},      {"bc", 5, T_TOK_N},                    {"<|im_end|>", 0, T_TOK_N},
    {"<0x78>", 0, LLM__TOKEN_BYTE},         {"cd", -3, T_TOK_N},                   {"dd", -3, T_TOK_N},
};
#define T_TOK_MINI_N ((int)(sizeof t_tok_mini / sizeof t_tok_mini[0]))

/* Fills v from t_tok_mini (types copied: building may change them). */
static void t_tok_mini_vocab(llm__vocab *v, const char **text, uint32_t *len, float *score, int32_t *type) {
    int i;
    memset(v, 0, sizeof *v);
    for (i = 0; i < T_TOK_MINI_N; i++) {
        text[i] = t_tok_mini[i].text;
        len[i] = (uint32_t)strlen(t_tok_mini[i].text);
        score[i] = t_tok_mini[i].score;
        type[i] = t_tok_mini[i].type;
    }
    v->kind = LLM__VOCAB_SPM;
    v->n_vocab = T_TOK_MINI_N;
    v->text = text;
    v->text_len = len;
    v->score = score;
    v->type = type;
    v->unk = 0, v->bos = 1, v->eos = 2;
    v->pad = v->eot = v->eom = LLM_TOKEN_NULL;
    v->add_bos = 1;
    v->add_space_prefix = 1;
}

/* Tokenizes s and compares with want (n_want ids, or a negative result). */
static void t_tok_mini_check(const llm__vocab *v, const char *s, int flags, const llm_token *want, int n_want) {
    llm_token got[64];
    char sw[256], sg[256];
    int n = llm__vocab_tokenize(v, NULL, s, strlen(s), got, 64, flags);
    T_CHECK(n == n_want && (n < 0 || memcmp(got, want, sizeof(llm_token) * (size_t)n) == 0), "\"%s\" (flags %d): expected%s (%d), got%s (%d)",
            s, flags, n_want > 0 ? t_tok_ids_str(want, n_want, sw, sizeof sw) : "", n_want,
            n > 0 ? t_tok_ids_str(got, n, sg, sizeof sg) : "", n);
}

static void test_tok_rules(void) {
    const char *text[T_TOK_MINI_N];
    uint32_t len[T_TOK_MINI_N];
    float score[T_TOK_MINI_N];
    int32_t type[T_TOK_MINI_N];
    llm__vocab v;
    char err[128];
    int r;
    /* Expected ids: 3 "▁", 11 "▁a", 13 "bc", 16 "cd", 7 "d", 15 "<0x78>", 0 UNK. */
    static const llm_token abcd[] = {11, 9}, ua[] = {8, 11}, bc[] = {3, 13}, cdd[] = {3, 16, 7}, x[] = {3, 15};
    static const llm_token y[] = {3, 0}, ye[] = {3, 0, 0}, sa[] = {1, 11}, unk[] = {0}, bos_a[] = {1, 11};

    t_tok_mini_vocab(&v, text, len, score, type);
    r = llm__vocab_build(&v, NULL, err, sizeof err);
    T_REQUIRE(r == LLM_OK, "build: %d %s", r, err);
    /* Special tokens one at a time, longest first: "bcd" claims "abcd" before "ab" is tried
       (leftmost-longest would give "ab" "cd"). USER_DEFINED tokens need no PARSE_SPECIAL. */
    t_tok_mini_check(&v, "abcd", 0, abcd, 2);
    /* Text after a special token gets the space prefix again. */
    t_tok_mini_check(&v, "[U]a", 0, ua, 2);
    /* The best-scoring pair merges first ("bc" 5 beats "▁b" -3)... */
    t_tok_mini_check(&v, "bc", 0, bc, 2);
    /* ...and of equal scores the leftmost ("cd" before "dd"). */
    t_tok_mini_check(&v, "cdd", 0, cdd, 3);
    /* Byte fallback where a byte token exists, else one UNK per character ("é" is two bytes). */
    t_tok_mini_check(&v, "x", 0, x, 2);
    t_tok_mini_check(&v, "y", 0, y, 2);
    t_tok_mini_check(&v, "y\xC3\xA9", 0, ye, 3);
    /* CONTROL and UNKNOWN texts only with PARSE_SPECIAL; BOS from ADD_SPECIAL. */
    t_tok_mini_check(&v, "<s>a", LLM_TOKENIZE_PARSE_SPECIAL, sa, 2);
    t_tok_mini_check(&v, "<unk>", LLM_TOKENIZE_PARSE_SPECIAL, unk, 1);
    t_tok_mini_check(&v, "a", LLM_TOKENIZE_ADD_SPECIAL, bos_a, 2);
    r = llm__vocab_tokenize(&v, NULL, "<s>a", 4, NULL, 0, 0);
    T_CHECK(r == 5, "\"<s>a\" without PARSE_SPECIAL: %d tokens (▁ and UNK for < s >, then a)", r);
    /* "<|im_end|>" was NORMAL in the "file": the end-of-generation rule made it CONTROL. */
    T_CHECK(v.is_eog[14] && v.type[14] == LLM__TOKEN_CONTROL, "<|im_end|>: eog %d type %d", v.is_eog[14], v.type[14]);
    T_CHECK(v.is_eog[2] && !v.is_eog[1] && !v.is_eog[3], "EOG flags");
    T_CHECK(v.byte_token[0x78] == 15 && v.byte_token[0x79] == LLM_TOKEN_NULL, "byte_token");
    T_CHECK(v.n_special == 7 && v.special[0] == 14 && v.special[v.n_special - 1] == 10, "special list: %d", v.n_special);
    /* No UNK and no byte token: an error, not a crash. */
    v.unk = LLM_TOKEN_NULL;
    T_CHECK(llm__vocab_tokenize(&v, NULL, "y", 1, NULL, 0, 0) == LLM_ERR_UNSUPPORTED, "no UNK");
    llm__vocab_free(&v, NULL);
    llm__vocab_free(&v, NULL); /* twice: harmless */

    /* Refused: a special id past the vocabulary, a duplicate text. */
    t_tok_mini_vocab(&v, text, len, score, type);
    v.eos = T_TOK_MINI_N;
    T_CHECK(llm__vocab_build(&v, NULL, err, sizeof err) == LLM_ERR_FORMAT, "eos out of range accepted");
    llm__vocab_free(&v, NULL);
    t_tok_mini_vocab(&v, text, len, score, type);
    text[17] = "cd";
    len[17] = 2;
    r = llm__vocab_build(&v, NULL, err, sizeof err);
    T_CHECK(r == LLM_ERR_FORMAT && strstr(err, "duplicate"), "duplicate text: %d %s", r, err);
    T_CHECK(v.hash == NULL && v.is_eog == NULL && v.special == NULL, "failed build left memory behind");
    llm__vocab_free(&v, NULL);
}

static void tests_tokenizer(void) {
    T_RUN(test_tok_vectors);
    T_RUN(test_tok_uncovered);
    T_RUN(test_tok_round_trip);
    T_RUN(test_tok_pieces);
    T_RUN(test_tok_special);
    T_RUN(test_tok_random);
    T_RUN(test_tok_long);
    T_RUN(test_tok_rules);
}
