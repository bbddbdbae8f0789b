/* Byte-level BPE and WordPiece: llama.cpp's vectors for every pre-tokenizer present (and
   bert-bge), round trips of the vector inputs and of random UTF-8, random bytes, the byte
   mapping and the Unicode tables.
   Reuses test_tokenizer.c's vector reader (included before this file). */

static const char *const t_bpe_vocabs[] = {"gpt-2",  "deepseek-coder", "deepseek-llm", "falcon",   "mpt",
                                           "starcoder", "refact",      "qwen2",        "llama-bpe", "command-r"};
#define T_BPE_N_VOCABS (sizeof t_bpe_vocabs / sizeof t_bpe_vocabs[0])

/* ---- 1. llama.cpp's vectors ------------------------------------------------------------------ */

static void test_bpe_vectors(void) {
    size_t c;
    for (c = 0; c <= T_BPE_N_VOCABS; c++) { /* and last, WordPiece: bert-bge (lossy, no round trip) */
        const char *name = c < T_BPE_N_VOCABS ? t_bpe_vocabs[c] : "bert-bge";
        char mrel[200], irel[256], orel[256];
        const char *mp, *ip, *op;
        t_tok_vectors tv;
        llm_model *m;
        int i, n_ok = 0, n_run = 0, n_round = 0;
        snprintf(mrel, sizeof mrel, "models/llama.cpp-vocab/ggml-vocab-%s.gguf", name);
        snprintf(irel, sizeof irel, "%s.inp", mrel);
        snprintf(orel, sizeof orel, "%s.out", mrel);
        if (!(mp = t_shared(mrel)) || !(ip = t_shared(irel)) || !(op = t_shared(orel))) continue;
        if (!(m = t_tok_load(mp))) continue;
        if (!t_tok_vectors_read(ip, op, &tv)) {
            t_tok_vectors_free(&tv);
            llm_model_free(m);
            continue;
        }
        for (i = 0; i < tv.n; i++) {
            llm_token want[512];
            char sw[512], sg[512];
            int n_want, n_got, nd;
            llm_token *got;
            if (tv.is_skipped[i]) continue;
            n_run++;
            n_want = t_tok_parse_ids(tv.line[i], want, 512);
            got = t_tok_run(m, tv.text[i], tv.len[i], 0, &n_got);
            if (n_got == n_want && n_want <= 512 && got && memcmp(got, want, sizeof(llm_token) * (size_t)n_want) == 0)
                n_ok++;
            else
                T_CHECK(0, "%s input %d: expected%s, got%s", name, i, t_tok_ids_str(want, n_want, sw, sizeof sw),
                        n_got < 0 ? " (error)" : t_tok_ids_str(got, n_got, sg, sizeof sg));
            if (got && c < T_BPE_N_VOCABS) {
                /* detokenize(tokenize(s)) == s */
                char *buf = (char *)malloc(tv.len[i] * 4 + 16);
                nd = llm_detokenize(m, got, n_got, buf, (int)(tv.len[i] * 4 + 16), 0);
                if (nd == (int)tv.len[i] && memcmp(buf, tv.text[i], tv.len[i]) == 0)
                    n_round++;
                else
                    T_CHECK(0, "%s input %d: round trip gave %d bytes, expected %d", name, i, nd, (int)tv.len[i]);
                free(buf);
            }
            free(got);
        }
        if (c < T_BPE_N_VOCABS)
            printf("  %s: %d/%d inputs match llama.cpp, %d/%d round-trip\n", name, n_ok, n_run, n_round, n_run);
        else
            printf("  %s (WordPiece): %d/%d inputs match llama.cpp\n", name, n_ok, n_run);
        T_CHECK(n_run > 0, "%s: no inputs", irel);
        t_tok_vectors_free(&tv);
        llm_model_free(m);
    }
}

/* ---- 2. random input ------------------------------------------------------------------------- */

/* Appends one random code point (ASCII-heavy, with white space, Latin, Greek, CJK, Hangul,
   emoji, combining marks and the odd spaces) as UTF-8; returns the bytes written (0 if no room). */
static size_t t_bpe_random_cp(uint64_t *seed, char *dst, size_t room) {
    static const uint32_t lo[] = {0x20, 0x61, 0x30, 0x09, 0x0A, 0x20, 0xC0, 0x370, 0x4E00, 0xAC00, 0x1F600, 0x300,
                                  0x2000, 0x3000, 0x21, 0x27};
    static const uint32_t span[] = {0x5F, 26, 10, 1, 1, 1, 0x180, 0x90, 0x5000, 0x2000, 0x50, 0x70, 0x0B, 4, 15, 1};
    uint64_t r = t_tok_rng(seed);
    int c = (int)(r & 15);
    uint32_t cp = lo[c] + (uint32_t)((r >> 8) % span[c]);
    size_t ul = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    unsigned char *u = (unsigned char *)dst;
    if (ul > room) return 0;
    if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
    if (ul == 1) u[0] = (unsigned char)cp;
    if (ul == 2) u[0] = (unsigned char)(0xC0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 63));
    if (ul == 3)
        u[0] = (unsigned char)(0xE0 | cp >> 12), u[1] = (unsigned char)(0x80 | (cp >> 6 & 63)), u[2] = (unsigned char)(0x80 | (cp & 63));
    if (ul == 4)
        u[0] = (unsigned char)(0xF0 | cp >> 18), u[1] = (unsigned char)(0x80 | (cp >> 12 & 63)),
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 63)), u[3] = (unsigned char)(0x80 | (cp & 63));
    return ul;
}

static void test_bpe_random(void) {
    size_t c;
    uint64_t seed = 4242;
    for (c = 0; c < T_BPE_N_VOCABS; c++) {
        char mrel[200], text[400], back[2048];
        const char *mp;
        llm_token ids[1024];
        llm_model *m;
        int iter, n_ok = 0, n_valid = 0, n_checked = 0, bad = 0, b, all_bytes;
        snprintf(mrel, sizeof mrel, "models/llama.cpp-vocab/ggml-vocab-%s.gguf", t_bpe_vocabs[c]);
        if (!(mp = t_shared(mrel)) || !(m = t_tok_load(mp))) continue;
        /* Random bytes can round-trip only where every byte's character is a normal token:
           several vocabularies lack the bytes UTF-8 never uses (C0, C1, F5..FF), or have them
           as user-defined tokens rendered as their text (as llama.cpp renders them). */
        for (b = 0, all_bytes = 1; b < 256; b++) {
            uint32_t u = llm__bpe_byte_cp((unsigned)b);
            char s[2];
            int n = 1;
            llm_token t;
            if (u < 0x80) s[0] = (char)u;
            else s[0] = (char)(0xC0 | (u >> 6)), s[1] = (char)(0x80 | (u & 63)), n = 2;
            t = llm__vocab_find(&m->vocab, s, (size_t)n);
            if (t < 0 || m->vocab.type[t] != LLM__TOKEN_NORMAL) all_bytes = 0;
        }
        for (iter = 0; iter < 600; iter++) {
            size_t len = (size_t)(t_tok_rng(&seed) % 200), i = 0;
            int valid = iter % 3 != 0, n, nd;
            while (i < len) {
                if (valid) {
                    size_t k = t_bpe_random_cp(&seed, text + i, len - i);
                    if (!k) break;
                    i += k;
                } else {
                    text[i++] = (char)(t_tok_rng(&seed) >> 13); /* any byte */
                }
            }
            len = i;
            n = llm_tokenize(m, text, len, ids, (int)(sizeof ids / sizeof ids[0]), 0);
            if (n < 0 || n > (int)(sizeof ids / sizeof ids[0])) {
                if (bad++ < 5) T_CHECK(0, "%s iteration %d: %d tokens", t_bpe_vocabs[c], iter, n);
                continue;
            }
            /* Byte-exact for valid UTF-8, and for any bytes where the vocabulary has them all
               (invalid bytes are encoded as themselves, see >>tokenizer). */
            nd = llm_detokenize(m, ids, n, back, sizeof back, 0);
            if (!valid && !all_bytes) continue;
            n_checked++;
            if (nd == (int)len && memcmp(back, text, len) == 0) {
                n_ok++;
                n_valid += valid;
            } else if (bad++ < 5) {
                T_CHECK(0, "%s iteration %d (%s): round trip of %d bytes gave %d", t_bpe_vocabs[c], iter,
                        valid ? "valid UTF-8" : "random bytes", (int)len, nd);
            }
        }
        printf("  %s: 600 random inputs tokenized; %d/%d checked round-trip (%d valid UTF-8%s)\n", t_bpe_vocabs[c], n_ok,
               n_checked, n_valid, all_bytes ? ", the rest random bytes" : "; random bytes not checked: bytes missing");
        llm_model_free(m);
    }
}

/* ---- 3. building blocks ------------------------------------------------------------------------ */

static void test_bpe_units(void) {
    int b, seen[324];
    /* bytes_to_unicode is a bijection onto 188 printable code points and U+0100..U+0143 */
    memset(seen, 0, sizeof seen);
    for (b = 0; b < 256; b++) {
        uint32_t cp = llm__bpe_byte_cp((unsigned)b);
        T_CHECK(cp < 324 && !seen[cp], "byte %d -> U+%04X", b, (unsigned)cp);
        if (cp < 324) seen[cp] = 1;
        T_CHECK(llm__bpe_cp_byte(cp) == b, "U+%04X -> %d, not %d", (unsigned)cp, llm__bpe_cp_byte(cp), b);
    }
    T_CHECK(llm__bpe_byte_cp(' ') == 0x120, "space -> U+%04X, not U+0120 (Ġ)", (unsigned)llm__bpe_byte_cp(' '));
    T_CHECK(llm__bpe_byte_cp('\n') == 0x10A, "newline -> U+%04X, not U+010A (Ċ)", (unsigned)llm__bpe_byte_cp('\n'));
    T_CHECK(llm__bpe_byte_cp(0xAD) == 0x143, "0xAD -> U+%04X", (unsigned)llm__bpe_byte_cp(0xAD));
    /* the generated Unicode table */
    T_CHECK(llm__unicode_class('a') == LLM__UC_LETTER && llm__unicode_class('Z') == LLM__UC_LETTER, "ASCII letters");
    T_CHECK(llm__unicode_class('7') == LLM__UC_NUMBER && llm__unicode_class(0x0663) == LLM__UC_NUMBER, "digits");
    T_CHECK(llm__unicode_class(' ') == (LLM__UC_SEPARATOR | LLM__UC_WS), "space: %d", llm__unicode_class(' '));
    T_CHECK(llm__unicode_class('\n') == (LLM__UC_OTHER | LLM__UC_WS), "newline: %d", llm__unicode_class('\n'));
    T_CHECK(llm__unicode_class(0x3000) == (LLM__UC_SEPARATOR | LLM__UC_WS), "ideographic space");
    T_CHECK(llm__unicode_class('!') == LLM__UC_PUNCT && llm__unicode_class('$') == LLM__UC_SYMBOL, "ASCII punctuation");
    T_CHECK(llm__unicode_class(0x4E2D) == LLM__UC_LETTER && llm__unicode_class(0xAC00) == LLM__UC_LETTER, "CJK, Hangul");
    T_CHECK(llm__unicode_class(0x0301) == LLM__UC_MARK, "combining acute");
    T_CHECK(llm__unicode_class(0x1F600) == LLM__UC_SYMBOL, "emoji");
    T_CHECK(llm__unicode_class(0x0378) == LLM__UC_UNASSIGNED && llm__unicode_class(0x10FFFF) == LLM__UC_UNASSIGNED,
            "unassigned");
    T_CHECK(llm__unicode_class(0x20000) == LLM__UC_LETTER && llm__unicode_class(0xE000) == LLM__UC_OTHER, "ranges");
    T_CHECK(llm__unicode_class(0x85) == (LLM__UC_OTHER | LLM__UC_WS) && llm__unicode_class(0x1C) == LLM__UC_OTHER,
            "NEL is white space, 0x1C is not");
}

/* A model whose tokenizer we do not run still loads with vocab_only (metadata for `llm info`):
   bert-bge with its tokenizer.ggml.model renamed "bxrt" in memory. */
static void test_bpe_unsupported(void) {
    static const char key[] = "tokenizer.ggml.model";
    const char *mp = t_shared("models/llama.cpp-vocab/ggml-vocab-bert-bge.gguf");
    unsigned char *data;
    size_t size = 0, i;
    llm_model_params p = llm_model_default_params();
    llm_model *m;
    char err[256];
    int n;
    if (!mp) return;
    data = t_read_file(mp, &size);
    T_REQUIRE(data != NULL, "cannot read %s", mp);
    /* key, then u32 type 8 (string), u64 length 4, "bert" */
    for (i = 0; i + sizeof key + 16 < size; i++)
        if (memcmp(data + i, key, sizeof key - 1) == 0 && memcmp(data + i + sizeof key - 1 + 12, "bert", 4) == 0) break;
    T_REQUIRE(i + sizeof key + 16 < size, "no tokenizer.ggml.model = bert in %s", mp);
    data[i + sizeof key - 1 + 13] = 'x';
    p.vocab_only = 1;
    m = llm_model_load_memory(data, size, &p, err, sizeof err);
    T_CHECK(m != NULL, "vocab_only load of an unknown tokenizer: %s", err);
    if (m) {
        n = llm_tokenize(m, "hello", 5, NULL, 0, 0);
        T_CHECK(n == LLM_ERR_UNSUPPORTED, "unknown tokenizer: tokenize gave %d, expected LLM_ERR_UNSUPPORTED", n);
        T_CHECK(llm_model_n_vocab(m) > 0 && llm_model_meta_find(m, "tokenizer.ggml.model") >= 0, "metadata readable");
        llm_model_free(m);
    }
    err[0] = 0;
    p.vocab_only = 0;
    m = llm_model_load_memory(data, size, &p, err, sizeof err);
    T_CHECK(m == NULL && strstr(err, "not supported"), "full load of an unknown tokenizer: %s", err);
    llm_model_free(m);
    free(data);
}

/* Long inputs stay linear: 256 KiB of spaces before a CJK character (deepseek-llm's \s+$
   pass), of one letter, and of digits. */
static void test_bpe_long(void) {
    static const char *const vocabs[] = {"deepseek-llm", "gpt-2", "llama-bpe"};
    size_t k, len = 1 << 18, i;
    char *text = (char *)malloc(len + 8);
    T_REQUIRE(text != NULL, "out of memory");
    for (k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        char rel[200];
        const char *mp;
        llm_model *m;
        int shape;
        snprintf(rel, sizeof rel, "models/llama.cpp-vocab/ggml-vocab-%s.gguf", vocabs[k]);
        if (!(mp = t_shared(rel)) || !(m = t_tok_load(mp))) continue;
        for (shape = 0; shape < 3; shape++) {
            double t0 = llm__now_ms();
            int n;
            for (i = 0; i < len; i++) text[i] = shape == 0 ? ' ' : shape == 1 ? 'a' : (char)('0' + i % 10);
            if (shape == 0) memcpy(text + len - 3, "\xE4\xB8\xAD", 3);
            n = llm_tokenize(m, text, len, NULL, 0, 0);
            T_CHECK(n > 0, "%s shape %d: %d", vocabs[k], shape, n);
            printf("  %s: 256 KiB input %d: %d tokens in %.0f ms\n", vocabs[k], shape, n, llm__now_ms() - t0);
        }
        llm_model_free(m);
    }
    free(text);
}

/* WordPiece on random input: never an error, never a crash (no round trip: it lower-cases
   and drops accents); the normalisation tables. */
static void test_bpe_wordpiece(void) {
    const char *mp = t_shared("models/llama.cpp-vocab/ggml-vocab-bert-bge.gguf");
    llm_model *m;
    uint64_t seed = 99;
    int iter, bad = 0;
    llm_token ids[1024];
    char text[400];
    T_CHECK(llm__unicode_tolower('A') == 'a' && llm__unicode_tolower(0xC9) == 0xE9 && llm__unicode_tolower(0x391) == 0x3B1 &&
                llm__unicode_tolower(0x130) == 'i' && llm__unicode_tolower(0x10400) == 0x10428 && llm__unicode_tolower('a') == 'a',
            "lowercase");
    T_CHECK(llm__unicode_nfd_first(0xE9) == 'e' && llm__unicode_nfd_first(0x1E69) == 's' && llm__unicode_nfd_first(0xAC00) == 0x1100 &&
                llm__unicode_nfd_first('x') == 'x' && llm__unicode_nfd_first(0x4E2D) == 0x4E2D,
            "decomposition");
    if (!mp || !(m = t_tok_load(mp))) return;
    for (iter = 0; iter < 600; iter++) {
        size_t len = (size_t)(t_tok_rng(&seed) % 200), i = 0;
        int n;
        while (i < len) {
            if (iter % 2) {
                size_t k = t_bpe_random_cp(&seed, text + i, len - i);
                if (!k) break;
                i += k;
            } else {
                text[i++] = (char)(t_tok_rng(&seed) >> 13);
            }
        }
        n = llm_tokenize(m, text, i, ids, (int)(sizeof ids / sizeof ids[0]), LLM_TOKENIZE_ADD_SPECIAL);
        if ((n < 2 || n > (int)(sizeof ids / sizeof ids[0]) || ids[0] != 101 || ids[n - 1] != 102) && bad++ < 5)
            T_CHECK(0, "bert iteration %d: %d tokens", iter, n);
    }
    llm_model_free(m);
}

static void tests_bpe(void) {
    T_RUN(test_bpe_units);
    T_RUN(test_bpe_vectors);
    T_RUN(test_bpe_random);
    T_RUN(test_bpe_unsupported);
    T_RUN(test_bpe_long);
    T_RUN(test_bpe_wordpiece);
}
