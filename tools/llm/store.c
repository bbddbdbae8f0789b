/* The model store: a folder of NAME.gguf files that llm pull fills, llm ls lists and llm rm
   empties, and whose names every -m accepts (cli_model_path). See common.h. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "common.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifdef _WIN32
#include <direct.h>
#define STORE_SEP '\\'
#else
#define STORE_SEP '/'
#endif

/* ---- folder, names, files -------------------------------------------------------------- */

static int store_is_sep(char c) {
#ifdef _WIN32
    if (c == '\\') return 1;
#endif
    return c == '/';
}

/* base + sep + rest into buf; fails the command if it does not fit. */
static const char *store_join(const char *base, const char *rest, char *buf, size_t size) {
    size_t n = strlen(base);
    int r;
    while (n > 1 && store_is_sep(base[n - 1])) n--;
    r = snprintf(buf, size, "%.*s%c%s", (int)n, base, STORE_SEP, rest);
    if (r < 0 || (size_t)r >= size) cli_fail("path too long: %s%c%s", base, STORE_SEP, rest);
    return buf;
}

/* The store folder into buf, or NULL when the environment names none. */
static const char *store_dir(char *buf, size_t size) {
    const char *env = getenv("LLM_MODELS");
    char tmp[1024];
    size_t n;
    if (env && *env) {
        n = strlen(env);
        while (n > 1 && store_is_sep(env[n - 1])) n--;
        if (n >= size) cli_fail("LLM_MODELS is too long");
        memcpy(buf, env, n);
        buf[n] = 0;
        return buf;
    }
#ifdef _WIN32
    env = getenv("LOCALAPPDATA");
    if (env && *env) return store_join(store_join(env, "llm", tmp, sizeof tmp), "models", buf, size);
#else
    env = getenv("XDG_CACHE_HOME");
    if (env && env[0] == '/') return store_join(store_join(env, "llm", tmp, sizeof tmp), "models", buf, size);
    env = getenv("HOME");
    if (env && *env) return store_join(store_join(env, ".cache/llm", tmp, sizeof tmp), "models", buf, size);
#endif
    return NULL;
}

const char *cli_store_dir(char *buf, size_t size) {
    if (!store_dir(buf, size)) cli_fail("no folder for the model store: set LLM_MODELS");
    return buf;
}

int cli_store_name_valid(const char *name) {
    size_t i, n = strlen(name);
    if (n == 0 || n > CLI_STORE_NAME_MAX || name[0] == '.' || name[0] == '-') return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-' || c == '+';
        if (!ok) return 0;
    }
    return 1;
}

const char *cli_store_file(const char *dir, const char *name, const char *suffix, char *buf, size_t size) {
    char file[CLI_STORE_NAME_MAX + 32];
    snprintf(file, sizeof file, "%s.gguf%s", name, suffix);
    return store_join(dir, file, buf, size);
}

int cli_file_exists(const char *path, uint64_t *size) {
#ifdef _WIN32
    struct _stati64 st; /* 64-bit sizes: models pass 2 GiB */
    if (_stati64(path, &st) != 0 || !(st.st_mode & _S_IFREG)) return 0;
#else
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
#endif
    if (size) *size = (uint64_t)st.st_size;
    return 1;
}

static int store_mkdir(const char *path) {
#ifdef _WIN32
    return _mkdir(path);
#else
    return mkdir(path, 0777);
#endif
}

static int store_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_mkdirs(const char *path) {
    char buf[1024];
    size_t i, n = strlen(path);
    int err = 0;
    if (n == 0 || n >= sizeof buf) return errno = ENAMETOOLONG, -1;
    memcpy(buf, path, n + 1);
    /* Each prefix that ends at a separator, then the whole path. A prefix that cannot be made
       is not an error in itself (a drive "C:", a share, a folder we may not list): only
       whether the whole path ends up a folder counts. */
    for (i = 1; i <= n; i++) {
        if (i < n && !store_is_sep(buf[i])) continue;
        buf[i] = 0;
        if (!store_is_dir(buf) && store_mkdir(buf) != 0) err = errno;
        buf[i] = path[i];
    }
    if (store_is_dir(path)) return 0;
    errno = err ? err : ENOTDIR;
    return -1;
}

const char *cli_model_path(const char *arg, char *buf, size_t size) {
    char dir[1024];
    if (cli_file_exists(arg, NULL) || !cli_store_name_valid(arg) || !store_dir(dir, sizeof dir)) return arg;
    cli_store_file(dir, arg, "", buf, size);
    return cli_file_exists(buf, NULL) ? buf : arg;
}

void cli_store_remove_partial(const char *dir, const char *name) {
    static const char *const suffixes[] = {".part", ".part.src", ".part.hdr", ".part.log"};
    char path[1200];
    size_t i;
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) remove(cli_store_file(dir, name, suffixes[i], path, sizeof path));
}

/* ---- llm ls ---------------------------------------------------------------------------- */

static const char ls_usage[] =
    "usage: llm ls [--json]\n"
    "\n"
    "Lists the models of the store (llm pull puts them there): name, file size,\n"
    "architecture, parameter count, quantization and training context length. The store is\n"
    "$LLM_MODELS, else $XDG_CACHE_HOME/llm/models or ~/.cache/llm/models (on Windows\n"
    "%LOCALAPPDATA%\\llm\\models). Partial downloads are reported on stderr.\n"
    "\n"
    "      --json   one JSON array instead of the table\n"
    "  -h, --help   print this help\n";

typedef struct ls_entry {
    char name[CLI_STORE_NAME_MAX + 1];
    uint64_t size;
    char arch[64], quant[32], params[32], ctx[32];
    uint64_t n_params;
    long long n_ctx; /* -1: not in the file */
    const char *error; /* the file could not be read as a model */
} ls_entry;

/* llama.cpp's general.file_type numbers: what other tools call a file's quantization. */
static const char *ls_file_type_name(uint32_t ft) {
    static const struct {
        uint32_t id;
        const char *name;
    } names[] = {{0, "F32"},     {1, "F16"},     {2, "Q4_0"},     {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
                 {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"},  {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
                 {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"},  {18, "Q6_K"},   {25, "IQ4_NL"}, {30, "IQ4_XS"},
                 {32, "BF16"},   {36, "TQ1_0"},  {37, "TQ2_0"}};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].id == ft) return names[i].name;
    return NULL;
}

/* The file's general.file_type when it names a known mix, else the type holding the most
   bytes among the matrices. */
static void ls_quant(const llm_model *m, char *buf, size_t size) {
    int i = llm_model_meta_find(m, "general.file_type"), type, n = llm_model_tensor_count(m), best = -1;
    const void *data;
    size_t bytes;
    uint64_t per_type[LLM_TYPE_COUNT];
    if (i >= 0 && llm_model_meta_raw(m, i, &type, NULL, NULL, &data, &bytes) == LLM_OK && (type == 4 || type == 5) &&
        bytes == 4) {
        const unsigned char *p = (const unsigned char *)data;
        const char *name = ls_file_type_name((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        if (name) {
            snprintf(buf, size, "%s", name);
            return;
        }
    }
    memset(per_type, 0, sizeof per_type);
    for (i = 0; i < n; i++) {
        llm_tensor_info t;
        if (llm_model_tensor_info(m, i, &t) == LLM_OK && t.n_dims >= 2 && t.type >= 0 && t.type < LLM_TYPE_COUNT)
            per_type[t.type] += t.size_bytes;
    }
    for (i = 0; i < LLM_TYPE_COUNT; i++)
        if (per_type[i] && (best < 0 || per_type[i] > per_type[best])) best = i;
    snprintf(buf, size, "%s", best >= 0 && llm_type_name(best) ? llm_type_name(best) : "-");
    for (; *buf; buf++) *buf = (char)toupper((unsigned char)*buf); /* "q8_0" as the mixes read: "Q8_0" */
}

static void ls_read(const char *path, ls_entry *e) {
    llm_model_params p = llm_model_default_params();
    llm_model *m;
    char key[96], value[64];
    int i;
    p.vocab_only = 1; /* the metadata and the tensor list, without checking the weights */
    m = llm_model_load(path, &p, NULL, 0);
    e->n_ctx = -1;
    if (!m) {
        e->error = "not a readable GGUF model";
        return;
    }
    snprintf(e->arch, sizeof e->arch, "%s", llm_model_arch(m));
    e->n_params = llm_model_n_params(m);
    cli_fmt_count(e->n_params, e->params, sizeof e->params);
    ls_quant(m, e->quant, sizeof e->quant);
    snprintf(key, sizeof key, "%s.context_length", e->arch);
    i = llm_model_meta_find(m, key);
    if (i >= 0 && llm_model_meta_value(m, i, value, sizeof value) > 0) e->n_ctx = strtoll(value, NULL, 10);
    if (e->n_ctx >= 0) snprintf(e->ctx, sizeof e->ctx, "%lld", e->n_ctx);
    else snprintf(e->ctx, sizeof e->ctx, "-");
    llm_model_free(m);
}

static int ls_cmp(const void *a, const void *b) { return strcmp(((const ls_entry *)a)->name, ((const ls_entry *)b)->name); }

static int ls_ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The store's NAME.gguf files, sorted; partial downloads are reported on stderr. */
static ls_entry *ls_scan(const char *dir, int *count) {
    DIR *d = opendir(dir);
    struct dirent *de;
    ls_entry *v = NULL;
    int n = 0, cap = 0;
    char path[1200], b1[32];
    *count = 0;
    if (!d) {
        if (errno != ENOENT) cli_fail("cannot read the store '%s': %s", dir, strerror(errno));
        return NULL;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        uint64_t size;
        if (ls_ends(de->d_name, ".gguf.part")) {
            if (cli_file_exists(store_join(dir, de->d_name, path, sizeof path), &size))
                fprintf(stderr, "llm ls: %.*s: partial download, %s so far (the same llm pull resumes it)\n",
                        (int)(len - 10), de->d_name, cli_fmt_bytes(size, b1, sizeof b1));
            continue;
        }
        if (!ls_ends(de->d_name, ".gguf") || len - 5 > CLI_STORE_NAME_MAX) continue;
        if (!cli_file_exists(store_join(dir, de->d_name, path, sizeof path), &size)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = (ls_entry *)realloc(v, sizeof *v * (size_t)cap);
            if (!v) cli_fail("out of memory");
        }
        memset(&v[n], 0, sizeof v[n]);
        memcpy(v[n].name, de->d_name, len - 5);
        v[n].size = size;
        n++;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, ls_cmp);
    *count = n;
    return v;
}

static void ls_print_json(const char *dir, const ls_entry *v, int n) {
    char path[1200];
    int i;
    printf("[");
    for (i = 0; i < n; i++) {
        const ls_entry *e = &v[i];
        cli_store_file(dir, e->name, "", path, sizeof path);
        printf("%s\n {\"name\": ", i ? "," : "");
        cli_json_string(stdout, e->name, strlen(e->name));
        printf(", \"path\": ");
        cli_json_string(stdout, path, strlen(path));
        printf(", \"size_bytes\": %llu", (unsigned long long)e->size);
        if (e->error) {
            printf(", \"error\": \"%s\"}", e->error);
            continue;
        }
        printf(", \"architecture\": ");
        cli_json_string(stdout, e->arch, strlen(e->arch));
        printf(", \"n_params\": %llu, \"quantization\": \"%s\", \"context_length\": ", (unsigned long long)e->n_params, e->quant);
        if (e->n_ctx >= 0) printf("%lld}", e->n_ctx);
        else printf("null}");
    }
    printf("%s]\n", n ? "\n" : "");
}

static void ls_print_table(const ls_entry *v, int n) {
    int i, w = 4;
    char b1[32];
    for (i = 0; i < n; i++)
        if ((int)strlen(v[i].name) > w) w = (int)strlen(v[i].name);
    printf("%-*s  %10s  %-10s  %8s  %-8s  %s\n", w, "NAME", "SIZE", "ARCH", "PARAMS", "QUANT", "CONTEXT");
    for (i = 0; i < n; i++) {
        const ls_entry *e = &v[i];
        cli_fmt_bytes(e->size, b1, sizeof b1);
        if (e->error) printf("%-*s  %10s  (%s)\n", w, e->name, b1, e->error);
        else printf("%-*s  %10s  %-10s  %8s  %-8s  %s\n", w, e->name, b1, e->arch, e->params, e->quant, e->ctx);
    }
}

int cmd_ls(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, ls_usage);
    int json = 0, n, i;
    char dir[1024], path[1200];
    ls_entry *v;
    while (cli_next(&a)) {
        if (cli_flag(&a, NULL, "--json")) json = 1;
        else cli_unknown(&a);
    }
    cli_store_dir(dir, sizeof dir);
    v = ls_scan(dir, &n);
    for (i = 0; i < n; i++) ls_read(cli_store_file(dir, v[i].name, "", path, sizeof path), &v[i]);
    if (json) ls_print_json(dir, v, n);
    else if (n) ls_print_table(v, n);
    if (!n) fprintf(stderr, "llm ls: no models in %s (llm pull SOURCE adds one)\n", dir);
    if (fflush(stdout) != 0) cli_fail("cannot write the output");
    free(v);
    return 0;
}

/* ---- llm rm ---------------------------------------------------------------------------- */

static const char rm_usage[] =
    "usage: llm rm NAME...\n"
    "\n"
    "Removes models from the store (see llm ls), with any partial download of the same name.\n"
    "\n"
    "  -h, --help   print this help\n";

int cmd_rm(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, rm_usage);
    const char *s;
    char dir[1024], path[1200], b1[32];
    int n = 0, i;
    uint64_t size;
    while (cli_next(&a)) {
        if (!cli_positional(&a, &s)) cli_unknown(&a);
        if (!cli_store_name_valid(s)) cli_usage_error(&a, "'%s' is not a store name (see llm ls)", s);
        n++;
    }
    if (!n) cli_usage_error(&a, "which model? (see llm ls)");
    cli_store_dir(dir, sizeof dir);
    for (i = 1; i < argc; i++) { /* all or nothing: every name must be there first */
        if (!cli_file_exists(cli_store_file(dir, argv[i], "", path, sizeof path), NULL) &&
            !cli_file_exists(cli_store_file(dir, argv[i], ".part", path, sizeof path), NULL))
            cli_fail("no model named '%s' in %s", argv[i], dir);
    }
    for (i = 1; i < argc; i++) {
        cli_store_file(dir, argv[i], "", path, sizeof path);
        if (cli_file_exists(path, &size)) {
            if (remove(path) != 0) cli_fail("cannot remove '%s': %s", path, strerror(errno));
            fprintf(stderr, "llm rm: removed %s (%s)\n", argv[i], cli_fmt_bytes(size, b1, sizeof b1));
        }
        cli_store_remove_partial(dir, argv[i]);
    }
    return 0;
}
