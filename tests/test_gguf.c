/* GGUF reader tests: a small in-memory GGUF writer that builds a valid tiny llama with
   metadata of every value type; the shared real files; a set of malformed files that must
   be refused with a message (never a crash, an abort or a read out of bounds); a seeded
   random-mutation loop; out-of-memory injection; and the same tests again under ASan/UBSan.

   Every load goes through tg_open(): the bytes are copied into a buffer of exactly their
   size (so ASan sees any read past the end) and loaded with a counting allocator that
   checks nothing leaks and no single allocation is out of proportion with the file.

   Every case names itself in its failure message. Debugging: LLM_TEST_GGUF_VERBOSE=1 prints
   each case before it runs (the last line before a crash names the culprit), the loader's
   message for each refusal, and the bytes each random mutation changed. */

#include <ctype.h>
#include <time.h>

/* ---- byte buffer and little-endian writers --------------------------------------------- */

enum { TG_U8, TG_I8, TG_U16, TG_I16, TG_U32, TG_I32, TG_F32, TG_BOOL, TG_STR, TG_ARR, TG_U64, TG_I64, TG_F64 };

typedef struct tg_buf {
    unsigned char *p;
    size_t n, cap;
} tg_buf;

static void tg_put(tg_buf *b, const void *src, size_t n) {
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) cap *= 2;
        b->p = (unsigned char *)realloc(b->p, cap);
        if (!b->p) {
            printf("test_gguf: out of memory in the test writer\n");
            exit(2);
        }
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void tg_wle(tg_buf *b, uint64_t v, int bytes) {
    unsigned char c[8];
    int i;
    for (i = 0; i < bytes; i++) c[i] = (unsigned char)(v >> (8 * i));
    tg_put(b, c, (size_t)bytes);
}
static void tg_wbe(tg_buf *b, uint64_t v, int bytes) {
    unsigned char c[8];
    int i;
    for (i = 0; i < bytes; i++) c[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    tg_put(b, c, (size_t)bytes);
}
static void tg_w8(tg_buf *b, uint64_t v) { tg_wle(b, v, 1); }
static void tg_w16(tg_buf *b, uint64_t v) { tg_wle(b, v, 2); }
static void tg_w32(tg_buf *b, uint64_t v) { tg_wle(b, v, 4); }
static void tg_w64(tg_buf *b, uint64_t v) { tg_wle(b, v, 8); }
static void tg_wf32(tg_buf *b, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    tg_w32(b, u);
}
static void tg_wf64(tg_buf *b, double f) {
    uint64_t u;
    memcpy(&u, &f, 8);
    tg_w64(b, u);
}
static void tg_wstrn(tg_buf *b, const char *s, size_t n) {
    tg_w64(b, n);
    tg_put(b, s, n);
}
static void tg_wstr(tg_buf *b, const char *s) { tg_wstrn(b, s, strlen(s)); }
static void tg_zeros(tg_buf *b, size_t n) {
    static const unsigned char z[64] = {0};
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        tg_put(b, z, k);
        n -= k;
    }
}

static void tg_patch(unsigned char *p, size_t off, uint64_t v, int bytes) {
    int i;
    for (i = 0; i < bytes; i++) p[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}
static uint64_t tg_get(const unsigned char *p, size_t off, int bytes) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < bytes; i++) v |= (uint64_t)p[off + (size_t)i] << (8 * i);
    return v;
}

/* splitmix64: a seeded, portable stream */
static uint64_t tg_rand(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Case-insensitive: does s contain one of the '|'-separated words of any? */
static int tg_mentions(const char *s, const char *any) {
    while (*any) {
        size_t wl = strcspn(any, "|"), i, j;
        for (i = 0; s[i]; i++) {
            for (j = 0; j < wl && s[i + j]; j++)
                if (tolower((unsigned char)s[i + j]) != tolower((unsigned char)any[j])) break;
            if (j == wl) return 1;
        }
        any += wl;
        if (*any == '|') any++;
    }
    return 0;
}

/* ---- a GGUF file as editable parts ------------------------------------------------------ */

#define TG_MAX_KV 80
#define TG_MAX_T 64

typedef struct tg_kv {
    char key[96];
    uint32_t type; /* value type as written */
    tg_buf val;    /* the value's bytes, as they follow the type field */
} tg_kv;

typedef struct tg_tensor {
    char name[96];
    uint32_t type;
    uint32_t n_dims; /* up to 8 are written, so that n_dims 5 is a well-formed bad file */
    uint64_t ne[8];
    size_t data_size; /* bytes of data written for it */
    int has_offset;   /* write `offset` in its info instead of where the data is */
    uint64_t offset;
} tg_tensor;

typedef struct tg_gguf {
    uint32_t magic, version;
    size_t align; /* layout of the data section; the general.alignment key is separate */
    int n_kv, n_t;
    tg_kv kv[TG_MAX_KV];
    tg_tensor t[TG_MAX_T];
} tg_gguf;

/* Where the fields landed in a serialized file, for patching. */
typedef struct tg_layout {
    size_t off_version, off_n_tensors, off_n_kv;
    size_t off_kv[TG_MAX_KV];      /* the key's length field */
    size_t off_kv_type[TG_MAX_KV]; /* the value type */
    size_t off_kv_val[TG_MAX_KV];  /* the value (a string's length; an array's element type) */
    size_t off_ti[TG_MAX_T];       /* the name's length field */
    size_t off_ti_ndims[TG_MAX_T], off_ti_ne[TG_MAX_T], off_ti_type[TG_MAX_T], off_ti_offset[TG_MAX_T];
    uint64_t data_offset[TG_MAX_T]; /* where each tensor's data is, from the data section */
    size_t header_end;              /* end of the tensor infos */
    size_t data_start;
} tg_layout;

static tg_gguf *tg_new(void) {
    tg_gguf *g = (tg_gguf *)calloc(1, sizeof *g);
    if (!g) exit(2);
    g->magic = 0x46554747u; /* "GGUF" */
    g->version = 3;
    g->align = 32;
    return g;
}

static void tg_delete(tg_gguf *g) {
    int i;
    if (!g) return;
    for (i = 0; i < g->n_kv; i++) free(g->kv[i].val.p);
    free(g);
}

static tg_gguf *tg_clone(const tg_gguf *g) {
    tg_gguf *c = tg_new();
    int i;
    *c = *g;
    for (i = 0; i < c->n_kv; i++) {
        memset(&c->kv[i].val, 0, sizeof c->kv[i].val);
        tg_put(&c->kv[i].val, g->kv[i].val.p, g->kv[i].val.n);
    }
    return c;
}

static int tg_kv_index(const tg_gguf *g, const char *key) {
    int i;
    for (i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return i;
    return -1;
}

/* Appends a key (even if it exists: duplicates are a test case); returns its value buffer. */
static tg_buf *tg_kv_append(tg_gguf *g, const char *key, uint32_t type) {
    tg_kv *kv;
    if (g->n_kv >= TG_MAX_KV) {
        printf("test_gguf: TG_MAX_KV too small\n");
        exit(2);
    }
    kv = &g->kv[g->n_kv++];
    snprintf(kv->key, sizeof kv->key, "%s", key);
    kv->type = type;
    memset(&kv->val, 0, sizeof kv->val);
    return &kv->val;
}

/* Replaces a key's type and value where it is, or appends it. */
static tg_buf *tg_kv_set(tg_gguf *g, const char *key, uint32_t type) {
    int i = tg_kv_index(g, key);
    if (i < 0) return tg_kv_append(g, key, type);
    g->kv[i].type = type;
    g->kv[i].val.n = 0;
    return &g->kv[i].val;
}

static void tg_kv_remove(tg_gguf *g, const char *key) {
    int i = tg_kv_index(g, key);
    if (i < 0) return;
    free(g->kv[i].val.p);
    memmove(&g->kv[i], &g->kv[i + 1], (size_t)(g->n_kv - i - 1) * sizeof g->kv[0]);
    g->n_kv--;
}

static void tg_set_u32(tg_gguf *g, const char *key, uint64_t v) { tg_w32(tg_kv_set(g, key, TG_U32), v); }
static void tg_set_f32(tg_gguf *g, const char *key, float v) { tg_wf32(tg_kv_set(g, key, TG_F32), v); }
static void tg_set_str(tg_gguf *g, const char *key, const char *s) { tg_wstr(tg_kv_set(g, key, TG_STR), s); }
static void tg_set_bool(tg_gguf *g, const char *key, int v) { tg_w8(tg_kv_set(g, key, TG_BOOL), v ? 1 : 0); }
/* An array header; the caller writes the n elements into the returned buffer. */
static tg_buf *tg_set_arr(tg_gguf *g, const char *key, uint32_t elem_type, uint64_t n) {
    tg_buf *b = tg_kv_set(g, key, TG_ARR);
    tg_w32(b, elem_type);
    tg_w64(b, n);
    return b;
}

/* Bytes of data for a tensor: F32, F16 and Q8_0 as ggml lays them out, other types one byte
   an element; a size that overflows or is absurd gets 64 bytes (such files are refused). */
static size_t tg_data_size(uint32_t type, const uint64_t *ne, uint32_t n_dims) {
    uint64_t n = 1;
    uint32_t d;
    for (d = 0; d < n_dims && d < 8; d++) {
        if (ne[d] != 0 && n > (UINT64_C(1) << 26) / ne[d]) return 64;
        n *= ne[d];
    }
    if (type == LLM_TYPE_F32) return (size_t)n * 4;
    if (type == LLM_TYPE_F16) return (size_t)n * 2;
    if (type == LLM_TYPE_Q8_0) return (size_t)((n + 31) / 32) * 34;
    return (size_t)n;
}

static tg_tensor *tg_tensor_add(tg_gguf *g, const char *name, uint32_t type, uint32_t n_dims, uint64_t ne0,
                                uint64_t ne1) {
    tg_tensor *t;
    if (g->n_t >= TG_MAX_T) {
        printf("test_gguf: TG_MAX_T too small\n");
        exit(2);
    }
    t = &g->t[g->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->data_size = tg_data_size(type, t->ne, n_dims);
    return t;
}

static void tg_tensor_resize(tg_tensor *t) { t->data_size = tg_data_size(t->type, t->ne, t->n_dims); }

static int tg_tensor_index(const tg_gguf *g, const char *name) {
    int i;
    for (i = 0; i < g->n_t; i++)
        if (strcmp(g->t[i].name, name) == 0) return i;
    return -1;
}

static void tg_tensor_remove(tg_gguf *g, int i) {
    memmove(&g->t[i], &g->t[i + 1], (size_t)(g->n_t - i - 1) * sizeof g->t[0]);
    g->n_t--;
}

static size_t tg_align_up(size_t x, size_t a) { return a > 1 ? (x + a - 1) / a * a : x; }

/* Seeded tensor data: F32 small floats, F16 small halves, Q8_0 blocks with a small scale. */
static void tg_write_data(tg_buf *b, const tg_tensor *t, uint64_t seed) {
    size_t i;
    if (t->type == LLM_TYPE_F32 && t->data_size % 4 == 0) {
        for (i = 0; i < t->data_size / 4; i++)
            tg_wf32(b, (float)((double)(tg_rand(&seed) >> 40) / 16777216.0 - 0.5) * 0.25f);
    } else if (t->type == LLM_TYPE_F16 && t->data_size % 2 == 0) {
        for (i = 0; i < t->data_size / 2; i++) {
            uint64_t r = tg_rand(&seed);
            tg_w16(b, ((r >> 20) & 0x8000u) | (uint64_t)((0x2800u + (r & 0x7FFu))));
        }
    } else if (t->type == LLM_TYPE_Q8_0 && t->data_size % 34 == 0) {
        for (i = 0; i < t->data_size / 34; i++) {
            int j;
            tg_w16(b, 0x2000u + (tg_rand(&seed) & 0x3FFu));
            for (j = 0; j < 32; j++) tg_w8(b, tg_rand(&seed));
        }
    } else {
        for (i = 0; i < t->data_size; i++) tg_w8(b, tg_rand(&seed));
    }
}

/* Writes the file; out is reset first. The last tensor's data ends the file (no padding
   after it), so that any truncation cuts a tensor. */
static void tg_serialize(const tg_gguf *g, tg_buf *out, tg_layout *lay) {
    uint64_t off = 0;
    int i;
    uint32_t d;
    out->n = 0;
    memset(lay, 0, sizeof *lay);
    for (i = 0; i < g->n_t; i++) {
        off = tg_align_up((size_t)off, g->align);
        lay->data_offset[i] = off;
        off += g->t[i].data_size;
    }
    tg_w32(out, g->magic);
    lay->off_version = out->n;
    tg_w32(out, g->version);
    lay->off_n_tensors = out->n;
    tg_w64(out, (uint64_t)g->n_t);
    lay->off_n_kv = out->n;
    tg_w64(out, (uint64_t)g->n_kv);
    for (i = 0; i < g->n_kv; i++) {
        lay->off_kv[i] = out->n;
        tg_wstr(out, g->kv[i].key);
        lay->off_kv_type[i] = out->n;
        tg_w32(out, g->kv[i].type);
        lay->off_kv_val[i] = out->n;
        tg_put(out, g->kv[i].val.p, g->kv[i].val.n);
    }
    for (i = 0; i < g->n_t; i++) {
        const tg_tensor *t = &g->t[i];
        lay->off_ti[i] = out->n;
        tg_wstr(out, t->name);
        lay->off_ti_ndims[i] = out->n;
        tg_w32(out, t->n_dims);
        lay->off_ti_ne[i] = out->n;
        for (d = 0; d < t->n_dims && d < 8; d++) tg_w64(out, t->ne[d]);
        lay->off_ti_type[i] = out->n;
        tg_w32(out, t->type);
        lay->off_ti_offset[i] = out->n;
        tg_w64(out, t->has_offset ? t->offset : lay->data_offset[i]);
    }
    lay->header_end = out->n;
    tg_zeros(out, tg_align_up(out->n, g->align) - out->n);
    lay->data_start = out->n;
    for (i = 0; i < g->n_t; i++) {
        tg_zeros(out, lay->data_start + (size_t)lay->data_offset[i] - out->n);
        tg_write_data(out, &g->t[i], UINT64_C(1000) + (uint64_t)i * 7919u);
    }
}

/* ---- the tiny llama ------------------------------------------------------------------- */

typedef struct tg_cfg {
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    int tied;          /* no output.weight */
    uint32_t wtype;    /* type of the matrices (token_embd, output, attention, ffn) */
    uint32_t ffn_down_type;
    int extras;        /* test.* keys of every value type */
    int optional_keys; /* head_count_kv, rope.dimension_count, rope.freq_base */
} tg_cfg;

static tg_cfg tg_default_cfg(void) {
    tg_cfg c;
    memset(&c, 0, sizeof c);
    c.n_embd = 32;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.n_ff = 64;
    c.n_vocab = 64;
    c.n_ctx = 128;
    c.wtype = LLM_TYPE_F32;
    c.ffn_down_type = LLM_TYPE_F32;
    c.extras = 1;
    c.optional_keys = 1;
    return c;
}

/* Token i of the tiny vocabulary: <unk> <s> </s>, letters, "▁"+letter, then "tokN". */
static void tg_token_text(int i, char *s, size_t size) {
    int k = i - 3;
    if (i == 0) snprintf(s, size, "<unk>");
    else if (i == 1) snprintf(s, size, "<s>");
    else if (i == 2) snprintf(s, size, "</s>");
    else if (k < 26) snprintf(s, size, "%c", 'a' + k);
    else if (k < 52) snprintf(s, size, "\xe2\x96\x81%c", 'a' + (k - 26));
    else snprintf(s, size, "tok%d", i);
}

/* Metadata of every GGUF value type, including arrays of several and an empty string. */
static void tg_add_extras(tg_gguf *g) {
    tg_buf *b;
    int i;
    tg_w8(tg_kv_set(g, "test.u8", TG_U8), 200);
    tg_w8(tg_kv_set(g, "test.i8", TG_I8), (uint8_t)-100);
    tg_w16(tg_kv_set(g, "test.u16", TG_U16), 65535);
    tg_w16(tg_kv_set(g, "test.i16", TG_I16), (uint16_t)-32768);
    tg_w32(tg_kv_set(g, "test.u32", TG_U32), 4000000000u);
    tg_w32(tg_kv_set(g, "test.i32", TG_I32), (uint32_t)-2000000000);
    tg_wf32(tg_kv_set(g, "test.f32", TG_F32), 0.5f);
    tg_w8(tg_kv_set(g, "test.bool_true", TG_BOOL), 1);
    tg_w8(tg_kv_set(g, "test.bool_false", TG_BOOL), 0);
    tg_wstr(tg_kv_set(g, "test.string", TG_STR), "hello, world");
    tg_wstr(tg_kv_set(g, "test.empty_string", TG_STR), "");
    tg_wstr(tg_kv_set(g, "test.utf8", TG_STR), "h\xc3\xa9llo \xe2\x96\x81 \xf0\x9f\x98\x80");
    tg_w64(tg_kv_set(g, "test.u64", TG_U64), UINT64_MAX);
    tg_w64(tg_kv_set(g, "test.i64", TG_I64), (uint64_t)INT64_MIN);
    tg_wf64(tg_kv_set(g, "test.f64", TG_F64), 0.25);
    tg_wf64(tg_kv_set(g, "test.f64_pi", TG_F64), 3.141592653589793);
    b = tg_set_arr(g, "test.arr_u8", TG_U8, 3);
    tg_w8(b, 1), tg_w8(b, 2), tg_w8(b, 255);
    b = tg_set_arr(g, "test.arr_i8", TG_I8, 2);
    tg_w8(b, (uint8_t)-1), tg_w8(b, (uint8_t)-128);
    b = tg_set_arr(g, "test.arr_u16", TG_U16, 2);
    tg_w16(b, 1000), tg_w16(b, 65535);
    b = tg_set_arr(g, "test.arr_i16", TG_I16, 2);
    tg_w16(b, (uint16_t)-300), tg_w16(b, 300);
    b = tg_set_arr(g, "test.arr_u32", TG_U32, 4);
    tg_w32(b, 7), tg_w32(b, 8), tg_w32(b, 9), tg_w32(b, 4000000000u);
    b = tg_set_arr(g, "test.arr_i32", TG_I32, 2);
    tg_w32(b, (uint32_t)-5), tg_w32(b, 5);
    b = tg_set_arr(g, "test.arr_f32", TG_F32, 2);
    tg_wf32(b, 1.5f), tg_wf32(b, -2.25f);
    b = tg_set_arr(g, "test.arr_bool", TG_BOOL, 3);
    tg_w8(b, 1), tg_w8(b, 0), tg_w8(b, 1);
    b = tg_set_arr(g, "test.arr_u64", TG_U64, 2);
    tg_w64(b, UINT64_MAX), tg_w64(b, 0);
    b = tg_set_arr(g, "test.arr_i64", TG_I64, 2);
    tg_w64(b, (uint64_t)INT64_MIN), tg_w64(b, 1);
    b = tg_set_arr(g, "test.arr_f64", TG_F64, 1);
    tg_wf64(b, 0.125);
    b = tg_set_arr(g, "test.arr_str", TG_STR, 3);
    tg_wstr(b, "alpha"), tg_wstr(b, ""), tg_wstr(b, "three words here");
    tg_set_arr(g, "test.arr_empty", TG_U32, 0);
    tg_set_arr(g, "test.arr_empty_str", TG_STR, 0);
    b = tg_set_arr(g, "test.arr_long", TG_U32, 100);
    for (i = 0; i < 100; i++) tg_w32(b, (uint64_t)(1000 + i));
}

static tg_gguf *tg_llama(const tg_cfg *c) {
    tg_gguf *g = tg_new();
    int hd = c->n_embd / (c->n_head ? c->n_head : 1), n_kv = hd * c->n_head_kv, i, l;
    uint32_t w = c->wtype;
    tg_buf *b;
    char s[64];
    tg_set_str(g, "general.architecture", "llama");
    tg_set_str(g, "general.name", "tiny-test-llama");
    tg_set_u32(g, "llama.context_length", (uint64_t)c->n_ctx);
    tg_set_u32(g, "llama.embedding_length", (uint64_t)c->n_embd);
    tg_set_u32(g, "llama.block_count", (uint64_t)c->n_layer);
    tg_set_u32(g, "llama.feed_forward_length", (uint64_t)c->n_ff);
    tg_set_u32(g, "llama.attention.head_count", (uint64_t)c->n_head);
    if (c->optional_keys) tg_set_u32(g, "llama.attention.head_count_kv", (uint64_t)c->n_head_kv);
    tg_set_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
    if (c->optional_keys) {
        tg_set_f32(g, "llama.rope.freq_base", 20000.0f);
        tg_set_u32(g, "llama.rope.dimension_count", (uint64_t)hd);
    }
    tg_set_str(g, "tokenizer.ggml.model", "llama");
    b = tg_set_arr(g, "tokenizer.ggml.tokens", TG_STR, (uint64_t)c->n_vocab);
    for (i = 0; i < c->n_vocab; i++) {
        tg_token_text(i, s, sizeof s);
        tg_wstr(b, s);
    }
    b = tg_set_arr(g, "tokenizer.ggml.scores", TG_F32, (uint64_t)c->n_vocab);
    for (i = 0; i < c->n_vocab; i++) tg_wf32(b, i < 3 ? 0.0f : -(float)i);
    b = tg_set_arr(g, "tokenizer.ggml.token_type", TG_I32, (uint64_t)c->n_vocab);
    for (i = 0; i < c->n_vocab; i++) tg_w32(b, i == 0 ? 2 : i < 3 ? 3 : 1);
    tg_set_u32(g, "tokenizer.ggml.bos_token_id", 1);
    tg_set_u32(g, "tokenizer.ggml.eos_token_id", 2);
    tg_set_u32(g, "tokenizer.ggml.unknown_token_id", 0);
    tg_set_u32(g, "tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
    tg_set_bool(g, "tokenizer.ggml.add_bos_token", 1);
    tg_set_bool(g, "tokenizer.ggml.add_eos_token", 0);
    if (c->extras) tg_add_extras(g);

    tg_tensor_add(g, "token_embd.weight", w, 2, (uint64_t)c->n_embd, (uint64_t)c->n_vocab);
    tg_tensor_add(g, "output_norm.weight", LLM_TYPE_F32, 1, (uint64_t)c->n_embd, 1);
    if (!c->tied) tg_tensor_add(g, "output.weight", w, 2, (uint64_t)c->n_embd, (uint64_t)c->n_vocab);
    for (l = 0; l < c->n_layer; l++) {
#define TG_T(suffix, type, nd, a, bb)                                                             \
    snprintf(s, sizeof s, "blk.%d." suffix ".weight", l);                                        \
    tg_tensor_add(g, s, type, nd, (uint64_t)(a), (uint64_t)(bb))
        TG_T("attn_norm", LLM_TYPE_F32, 1, c->n_embd, 1);
        TG_T("attn_q", w, 2, c->n_embd, c->n_embd);
        TG_T("attn_k", w, 2, c->n_embd, n_kv);
        TG_T("attn_v", w, 2, c->n_embd, n_kv);
        TG_T("attn_output", w, 2, c->n_embd, c->n_embd);
        TG_T("ffn_norm", LLM_TYPE_F32, 1, c->n_embd, 1);
        TG_T("ffn_gate", w, 2, c->n_embd, c->n_ff);
        TG_T("ffn_up", w, 2, c->n_embd, c->n_ff);
        TG_T("ffn_down", c->ffn_down_type, 2, c->n_ff, c->n_embd);
#undef TG_T
    }
    return g;
}

/* ---- loading with a counting allocator ---------------------------------------------------- */

typedef struct tg_heap {
    long live, n_alloc, fail_at; /* fail_at: the allocation (1-based) that returns NULL; 0 = none */
    size_t max_size;
} tg_heap;

static void *tg_heap_alloc(size_t size, void *user) {
    tg_heap *h = (tg_heap *)user;
    void *p;
    h->n_alloc++;
    if (h->fail_at && h->n_alloc == h->fail_at) return NULL;
    if (size > h->max_size) h->max_size = size;
    p = malloc(size ? size : 1);
    if (p) h->live++;
    return p;
}
static void tg_heap_free(void *p, void *user) {
    tg_heap *h = (tg_heap *)user;
    if (!p) return;
    h->live--;
    free(p);
}

typedef struct tg_loaded {
    llm_model *m;
    unsigned char *copy; /* the borrowed bytes; exactly the file's size */
    size_t size;
    tg_heap heap;
    const char *what;
} tg_loaded;

static int tg_verbose(void) {
    static int v = -1;
    if (v < 0) v = getenv("LLM_TEST_GGUF_VERBOSE") != NULL;
    return v;
}

/* Loads a private exact-size copy of the bytes with a counting allocator. */
static llm_model *tg_open(tg_loaded *L, const char *what, const unsigned char *data, size_t size,
                          const llm_model_params *base, long fail_at, char *err, size_t err_size) {
    llm_model_params p;
    memset(L, 0, sizeof *L);
    L->what = what;
    L->size = size;
    L->copy = (unsigned char *)malloc(size ? size : 1);
    if (!L->copy) exit(2);
    if (size) memcpy(L->copy, data, size);
    if (base) p = *base;
    else memset(&p, 0, sizeof p);
    L->heap.fail_at = fail_at;
    p.allocator.alloc = tg_heap_alloc;
    p.allocator.free = tg_heap_free;
    p.allocator.user = &L->heap;
    if (tg_verbose()) {
        printf("    [%s] %s (%zu bytes)\n", t_name, what, size);
        fflush(stdout);
    }
    if (err && err_size) err[0] = 0;
    L->m = llm_model_load_memory(L->copy, size, &p, err, err_size);
    return L->m;
}

/* Frees the model and the bytes; checks that every allocation was freed and none was out of
   proportion with the file. */
static void tg_close(tg_loaded *L) {
    llm_model_free(L->m);
    L->m = NULL;
    T_CHECK(L->heap.live == 0, "%s: %ld allocations not freed (of %ld)", L->what, L->heap.live,
            L->heap.n_alloc);
    T_CHECK(L->heap.max_size <= 64 * L->size + ((size_t)1 << 20),
            "%s: one allocation of %zu bytes for a file of %zu bytes", L->what, L->heap.max_size, L->size);
    free(L->copy);
    L->copy = NULL;
}

/* Invariants of any loaded model, whatever file it came from: every query answers in range,
   values render NUL-terminated like snprintf, tensors lie inside the file. */
static void tg_exercise(const char *what, const llm_model *m, size_t file_size) {
    char buf[96];
    int i, n = llm_model_meta_count(m), nt = llm_model_tensor_count(m);
    T_CHECK(n >= 0 && nt >= 0, "%s: meta_count %d, tensor_count %d", what, n, nt);
    for (i = 0; i < n; i++) {
        const char *k = llm_model_meta_key(m, i);
        int len, len0, j;
        memset(buf, 'X', sizeof buf);
        len = llm_model_meta_value(m, i, buf, sizeof buf);
        len0 = llm_model_meta_value(m, i, NULL, 0);
        T_CHECK(k != NULL, "%s: meta_key(%d) is NULL", what, i);
        T_CHECK(len >= 0 && len == len0, "%s: meta_value(%d) returned %d, and %d when asked", what, i, len, len0);
        T_CHECK(memchr(buf, 0, sizeof buf) != NULL, "%s: meta_value(%d) not NUL-terminated", what, i);
        if (len >= 0 && len < (int)sizeof buf)
            T_CHECK(strlen(buf) <= (size_t)len, "%s: meta_value(%d) wrote more than it said", what, i);
        if (!k) continue;
        j = llm_model_meta_find(m, k);
        T_CHECK(j >= 0 && j < n && strcmp(llm_model_meta_key(m, j), k) == 0, "%s: meta_find(\"%s\") = %d", what,
                k, j);
    }
    for (i = 0; i < nt; i++) {
        llm_tensor_info ti;
        int d, r = llm_model_tensor_info(m, i, &ti);
        T_CHECK(r == LLM_OK, "%s: tensor_info(%d) = %d", what, i, r);
        if (r != LLM_OK) continue;
        T_CHECK(ti.name != NULL, "%s: tensor %d has no name", what, i);
        T_CHECK(ti.n_dims >= 1 && ti.n_dims <= 4, "%s: tensor %d has n_dims %d", what, i, ti.n_dims);
        for (d = 0; d < 4; d++)
            T_CHECK(d < ti.n_dims ? ti.ne[d] >= 1 : ti.ne[d] == 1, "%s: tensor %d ne[%d] = %lld", what, i, d,
                    (long long)ti.ne[d]);
        T_CHECK(ti.offset <= file_size && ti.size_bytes <= file_size - ti.offset,
                "%s: tensor %d at %llu + %zu bytes, file of %zu", what, i, (unsigned long long)ti.offset,
                ti.size_bytes, file_size);
        if (ti.name) {
            int j = llm_model_tensor_find(m, ti.name);
            llm_tensor_info tj;
            T_CHECK(j >= 0 && llm_model_tensor_info(m, j, &tj) == LLM_OK && strcmp(tj.name, ti.name) == 0,
                    "%s: tensor_find(\"%s\") = %d", what, ti.name, j);
        }
    }
}

/* What a caller does next with a model from an untrusted file: tokenize, render every
   piece, detokenize, dequantize a row of each tensor, make a context and decode two tokens.
   Whatever the loader accepted must not make these crash. */
static void tg_exercise_deep(const char *what, llm_model *m) {
    static const char text[] = "Hello world <s> </s>\xe2\x96\x81" "a\xff\xfe\xc3" "!";
    llm_token toks[32];
    char buf[256], err[256];
    int nv = llm_model_n_vocab(m), n, i, nt = llm_model_tensor_count(m);
    T_CHECK(nv > 0, "%s: n_vocab %d", what, nv);
    if (nv <= 0) return;
    n = llm_tokenize(m, text, sizeof text - 1, toks, 32, LLM_TOKENIZE_ADD_SPECIAL | LLM_TOKENIZE_PARSE_SPECIAL);
    /* a negative llm_result is a clean refusal (no <unk> and no byte tokens for "H") */
    T_CHECK(n > LLM_RESULT_COUNT_, "%s: llm_tokenize = %d", what, n);
    if (n > 32) n = 32;
    for (i = 0; i < n; i++) T_CHECK(toks[i] >= 0 && toks[i] < nv, "%s: token %d is %d", what, i, (int)toks[i]);
    for (i = 0; i < nv && i < 4096; i++) {
        int len = llm_token_to_piece(m, i, buf, (int)sizeof buf, LLM_PIECE_SPECIAL);
        T_CHECK(len >= 0, "%s: llm_token_to_piece(%d) = %d", what, i, len);
    }
    if (n > 0) T_CHECK(llm_detokenize(m, toks, n, buf, (int)sizeof buf, 0) > LLM_RESULT_COUNT_, "%s: llm_detokenize", what);
    if (llm_model_vocab_only(m)) return;
    for (i = 0; i < nt; i++) {
        llm_tensor_info ti;
        float *row;
        if (llm_model_tensor_info(m, i, &ti) != LLM_OK || !llm_type_supported(ti.type) || ti.ne[0] > (1 << 20)) continue;
        row = (float *)malloc((size_t)ti.ne[0] * sizeof(float));
        if (!row) exit(2);
        T_CHECK(llm_model_tensor_dequantize(m, i, 0, 1, row) == LLM_OK, "%s: dequantize %s row 0", what, ti.name);
        free(row);
    }
    {
        llm_context_params cp = llm_context_default_params();
        llm_context *c;
        llm_token in[2];
        cp.n_ctx = 8;
        cp.n_batch = 8;
        cp.n_threads = 1;
        cp.kv_type = LLM_KV_F32;
        c = llm_context_new(m, &cp, err, sizeof err);
        if (!c) return; /* e.g. a context too large for a hostile n_embd: refusing is fine */
        in[0] = llm_token_bos(m) >= 0 ? llm_token_bos(m) : 0;
        in[1] = nv - 1;
        if (llm_decode(c, in, 2, 0) == LLM_OK) T_CHECK(llm_logits(c, -1) != NULL, "%s: no logits after decode", what);
        llm_context_free(c);
    }
}

/* Loads (copy, counting allocator), exercises a loaded model, frees; 1 if it loaded. */
static int tg_try(const char *what, const unsigned char *data, size_t size, const llm_model_params *p, char *err,
                  size_t err_size) {
    tg_loaded L;
    int ok = tg_open(&L, what, data, size, p, 0, err, err_size) != NULL;
    if (ok) {
        tg_exercise(what, L.m, size);
        tg_exercise_deep(what, L.m);
    }
    tg_close(&L);
    return ok;
}

static int tg_n_refused; /* malformed cases run (printed with LLM_TEST_GGUF_VERBOSE) */

/* The bytes must be refused with a message; `want` ('|'-separated words, or NULL) are what
   the message should mention. */
static void tg_expect_fail_p(const char *what, const unsigned char *data, size_t size, const llm_model_params *p,
                             const char *want) {
    char err[512];
    tg_n_refused++;
    if (tg_try(what, data, size, p, err, sizeof err)) {
        T_CHECK(0, "%s: loaded, but must be refused", what);
        return;
    }
    T_CHECK(err[0] != 0, "%s: refused without a message", what);
    if (tg_verbose()) printf("      -> %s\n", err);
    if (want && err[0]) T_CHECK(tg_mentions(err, want), "%s: message \"%s\" does not mention %s", what, err, want);
}
static void tg_expect_fail(const char *what, const unsigned char *data, size_t size, const char *want) {
    tg_expect_fail_p(what, data, size, NULL, want);
}

/* Serializes g and expects it refused. */
static void tg_expect_fail_g(const char *what, const tg_gguf *g, const char *want) {
    tg_buf b;
    tg_layout lay;
    memset(&b, 0, sizeof b);
    tg_serialize(g, &b, &lay);
    tg_expect_fail(what, b.p, b.n, want);
    free(b.p);
}

/* The default tiny llama, serialized. */
static void tg_default_file(tg_buf *b, tg_layout *lay, tg_gguf **keep) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *g = tg_llama(&c);
    memset(b, 0, sizeof *b);
    tg_serialize(g, b, lay);
    if (keep) *keep = g;
    else tg_delete(g);
}

/* Copies the file, writes value (bytes wide, little-endian) at off, expects a refusal. */
static void tg_expect_fail_patch(const char *what, const tg_buf *b, size_t off, uint64_t value, int bytes,
                                 const char *want) {
    unsigned char *c = (unsigned char *)malloc(b->n);
    if (!c) exit(2);
    memcpy(c, b->p, b->n);
    tg_patch(c, off, value, bytes);
    tg_expect_fail(what, c, b->n, want);
    free(c);
}

/* ---- valid files ------------------------------------------------------------------------ */

/* The model reports exactly the metadata and tensors that g holds. */
static void tg_check_matches(const char *what, const llm_model *m, const tg_gguf *g, const tg_layout *lay) {
    char buf[8];
    int i, n = llm_model_meta_count(m), nt = llm_model_tensor_count(m);
    llm_tensor_info ti;
    T_CHECK(n == g->n_kv, "%s: meta_count %d, wrote %d", what, n, g->n_kv);
    for (i = 0; i < n && i < g->n_kv; i++) {
        const char *k = llm_model_meta_key(m, i);
        T_CHECK(k && strcmp(k, g->kv[i].key) == 0, "%s: key %d is \"%s\", wrote \"%s\"", what, i, k ? k : "(null)",
                g->kv[i].key);
        T_CHECK(llm_model_meta_find(m, g->kv[i].key) == i, "%s: meta_find(\"%s\") = %d, want %d", what,
                g->kv[i].key, llm_model_meta_find(m, g->kv[i].key), i);
    }
    T_CHECK(llm_model_meta_find(m, "no.such.key") == -1, "%s: meta_find of a missing key", what);
    T_CHECK(llm_model_meta_find(m, "") == -1, "%s: meta_find(\"\")", what);
    T_CHECK(llm_model_meta_key(m, -1) == NULL && llm_model_meta_key(m, n) == NULL, "%s: meta_key out of range", what);
    T_CHECK(llm_model_meta_value(m, -1, buf, sizeof buf) == -1 && llm_model_meta_value(m, n, buf, sizeof buf) == -1,
            "%s: meta_value out of range must return -1", what);
    T_CHECK(nt == g->n_t, "%s: tensor_count %d, wrote %d", what, nt, g->n_t);
    for (i = 0; i < nt && i < g->n_t; i++) {
        const tg_tensor *t = &g->t[i];
        int d;
        if (llm_model_tensor_info(m, i, &ti) != LLM_OK) {
            T_CHECK(0, "%s: tensor_info(%d) failed", what, i);
            continue;
        }
        T_CHECK(ti.name && strcmp(ti.name, t->name) == 0, "%s: tensor %d is \"%s\", wrote \"%s\"", what, i,
                ti.name ? ti.name : "(null)", t->name);
        T_CHECK(ti.type == (int)t->type, "%s: %s type %d, wrote %u", what, t->name, ti.type, t->type);
        T_CHECK(ti.n_dims == (int)t->n_dims, "%s: %s n_dims %d, wrote %u", what, t->name, ti.n_dims, t->n_dims);
        for (d = 0; d < 4; d++) {
            int64_t want = d < (int)t->n_dims ? (int64_t)t->ne[d] : 1;
            T_CHECK(ti.ne[d] == want, "%s: %s ne[%d] = %lld, want %lld", what, t->name, d, (long long)ti.ne[d],
                    (long long)want);
        }
        T_CHECK(ti.offset == lay->data_offset[i], "%s: %s offset %llu, wrote %llu", what, t->name,
                (unsigned long long)ti.offset, (unsigned long long)lay->data_offset[i]);
        T_CHECK(ti.size_bytes == t->data_size, "%s: %s size_bytes %zu, want %zu", what, t->name, ti.size_bytes,
                t->data_size);
        T_CHECK(llm_model_tensor_find(m, t->name) == i, "%s: tensor_find(\"%s\") = %d, want %d", what, t->name,
                llm_model_tensor_find(m, t->name), i);
    }
    T_CHECK(llm_model_tensor_find(m, "no.such.weight") == -1, "%s: tensor_find of a missing name", what);
    T_CHECK(llm_model_tensor_info(m, -1, &ti) == LLM_ERR_ARG && llm_model_tensor_info(m, nt, &ti) == LLM_ERR_ARG,
            "%s: tensor_info out of range must return LLM_ERR_ARG", what);
}

/* The hyper-parameters a model built from c reports (optional keys absent: the defaults). */
static void tg_check_hparams(const char *what, const llm_model *m, const tg_gguf *g, const tg_cfg *c) {
    uint64_t n_params = 0, size_bytes = 0;
    int i, hd = c->n_embd / c->n_head;
    for (i = 0; i < g->n_t; i++) {
        n_params += g->t[i].ne[0] * (g->t[i].n_dims > 1 ? g->t[i].ne[1] : 1);
        size_bytes += g->t[i].data_size;
    }
    T_CHECK(strcmp(llm_model_arch(m), "llama") == 0, "%s: arch \"%s\"", what, llm_model_arch(m));
    T_CHECK(llm_model_n_vocab(m) == c->n_vocab, "%s: n_vocab %d", what, llm_model_n_vocab(m));
    T_CHECK(llm_model_vocab_only(m) == 0, "%s: vocab_only", what);
    T_CHECK(llm_model_n_embd(m) == c->n_embd && llm_model_n_layer(m) == c->n_layer && llm_model_n_head(m) == c->n_head &&
                llm_model_n_head_kv(m) == c->n_head_kv && llm_model_n_ff(m) == c->n_ff &&
                llm_model_n_ctx_train(m) == c->n_ctx && llm_model_n_rot(m) == hd,
            "%s: n_embd %d n_layer %d n_head %d n_head_kv %d n_ff %d n_ctx_train %d n_rot %d", what, llm_model_n_embd(m),
            llm_model_n_layer(m), llm_model_n_head(m), llm_model_n_head_kv(m), llm_model_n_ff(m),
            llm_model_n_ctx_train(m), llm_model_n_rot(m));
    T_CHECK(llm_model_rope_freq_base(m) == (c->optional_keys ? 20000.0f : 10000.0f), "%s: rope freq base %g", what,
            (double)llm_model_rope_freq_base(m));
    T_CHECK(llm_model_rms_eps(m) == 1e-6f, "%s: rms eps %g", what, (double)llm_model_rms_eps(m));
    T_CHECK(llm_model_n_params(m) == n_params && llm_model_size_bytes(m) == size_bytes,
            "%s: n_params %llu (want %llu), size_bytes %llu (want %llu)", what,
            (unsigned long long)llm_model_n_params(m), (unsigned long long)n_params,
            (unsigned long long)llm_model_size_bytes(m), (unsigned long long)size_bytes);
    i = tg_kv_index(g, "tokenizer.ggml.bos_token_id");
    if (i >= 0 && g->kv[i].type == TG_U32) {
        uint64_t bos = tg_get(g->kv[i].val.p, 0, 4);
        T_CHECK(llm_token_bos(m) == (bos == 0xFFFFFFFFu ? LLM_TOKEN_NULL : (llm_token)bos), "%s: bos %d", what,
                (int)llm_token_bos(m));
    }
}

/* Serializes g, loads it from memory, checks it reports what was written (and, given c,
   the hyper-parameters). */
static void tg_load_and_match(const char *what, const tg_gguf *g, const llm_model_params *p, const tg_cfg *c) {
    tg_buf b;
    tg_layout lay;
    tg_loaded L;
    char err[512];
    memset(&b, 0, sizeof b);
    tg_serialize(g, &b, &lay);
    if (tg_open(&L, what, b.p, b.n, p, 0, err, sizeof err)) {
        tg_check_matches(what, L.m, g, &lay);
        if (c && !(p && p->vocab_only)) tg_check_hparams(what, L.m, g, c);
        if (p && p->vocab_only) T_CHECK(llm_model_vocab_only(L.m) == 1, "%s: vocab_only not reported", what);
        tg_exercise(what, L.m, b.n);
        tg_exercise_deep(what, L.m);
    } else {
        T_CHECK(0, "%s: refused: %s", what, err);
    }
    tg_close(&L);
    free(b.p);
}

static void test_gguf_tiny_model(void) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *g = tg_llama(&c);
    tg_load_and_match("tiny llama, GGUF v3", g, NULL, &c);
    g->version = 2;
    tg_load_and_match("tiny llama, GGUF v2", g, NULL, &c);
    tg_delete(g);
}

/* Finds key and renders its value, or marks the test failed. */
static const char *tg_value(const llm_model *m, const char *key, char *buf, size_t size) {
    int i = llm_model_meta_find(m, key), n;
    buf[0] = 0;
    if (i < 0) {
        T_CHECK(0, "key %s not found", key);
        return buf;
    }
    n = llm_model_meta_value(m, i, buf, size);
    T_CHECK(n >= 0 && (size_t)n < size, "%s: meta_value returned %d (buffer %zu)", key, n, size);
    return buf;
}

static void test_gguf_meta_values(void) {
    static const char *const exact[][2] = {
        {"test.u8", "200"},
        {"test.i8", "-100"},
        {"test.u16", "65535"},
        {"test.i16", "-32768"},
        {"test.u32", "4000000000"},
        {"test.i32", "-2000000000"},
        {"test.u64", "18446744073709551615"},
        {"test.i64", "-9223372036854775808"},
        {"llama.block_count", "2"},
        {"llama.embedding_length", "32"},
        {"tokenizer.ggml.padding_token_id", "4294967295"},
    };
    static const struct {
        const char *key;
        double value, tol;
    } reals[] = {
        {"test.f32", 0.5, 0},
        {"test.f64", 0.25, 0},
        {"test.f64_pi", 3.141592653589793, 1e-6},
        {"llama.attention.layer_norm_rms_epsilon", 1e-6, 1e-6},
        {"llama.rope.freq_base", 20000.0, 0},
    };
    /* arrays: each listed element must appear in the (possibly abbreviated) text */
    static const char *const arrays[][3] = {
        {"test.arr_u8", "1", "255"},
        {"test.arr_i8", "-1", "-128"},
        {"test.arr_u16", "1000", "65535"},
        {"test.arr_i16", "-300", "300"},
        {"test.arr_u32", "7", "8"},
        {"test.arr_i32", "-5", "5"},
        {"test.arr_f32", "1.5", "-2.25"},
        {"test.arr_u64", "18446744073709551615", "0"},
        {"test.arr_i64", "-9223372036854775808", "1"},
        {"test.arr_f64", "0.125", "0.125"},
        {"test.arr_str", "alpha", "alpha"},
        {"test.arr_long", "1000", "1001"},
        {"tokenizer.ggml.tokens", "<unk>", "<s>"},
    };
    tg_buf b;
    tg_layout lay;
    tg_loaded L;
    char err[512], buf[4096], small[4];
    const llm_model *m;
    size_t i;
    int n, k;
    tg_default_file(&b, &lay, NULL);
    m = tg_open(&L, "tiny llama", b.p, b.n, NULL, 0, err, sizeof err);
    if (!m) {
        T_CHECK(0, "tiny llama refused: %s", err);
        tg_close(&L);
        free(b.p);
        return;
    }
    for (i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        tg_value(m, exact[i][0], buf, sizeof buf);
        T_CHECK(strcmp(buf, exact[i][1]) == 0, "%s renders \"%s\", want \"%s\"", exact[i][0], buf, exact[i][1]);
    }
    for (i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        char *end;
        double v = strtod(tg_value(m, reals[i].key, buf, sizeof buf), &end);
        T_CHECK(end != buf && *end == 0 && fabs(v - reals[i].value) <= reals[i].tol * fabs(reals[i].value),
                "%s renders \"%s\", want %.17g", reals[i].key, buf, reals[i].value);
    }
    tg_value(m, "test.bool_true", buf, sizeof buf);
    T_CHECK(strcmp(buf, "true") == 0, "test.bool_true renders \"%s\"", buf);
    tg_value(m, "test.bool_false", buf, sizeof buf);
    T_CHECK(strcmp(buf, "false") == 0, "test.bool_false renders \"%s\"", buf);
    tg_value(m, "test.string", buf, sizeof buf);
    T_CHECK(strstr(buf, "hello, world") && strlen(buf) <= 14, "test.string renders \"%s\"", buf);
    tg_value(m, "general.architecture", buf, sizeof buf);
    T_CHECK(strstr(buf, "llama") && strlen(buf) <= 7, "general.architecture renders \"%s\"", buf);
    tg_value(m, "test.utf8", buf, sizeof buf);
    T_CHECK(strstr(buf, "h\xc3\xa9llo \xe2\x96\x81 \xf0\x9f\x98\x80") != NULL, "test.utf8 renders \"%s\"", buf);
    tg_value(m, "test.empty_string", buf, sizeof buf);
    T_CHECK(strlen(buf) <= 2, "test.empty_string renders \"%s\"", buf);
    for (i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        tg_value(m, arrays[i][0], buf, sizeof buf);
        T_CHECK(strstr(buf, arrays[i][1]) && strstr(buf, arrays[i][2]), "%s renders \"%s\", want %s and %s",
                arrays[i][0], buf, arrays[i][1], arrays[i][2]);
    }
    tg_value(m, "test.arr_long", buf, sizeof buf);
    T_CHECK(strlen(buf) < 400, "a 100-element array renders in %zu bytes; arrays should be abbreviated", strlen(buf));
    tg_value(m, "tokenizer.ggml.tokens", buf, sizeof buf);
    T_CHECK(strlen(buf) < 400, "a 64-string array renders in %zu bytes; arrays should be abbreviated", strlen(buf));
    tg_value(m, "test.arr_empty", buf, sizeof buf);
    T_CHECK(strlen(buf) < 40, "test.arr_empty renders \"%s\"", buf);
    tg_value(m, "test.arr_empty_str", buf, sizeof buf);
    T_CHECK(strlen(buf) < 40, "test.arr_empty_str renders \"%s\"", buf);

    /* snprintf contract: asking, truncating, exact fit */
    k = llm_model_meta_find(m, "test.string");
    n = llm_model_meta_value(m, k, NULL, 0);
    llm_model_meta_value(m, k, buf, sizeof buf);
    T_CHECK(n == (int)strlen(buf), "meta_value(NULL, 0) = %d, full text has %zu bytes", n, strlen(buf));
    memset(small, 'X', sizeof small);
    T_CHECK(llm_model_meta_value(m, k, small, 3) == n, "meta_value into 3 bytes must return the full length");
    T_CHECK(small[2] == 0 && strncmp(small, buf, 2) == 0 && small[3] == 'X',
            "meta_value into 3 bytes: \"%.3s\" then %d", small, small[3]);
    memset(small, 'X', sizeof small);
    T_CHECK(llm_model_meta_value(m, k, small, 1) == n && small[0] == 0 && small[1] == 'X',
            "meta_value into 1 byte must write only the NUL");
    k = llm_model_meta_find(m, "test.u8");
    memset(small, 'X', sizeof small);
    T_CHECK(llm_model_meta_value(m, k, small, 4) == 3 && strcmp(small, "200") == 0, "exact fit: \"%s\"", small);
    tg_close(&L);
    free(b.p);
}

static void test_gguf_variants(void) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *g;
    tg_buf b;
    tg_layout lay;
    tg_loaded L;
    llm_model_params p;
    char err[512];
    int i;

    /* general.alignment 64, 1 and an explicit 32 */
    g = tg_llama(&c);
    g->align = 64;
    tg_set_u32(g, "general.alignment", 64);
    tg_load_and_match("general.alignment 64", g, NULL, &c);
    g->align = 1;
    tg_set_u32(g, "general.alignment", 1);
    tg_load_and_match("general.alignment 1", g, NULL, &c);
    g->align = 32;
    tg_set_u32(g, "general.alignment", 32);
    tg_load_and_match("general.alignment 32", g, NULL, &c);
    g->version = 2;
    tg_load_and_match("general.alignment 32, v2", g, NULL, &c);
    tg_delete(g);

    /* tied embeddings: no output.weight */
    c = tg_default_cfg();
    c.tied = 1;
    g = tg_llama(&c);
    tg_load_and_match("tied embeddings", g, NULL, &c);
    tg_delete(g);

    /* no optional keys: head_count_kv defaults to head_count (so K and V are n_embd wide) */
    c = tg_default_cfg();
    c.optional_keys = 0;
    c.n_head_kv = c.n_head;
    g = tg_llama(&c);
    tg_load_and_match("no optional keys", g, NULL, &c);
    tg_delete(g);

    /* minimal metadata, no extras, head_count_kv 1 (multi-query) */
    c = tg_default_cfg();
    c.extras = 0;
    c.n_head_kv = 1;
    g = tg_llama(&c);
    tg_load_and_match("minimal, one KV head", g, NULL, &c);
    /* special ids absent */
    tg_set_u32(g, "tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
    tg_set_u32(g, "tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);
    tg_set_u32(g, "tokenizer.ggml.unknown_token_id", 0xFFFFFFFFu);
    tg_load_and_match("special ids 0xFFFFFFFF (absent)", g, NULL, &c);
    tg_kv_remove(g, "tokenizer.ggml.bos_token_id");
    tg_kv_remove(g, "tokenizer.ggml.eos_token_id");
    tg_kv_remove(g, "tokenizer.ggml.unknown_token_id");
    tg_kv_remove(g, "tokenizer.ggml.padding_token_id");
    tg_load_and_match("special ids missing", g, NULL, &c);
    tg_delete(g);

    /* Q8_0 and F16 matrices */
    c = tg_default_cfg();
    c.wtype = c.ffn_down_type = LLM_TYPE_Q8_0;
    g = tg_llama(&c);
    tg_load_and_match("Q8_0 matrices", g, NULL, &c);
    tg_delete(g);
    c.wtype = c.ffn_down_type = LLM_TYPE_F16;
    g = tg_llama(&c);
    tg_load_and_match("F16 matrices", g, NULL, &c);
    tg_delete(g);

    /* tensors in another order (output_norm first, layers reversed) */
    c = tg_default_cfg();
    g = tg_llama(&c);
    for (i = 0; i < g->n_t / 2; i++) {
        tg_tensor t = g->t[i];
        g->t[i] = g->t[g->n_t - 1 - i];
        g->t[g->n_t - 1 - i] = t;
    }
    tg_load_and_match("tensors in reverse order", g, NULL, &c);
    tg_delete(g);

    /* vocab_only: no tensors needed */
    c = tg_default_cfg();
    g = tg_llama(&c);
    memset(&p, 0, sizeof p);
    p.vocab_only = 1;
    tg_load_and_match("vocab_only with tensors", g, &p, &c);
    g->n_t = 0;
    tg_load_and_match("vocab_only without tensors", g, &p, &c);
    memset(&b, 0, sizeof b);
    tg_serialize(g, &b, &lay);
    tg_expect_fail("no tensors without vocab_only", b.p, b.n, "token_embd");
    p.vocab_only = 0;
    free(b.p);
    tg_delete(g);

    /* a model can be loaded twice from one buffer: the loader does not write to it */
    tg_default_file(&b, &lay, NULL);
    {
        tg_loaded L2;
        unsigned char *before = (unsigned char *)malloc(b.n);
        if (!before) exit(2);
        memcpy(before, b.p, b.n);
        T_CHECK(tg_open(&L, "first", b.p, b.n, NULL, 0, err, sizeof err) != NULL, "first load: %s", err);
        T_CHECK(tg_open(&L2, "second", b.p, b.n, NULL, 0, err, sizeof err) != NULL, "second load: %s", err);
        T_CHECK(memcmp(L.copy, before, b.n) == 0, "the loader wrote to the caller's buffer");
        tg_close(&L2);
        tg_close(&L);
        free(before);
    }
    free(b.p);
}

/* A name under build/ (or /tmp) that no other run uses: created exclusively ("wbx"). */
static FILE *tg_temp_file(char *path, size_t size) {
    static int counter;
    int tries;
    for (tries = 0; tries < 100; tries++) {
        FILE *f;
        snprintf(path, size, "%s/test_gguf_%lx_%lx_%d.gguf", tries % 2 ? "/tmp" : "build", (unsigned long)time(NULL),
                 (unsigned long)clock() ^ (unsigned long)(size_t)path, counter++);
        f = fopen(path, "wbx");
        if (f) return f;
    }
    return NULL;
}

static void test_gguf_files(void) {
    tg_gguf *g;
    tg_buf b;
    tg_layout lay;
    char path[256], err[512];
    tg_heap h;
    llm_model_params p;
    llm_model *m;
    FILE *f;
    size_t n;

    tg_default_file(&b, &lay, &g);
    f = tg_temp_file(path, sizeof path);
    T_REQUIRE(f != NULL, "cannot create a temporary file under build/ or /tmp");
    n = fwrite(b.p, 1, b.n, f);
    T_REQUIRE(fclose(f) == 0 && n == b.n, "cannot write %s", path);

    memset(&p, 0, sizeof p);
    memset(&h, 0, sizeof h);
    p.allocator.alloc = tg_heap_alloc;
    p.allocator.free = tg_heap_free;
    p.allocator.user = &h;
    m = llm_model_load(path, &p, err, sizeof err);
    T_CHECK(m != NULL, "loading %s: %s", path, err);
    if (m) {
        tg_check_matches(path, m, g, &lay);
        tg_exercise(path, m, b.n);
        llm_model_free(m);
    }
    T_CHECK(h.live == 0, "file load: %ld allocations not freed", h.live);
    p.no_mmap = 1;
    m = llm_model_load(path, &p, err, sizeof err);
    T_CHECK(m != NULL, "loading %s with no_mmap: %s", path, err);
    if (m) tg_check_matches(path, m, g, &lay);
    llm_model_free(m);
    T_CHECK(h.live == 0, "file load (no_mmap): %ld allocations not freed", h.live);
    p.no_mmap = 0;
    T_CHECK(remove(path) == 0, "cannot remove %s", path);

    /* a missing file, a directory, a device, NULL: refused without a large allocation (a
       directory's "size" from fseek/ftell can be 2^63 - 1) */
    {
        static const char *const paths[] = {"tests", "/dev/null", NULL};
        int k;
        for (k = 0; k < 4; k++) {
            const char *q = k == 0 ? path : paths[k - 1];
            for (p.no_mmap = 0; p.no_mmap < 2; p.no_mmap++) {
                err[0] = 0;
                h.max_size = 0;
                m = llm_model_load(q, &p, err, sizeof err);
                T_CHECK(m == NULL && err[0], "path %s (no_mmap %d): loaded, or no message", q ? q : "NULL", p.no_mmap);
                T_CHECK(h.max_size < ((size_t)1 << 20), "path %s (no_mmap %d): asked for %zu bytes at once",
                        q ? q : "NULL", p.no_mmap, h.max_size);
                llm_model_free(m);
            }
        }
        p.no_mmap = 0;
    }

    /* an empty file, a header cut short, a file that ends inside the tensor data */
    {
        static const size_t cuts[3] = {0, 10, 0};
        int k;
        for (k = 0; k < 3; k++) {
            size_t len = k == 2 ? b.n - 1 : cuts[k];
            f = tg_temp_file(path, sizeof path);
            T_REQUIRE(f != NULL, "cannot create a temporary file");
            n = fwrite(b.p, 1, len, f);
            T_REQUIRE(fclose(f) == 0 && n == len, "cannot write %s", path);
            for (p.no_mmap = 0; p.no_mmap < 2; p.no_mmap++) {
                err[0] = 0;
                m = llm_model_load(path, &p, err, sizeof err);
                T_CHECK(m == NULL && err[0], "a %zu-byte file (no_mmap %d): loaded or no message", len, p.no_mmap);
                llm_model_free(m);
            }
            remove(path);
        }
    }
    T_CHECK(h.live == 0, "failed file loads: %ld allocations not freed", h.live);
    tg_delete(g);
    free(b.p);
}

static void test_gguf_api_edges(void) {
    tg_buf b;
    tg_layout lay;
    char err[16];
    llm_model *m;
    unsigned char *c;
    int i;

    tg_default_file(&b, &lay, NULL);
    llm_model_free(NULL);
    err[0] = 0;
    T_CHECK(llm_model_load_memory(NULL, 0, NULL, err, sizeof err) == NULL && err[0], "NULL, 0");
    err[0] = 0;
    T_CHECK(llm_model_load_memory(NULL, 100, NULL, err, sizeof err) == NULL && err[0], "NULL, 100");
    err[0] = 0;
    T_CHECK(llm_model_load_memory(b.p, 0, NULL, err, sizeof err) == NULL && err[0], "size 0");

    /* default (NULL) params and no error buffer */
    m = llm_model_load_memory(b.p, b.n, NULL, NULL, 0);
    T_CHECK(m != NULL, "NULL params and NULL err: refused");
    llm_model_free(m);

    /* a refusal with no error buffer, and with small ones: NUL-terminated, nothing past */
    c = (unsigned char *)malloc(b.n);
    if (!c) exit(2);
    memcpy(c, b.p, b.n);
    tg_patch(c, lay.off_version, 99, 4);
    T_CHECK(llm_model_load_memory(c, b.n, NULL, NULL, 0) == NULL, "version 99 loaded");
    T_CHECK(llm_model_load_memory(c, b.n, NULL, NULL, 100) == NULL, "version 99 loaded");
    for (i = 1; i <= 6; i++) {
        memset(err, 'X', sizeof err);
        T_CHECK(llm_model_load_memory(c, b.n, NULL, err, (size_t)i) == NULL, "version 99 loaded");
        T_CHECK(memchr(err, 0, (size_t)i) != NULL && err[i] == 'X' && err[sizeof err - 1] == 'X',
                "err_size %d: not NUL-terminated inside, or written past", i);
    }
    free(c);
    free(b.p);
}

/* ---- the shared real files ------------------------------------------------------------- */

typedef struct tg_real {
    const char *rel;
    int n_tensors, n_vocab_or_0, vocab_only;
    const char *tensor;   /* a tensor to look at, */
    int type;             /* its type */
    int64_t ne0, ne1;     /* and shape */
} tg_real;

static void test_gguf_real_files(void) {
    static const tg_real files[] = {
        {"models/stories260K.gguf", 48, 512, 0, "blk.4.ffn_down.weight", LLM_TYPE_F32, 172, 64},
        {"models/reference/TinyStories-656K-Q8_0.gguf", 20, 2048, 0, "token_embd.weight", LLM_TYPE_Q8_0, 128, 2048},
        {"models/reference/TinyStories-656K-Q8_0-alt.gguf", 20, 2048, 0, "blk.1.ffn_down.weight", LLM_TYPE_Q8_0, 384,
         128},
        {"models/reference/TinyStories-656K-F16.gguf", 20, 2048, 0, "blk.0.attn_k.weight", LLM_TYPE_F16, 128, 64},
        {"models/synth/llama-F32.gguf", 30, 512, 0, "output.weight", LLM_TYPE_F32, 64, 512},
        {"models/synth/llama-Q8_0.gguf", -1, 512, 0, "blk.2.ffn_up.weight", LLM_TYPE_Q8_0, 64, 128},
        {"models/synth/llama-tied-Q8_0.gguf", 29, 512, 0, "token_embd.weight", LLM_TYPE_Q8_0, 64, 512},
        {"models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", 0, 32000, 1, NULL, 0, 0, 0},
    };
    size_t k;
    for (k = 0; k < sizeof files / sizeof files[0]; k++) {
        const tg_real *r = &files[k];
        const char *path = t_shared(r->rel);
        llm_model_params p;
        tg_heap h;
        llm_model *m;
        char err[512];
        if (!path) continue;
        memset(&p, 0, sizeof p);
        memset(&h, 0, sizeof h);
        p.allocator.alloc = tg_heap_alloc;
        p.allocator.free = tg_heap_free;
        p.allocator.user = &h;
        p.vocab_only = r->vocab_only;
        err[0] = 0;
        m = llm_model_load(path, &p, err, sizeof err);
        T_CHECK(m != NULL, "%s refused: %s", r->rel, err);
        if (m) {
            int i = llm_model_meta_find(m, "tokenizer.ggml.tokens");
            char buf[64];
            tg_exercise(r->rel, m, (size_t)-1);
            tg_exercise_deep(r->rel, m);
            if (r->n_tensors >= 0)
                T_CHECK(llm_model_tensor_count(m) == r->n_tensors, "%s: %d tensors, want %d", r->rel,
                        llm_model_tensor_count(m), r->n_tensors);
            T_CHECK(i >= 0 && llm_model_meta_value(m, i, buf, sizeof buf) > 0, "%s: no tokenizer.ggml.tokens", r->rel);
            i = llm_model_meta_find(m, "general.architecture");
            T_CHECK(i >= 0 && llm_model_meta_value(m, i, buf, sizeof buf) > 0 && strstr(buf, "llama"),
                    "%s: general.architecture", r->rel);
            if (r->tensor) {
                llm_tensor_info ti;
                i = llm_model_tensor_find(m, r->tensor);
                T_CHECK(i >= 0 && llm_model_tensor_info(m, i, &ti) == LLM_OK && ti.type == r->type &&
                            ti.ne[0] == r->ne0 && ti.ne[1] == r->ne1 && ti.n_dims == 2,
                        "%s: %s not found, or not type %d [%lld, %lld]", r->rel, r->tensor, r->type,
                        (long long)r->ne0, (long long)r->ne1);
            }
            llm_model_free(m);
        }
        T_CHECK(h.live == 0, "%s: %ld allocations not freed", r->rel, h.live);
    }
}

static void test_gguf_invalid_files(void) {
    static const char *const files[][2] = {
        {"models/invalid/gguf-v1.gguf", "version"},
        {"models/invalid/stories260K-v2-Q8_0-rows-not-block-multiple.gguf", "ffn_down|block"},
    };
    size_t k;
    for (k = 0; k < 2; k++) {
        const char *path = t_shared(files[k][0]);
        size_t size = 0;
        unsigned char *data;
        char err[512];
        llm_model *m;
        if (!path) continue;
        err[0] = 0;
        m = llm_model_load(path, NULL, err, sizeof err);
        T_CHECK(m == NULL, "%s loaded, but must be refused", files[k][0]);
        llm_model_free(m);
        T_CHECK(err[0] && tg_mentions(err, files[k][1]), "%s: message \"%s\" should mention %s", files[k][0], err,
                files[k][1]);
        data = t_read_file(path, &size);
        T_CHECK(data != NULL, "cannot read %s", path);
        if (data) tg_expect_fail(files[k][0], data, size, files[k][1]);
        free(data);
    }
}

/* ---- malformed files -------------------------------------------------------------------- */

static void test_gguf_bad_header(void) {
    static const uint32_t versions[] = {0, 1, 4, 5, 0xFFFF, 0x7FFFFFFFu, 0xFFFFFFFFu};
    tg_buf b, be;
    tg_layout lay;
    char what[128];
    size_t i, fit_t, fit_kv;
    uint64_t huge[6];
    tg_default_file(&b, &lay, NULL);

    tg_expect_fail_patch("magic GGUG", &b, 0, 0x47554747u, 4, NULL);
    tg_expect_fail_patch("magic FUGG (reversed)", &b, 0, 0x47475546u, 4, NULL);
    tg_expect_fail_patch("magic 0", &b, 0, 0, 4, NULL);
    for (i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        snprintf(what, sizeof what, "version %u", versions[i]);
        tg_expect_fail_patch(what, &b, lay.off_version, versions[i], 4, "version");
    }
    /* version 3 or 2 byte-swapped: a big-endian file */
    tg_expect_fail_patch("version 3 big-endian", &b, lay.off_version, 0x03000000u, 4, "endian");
    tg_expect_fail_patch("version 2 big-endian", &b, lay.off_version, 0x02000000u, 4, "endian");
    /* a wholly big-endian file: header and one string */
    memset(&be, 0, sizeof be);
    tg_put(&be, "GGUF", 4);
    tg_wbe(&be, 3, 4);
    tg_wbe(&be, 0, 8);
    tg_wbe(&be, 1, 8);
    tg_wbe(&be, 20, 8);
    tg_put(&be, "general.architecture", 20);
    tg_wbe(&be, TG_STR, 4);
    tg_wbe(&be, 5, 8);
    tg_put(&be, "llama", 5);
    tg_expect_fail("a big-endian file", be.p, be.n, "endian");
    free(be.p);

    /* counts: huge, past 32 bits, past the limits, one more than the bytes could hold */
    fit_t = (b.n - 24) / 32; /* smallest tensor info: empty name, 1 dim: 8 + 4 + 8 + 4 + 8 */
    fit_kv = (b.n - 24) / 13; /* smallest KV: empty key, a u8: 8 + 4 + 1 */
    huge[0] = UINT64_C(1) << 63;
    huge[1] = UINT64_MAX;
    huge[2] = (UINT64_C(1) << 32) + 1;
    huge[3] = UINT64_C(1) << 32;
    huge[4] = (UINT64_C(1) << 31);
    huge[5] = UINT64_MAX / 8 + 1;
    for (i = 0; i < 6; i++) {
        snprintf(what, sizeof what, "n_tensors %llu", (unsigned long long)huge[i]);
        tg_expect_fail_patch(what, &b, lay.off_n_tensors, huge[i], 8, NULL);
        snprintf(what, sizeof what, "n_kv %llu", (unsigned long long)huge[i]);
        tg_expect_fail_patch(what, &b, lay.off_n_kv, huge[i], 8, NULL);
    }
    snprintf(what, sizeof what, "n_tensors %zu (more than fit)", fit_t + 1);
    tg_expect_fail_patch(what, &b, lay.off_n_tensors, fit_t + 1, 8, NULL);
    snprintf(what, sizeof what, "n_kv %zu (more than fit)", fit_kv + 1);
    tg_expect_fail_patch(what, &b, lay.off_n_kv, fit_kv + 1, 8, NULL);
    tg_expect_fail_patch("n_tensors LLM_MAX_TENSORS + 1", &b, lay.off_n_tensors, (uint64_t)LLM_MAX_TENSORS + 1, 8,
                         NULL);
    tg_expect_fail_patch("n_kv LLM_MAX_KV + 1", &b, lay.off_n_kv, (uint64_t)LLM_MAX_KV + 1, 8, NULL);
    tg_expect_fail_patch("n_tensors one more than written", &b, lay.off_n_tensors,
                         tg_get(b.p, lay.off_n_tensors, 8) + 1, 8, NULL);
    tg_expect_fail_patch("n_tensors 0 (no weights)", &b, lay.off_n_tensors, 0, 8, NULL);
    tg_expect_fail_patch("n_kv 0 (no metadata)", &b, lay.off_n_kv, 0, 8, NULL);
    free(b.p);
}

static void test_gguf_bad_metadata(void) {
    tg_buf b;
    tg_layout lay;
    tg_gguf *g, *base;
    char what[160];
    size_t off, left;
    int k, i;
    static const uint32_t bad_types[] = {13, 14, 255, 0x80000000u, 0xFFFFFFFFu};

    tg_default_file(&b, &lay, &base);

    /* the first key's length (general.architecture) */
    off = lay.off_kv[0];
    left = b.n - off - 8;
    {
        const uint64_t lens[] = {left + 1, (uint64_t)left + 1000, UINT64_C(1) << 32, UINT64_C(1) << 63,
                                 UINT64_MAX, UINT64_MAX - 7};
        for (i = 0; i < 6; i++) {
            snprintf(what, sizeof what, "key length %llu", (unsigned long long)lens[i]);
            tg_expect_fail_patch(what, &b, off, lens[i], 8, NULL);
        }
    }
    /* a string value's length (general.name) */
    k = tg_kv_index(base, "general.name");
    off = lay.off_kv_val[k];
    left = b.n - off - 8;
    {
        const uint64_t lens[] = {left + 1, UINT64_C(1) << 32, UINT64_C(1) << 63, UINT64_MAX, UINT64_MAX - 7};
        for (i = 0; i < 5; i++) {
            snprintf(what, sizeof what, "general.name length %llu", (unsigned long long)lens[i]);
            tg_expect_fail_patch(what, &b, off, lens[i], 8, NULL);
        }
    }
    /* unknown value types */
    k = tg_kv_index(base, "test.u32");
    for (i = 0; i < 5; i++) {
        snprintf(what, sizeof what, "value type %u", bad_types[i]);
        tg_expect_fail_patch(what, &b, lay.off_kv_type[k], bad_types[i], 4, NULL);
    }
    /* arrays: element type nested or unknown; counts huge, overflowing, past the end */
    k = tg_kv_index(base, "tokenizer.ggml.tokens");
    off = lay.off_kv_val[k];
    left = b.n - off - 12;
    tg_expect_fail_patch("tokens: element type 9 (array)", &b, off, TG_ARR, 4, NULL);
    for (i = 0; i < 5; i++) {
        snprintf(what, sizeof what, "tokens: element type %u", bad_types[i]);
        tg_expect_fail_patch(what, &b, off, bad_types[i], 4, NULL);
    }
    {
        const uint64_t counts[] = {UINT64_C(1) << 63, UINT64_MAX, (UINT64_C(1) << 61) + 1, (UINT64_C(1) << 32) + 64,
                                   left / 8 + 1, UINT64_MAX / 8 + 1};
        for (i = 0; i < 6; i++) {
            snprintf(what, sizeof what, "tokens: count %llu", (unsigned long long)counts[i]);
            tg_expect_fail_patch(what, &b, off + 4, counts[i], 8, NULL);
        }
    }
    /* the first token's string length */
    tg_expect_fail_patch("tokens[0]: length past the end", &b, off + 12, left, 8, NULL);
    tg_expect_fail_patch("tokens[0]: length 2^64-1", &b, off + 12, UINT64_MAX, 8, NULL);
    tg_expect_fail_patch("tokens[0]: length 2^63", &b, off + 12, UINT64_C(1) << 63, 8, NULL);
    k = tg_kv_index(base, "tokenizer.ggml.scores");
    off = lay.off_kv_val[k];
    left = b.n - off - 12;
    {
        const uint64_t counts[] = {(UINT64_C(1) << 62) + 1, UINT64_C(1) << 62, UINT64_C(1) << 63, left / 4 + 1,
                                   UINT64_MAX / 4 + 1};
        for (i = 0; i < 5; i++) {
            snprintf(what, sizeof what, "scores: count %llu", (unsigned long long)counts[i]);
            tg_expect_fail_patch(what, &b, off + 4, counts[i], 8, NULL);
        }
    }
    k = tg_kv_index(base, "test.arr_u8");
    left = b.n - lay.off_kv_val[k] - 12;
    tg_expect_fail_patch("u8 array: count past the end", &b, lay.off_kv_val[k] + 4, left + 1, 8, NULL);
    tg_expect_fail_patch("u8 array: count 2^64-1", &b, lay.off_kv_val[k] + 4, UINT64_MAX, 8, NULL);
    k = tg_kv_index(base, "test.arr_u64");
    tg_expect_fail_patch("u64 array: count 2^61+1 (bytes wrap)", &b, lay.off_kv_val[k] + 4, (UINT64_C(1) << 61) + 1,
                         8, NULL);
    k = tg_kv_index(base, "test.arr_str");
    left = b.n - lay.off_kv_val[k] - 12;
    tg_expect_fail_patch("string array: count past the end", &b, lay.off_kv_val[k] + 4, left / 8 + 1, 8, NULL);
    tg_expect_fail_patch("string array: count 2^63", &b, lay.off_kv_val[k] + 4, UINT64_C(1) << 63, 8, NULL);
    k = tg_kv_index(base, "test.arr_empty");
    tg_expect_fail_patch("empty array of element type 13", &b, lay.off_kv_val[k], 13, 4, NULL);
    tg_expect_fail_patch("empty array of element type 9", &b, lay.off_kv_val[k], TG_ARR, 4, NULL);

    /* a well-formed nested array: [[1, 2]] */
    g = tg_clone(base);
    {
        tg_buf *v = tg_set_arr(g, "test.nested", TG_ARR, 1);
        tg_w32(v, TG_U32);
        tg_w64(v, 2);
        tg_w32(v, 1);
        tg_w32(v, 2);
    }
    tg_expect_fail_g("a nested array [[1, 2]]", g, NULL);
    tg_delete(g);

    /* duplicate keys */
    g = tg_clone(base);
    tg_wstr(tg_kv_append(g, "general.architecture", TG_STR), "llama");
    tg_expect_fail_g("duplicate key general.architecture", g, "general.architecture|duplicate");
    tg_delete(g);
    g = tg_clone(base);
    tg_wstr(tg_kv_append(g, "test.u32", TG_STR), "again");
    tg_expect_fail_g("duplicate key test.u32 (another type)", g, "test.u32|duplicate");
    tg_delete(g);
    g = tg_clone(base);
    tg_w32(tg_kv_append(g, "llama.block_count", TG_U32), 2);
    tg_expect_fail_g("duplicate key llama.block_count (same value)", g, "block_count|duplicate");
    tg_delete(g);

    /* general.alignment: zero, not a power of two, too large, not a u32 */
    {
        const uint64_t aligns[] = {0, 3, 48, 96, 0x80000000u, 0xFFFFFFFFu};
        for (i = 0; i < 6; i++) {
            g = tg_clone(base);
            tg_set_u32(g, "general.alignment", aligns[i]);
            snprintf(what, sizeof what, "general.alignment %llu", (unsigned long long)aligns[i]);
            tg_expect_fail_g(what, g, NULL);
            tg_delete(g);
        }
    }
    g = tg_clone(base);
    tg_w64(tg_kv_set(g, "general.alignment", TG_U64), 32);
    tg_expect_fail_g("general.alignment as u64", g, "alignment");
    tg_w32(tg_kv_set(g, "general.alignment", TG_I32), 32);
    tg_expect_fail_g("general.alignment as i32", g, "alignment");
    tg_w16(tg_kv_set(g, "general.alignment", TG_U16), 32);
    tg_expect_fail_g("general.alignment as u16", g, "alignment");
    tg_wstr(tg_kv_set(g, "general.alignment", TG_STR), "32");
    tg_expect_fail_g("general.alignment as string", g, "alignment");
    tg_wf32(tg_kv_set(g, "general.alignment", TG_F32), 32.0f);
    tg_expect_fail_g("general.alignment as f32", g, "alignment");
    tg_delete(g);
    /* general.alignment 64 but a tensor 32-aligned only */
    g = tg_clone(base);
    g->align = 64;
    tg_set_u32(g, "general.alignment", 64);
    {
        tg_buf b2;
        tg_layout l2;
        memset(&b2, 0, sizeof b2);
        tg_serialize(g, &b2, &l2);
        k = tg_tensor_index(g, "output_norm.weight");
        g->t[k].has_offset = 1;
        g->t[k].offset = l2.data_offset[k] + 32;
        free(b2.p);
    }
    tg_expect_fail_g("general.alignment 64, a tensor at 64k + 32", g, NULL);
    tg_delete(g);
    tg_delete(base);
    free(b.p);
}

static void test_gguf_bad_tensors(void) {
    static const uint32_t bad_types[] = {4,  5,   31,          32,          33,          36,         37,
                                         38, 40,  41,          64,          200,         0x7FFFFFFFu, 0x80000000u,
                                         0xFFFFFFFFu};
    tg_buf b;
    tg_layout lay;
    tg_gguf *g, *base;
    tg_cfg c;
    char what[160];
    size_t i, left;
    int k, last;
    uint64_t data_total;

    tg_default_file(&b, &lay, &base);
    last = base->n_t - 1;
    data_total = b.n - lay.data_start;

    /* name length */
    left = b.n - lay.off_ti[0] - 8;
    tg_expect_fail_patch("tensor name length past the end", &b, lay.off_ti[0], left + 1, 8, NULL);
    tg_expect_fail_patch("tensor name length 2^63", &b, lay.off_ti[0], UINT64_C(1) << 63, 8, NULL);
    tg_expect_fail_patch("tensor name length 2^64-1", &b, lay.off_ti[0], UINT64_MAX, 8, NULL);
    tg_expect_fail_patch("tensor n_dims 2^32-1", &b, lay.off_ti_ndims[0], 0xFFFFFFFFu, 4, NULL);
    tg_expect_fail_patch("tensor n_dims 2^31", &b, lay.off_ti_ndims[0], 0x80000000u, 4, NULL);

    /* n_dims 0, 5, 8 in well-formed infos */
    {
        const uint32_t nds[] = {0, 5, 8};
        for (i = 0; i < 3; i++) {
            g = tg_clone(base);
            k = tg_tensor_index(g, "blk.0.attn_q.weight");
            g->t[k].n_dims = nds[i];
            g->t[k].ne[2] = g->t[k].ne[3] = g->t[k].ne[4] = g->t[k].ne[5] = g->t[k].ne[6] = g->t[k].ne[7] = 1;
            tg_tensor_resize(&g->t[k]);
            snprintf(what, sizeof what, "n_dims %u", nds[i]);
            tg_expect_fail_g(what, g, NULL);
            tg_delete(g);
        }
    }
    /* a zero dimension; dimensions whose product overflows int64 or size_t; negative as int64 */
    {
        static const uint64_t dims[][4] = {
            {32, 0, 1, 1},
            {0, 32, 1, 1},
            {UINT64_C(1) << 32, UINT64_C(1) << 32, 1, 1},
            {UINT64_C(1) << 31, UINT64_C(1) << 31, UINT64_C(1) << 31, UINT64_C(1) << 31},
            {UINT64_C(1) << 62, 4, 1, 1},
            {UINT64_C(1) << 62, 1, 1, 1},
            {UINT64_C(1) << 63, 1, 1, 1},
            {UINT64_MAX, 1, 1, 1},
            {32, UINT64_MAX, 1, 1},
            {32, (UINT64_C(1) << 63) - 1, 1, 1},
            {32, UINT64_C(1) << 59, 1, 1},
            {32, 32, UINT64_C(1) << 58, 1},
            {32, 3, 5, (UINT64_C(1) << 62) / 15 + 1},
        };
        static const char *const names[2] = {"token_embd.weight", "blk.1.attn_k.weight"};
        int nn;
        for (nn = 0; nn < 2; nn++) {
            for (i = 0; i < sizeof dims / sizeof dims[0]; i++) {
                g = tg_clone(base);
                k = tg_tensor_index(g, names[nn]);
                g->t[k].n_dims = 4;
                memcpy(g->t[k].ne, dims[i], sizeof dims[i]);
                tg_tensor_resize(&g->t[k]);
                snprintf(what, sizeof what, "%s ne [%llu, %llu, %llu, %llu]", names[nn],
                         (unsigned long long)dims[i][0], (unsigned long long)dims[i][1],
                         (unsigned long long)dims[i][2], (unsigned long long)dims[i][3]);
                tg_expect_fail_g(what, g, NULL);
                tg_delete(g);
            }
        }
    }
    /* unknown and retired type ids */
    for (i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        snprintf(what, sizeof what, "tensor type %u", bad_types[i]);
        k = tg_tensor_index(base, "blk.0.attn_norm.weight");
        tg_expect_fail_patch(what, &b, lay.off_ti_type[k], bad_types[i], 4, NULL);
    }
    /* ne[0] not a multiple of the block: Q8_0 ffn_down with rows of 48, as the shared file */
    c = tg_default_cfg();
    c.n_ff = 48;
    c.ffn_down_type = LLM_TYPE_Q8_0;
    g = tg_llama(&c);
    tg_expect_fail_g("Q8_0 ffn_down [48, 32]", g, "ffn_down|block");
    tg_delete(g);
    c = tg_default_cfg();
    c.n_embd = 40;
    c.wtype = c.ffn_down_type = LLM_TYPE_Q8_0;
    g = tg_llama(&c);
    tg_expect_fail_g("Q8_0 matrices with rows of 40", g, "block|token_embd");
    tg_delete(g);
    g = tg_clone(base);
    k = tg_tensor_index(g, "blk.0.attn_q.weight");
    g->t[k].type = LLM_TYPE_Q4_K; /* block 256 > 32 */
    tg_tensor_resize(&g->t[k]);
    tg_expect_fail_g("Q4_K attn_q with rows of 32", g, NULL);
    tg_delete(g);

    /* offsets: misaligned, past the end, wrapping */
    tg_expect_fail_patch("first tensor at offset 4", &b, lay.off_ti_offset[0], 4, 8, NULL);
    tg_expect_fail_patch("first tensor at offset 1", &b, lay.off_ti_offset[0], 1, 8, NULL);
    tg_expect_fail_patch("second tensor at offset +16", &b, lay.off_ti_offset[1], lay.data_offset[1] + 16, 8, NULL);
    tg_expect_fail_patch("last tensor 32 bytes later (ends past the file)", &b, lay.off_ti_offset[last],
                         lay.data_offset[last] + 32, 8, NULL);
    tg_expect_fail_patch("last tensor starts at the end", &b, lay.off_ti_offset[last],
                         tg_align_up((size_t)data_total, 32), 8, NULL);
    tg_expect_fail_patch("a tensor at 2^64-32 (offset + size wraps)", &b, lay.off_ti_offset[1],
                         UINT64_MAX - 31, 8, NULL);
    tg_expect_fail_patch("a tensor at 2^63", &b, lay.off_ti_offset[1], UINT64_C(1) << 63, 8, NULL);
    tg_expect_fail_patch("a tensor at 2^64-1", &b, lay.off_ti_offset[1], UINT64_MAX, 8, NULL);
    tg_expect_fail_patch("a tensor at 2^32", &b, lay.off_ti_offset[1], UINT64_C(1) << 32, 8, NULL);
    tg_expect_fail_patch("a tensor at SIZE_MAX - data start + 1 (aligned)", &b, lay.off_ti_offset[1],
                         (UINT64_MAX - lay.data_start + 1) & ~UINT64_C(31), 8, NULL);

    /* duplicate tensor names */
    g = tg_clone(base);
    k = tg_tensor_index(g, "blk.0.attn_q.weight");
    g->t[g->n_t++] = g->t[k];
    g->t[g->n_t - 1].has_offset = 0;
    tg_expect_fail_g("duplicate tensor blk.0.attn_q.weight", g, "attn_q|duplicate");
    tg_delete(g);
    g = tg_clone(base);
    tg_tensor_add(g, "extra.weight", LLM_TYPE_F32, 1, 8, 1);
    tg_tensor_add(g, "extra.weight", LLM_TYPE_F32, 1, 8, 1);
    tg_expect_fail_g("duplicate tensor extra.weight", g, "extra.weight|duplicate");
    tg_delete(g);
    tg_delete(base);
    free(b.p);
}

/* The k-th change of model metadata that must be refused; NULL past the last. want gets the
   word(s) the message should mention, or NULL. */
static const char *tg_model_case(tg_gguf *g, int k, const char **want) {
    tg_buf *v;
    int i;
    *want = NULL;
    switch (k) {
    case 0: tg_kv_remove(g, "general.architecture"); return "no general.architecture";
    case 1: tg_set_str(g, "general.architecture", "no-such-arch"); return "general.architecture no-such-arch";
    case 2: tg_set_str(g, "general.architecture", ""); return "general.architecture \"\"";
    case 3: tg_set_u32(g, "general.architecture", 1); return "general.architecture as u32";
    case 4: tg_set_u32(g, "llama.block_count", 0xFFFFFFFFu); return "block_count 2^32-1";
    case 5: tg_set_u32(g, "llama.block_count", 0x80000000u); return "block_count 2^31";
    case 6: tg_set_u32(g, "llama.block_count", 1000000); return "block_count 1000000";
    case 7: tg_set_u32(g, "llama.block_count", 3); return "block_count 3 (2 layers of tensors)";
    case 8: tg_kv_remove(g, "llama.block_count"); return "no block_count";
    case 9: tg_set_u32(g, "llama.attention.head_count", 0); return "head_count 0";
    case 10: tg_set_u32(g, "llama.attention.head_count", 3); return "head_count 3 (n_embd 32)";
    case 11: tg_set_u32(g, "llama.attention.head_count", 64); return "head_count 64 (n_embd 32)";
    case 12: tg_set_u32(g, "llama.attention.head_count", 0xFFFFFFFFu); return "head_count 2^32-1";
    case 13: tg_kv_remove(g, "llama.attention.head_count"); return "no head_count";
    case 14: tg_set_u32(g, "llama.attention.head_count_kv", 0); return "head_count_kv 0";
    case 15: tg_set_u32(g, "llama.attention.head_count_kv", 3); return "head_count_kv 3 (head_count 4)";
    case 16: tg_set_u32(g, "llama.attention.head_count_kv", 8); return "head_count_kv 8 > head_count 4";
    case 17: tg_set_u32(g, "llama.embedding_length", 0); return "embedding_length 0";
    case 18: tg_set_u32(g, "llama.embedding_length", 36); return "embedding_length 36 (tensors 32)";
    case 19: tg_set_u32(g, "llama.embedding_length", 0xFFFFFFFFu); return "embedding_length 2^32-1";
    case 20: tg_kv_remove(g, "llama.embedding_length"); return "no embedding_length";
    case 21: tg_set_u32(g, "llama.feed_forward_length", 0); return "feed_forward_length 0";
    case 22: tg_set_u32(g, "llama.feed_forward_length", 65); return "feed_forward_length 65 (tensors 64)";
    case 23: tg_kv_remove(g, "llama.feed_forward_length"); return "no feed_forward_length";
    case 24: tg_kv_remove(g, "llama.context_length"); return "no context_length";
    case 25: tg_kv_remove(g, "llama.attention.layer_norm_rms_epsilon"); return "no layer_norm_rms_epsilon";
    case 26: tg_set_str(g, "llama.embedding_length", "32"); return "embedding_length as a string";
    case 27: tg_set_f32(g, "llama.block_count", 2.0f); return "block_count as f32";
    case 28: tg_set_str(g, "llama.attention.head_count", "4"); return "head_count as a string";
    case 29: tg_set_str(g, "llama.attention.head_count_kv", "2"); return "head_count_kv as a string";
    case 30: tg_set_str(g, "llama.attention.layer_norm_rms_epsilon", "1e-6"); return "rms_epsilon as a string";
    case 31: tg_set_u32(g, "llama.rope.dimension_count", 1000); return "rope.dimension_count 1000 > head dim 8";
    case 32: tg_kv_remove(g, "tokenizer.ggml.tokens"); return "no tokenizer.ggml.tokens";
    case 33:
        v = tg_set_arr(g, "tokenizer.ggml.tokens", TG_U32, 64);
        for (i = 0; i < 64; i++) tg_w32(v, (uint64_t)i);
        return "tokens: an array of u32";
    case 34: tg_set_str(g, "tokenizer.ggml.tokens", "<unk>"); return "tokens: a string, not an array";
    case 35:
        v = tg_set_arr(g, "tokenizer.ggml.scores", TG_I32, 64);
        for (i = 0; i < 64; i++) tg_w32(v, (uint64_t)i);
        return "scores: an array of i32";
    case 36:
        v = tg_set_arr(g, "tokenizer.ggml.token_type", TG_F32, 64);
        for (i = 0; i < 64; i++) tg_wf32(v, 1.0f);
        return "token_type: an array of f32";
    case 37:
        v = tg_set_arr(g, "tokenizer.ggml.scores", TG_F32, 63);
        for (i = 0; i < 63; i++) tg_wf32(v, 0.0f);
        return "scores: 63 for 64 tokens";
    case 38:
        v = tg_set_arr(g, "tokenizer.ggml.token_type", TG_I32, 65);
        for (i = 0; i < 65; i++) tg_w32(v, 1);
        return "token_type: 65 for 64 tokens";
    case 39: tg_set_str(g, "tokenizer.ggml.model", "no-such-tokenizer"); return "tokenizer.ggml.model unknown";
    case 40: tg_set_u32(g, "tokenizer.ggml.model", 1); return "tokenizer.ggml.model as u32";
    case 41: tg_set_arr(g, "tokenizer.ggml.tokens", TG_STR, 0); return "tokens: empty (n_vocab 0)";
    case 42:
        v = tg_set_arr(g, "tokenizer.ggml.tokens", TG_STR, 63);
        for (i = 0; i < 63; i++) {
            char s[32];
            tg_token_text(i, s, sizeof s);
            tg_wstr(v, s);
        }
        v = tg_set_arr(g, "tokenizer.ggml.scores", TG_F32, 63);
        for (i = 0; i < 63; i++) tg_wf32(v, 0.0f);
        v = tg_set_arr(g, "tokenizer.ggml.token_type", TG_I32, 63);
        for (i = 0; i < 63; i++) tg_w32(v, i == 0 ? 2 : i < 3 ? 3 : 1);
        *want = "token_embd|vocab";
        return "tokens: 63 for token_embd of 64";
    case 43: tg_set_u32(g, "tokenizer.ggml.bos_token_id", 64); *want = "bos"; return "bos id 64 = n_vocab";
    case 44: tg_set_u32(g, "tokenizer.ggml.bos_token_id", 0x7FFFFFFFu); *want = "bos"; return "bos id 2^31-1";
    case 45: tg_set_u32(g, "tokenizer.ggml.eos_token_id", 65); *want = "eos"; return "eos id 65";
    case 46: tg_set_u32(g, "tokenizer.ggml.unknown_token_id", 0xFFFFFFFEu); return "unk id 2^32-2";
    case 47: tg_set_u32(g, "tokenizer.ggml.eos_token_id", 0x80000000u); *want = "eos"; return "eos id 2^31";
    case 48: tg_set_str(g, "tokenizer.ggml.bos_token_id", "1"); return "bos id as a string";
    case 49: tg_set_u32(g, "llama.vocab_size", 65); return "llama.vocab_size 65 for 64 tokens";
    default: return NULL;
    }
}

static void test_gguf_bad_model(void) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *base = tg_llama(&c), *g;
    const char *what, *want;
    char name[160];
    int k, i, v;

    for (k = 0;; k++) {
        g = tg_clone(base);
        what = tg_model_case(g, k, &want);
        if (!what) {
            tg_delete(g);
            break;
        }
        tg_expect_fail_g(what, g, want);
        tg_delete(g);
    }
    /* n_vocab of the tensors differs from the tokens */
    g = tg_clone(base);
    i = tg_tensor_index(g, "token_embd.weight");
    g->t[i].ne[1] = 65;
    tg_tensor_resize(&g->t[i]);
    i = tg_tensor_index(g, "output.weight");
    g->t[i].ne[1] = 65;
    tg_tensor_resize(&g->t[i]);
    tg_expect_fail_g("token_embd and output [32, 65] for 64 tokens", g, "token_embd|vocab");
    tg_delete(g);

    /* every tensor missing in turn (output.weight is optional) */
    for (k = 0; k < base->n_t; k++) {
        if (strcmp(base->t[k].name, "output.weight") == 0) continue;
        g = tg_clone(base);
        tg_tensor_remove(g, k);
        snprintf(name, sizeof name, "missing %s", base->t[k].name);
        tg_expect_fail_g(name, g, base->t[k].name);
        tg_delete(g);
    }
    /* every tensor with a wrong shape: a longer row, a longer column, transposed, 3-D */
    for (k = 0; k < base->n_t; k++) {
        for (v = 0; v < 4; v++) {
            tg_tensor *t;
            g = tg_clone(base);
            t = &g->t[k];
            if (v == 0) {
                t->ne[0] += 1;
                snprintf(name, sizeof name, "%s: ne[0] + 1", t->name);
            } else if (v == 1) {
                if (t->n_dims == 1) t->n_dims = 2, t->ne[1] = 2;
                else t->ne[1] += 1;
                snprintf(name, sizeof name, "%s: ne[1] + 1", t->name);
            } else if (v == 2) {
                uint64_t x = t->ne[0];
                if (t->n_dims != 2 || t->ne[0] == t->ne[1]) {
                    tg_delete(g);
                    continue;
                }
                t->ne[0] = t->ne[1];
                t->ne[1] = x;
                snprintf(name, sizeof name, "%s: transposed", t->name);
            } else {
                if (t->n_dims == 1) t->ne[1] = 1;
                t->n_dims = 3;
                t->ne[2] = 2;
                snprintf(name, sizeof name, "%s: 3-D", t->name);
            }
            tg_tensor_resize(t);
            tg_expect_fail_g(name, g, base->t[k].name);
            tg_delete(g);
        }
    }
    tg_delete(base);
}

/* g's file with n_kv extra keys "x.kNNNNN" (u8) and n_t extra tensors "x.tNNNNN" (F32 [8])
   after its own, then, if dup_kv / dup_t, a second "x.k00000" / "x.t00000" at the end. */
static void tg_many(tg_buf *out, const tg_gguf *g, int n_kv, int n_t, int dup_kv, int dup_t) {
    char name[32];
    int i, total_t = g->n_t + n_t + dup_t;
    uint64_t off = 0;
    uint64_t *offs = (uint64_t *)malloc((size_t)total_t * sizeof *offs);
    if (!offs) exit(2);
    out->n = 0;
    for (i = 0; i < total_t; i++) {
        off = tg_align_up((size_t)off, 32);
        offs[i] = off;
        off += i < g->n_t ? g->t[i].data_size : 32;
    }
    tg_w32(out, g->magic);
    tg_w32(out, 3);
    tg_w64(out, (uint64_t)total_t);
    tg_w64(out, (uint64_t)(g->n_kv + n_kv + dup_kv));
    for (i = 0; i < g->n_kv; i++) {
        tg_wstr(out, g->kv[i].key);
        tg_w32(out, g->kv[i].type);
        tg_put(out, g->kv[i].val.p, g->kv[i].val.n);
    }
    for (i = 0; i < n_kv + dup_kv; i++) {
        snprintf(name, sizeof name, "x.k%05d", i < n_kv ? i : 0);
        tg_wstr(out, name);
        tg_w32(out, TG_U8);
        tg_w8(out, (uint64_t)i);
    }
    for (i = 0; i < total_t; i++) {
        const tg_tensor *t = i < g->n_t ? &g->t[i] : NULL;
        uint32_t d;
        if (t) {
            tg_wstr(out, t->name);
            tg_w32(out, t->n_dims);
            for (d = 0; d < t->n_dims; d++) tg_w64(out, t->ne[d]);
            tg_w32(out, t->type);
        } else {
            snprintf(name, sizeof name, "x.t%05d", i - g->n_t < n_t ? i - g->n_t : 0);
            tg_wstr(out, name);
            tg_w32(out, 1);
            tg_w64(out, 8);
            tg_w32(out, LLM_TYPE_F32);
        }
        tg_w64(out, offs[i]);
    }
    tg_zeros(out, tg_align_up(out->n, 32) - out->n);
    {
        size_t data_start = out->n;
        for (i = 0; i < total_t; i++) {
            tg_zeros(out, data_start + (size_t)offs[i] - out->n);
            if (i < g->n_t) tg_write_data(out, &g->t[i], (uint64_t)i);
            else tg_zeros(out, 32);
        }
    }
    free(offs);
}

/* Thousands of keys and tensors: duplicates are still found when they come last (the
   check must not be quadratic to stay fast at LLM_MAX_KV / LLM_MAX_TENSORS, but this size
   is quick either way). */
static void test_gguf_many_entries(void) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *g;
    tg_buf b;
    char err[512];
    c.extras = 0;
    g = tg_llama(&c);
    memset(&b, 0, sizeof b);
    tg_many(&b, g, 3000, 0, 0, 0);
    T_CHECK(tg_try("3000 extra keys", b.p, b.n, NULL, err, sizeof err), "3000 extra keys: refused: %s", err);
    tg_many(&b, g, 3000, 0, 1, 0);
    tg_expect_fail("3000 extra keys, then x.k00000 again", b.p, b.n, "duplicate|x.k00000");
    tg_many(&b, g, 0, 3000, 0, 1);
    tg_expect_fail("3000 extra tensors, then x.t00000 again", b.p, b.n, NULL);
    free(b.p);
    tg_delete(g);
}

/* Every prefix of the header, metadata and tensor infos, and a sample through the data. */
static void test_gguf_truncation(void) {
    tg_buf b;
    tg_layout lay;
    char what[96];
    size_t n;
    int j;
    tg_default_file(&b, &lay, NULL);
    for (n = 0; n <= lay.data_start; n++) {
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", n, b.n);
        tg_expect_fail(what, b.p, n, NULL);
    }
    for (n = lay.data_start + 1; n < b.n; n += 997) {
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", n, b.n);
        tg_expect_fail(what, b.p, n, NULL);
    }
    for (j = 1; j <= 40; j++) {
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", b.n - (size_t)j, b.n);
        tg_expect_fail(what, b.p, b.n - (size_t)j, NULL);
    }
    free(b.p);
}

/* The caller's limits on vocabulary and tensor count. */
static void test_gguf_limits(void) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *g = tg_llama(&c);
    tg_buf b;
    tg_layout lay;
    llm_model_params p;
    char err[512];
    memset(&b, 0, sizeof b);
    tg_serialize(g, &b, &lay);
    memset(&p, 0, sizeof p);
    p.max_vocab = 64;
    T_CHECK(tg_try("max_vocab 64", b.p, b.n, &p, err, sizeof err), "max_vocab 64 refused: %s", err);
    p.max_vocab = 63;
    tg_expect_fail_p("max_vocab 63 for 64 tokens", b.p, b.n, &p, NULL);
    p.max_vocab = 0;
    p.max_tensors = (uint32_t)g->n_t;
    T_CHECK(tg_try("max_tensors = n_tensors", b.p, b.n, &p, err, sizeof err), "max_tensors %d refused: %s", g->n_t,
            err);
    p.max_tensors = (uint32_t)g->n_t - 1;
    tg_expect_fail_p("max_tensors one less than the file has", b.p, b.n, &p, NULL);
    free(b.p);
    tg_delete(g);
}

/* Every allocation of a successful load failing in turn: NULL with a message, nothing leaked. */
static void test_gguf_out_of_memory(void) {
    tg_buf b;
    tg_layout lay;
    tg_loaded L;
    char err[512], what[64];
    long n, k;
    tg_default_file(&b, &lay, NULL);
    T_REQUIRE(tg_open(&L, "tiny llama", b.p, b.n, NULL, 0, err, sizeof err) != NULL, "tiny llama refused: %s", err);
    n = L.heap.n_alloc;
    tg_close(&L);
    for (k = 1; k <= n; k++) {
        snprintf(what, sizeof what, "allocation %ld of %ld fails", k, n);
        if (tg_open(&L, what, b.p, b.n, NULL, k, err, sizeof err)) T_CHECK(0, "%s: loaded anyway", what);
        else T_CHECK(err[0] != 0, "%s: refused without a message", what);
        tg_close(&L);
    }
    free(b.p);
}

/* Seeded random damage: the load either succeeds or fails cleanly. */
static void tg_mutate_run(const char *label, const tg_gguf *g, uint64_t seed, int iterations) {
    static const uint64_t extremes[] = {0, 1, 2, 3, 4, 5, 8, 9, 13, 31, 32, 33, 63, 64, 0x7F, 0x80, 0xFF, 0x100,
                                        0xFFFF, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, UINT64_C(0x100000000),
                                        UINT64_C(0x100000001), UINT64_C(0x7FFFFFFFFFFFFFFF),
                                        UINT64_C(0x8000000000000000), UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 31};
    tg_buf b;
    tg_layout lay;
    size_t fields[8 * TG_MAX_KV + 8 * TG_MAX_T];
    int widths[8 * TG_MAX_KV + 8 * TG_MAX_T];
    int n_fields = 0, i, it, d, loaded = 0;
    unsigned char *work;
    char what[128], err[256];
    memset(&b, 0, sizeof b);
    tg_serialize(g, &b, &lay);
#define TG_FIELD(off, w) (fields[n_fields] = (off), widths[n_fields++] = (w))
    TG_FIELD(lay.off_version, 4);
    TG_FIELD(lay.off_n_tensors, 8);
    TG_FIELD(lay.off_n_kv, 8);
    for (i = 0; i < g->n_kv; i++) {
        TG_FIELD(lay.off_kv[i], 8);
        TG_FIELD(lay.off_kv_type[i], 4);
        if (g->kv[i].type == TG_STR) TG_FIELD(lay.off_kv_val[i], 8);
        if (g->kv[i].type == TG_ARR) {
            TG_FIELD(lay.off_kv_val[i], 4);
            TG_FIELD(lay.off_kv_val[i] + 4, 8);
            if (tg_get(g->kv[i].val.p, 0, 4) == TG_STR && g->kv[i].val.n > 12) TG_FIELD(lay.off_kv_val[i] + 12, 8);
        }
        if (g->kv[i].type == TG_U32) TG_FIELD(lay.off_kv_val[i], 4);
    }
    for (i = 0; i < g->n_t; i++) {
        TG_FIELD(lay.off_ti[i], 8);
        TG_FIELD(lay.off_ti_ndims[i], 4);
        for (d = 0; d < (int)g->t[i].n_dims; d++) TG_FIELD(lay.off_ti_ne[i] + 8 * (size_t)d, 8);
        TG_FIELD(lay.off_ti_type[i], 4);
        TG_FIELD(lay.off_ti_offset[i], 8);
    }
#undef TG_FIELD
    work = (unsigned char *)malloc(b.n);
    if (!work) exit(2);
    for (it = 0; it < iterations; it++) {
        uint64_t r = tg_rand(&seed);
        int kind = (int)(r % 8), flips = 1 + (int)((r >> 8) % 8), f;
        size_t n = b.n;
        memcpy(work, b.p, b.n);
        if (kind == 4 || kind == 5) { /* a field to an extreme value, sometimes with flips */
            int fi = (int)(tg_rand(&seed) % (uint64_t)n_fields);
            uint64_t x = tg_rand(&seed), val;
            if (x % 4 == 0) val = x >> (x % 64);
            else if (x % 4 == 1) val = tg_get(b.p, fields[fi], widths[fi]) + (x >> 62) - 2;
            else val = extremes[(x >> 8) % (sizeof extremes / sizeof extremes[0])];
            tg_patch(work, fields[fi], val, widths[fi]);
            if (kind == 4) flips = 0;
        } else if (kind == 6) { /* an extreme u64 at any header position */
            size_t at = (size_t)(tg_rand(&seed) % (lay.data_start - 8));
            tg_patch(work, at, extremes[tg_rand(&seed) % (sizeof extremes / sizeof extremes[0])], 8);
            flips = 0;
        } else if (kind == 7) { /* truncated, plus flips */
            n = (size_t)(tg_rand(&seed) % b.n);
        }
        for (f = 0; f < flips; f++) { /* mostly in the header, sometimes anywhere */
            uint64_t x = tg_rand(&seed);
            size_t at = (size_t)((x % 8 == 0 ? (x >> 8) % b.n : (x >> 8) % lay.data_start));
            if (at < n) work[at] ^= (unsigned char)(1 + (x >> 40) % 255);
        }
        snprintf(what, sizeof what, "%s mutation %d (kind %d)", label, it, kind);
        if (tg_verbose()) { /* the changed bytes, to rebuild the case */
            size_t at;
            printf("    [%s] %s: %zu of %zu bytes; changed:", t_name, what, n, b.n);
            for (at = 0; at < n; at++)
                if (work[at] != b.p[at]) printf(" @%zu %02x->%02x", at, b.p[at], work[at]);
            printf("\n");
        }
        loaded += tg_try(what, work, n, NULL, err, sizeof err);
    }
    if (tg_verbose()) printf("    %s: %d of %d mutated files loaded\n", label, loaded, iterations);
    free(work);
    free(b.p);
}

static void test_gguf_mutations(void) {
    tg_cfg c = tg_default_cfg();
    tg_gguf *g = tg_llama(&c);
    tg_mutate_run("F32", g, 20240601, 8000);
    tg_delete(g);
    c.wtype = c.ffn_down_type = LLM_TYPE_Q8_0;
    c.tied = 1;
    c.n_vocab = 40;
    g = tg_llama(&c);
    g->align = 64;
    g->version = 2;
    tg_set_u32(g, "general.alignment", 64);
    tg_mutate_run("Q8_0", g, 77, 4000);
    tg_delete(g);
}

/* Every shared GGUF (other architectures, other types, vocabulary-only files) loads or is
   refused with a message; nothing else. */
static void test_gguf_shared_sweep(void) {
    static const char *const names[] = {
        "synth/gemma-F32.gguf", "synth/gemma2-Q8_0.gguf", "synth/gemma3-F32.gguf", "synth/llama-moe-Q8_0.gguf",
        "synth/llama-rope3-F32.gguf", "synth/phi3-longrope-Q8_0.gguf", "synth/qwen2-F32.gguf",
        "synth/qwen3moe-Q8_0.gguf", "synth/synth-q-BF16.gguf", "synth/synth-q-IQ4_XS.gguf",
        "synth/synth-q-Q2_K.gguf", "synth/synth-q-Q4_K_M.gguf", "synth/synth-q-TQ1_0.gguf",
        "synth/synth-q-TQ2_0.gguf", "reference/TinyStories-656K-Q2_K.gguf", "llama.cpp-vocab/ggml-vocab-bert-bge.gguf",
        "llama.cpp-vocab/ggml-vocab-gpt-2.gguf", "llama.cpp-vocab/ggml-vocab-phi-3.gguf",
        "llama.cpp-vocab/ggml-vocab-qwen2.gguf"};
    size_t k;
    int vo;
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        char rel[128], err[512];
        const char *path;
        snprintf(rel, sizeof rel, "models/%s", names[k]);
        path = t_shared(rel);
        if (!path) continue;
        for (vo = 0; vo < 2; vo++) {
            llm_model_params p;
            tg_heap h;
            llm_model *m;
            memset(&p, 0, sizeof p);
            memset(&h, 0, sizeof h);
            p.allocator.alloc = tg_heap_alloc;
            p.allocator.free = tg_heap_free;
            p.allocator.user = &h;
            p.vocab_only = vo;
            err[0] = 0;
            m = llm_model_load(path, &p, err, sizeof err);
            if (m) {
                tg_exercise(rel, m, (size_t)-1);
                tg_exercise_deep(rel, m);
            } else T_CHECK(err[0] != 0, "%s (vocab_only %d): refused without a message", rel, vo);
            llm_model_free(m);
            T_CHECK(h.live == 0, "%s: %ld allocations not freed", rel, h.live);
        }
    }
}

/* This file's tests again in the ASan/UBSan build (build/test-asan, made by the Makefile
   where clang exists). LLM_TEST_SANITIZED keeps the child from recursing. */
static void test_gguf_sanitized(void) {
    FILE *f;
    int rc;
    if (getenv("LLM_TEST_SANITIZED")) return;
    f = fopen("build/test-asan", "rb");
    if (!f) T_SKIP("build/test-asan not built (needs clang)");
    fclose(f);
    /* allocator_may_return_null: an absurd allocation request is caught by the tests' own
       counting allocator with a message, and the run goes on to the other cases */
    rc = system("LLM_TEST_SANITIZED=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "
                "ASAN_OPTIONS=allocator_may_return_null=1 "
                "build/test-asan gguf > build/test-asan-gguf.log 2>&1");
    if (rc != 0) {
        size_t size = 0, from;
        unsigned char *log = t_read_file("build/test-asan-gguf.log", &size);
        from = size > 4000 ? size - 4000 : 0;
        printf("  ---- tail of build/test-asan-gguf.log ----\n%.*s\n  ----\n", (int)(size - from),
               log ? (const char *)log + from : "");
        free(log);
    }
    T_CHECK(rc == 0, "build/test-asan gguf exited with status %d (log: build/test-asan-gguf.log)", rc);
}

static void tests_gguf(void) {
    T_RUN(test_gguf_tiny_model);
    T_RUN(test_gguf_meta_values);
    T_RUN(test_gguf_variants);
    T_RUN(test_gguf_files);
    T_RUN(test_gguf_api_edges);
    T_RUN(test_gguf_real_files);
    T_RUN(test_gguf_invalid_files);
    T_RUN(test_gguf_bad_header);
    T_RUN(test_gguf_bad_metadata);
    T_RUN(test_gguf_bad_tensors);
    T_RUN(test_gguf_bad_model);
    T_RUN(test_gguf_many_entries);
    T_RUN(test_gguf_truncation);
    T_RUN(test_gguf_limits);
    T_RUN(test_gguf_out_of_memory);
    T_RUN(test_gguf_mutations);
    T_RUN(test_gguf_shared_sweep);
    T_RUN(test_gguf_sanitized);
    if (tg_verbose()) printf("    %d malformed cases refused\n", tg_n_refused);
}
