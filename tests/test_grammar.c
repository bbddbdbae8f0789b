/* Grammars: compiling (errors with line and column), masks, recursion, end of generation,
   and JSON schemas: seeded samples on real and synthetic models parse as JSON and
   validate against their schema; truncated samples are counted and reported. */

/* ---- a strict JSON reader and a schema validator (independent of llm.h's) ---- */

typedef struct tg_json {
    int type; /* 'n' null, 'b' bool, 'd' number, 's' string, 'a' array, 'o' object */
    int boolean, is_int, n_kids;
    double num;
    char *str;   /* decoded string (UTF-8); object members' keys in key */
    size_t str_len, str_chars;
    char *key;
    struct tg_json *kids;
} tg_json;

static void tg_json_free(tg_json *v) {
    int i;
    if (!v) return;
    for (i = 0; i < v->n_kids; i++) tg_json_free(&v->kids[i]);
    free(v->kids);
    free(v->str);
    free(v->key);
}

static const char *tg_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Decodes a JSON string at p (after the quote); NULL if malformed. */
static const char *tg_str(const char *p, char **out, size_t *len, size_t *chars) {
    size_t cap = strlen(p) + 1, n = 0, c = 0;
    char *s = (char *)malloc(cap);
    while (*p && *p != '"') {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20) break;
        if (ch == '\\') {
            p++;
            if (*p && strchr("\"\\/", *p)) s[n++] = *p++;
            else if (*p == 'b') s[n++] = '\b', p++;
            else if (*p == 'f') s[n++] = '\f', p++;
            else if (*p == 'n') s[n++] = '\n', p++;
            else if (*p == 'r') s[n++] = '\r', p++;
            else if (*p == 't') s[n++] = '\t', p++;
            else if (*p == 'u') {
                int i;
                for (i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) break;
                if (i <= 4) break;
                s[n++] = '?';
                p += 5;
            } else
                break;
            c++;
            continue;
        }
        if ((ch & 0xC0) != 0x80) c++;
        s[n++] = *p++;
    }
    if (*p != '"') {
        free(s);
        return NULL;
    }
    s[n] = 0;
    *out = s;
    *len = n;
    *chars = c;
    return p + 1;
}

static const char *tg_parse(const char *p, tg_json *v, int depth) {
    memset(v, 0, sizeof *v);
    p = tg_ws(p);
    if (depth > 100) return NULL;
    if (*p == '"') {
        v->type = 's';
        return tg_str(p + 1, &v->str, &v->str_len, &v->str_chars);
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        v->type = *p == '{' ? 'o' : 'a';
        p = tg_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            tg_json kid;
            char *key = NULL;
            size_t kl, kc;
            p = tg_ws(p);
            if (v->type == 'o') {
                if (*p != '"' || !(p = tg_str(p + 1, &key, &kl, &kc))) return NULL;
                p = tg_ws(p);
                if (*p != ':') {
                    free(key);
                    return NULL;
                }
                p++;
            }
            p = tg_parse(p, &kid, depth + 1);
            kid.key = key;
            v->kids = (tg_json *)realloc(v->kids, (size_t)(v->n_kids + 1) * sizeof *v->kids);
            v->kids[v->n_kids++] = kid;
            if (!p) return NULL;
            p = tg_ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == close) return p + 1;
            return NULL;
        }
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        const char *s = p;
        v->type = 'd';
        v->is_int = 1;
        if (*p == '-') p++;
        if (*p == '0') p++;
        else if (*p >= '1' && *p <= '9')
            while (*p >= '0' && *p <= '9') p++;
        else return NULL;
        if (*p == '.') {
            v->is_int = 0;
            p++;
            if (!(*p >= '0' && *p <= '9')) return NULL;
            while (*p >= '0' && *p <= '9') p++;
        }
        if (*p == 'e' || *p == 'E') {
            v->is_int = 0;
            p++;
            if (*p == '+' || *p == '-') p++;
            if (!(*p >= '0' && *p <= '9')) return NULL;
            while (*p >= '0' && *p <= '9') p++;
        }
        v->num = strtod(s, NULL);
        return p;
    }
    if (strncmp(p, "null", 4) == 0) return v->type = 'n', p + 4;
    if (strncmp(p, "true", 4) == 0) return v->type = 'b', v->boolean = 1, p + 4;
    if (strncmp(p, "false", 5) == 0) return v->type = 'b', p + 5;
    return NULL;
}

static const tg_json *tg_member(const tg_json *o, const char *key) {
    int i;
    if (!o || o->type != 'o') return NULL;
    for (i = 0; i < o->n_kids; i++)
        if (o->kids[i].key && strcmp(o->kids[i].key, key) == 0) return &o->kids[i];
    return NULL;
}

static int tg_equal(const tg_json *a, const tg_json *b) {
    int i;
    if (a->type != b->type) return 0;
    switch (a->type) {
    case 'b': return a->boolean == b->boolean;
    case 'd': return a->num == b->num;
    case 's': return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
    case 'a':
    case 'o':
        if (a->n_kids != b->n_kids) return 0;
        for (i = 0; i < a->n_kids; i++) {
            const tg_json *bk = a->type == 'a' ? &b->kids[i] : tg_member(b, a->kids[i].key);
            if (!bk || !tg_equal(&a->kids[i], bk)) return 0;
        }
        return 1;
    default: return 1;
    }
}

static int tg_type_is(const tg_json *v, const char *t) {
    if (!strcmp(t, "string")) return v->type == 's';
    if (!strcmp(t, "number")) return v->type == 'd';
    if (!strcmp(t, "integer")) return v->type == 'd' && v->is_int;
    if (!strcmp(t, "boolean")) return v->type == 'b';
    if (!strcmp(t, "null")) return v->type == 'n';
    if (!strcmp(t, "object")) return v->type == 'o';
    if (!strcmp(t, "array")) return v->type == 'a';
    return 0;
}

/* 1 if v validates against schema s (the keywords llm_grammar_from_json_schema knows). */
static int tg_valid(const tg_json *v, const tg_json *s) {
    const tg_json *k;
    int i, j;
    if (s->type == 'b') return s->boolean;
    if ((k = tg_member(s, "const")) && !tg_equal(v, k)) return 0;
    if ((k = tg_member(s, "enum"))) {
        for (i = 0; i < k->n_kids && !tg_equal(v, &k->kids[i]); i++) {
        }
        if (i == k->n_kids) return 0;
    }
    if ((k = tg_member(s, "anyOf")) || (k = tg_member(s, "oneOf"))) {
        for (i = 0; i < k->n_kids && !tg_valid(v, &k->kids[i]); i++) {
        }
        if (i == k->n_kids) return 0;
    }
    if ((k = tg_member(s, "type"))) {
        if (k->type == 's' && !tg_type_is(v, k->str)) return 0;
        if (k->type == 'a') {
            for (i = 0; i < k->n_kids && !tg_type_is(v, k->kids[i].str); i++) {
            }
            if (i == k->n_kids) return 0;
        }
    }
    if (v->type == 's') {
        if ((k = tg_member(s, "minLength")) && v->str_chars < (size_t)k->num) return 0;
        if ((k = tg_member(s, "maxLength")) && v->str_chars > (size_t)k->num) return 0;
    }
    if (v->type == 'd') {
        if ((k = tg_member(s, "minimum")) && v->num < k->num) return 0;
        if ((k = tg_member(s, "maximum")) && v->num > k->num) return 0;
    }
    if (v->type == 'a') {
        if ((k = tg_member(s, "minItems")) && v->n_kids < (int)k->num) return 0;
        if ((k = tg_member(s, "maxItems")) && v->n_kids > (int)k->num) return 0;
        if ((k = tg_member(s, "items")))
            for (i = 0; i < v->n_kids; i++)
                if (!tg_valid(&v->kids[i], k)) return 0;
    }
    if (v->type == 'o') {
        const tg_json *props = tg_member(s, "properties"), *ap = tg_member(s, "additionalProperties");
        if ((k = tg_member(s, "required")))
            for (i = 0; i < k->n_kids; i++)
                if (!tg_member(v, k->kids[i].str)) return 0;
        for (i = 0; i < v->n_kids; i++) {
            const tg_json *ps = tg_member(props, v->kids[i].key);
            for (j = 0; j < i; j++)
                if (!strcmp(v->kids[j].key, v->kids[i].key)) return 0; /* duplicate key */
            if (ps && !tg_valid(&v->kids[i], ps)) return 0;
            if (!ps && ap && ap->type == 'b' && !ap->boolean) return 0;
            if (!ps && ap && ap->type == 'o' && !tg_valid(&v->kids[i], ap)) return 0;
        }
    }
    return 1;
}

/* ---- compiling ---- */

static void test_grammar_errors(void) {
    static const struct {
        const char *text, *want; /* want: the start of the message */
    } cases[] = {
        {"root ::= \"a\" foo\n", "line 1, column 14: undefined rule 'foo'"},
        {"root ::= \"a\"\n\nroot ::= \"b\"\n", "line 3, column 1: rule 'root' is defined twice"},
        {"root ::= [ab", "line 1, column 10: unterminated character class"},
        {"# comment\nroot ::= \"abc\n", "line 2, column 10: unterminated string literal"},
        {"root ::= ( \"a\" | \"b\"\n", "line 1, column 10: unclosed '('"},
        {"root ::= \"a\"\nx := \"b\"\n", "line 2, column 3: unexpected ':'"},
        {"root ::= \"\\q\"\n", "line 1, column 11: unknown escape"},
        {"root ::= \"a\"{3,1}\n", "line 1, column 13: repetition {3,1}"},
        {"root ::= x\nx ::= x \"a\" | \"b\"\n", "line 2, column 1: left recursion: rule 'x'"},
        {"root ::= (\"a\"?)*\n", "line 1, column 10: left recursion"},
        {"item ::= \"a\"\n", "line 2, column 1: no rule named 'root'"},
        {"root ::= [z-a]\n", "line 1, column 13: range end below"},
        {"root ::= \"a\" ) \n", "line 1, column 14: unmatched ')'"},
    };
    char err[256];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_grammar *g = llm_grammar_new(cases[i].text, "root", err, sizeof err);
        T_CHECK(g == NULL, "case %zu compiled", i);
        T_CHECK(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0, "case %zu: '%s', want '%s...'", i, err, cases[i].want);
        llm_grammar_free(g);
    }
    /* schemas: JSON errors and bad keywords point into the schema */
    {
        static const struct {
            const char *text, *want;
        } sc[] = {
            {"{\"type\": \"object\",\n \"properties\": {\"a\": {\"type\": \"strin\"}}}", "line 2, column 32: unknown type 'strin'"},
            {"{\"type\": \"array\",\n  \"items\": [1,]}", "line 2, column 15: unexpected ']'"},
            {"{\"type\": \"string\", \"pattern\": \"^a\"}", "line 1, column 20: unsupported schema keyword 'pattern'"},
            {"{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}", "line 1, column 46: maxItems must be"},
            {"{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 4}", "line 1, column 46: no integer lies"},
        };
        for (i = 0; i < sizeof sc / sizeof sc[0]; i++) {
            llm_grammar *g = llm_grammar_from_json_schema(sc[i].text, err, sizeof err);
            T_CHECK(g == NULL, "schema %zu compiled", i);
            T_CHECK(strncmp(err, sc[i].want, strlen(sc[i].want)) == 0, "schema %zu: '%s', want '%s...'", i, err, sc[i].want);
            llm_grammar_free(g);
        }
    }
    /* what compiles */
    {
        static const char *ok[] = {
            "root ::= \"a\"",
            "root ::= ( [a-z] | [^\\x00-\\x7F] | \"\\u00e9\" )+ # comment\n  | \"x\"{2} \"y\"{1,} \"z\"{0,3}",
            "root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= [0-9]+ | \"(\" expr \")\"",
            "root ::=\n  \"a\"\n  | \"b\"\n",
            "root ::= \"\"",
        };
        for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
            llm_grammar *g = llm_grammar_new(ok[i], NULL, err, sizeof err);
            T_CHECK(g != NULL, "grammar %zu: %s", i, err);
            llm_grammar_free(g);
        }
    }
}

/* ---- masks on a vocabulary, with logits of our choosing ---- */

/* The text a sampler with grammar g makes from uniform logits (seeded), at most max tokens;
   *eog set when it ended with end-of-generation. */
static int tg_sample_text(llm_model *m, const llm_grammar *g, uint64_t seed, int max, char *out, size_t size, int *eog) {
    llm_sampler_params sp;
    llm_sampler *s;
    int nv = llm_model_n_vocab(m), i, n = 0;
    float *l = (float *)malloc((size_t)nv * sizeof(float));
    llm__rng r;
    memset(&sp, 0, sizeof sp);
    sp.temperature = 1.0f;
    sp.seed = seed;
    sp.grammar = g;
    s = llm_sampler_new(m, &sp);
    llm__rng_seed(&r, seed);
    *eog = 0;
    out[0] = 0;
    for (i = 0; i < max; i++) {
        int k, len;
        llm_token t;
        for (k = 0; k < nv; k++) l[k] = llm__rng_float(&r) * 4.0f;
        t = llm_sampler_sample(s, l);
        llm_sampler_accept(s, t);
        if (llm_token_is_eog(m, t)) {
            *eog = 1;
            break;
        }
        len = llm_token_to_piece(m, t, out + n, (int)(size - (size_t)n - 1), 0);
        if (len < 0 || (size_t)(n + len) >= size - 1) break;
        n += len;
        out[n] = 0;
    }
    llm_sampler_free(s);
    free(l);
    return n;
}

static void test_grammar_masks(void) {
    llm_model *m = t_vocab_model();
    char err[256], text[4096];
    llm_grammar *g;
    int i, eog, depth, maxd, bad;
    if (!m) return;
    /* recursion: balanced brackets around digits */
    g = llm_grammar_new("root ::= expr\nexpr ::= \"(\" expr (\"+\" expr)? \")\" | [0-9]\n", "root", err, sizeof err);
    T_REQUIRE(g != NULL, "%s", err);
    for (i = 0, maxd = 0; i < 50; i++) {
        const char *p;
        tg_sample_text(m, g, (uint64_t)i + 1, 300, text, sizeof text, &eog);
        for (p = text, depth = 0, bad = 0; *p; p++) {
            if (*p == '(') depth++;
            else if (*p == ')') depth--;
            else if (!strchr("0123456789+", *p)) bad = 1;
            if (depth < 0) bad = 1;
            if (depth > maxd) maxd = depth;
        }
        if (eog) T_CHECK(!bad && depth == 0 && text[0], "seed %d: '%s'", i, text);
        else T_CHECK(!bad, "seed %d: '%s'", i, text);
    }
    T_CHECK(maxd >= 1, "no nesting seen (depth %d)", maxd);
    { /* accepting a nested text token by token: complete only at the end */
        llm_sampler *s = llm_sampler_new(m, NULL);
        llm_token ids[64];
        const char *full = "((1+(2+3))+4)";
        int n, k;
        T_REQUIRE(llm_sampler_set_grammar(s, g) == LLM_OK, "set");
        for (n = 0; full[n]; n++) { /* a token for each character (byte tokens at worst) */
            char pc[8];
            ids[n] = -1;
            for (i = 0; i < llm_model_n_vocab(m) && ids[n] < 0; i++)
                if (llm_token_to_piece(m, i, pc, 8, 0) == 1 && pc[0] == full[n]) ids[n] = i;
            T_REQUIRE(ids[n] >= 0, "no token for '%c'", full[n]);
        }
        for (k = 1; k <= (int)strlen(full); k++) {
            llm_sampler_reset(s);
            for (i = 0; i < k; i++) llm_sampler_accept(s, ids[i]);
            T_CHECK(llm_sampler_grammar_complete(s) == (k == (int)strlen(full)), "prefix %d of %s", k, full);
        }
        llm_sampler_free(s);
    }
    llm_grammar_free(g);
    /* complete and nothing can follow: only end-of-generation remains */
    g = llm_grammar_new("root ::= \"Hi!\" | \"Bye\"", NULL, err, sizeof err);
    T_REQUIRE(g != NULL, "%s", err);
    for (i = 0; i < 20; i++) {
        tg_sample_text(m, g, (uint64_t)i + 7, 50, text, sizeof text, &eog);
        T_CHECK(eog && (!strcmp(text, "Hi!") || !strcmp(text, "Bye")), "seed %d: '%s' eog %d", i, text, eog);
    }
    llm_grammar_free(g);
    /* UTF-8 in classes and literals (byte tokens assemble characters) */
    g = llm_grammar_new("root ::= \"\xC3\xA9\" [\xCE\xB1-\xCF\x89]{2} [^a-z\\x00-\\x7F]", NULL, err, sizeof err);
    T_REQUIRE(g != NULL, "%s", err);
    for (i = 0; i < 10; i++) {
        const unsigned char *u = (const unsigned char *)text;
        tg_sample_text(m, g, (uint64_t)i + 3, 50, text, sizeof text, &eog);
        T_CHECK(eog && strncmp(text, "\xC3\xA9", 2) == 0 && (u[2] == 0xCE || (u[2] == 0xCF && u[3] <= 0x89)), "seed %d: '%s'", i, text);
    }
    llm_grammar_free(g);
    /* an exponentially ambiguous grammar stays bounded (stacks, expansions per byte) */
    g = llm_grammar_new("root ::= x{0,30} \"z\"\nx ::= \"a\"? \"a\"? | \"b\"?\n", NULL, err, sizeof err);
    T_REQUIRE(g != NULL, "%s", err);
    for (i = 0; i < 3; i++) {
        double t0 = llm__now_ms();
        const char *q;
        tg_sample_text(m, g, (uint64_t)i + 11, 40, text, sizeof text, &eog);
        for (q = text; *q == 'a' || *q == 'b'; q++) {
        }
        T_CHECK(*q == 0 || (!strcmp(q, "z") && eog), "seed %d: '%s'", i, text);
        T_CHECK(llm__now_ms() - t0 < 60000.0, "seed %d took %.0f ms", i, llm__now_ms() - t0);
    }
    llm_grammar_free(g);
    /* the sampler without a grammar again, and set_grammar(NULL) */
    {
        llm_sampler *s = llm_sampler_new(m, NULL);
        g = llm_grammar_json();
        T_CHECK(g && llm_sampler_set_grammar(s, g) == LLM_OK && !llm_sampler_grammar_complete(s), "json grammar");
        T_CHECK(llm_sampler_set_grammar(s, NULL) == LLM_OK && llm_sampler_grammar_complete(s), "no grammar");
        llm_sampler_free(s);
        llm_grammar_free(g);
    }
    llm_model_free(m);
}

/* ---- JSON schemas on models ---- */

static const char *const tg_schemas[10] = {
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120}},\"required\":[\"name\",\"age\"],"
    "\"additionalProperties\":false}",
    "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":-50,\"maximum\":50},\"minItems\":1,\"maxItems\":5}",
    "{\"enum\":[\"red\",\"green\",\"blue\",42,null,true,{\"a\":[1,2]}]}",
    "{\"type\":\"object\",\"properties\":{\"action\":{\"const\":\"move\"},\"x\":{\"type\":\"number\"},"
    "\"y\":{\"type\":\"number\"}},\"required\":[\"action\",\"x\",\"y\"]}",
    "{\"type\":\"boolean\"}",
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\","
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":8},\"maxItems\":3},\"meta\":{\"type\":\"object\","
    "\"properties\":{\"ok\":{\"type\":\"boolean\"},\"note\":{\"type\":[\"string\",\"null\"],\"maxLength\":10}},"
    "\"required\":[\"ok\"],\"additionalProperties\":false}},\"required\":[\"id\",\"meta\"],\"additionalProperties\":false}",
    "{\"type\":\"string\",\"minLength\":2,\"maxLength\":6}",
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"null\"},\"b\":{\"type\":\"integer\",\"minimum\":100,"
    "\"maximum\":999},\"c\":{\"type\":\"string\",\"maxLength\":5}},\"additionalProperties\":false}",
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"k\":{\"enum\":[\"x\",\"y\"]},"
    "\"v\":{\"type\":\"integer\",\"minimum\":-1000,\"maximum\":-10}},\"required\":[\"k\",\"v\"]},\"minItems\":2,\"maxItems\":3}",
    "{\"anyOf\":[{\"type\":\"integer\",\"minimum\":7,\"maximum\":7},{\"type\":\"string\",\"maxLength\":3},"
    "{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"maxItems\":2}]}",
};

typedef struct tg_out {
    char buf[8192];
    size_t n;
} tg_out;

static int tg_on_token(llm_token t, const char *piece, int len, void *user) {
    tg_out *o = (tg_out *)user;
    (void)t;
    if (o->n + (size_t)len < sizeof o->buf) {
        memcpy(o->buf + o->n, piece, (size_t)len);
        o->n += (size_t)len;
    }
    return 0;
}

/* Samples per schema: 200, or GRAMMAR_SAMPLES from the environment. */
static int tg_samples(void) {
    const char *e = getenv("GRAMMAR_SAMPLES");
    int n = e ? atoi(e) : 200;
    return n > 0 ? n : 200;
}

static void tg_schema_run(const char *rel, int n_samples) {
    llm_model *m = strncmp(rel, "build/", 6) == 0 ? llm_model_load(rel, NULL, NULL, 0) : t_load_model(rel);
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    char err[256];
    int si, i, total = 0, valid = 0, truncated = 0, tokens = 0;
    double t0;
    if (!m) return;
    cp.n_ctx = 1024;
    cp.n_threads = 1;
    cp.kv_type = LLM_KV_F32;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_REQUIRE(c != NULL, "%s", err);
    t0 = llm__now_ms();
    for (si = 0; si < 10; si++) {
        llm_grammar *g = llm_grammar_from_json_schema(tg_schemas[si], err, sizeof err);
        tg_json schema;
        int s_valid = 0, s_trunc = 0;
        T_CHECK(g != NULL, "schema %d: %s", si, err);
        if (!g) continue;
        T_REQUIRE(tg_parse(tg_schemas[si], &schema, 0) != NULL, "schema %d does not parse", si);
        for (i = 0; i < n_samples; i++) {
            llm_generate_params gp = llm_generate_default_params();
            llm_generate_stats st;
            tg_out out;
            tg_json v;
            const char *end;
            int r;
            gp.n_predict = 512;
            gp.sampler.seed = (uint64_t)(si * 1000 + i + 1);
            gp.sampler.temperature = 1.0f;
            gp.sampler.grammar = g;
            gp.stats = &st;
            out.n = 0;
            llm_context_truncate(c, 0);
            r = llm_generate(c, "", &gp, tg_on_token, &out);
            out.buf[out.n] = 0;
            total++;
            tokens += st.n_generated;
            T_CHECK(r == LLM_OK, "schema %d seed %d: %s", si, i, llm_context_error(c));
            if (st.grammar_incomplete) {
                s_trunc++;
                continue;
            }
            end = tg_parse(out.buf, &v, 0);
            if (end && *tg_ws(end) == 0 && tg_valid(&v, &schema)) s_valid++;
            else T_CHECK(0, "schema %d seed %d: invalid output '%s'", si, i, out.buf);
            tg_json_free(&v);
        }
        valid += s_valid;
        truncated += s_trunc;
        tg_json_free(&schema);
        llm_grammar_free(g);
    }
    printf("  %s: %d samples (%d per schema, 10 schemas), %d valid, %d truncated (%.2f %%), %d tokens, %.1f s\n", rel,
           total, n_samples, valid, truncated, total ? 100.0 * truncated / total : 0.0, tokens,
           (llm__now_ms() - t0) / 1000.0);
    T_CHECK(valid + truncated == total, "%d of %d invalid", total - valid - truncated, total);
    T_CHECK(truncated * 100 < total, "truncated %d of %d (>= 1 %%)", truncated, total);
    llm_context_free(c);
    llm_model_free(m);
}

static void test_grammar_schemas_stories(void) { tg_schema_run("models/stories260K.gguf", tg_samples()); }
static void test_grammar_schemas_synth(void) { tg_schema_run("models/synth/llama-F32.gguf", tg_samples()); }
/* A synth model with a 4096-token vocabulary (longer pieces), made when missing. */
static void test_grammar_schemas_synth4096(void) {
    FILE *f = fopen("build/synth-vocab4096.gguf", "rb");
    if (f) fclose(f);
    else if (system("./build/llm synth --arch llama --shape vocab_size=4096 -o build/synth-vocab4096.gguf >/dev/null 2>&1") != 0)
        T_SKIP("cannot make build/synth-vocab4096.gguf with build/llm synth");
    /* 50 per schema by default to keep the suite short (200 x 10 passed when this was
       written: 2000 valid, 0 truncated); GRAMMAR_SAMPLES=200 runs them all */
    tg_schema_run("build/synth-vocab4096.gguf", getenv("GRAMMAR_SAMPLES") ? tg_samples() : 50);
}

/* Samples with schema on m from uniform random logits and prints the cost per token: the
   mask alone, the whole sampler with the grammar, and the sampler without it. */
static void tg_cost(llm_model *m, const char *what, const char *schema) {
    int nv = llm_model_n_vocab(m), i, n_tok = 0;
    char err[256];
    double t0, t_plain, t_gram = 0.0, t_mask = 0.0;
    llm_grammar *g = llm_grammar_from_json_schema(schema, err, sizeof err);
    llm_sampler_params sp;
    llm_sampler *s;
    float *l = (float *)malloc((size_t)nv * sizeof(float));
    llm__rng r;
    T_REQUIRE(g != NULL, "%s", err);
    for (i = 0; i < 5; i++) {
        llm_sampler *gs;
        int k, j;
        memset(&sp, 0, sizeof sp);
        sp.temperature = 1.0f;
        sp.seed = (uint64_t)i + 1;
        sp.grammar = g;
        gs = llm_sampler_new(m, &sp);
        llm__rng_seed(&r, (uint64_t)i + 1);
        for (j = 0; j < 400; j++) {
            llm_token t;
            int first;
            double tm = llm__now_ms();
            llm__gsampler_mask(gs->gs, gs->cand, &first);
            t_mask += llm__now_ms() - tm;
            for (k = 0; k < nv; k++) l[k] = llm__rng_float(&r) * 4.0f;
            tm = llm__now_ms();
            t = llm_sampler_sample(gs, l);
            llm_sampler_accept(gs, t);
            t_gram += llm__now_ms() - tm;
            n_tok++;
            if (llm_token_is_eog(m, t)) break;
        }
        llm_sampler_free(gs);
    }
    memset(&sp, 0, sizeof sp);
    sp.temperature = 1.0f;
    s = llm_sampler_new(m, &sp);
    llm__rng_seed(&r, 1);
    t_plain = 0.0;
    for (i = 0; i < n_tok; i++) {
        int k;
        for (k = 0; k < nv; k++) l[k] = llm__rng_float(&r) * 4.0f;
        t0 = llm__now_ms();
        llm_sampler_accept(s, llm_sampler_sample(s, l));
        t_plain += llm__now_ms() - t0;
    }
    llm_sampler_free(s);
    free(l);
    printf("  grammar cost, %d-token vocabulary, %s: %d tokens; mask %.3f ms/token; sampler with the grammar %.3f "
           "ms/token (mask included), without %.3f ms/token\n",
           nv, what, n_tok, t_mask / n_tok, t_gram / n_tok, t_plain / n_tok);
    llm_grammar_free(g);
}

/* The sampler's cost per token with grammars on a 32000-token synth vocabulary
   (build/synth-vocab32000.gguf, made with build/llm synth when missing). Prints the
   figures; asserts none (speed belongs to llm bench). */
static void test_grammar_cost(void) {
    const char *path = "build/synth-vocab32000.gguf";
    llm_model_params mp = llm_model_default_params();
    llm_model *m;
    char err[256];
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (system("./build/llm synth --arch llama --shape vocab_size=32000 -o build/synth-vocab32000.gguf >/dev/null 2>&1") != 0)
            T_SKIP("cannot make %s with build/llm synth", path);
    } else
        fclose(f);
    mp.vocab_only = 1;
    m = llm_model_load(path, &mp, err, sizeof err);
    T_REQUIRE(m != NULL, "%s", err);
    T_REQUIRE(llm_model_n_vocab(m) == 32000, "vocab %d", llm_model_n_vocab(m));
    tg_cost(m, "schema 5 (nested object)", tg_schemas[5]);
    tg_cost(m, "a string of up to 400 characters", "{\"type\":\"string\",\"maxLength\":400}");
    tg_cost(m, "any JSON", "{}");
    llm_model_free(m);
}

/* llm run --grammar, --json-schema, --json: output that parses; bad files point at the
   line and column, with exit status 1. */
static void test_grammar_cli(void) {
    char out[8192];
    size_t n;
    FILE *p, *f;
    tg_json v, schema;
    const char *end;
    if (!t_shared("models/stories260K.gguf")) return;
    if (!(f = fopen("build/llm", "rb"))) T_SKIP("build/llm not built");
    fclose(f);
    f = fopen("build/test-grammar.gbnf", "wb");
    T_REQUIRE(f, "write build/test-grammar.gbnf");
    fputs("# two to four words\nroot ::= word (\" \" word){1,3}\nword ::= [a-z]{1,8}\n", f);
    fclose(f);
    p = popen("build/llm run -m ../shared/models/stories260K.gguf -p Once -n 64 --seed 3 --grammar build/test-grammar.gbnf 2>/dev/null", "r");
    T_REQUIRE(p, "popen");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    T_CHECK(pclose(p) == 0, "exit status");
    {
        const char *q = out;
        int words = 0, ok = 1;
        while (*q && *q != '\n') {
            int k = 0;
            while (*q >= 'a' && *q <= 'z') q++, k++;
            ok &= k >= 1 && k <= 8;
            words++;
            if (*q == ' ') q++;
            else break;
        }
        T_CHECK(ok && words >= 2 && words <= 4 && !strcmp(q, "\n"), "grammar output '%s'", out);
    }
    f = fopen("build/test-grammar.json", "wb");
    T_REQUIRE(f, "write build/test-grammar.json");
    fputs(tg_schemas[0], f);
    fclose(f);
    p = popen("build/llm run -m ../shared/models/stories260K.gguf -p Once -n 256 --seed 5 --json-schema build/test-grammar.json 2>/dev/null", "r");
    T_REQUIRE(p, "popen");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    T_CHECK(pclose(p) == 0, "exit status");
    T_REQUIRE(tg_parse(tg_schemas[0], &schema, 0) != NULL, "schema");
    end = tg_parse(out, &v, 0);
    T_CHECK(end && !strcmp(tg_ws(end), "") && tg_valid(&v, &schema), "schema output '%s'", out);
    tg_json_free(&v);
    tg_json_free(&schema);
    p = popen("build/llm run -m ../shared/models/stories260K.gguf -p Once -n 256 --seed 5 --json 2>/dev/null", "r");
    T_REQUIRE(p, "popen");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    T_CHECK(pclose(p) == 0, "exit status");
    end = tg_parse(out, &v, 0);
    T_CHECK(end && !strcmp(tg_ws(end), ""), "--json output '%s'", out);
    tg_json_free(&v);
    f = fopen("build/test-grammar.gbnf", "wb");
    T_REQUIRE(f, "write build/test-grammar.gbnf");
    fputs("root ::= word\nword ::= [a-z\n", f);
    fclose(f);
    p = popen("build/llm run -m ../shared/models/stories260K.gguf -n 8 --grammar build/test-grammar.gbnf 2>&1 >/dev/null", "r");
    T_REQUIRE(p, "popen");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    T_CHECK(pclose(p) != 0, "exit status 0 for a bad grammar");
    T_CHECK(strstr(out, "llm: error: build/test-grammar.gbnf: line 2, column 10: unterminated character class") != NULL,
            "stderr '%s'", out);
}

/* Mutated grammars and schemas: an error or a grammar, never a crash (run under ASan in
   build/test-asan); what compiles samples a few tokens. */
static void test_grammar_garbage(void) {
    static const char *seeds[] = {
        "root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= [0-9]{1,3} | \"(\" expr \")\" | [^\\x00-\\x1F]?\n",
        "root ::= (\"a\" | [b-d]+ | \"\\u00e9\")* # c\n",
    };
    llm_model *m = t_vocab_model();
    llm__rng r;
    char text[512], err[256], out[1024];
    int i, n_ok = 0, eog;
    if (!m) return;
    llm__rng_seed(&r, 99);
    for (i = 0; i < 3000; i++) {
        int which = i % 3, k, n;
        const char *src = which == 2 ? tg_schemas[(i / 3) % 10] : seeds[which];
        llm_grammar *g;
        n = (int)strlen(src);
        if (n >= (int)sizeof text) n = (int)sizeof text - 1;
        memcpy(text, src, (size_t)n);
        text[n] = 0;
        for (k = 0; k < 1 + (int)(llm__rng_next(&r) % 3); k++) {
            int at = (int)(llm__rng_next(&r) % (uint64_t)n), op = (int)(llm__rng_next(&r) % 3);
            static const char pool[] = "()[]{}|*+?\"\\:=-^,0123456789azAZ \n\x80\xC3";
            if (op == 0) text[at] = pool[llm__rng_next(&r) % (sizeof pool - 1)];
            else if (op == 1) memmove(text + at, text + at + 1, (size_t)(n - at)), n--; /* delete */
            else text[at] = (char)(llm__rng_next(&r) & 0xFF ? llm__rng_next(&r) & 0xFF : 1);
            if (n <= 1) break;
        }
        g = which == 2 ? llm_grammar_from_json_schema(text, err, sizeof err) : llm_grammar_new(text, NULL, err, sizeof err);
        if (g) {
            n_ok++;
            if (i % 10 == 0) tg_sample_text(m, g, (uint64_t)i, 20, out, sizeof out, &eog);
            llm_grammar_free(g);
        } else
            T_CHECK(strncmp(err, "line ", 5) == 0, "case %d: '%s'", i, err);
    }
    T_CHECK(n_ok > 0 && n_ok < 3000, "%d of 3000 compiled", n_ok);
    llm_model_free(m);
}

/* Integer minimum/maximum: exactly the integers in range complete the grammar. */
static void test_grammar_int_range(void) {
    static const long long ranges[][2] = {{0, 120}, {-37, 1234}, {5, 5}, {17, 3450}, {-1000, -10}, {99, 101},
                                          {0, 0}, {123, 987}, {-5, 0}, {1000, 20000}, {-20000, -1000}};
    llm_model *m = t_vocab_model();
    llm_token ch[128];
    char err[256], schema[128], num[32];
    size_t ri;
    int i;
    if (!m) return;
    for (i = 0; i < 128; i++) {
        char pc[8];
        int t;
        ch[i] = -1;
        for (t = 0; t < llm_model_n_vocab(m) && ch[i] < 0; t++)
            if (llm_token_to_piece(m, t, pc, 8, 0) == 1 && pc[0] == (char)i) ch[i] = t;
    }
    for (ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
        long long lo = ranges[ri][0], hi = ranges[ri][1], x, step = (hi - lo) / 2000 + 1;
        llm_grammar *g;
        llm_sampler *s = llm_sampler_new(m, NULL);
        snprintf(schema, sizeof schema, "{\"type\": \"integer\", \"minimum\": %lld, \"maximum\": %lld}", lo, hi);
        g = llm_grammar_from_json_schema(schema, err, sizeof err);
        T_REQUIRE(g != NULL, "%s: %s", schema, err);
        T_REQUIRE(llm_sampler_set_grammar(s, g) == LLM_OK, "set");
        for (x = lo - 150; x <= hi + 150; x += (x < lo + 50 || x > hi - 50) ? 1 : step) {
            const char *q;
            int want = x >= lo && x <= hi, got;
            snprintf(num, sizeof num, "%lld", x);
            llm_sampler_reset(s);
            for (q = num; *q; q++) llm_sampler_accept(s, ch[(int)*q]);
            got = llm_sampler_grammar_complete(s);
            T_CHECK(got == want, "%s: %s %s", schema, num, got ? "accepted" : "refused");
        }
        for (i = 0; i < 4; i++) { /* not JSON integers, whatever their value */
            static const char *bad[] = {"-0", "007", "01", "+5"};
            const char *q;
            llm_sampler_reset(s);
            for (q = bad[i]; *q; q++) llm_sampler_accept(s, ch[(int)*q]);
            T_CHECK(!llm_sampler_grammar_complete(s), "%s: %s accepted", schema, bad[i]);
        }
        llm_sampler_free(s);
        llm_grammar_free(g);
    }
    llm_model_free(m);
}

static void tests_grammar(void) {
    T_RUN(test_grammar_errors);
    T_RUN(test_grammar_masks);
    T_RUN(test_grammar_garbage);
    T_RUN(test_grammar_int_range);
    T_RUN(test_grammar_schemas_stories);
    T_RUN(test_grammar_schemas_synth);
    T_RUN(test_grammar_schemas_synth4096);
    T_RUN(test_grammar_cli);
    T_RUN(test_grammar_cost);
}
