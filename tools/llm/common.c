/* Shared helpers of the `llm` command; see common.h. */
#include "common.h"
#include "../../llm_vulkan.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- errors ---------------------------------------------------------------------------- */

void cli_fail(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs("llm: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void cli_usage_error(const cli_args *a, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "llm %s: ", a->argv[0]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", a->usage);
    exit(2);
}

void *cli_alloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) cli_fail("out of memory (%zu bytes)", size);
    return p;
}

/* ---- options --------------------------------------------------------------------------- */

cli_args cli_begin(int argc, char **argv, const char *usage) {
    cli_args a;
    a.argc = argc;
    a.argv = argv;
    a.i = 0;
    a.usage = usage;
    a.value = NULL;
    return a;
}

int cli_next(cli_args *a) {
    const char *s;
    if (++a->i >= a->argc) return 0;
    s = a->argv[a->i];
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
        fputs(a->usage, stdout);
        exit(0);
    }
    return 1;
}

int cli_flag(cli_args *a, const char *short_name, const char *long_name) {
    const char *s = a->argv[a->i];
    return (short_name && strcmp(s, short_name) == 0) || (long_name && strcmp(s, long_name) == 0);
}

int cli_value(cli_args *a, const char *short_name, const char *long_name, const char **value) {
    const char *s = a->argv[a->i];
    size_t n = long_name ? strlen(long_name) : 0;
    if (long_name && strncmp(s, long_name, n) == 0 && s[n] == '=') {
        *value = s + n + 1;
        return 1;
    }
    if (!cli_flag(a, short_name, long_name)) return 0;
    if (a->i + 1 >= a->argc) cli_usage_error(a, "option %s needs a value", s);
    *value = a->argv[++a->i];
    return 1;
}

int cli_positional(cli_args *a, const char **value) {
    const char *s = a->argv[a->i];
    if (s[0] == '-' && s[1] != 0) return 0;
    *value = s;
    return 1;
}

void cli_unknown(cli_args *a) {
    const char *s = a->argv[a->i];
    if (s[0] == '-' && s[1] != 0) cli_usage_error(a, "unknown option '%s'", s);
    cli_usage_error(a, "unexpected argument '%s'", s);
}

/* The option the value being parsed belongs to: the current argument, or the one before
   it when the value was given separately. */
static const char *cli__option_name(const cli_args *a, const char *value) {
    const char *cur = a->argv[a->i];
    if (cur == value && a->i > 0) return a->argv[a->i - 1];
    return cur;
}

long cli_int(const cli_args *a, const char *s, long min, long max) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end || errno) cli_usage_error(a, "%s: '%s' is not an integer", cli__option_name(a, s), s);
    if (v < min || v > max)
        cli_usage_error(a, "%s: %ld is out of range [%ld, %ld]", cli__option_name(a, s), v, min, max);
    return v;
}

double cli_float(const cli_args *a, const char *s, double min, double max) {
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || errno || v != v) cli_usage_error(a, "%s: '%s' is not a number", cli__option_name(a, s), s);
    if (v < min || v > max) cli_usage_error(a, "%s: %g is out of range [%g, %g]", cli__option_name(a, s), v, min, max);
    return v;
}

uint64_t cli_size(const cli_args *a, const char *s, uint64_t min, uint64_t max) {
    char *end;
    unsigned long long v;
    uint64_t mul = 1;
    if (!isdigit((unsigned char)s[0])) cli_usage_error(a, "%s: '%s' is not a size", cli__option_name(a, s), s);
    errno = 0;
    v = strtoull(s, &end, 10);
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1ull << 10; end++; break;
    case 'M': mul = 1ull << 20; end++; break;
    case 'G': mul = 1ull << 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B') end += *end == 'i' && end[1] == 'B' ? 2 : 1; /* 4KiB, 4KB */
    if (*end || errno || v > UINT64_MAX / mul) cli_usage_error(a, "%s: '%s' is not a size", cli__option_name(a, s), s);
    v *= mul;
    if (v < min || v > max)
        cli_usage_error(a, "%s: %llu is out of range [%llu, %llu]", cli__option_name(a, s), v,
                        (unsigned long long)min, (unsigned long long)max);
    return (uint64_t)v;
}

llm_kv_type cli_kv_type(const cli_args *a, const char *s) {
    if (strcmp(s, "f32") == 0 || strcmp(s, "F32") == 0) return LLM_KV_F32;
    if (strcmp(s, "f16") == 0 || strcmp(s, "F16") == 0) return LLM_KV_F16;
    if (strcmp(s, "q8_0") == 0 || strcmp(s, "Q8_0") == 0) return LLM_KV_Q8_0;
    cli_usage_error(a, "%s: '%s' is not a KV cache type (f32, f16, q8_0)", cli__option_name(a, s), s);
    return LLM_KV_DEFAULT;
}

/* ---- files and models ------------------------------------------------------------------ */

char *cli_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n = 0, cap = 1 << 16, got;
    if (!f) cli_fail("cannot open '%s': %s", path, strerror(errno));
    buf = (char *)cli_alloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            if (cap > SIZE_MAX / 2) cli_fail("'%s' is too large", path);
            cap *= 2;
            buf = (char *)realloc(buf, cap);
            if (!buf) cli_fail("out of memory reading '%s'", path);
        }
    }
    if (ferror(f)) cli_fail("cannot read '%s': %s", path, strerror(errno));
    fclose(f);
    buf[n] = 0;
    if (size) *size = n;
    return buf;
}

/* Loads a file, or a store name when no such file exists; fails the command with the reason. */
static llm_model *cli_load_with(const char *path, const llm_model_params *p) {
    char err[512], store_path[1200];
    llm_model *m;
    err[0] = 0;
    m = llm_model_load(cli_model_path(path, store_path, sizeof store_path), p, err, sizeof err);
    if (!m && !cli_file_exists(path, NULL) && cli_store_name_valid(path))
        cli_fail("%s (no such file, and no model named '%s' in the store: see llm ls)", err[0] ? err : "cannot load the model", path);
    if (!m) cli_fail("%s", err[0] ? err : "cannot load the model");
    return m;
}

llm_model *cli_load_model(const char *path, int vocab_only) {
    llm_model_params p = llm_model_default_params();
    p.vocab_only = vocab_only;
    return cli_load_with(path, &p);
}

static void cli_log_warn(int level, const char *msg, void *user) {
    (void)user;
    if (level <= LLM_LOG_WARN) fprintf(stderr, "llm: %s: %s\n", level == LLM_LOG_ERROR ? "error" : "warning", msg);
}

llm_model *cli_load_model_gpu(const char *path, int gpu_layers) {
    static llm_vk *vk; /* the command's one device, freed at exit by the system */
    llm_model_params p = llm_model_default_params();
    if (gpu_layers > 0 && !vk) {
        llm_vk_params vp;
        const char *dev = getenv("LLM_VULKAN_DEVICE");
        memset(&vp, 0, sizeof vp);
        vp.log = cli_log_warn;
        if (dev && dev[0] >= '1' && dev[0] <= '9') vp.device = atoi(dev);
        else if (dev && dev[0]) vp.device_name = dev;
        vk = llm_vk_new(&vp, NULL, 0); /* on failure the reason went to the log */
    }
    if (gpu_layers > 0 && vk) {
        p.backend = llm_vk_backend(vk);
        p.gpu_layers = gpu_layers;
        p.log = cli_log_warn;
    }
    return cli_load_with(path, &p);
}

double cli_start_ms;

#if defined(_WIN32) && !defined(_UCRT) /* msvcrt (mingw-w64's default) has no timespec_get */
#include <sys/timeb.h>
double cli_now_ms(void) {
    struct _timeb tb;
    _ftime(&tb);
    return (double)tb.time * 1e3 + (double)tb.millitm;
}
#else
double cli_now_ms(void) {
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC) return 0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
#endif

/* ---- formatting ------------------------------------------------------------------------ */

const char *cli_fmt_bytes(uint64_t n, char *buf, size_t size) {
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = -1;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    if (u < 0) snprintf(buf, size, "%llu B", (unsigned long long)n);
    else snprintf(buf, size, "%.2f %s", v, unit[u]);
    return buf;
}

const char *cli_fmt_count(uint64_t n, char *buf, size_t size) {
    if (n >= 1000000000ull) snprintf(buf, size, "%.2fB", (double)n / 1e9);
    else if (n >= 1000000ull) snprintf(buf, size, "%.2fM", (double)n / 1e6);
    else if (n >= 1000ull) snprintf(buf, size, "%.1fK", (double)n / 1e3);
    else snprintf(buf, size, "%llu", (unsigned long long)n);
    return buf;
}

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t cli__utf8_len(const unsigned char *s, size_t n) {
    size_t len, i;
    uint32_t cp;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) len = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) len = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) len = 4, cp = s[0] & 0x07;
    else return 0;
    if (len > n) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

void cli_json_string(FILE *f, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    fputc('"', f);
    while (i < len) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch), n = 1;
        else if (ch == '\n') fputs("\\n", f), n = 1;
        else if (ch == '\t') fputs("\\t", f), n = 1;
        else if (ch == '\r') fputs("\\r", f), n = 1;
        else if (ch < 0x20 || ch == 0x7F) fprintf(f, "\\u%04x", ch), n = 1;
        else if ((n = cli__utf8_len(p + i, len - i)) > 0) fwrite(p + i, 1, n, f);
        else fputs("\\ufffd", f), n = 1;
        i += n;
    }
    fputc('"', f);
}

void cli_escaped(FILE *f, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    while (i < len) {
        unsigned char ch = p[i];
        if (ch == '\\') fputs("\\\\", f), n = 1;
        else if (ch == '\n') fputs("\\n", f), n = 1;
        else if (ch == '\t') fputs("\\t", f), n = 1;
        else if (ch == '\r') fputs("\\r", f), n = 1;
        else if (ch < 0x20 || ch == 0x7F) fprintf(f, "\\x%02X", ch), n = 1;
        else if ((n = cli__utf8_len(p + i, len - i)) > 0) fwrite(p + i, 1, n, f);
        else fprintf(f, "\\x%02X", ch), n = 1;
        i += n;
    }
}

/* ---- SHA-256 ---- */

static const uint32_t cli__sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t cli__ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void cli__sha256_block(cli_sha256 *s, const unsigned char *p) {
    uint32_t w[64], v[8], t1, t2;
    int i;
    for (i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 64; i++)
        w[i] = w[i - 16] + (cli__ror(w[i - 15], 7) ^ cli__ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
               (cli__ror(w[i - 2], 17) ^ cli__ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
    memcpy(v, s->h, sizeof v); /* a b c d e f g h */
    for (i = 0; i < 64; i++) {
        t1 = v[7] + (cli__ror(v[4], 6) ^ cli__ror(v[4], 11) ^ cli__ror(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + cli__sha_k[i] + w[i];
        t2 = (cli__ror(v[0], 2) ^ cli__ror(v[0], 13) ^ cli__ror(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (i = 0; i < 8; i++) s->h[i] += v[i];
}

void cli_sha256_init(cli_sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
}

void cli_sha256_update(cli_sha256 *s, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    while (n > 0) {
        size_t at = (size_t)(s->len % 64), k = 64 - at < n ? 64 - at : n;
        memcpy(s->buf + at, p, k);
        s->len += k;
        p += k;
        n -= k;
        if (s->len % 64 == 0) cli__sha256_block(s, s->buf);
    }
}

void cli_sha256_hex(cli_sha256 *s, char out[65]) {
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, z = 0, lenb[8];
    int i;
    cli_sha256_update(s, &pad, 1);
    while (s->len % 64 != 56) cli_sha256_update(s, &z, 1);
    for (i = 0; i < 8; i++) lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    cli_sha256_update(s, lenb, 8);
    for (i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", (unsigned)s->h[i]);
}

/* ---- GGUF writer ---- */

static void gguf_put(cli_gguf *g, const void *p, size_t n) {
    if (g->kv_len + n > g->kv_cap) {
        size_t cap = g->kv_cap ? g->kv_cap * 2 : 4096;
        while (cap < g->kv_len + n) cap *= 2;
        g->kv = (unsigned char *)realloc(g->kv, cap);
        if (!g->kv) cli_fail("out of memory");
        g->kv_cap = cap;
    }
    memcpy(g->kv + g->kv_len, p, n);
    g->kv_len += n;
}
static void gguf_u32(cli_gguf *g, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    gguf_put(g, b, 4);
}
static void gguf_u64(cli_gguf *g, uint64_t v) {
    gguf_u32(g, (uint32_t)v);
    gguf_u32(g, (uint32_t)(v >> 32));
}
static void gguf_str(cli_gguf *g, const char *s) {
    gguf_u64(g, strlen(s));
    gguf_put(g, s, strlen(s));
}
static void gguf_key(cli_gguf *g, const char *key, uint32_t type) {
    gguf_str(g, key);
    gguf_u32(g, type);
    g->n_kv++;
}
static void gguf_f32(cli_gguf *g, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    gguf_u32(g, u);
}

void cli_gguf_kv_str(cli_gguf *g, const char *key, const char *v) { gguf_key(g, key, 8), gguf_str(g, v); }
void cli_gguf_kv_u32(cli_gguf *g, const char *key, uint32_t v) { gguf_key(g, key, 4), gguf_u32(g, v); }
void cli_gguf_kv_f32(cli_gguf *g, const char *key, float v) { gguf_key(g, key, 6), gguf_f32(g, v); }
void cli_gguf_kv_bool(cli_gguf *g, const char *key, int v) {
    unsigned char b = (unsigned char)(v != 0);
    gguf_key(g, key, 7);
    gguf_put(g, &b, 1);
}
void cli_gguf_kv_strs(cli_gguf *g, const char *key, const char *const *v, uint64_t n) {
    uint64_t i;
    gguf_key(g, key, 9);
    gguf_u32(g, 8);
    gguf_u64(g, n);
    for (i = 0; i < n; i++) gguf_str(g, v[i]);
}
void cli_gguf_kv_f32s(cli_gguf *g, const char *key, const float *v, uint64_t n) {
    uint64_t i;
    gguf_key(g, key, 9);
    gguf_u32(g, 6);
    gguf_u64(g, n);
    for (i = 0; i < n; i++) gguf_f32(g, v[i]);
}
void cli_gguf_kv_i32s(cli_gguf *g, const char *key, const int32_t *v, uint64_t n) {
    uint64_t i;
    gguf_key(g, key, 9);
    gguf_u32(g, 5);
    gguf_u64(g, n);
    for (i = 0; i < n; i++) gguf_u32(g, (uint32_t)v[i]);
}

void cli_gguf_kv_raw(cli_gguf *g, const char *key, int gguf_type, int arr_type, uint64_t count,
                     const void *data, size_t bytes) {
    gguf_key(g, key, (uint32_t)gguf_type);
    if (gguf_type == 9) {
        gguf_u32(g, (uint32_t)arr_type);
        gguf_u64(g, count);
    } else if (gguf_type == 8) {
        gguf_u64(g, bytes);
    }
    gguf_put(g, data, bytes);
}

void cli_gguf_tensor_add(cli_gguf *g, const char *name, int type, int n_dims, const int64_t *ne) {
    cli_gguf_tensor *t;
    uint64_t rows = 1;
    size_t row = llm_type_row_size(type, ne[0]);
    int d;
    if (!row) cli_fail("tensor '%s': rows of %lld cannot be stored as %s", name, (long long)ne[0], llm_type_name(type));
    if (g->n_t == g->cap_t) {
        g->cap_t = g->cap_t ? g->cap_t * 2 : 64;
        g->t = (cli_gguf_tensor *)realloc(g->t, sizeof *g->t * (size_t)g->cap_t);
        if (!g->t) cli_fail("out of memory");
    }
    t = &g->t[g->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    for (d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    for (d = 1; d < n_dims; d++) rows *= (uint64_t)ne[d];
    t->bytes = (uint64_t)row * rows;
    t->offset = g->data_size;
    g->data_size += (t->bytes + CLI_GGUF_ALIGN - 1) / CLI_GGUF_ALIGN * CLI_GGUF_ALIGN;
}

void cli_gguf_write_header(const cli_gguf *g, FILE *f) {
    cli_gguf h;
    int i, d;
    static const unsigned char zeros[CLI_GGUF_ALIGN] = {0};
    memset(&h, 0, sizeof h); /* the header, then the tensor infos, built in a scratch writer */
    gguf_put(&h, "GGUF", 4);
    gguf_u32(&h, 3);
    gguf_u64(&h, (uint64_t)g->n_t);
    gguf_u64(&h, g->n_kv);
    gguf_put(&h, g->kv, g->kv_len);
    for (i = 0; i < g->n_t; i++) {
        gguf_str(&h, g->t[i].name);
        gguf_u32(&h, (uint32_t)g->t[i].n_dims);
        for (d = 0; d < g->t[i].n_dims; d++) gguf_u64(&h, (uint64_t)g->t[i].ne[d]);
        gguf_u32(&h, (uint32_t)g->t[i].type);
        gguf_u64(&h, g->t[i].offset);
    }
    if (fwrite(h.kv, 1, h.kv_len, f) != h.kv_len ||
        fwrite(zeros, 1, (CLI_GGUF_ALIGN - h.kv_len % CLI_GGUF_ALIGN) % CLI_GGUF_ALIGN, f) !=
            (CLI_GGUF_ALIGN - h.kv_len % CLI_GGUF_ALIGN) % CLI_GGUF_ALIGN)
        cli_fail("cannot write the GGUF header");
    free(h.kv);
}

void cli_gguf_pad(const cli_gguf *g, int i, FILE *f) {
    static const unsigned char zeros[CLI_GGUF_ALIGN] = {0};
    size_t n = (size_t)((CLI_GGUF_ALIGN - g->t[i].bytes % CLI_GGUF_ALIGN) % CLI_GGUF_ALIGN);
    if (n && fwrite(zeros, 1, n, f) != n) cli_fail("write error");
}

void cli_gguf_free(cli_gguf *g) {
    free(g->kv);
    free(g->t);
    memset(g, 0, sizeof *g);
}
