/* Shared helpers of the `llm` command: option parsing, errors, files, formatting.

   A subcommand parses its arguments with a cli_args cursor:

       cli_args a = cli_begin(argc, argv, usage);  (-h or --help prints usage, exits 0)
       while (cli_next(&a)) {
           if (cli_value(&a, "-m", "--model", &s)) model = s;
           else if (cli_flag(&a, NULL, "--pieces")) pieces = 1;
           else cli_unknown(&a);                   (usage error: exit 2)
       }

   Options take their value as the next argument or, for long names, after '='. */
#ifndef LLM_TOOL_COMMON_H
#define LLM_TOOL_COMMON_H

#include "../../llm.h"

#include <stdint.h>
#include <stdio.h>

typedef struct cli_args {
    int argc;
    char **argv;          /* argv[0] is the subcommand's name */
    int i;                /* index of the argument being looked at */
    const char *usage;    /* usage text of the subcommand */
    const char *value;    /* value of the last option matched by cli_value */
} cli_args;

cli_args cli_begin(int argc, char **argv, const char *usage);
/* Moves to the next argument; 0 when there is none. Handles -h/--help. */
int cli_next(cli_args *a);
/* 1 if the current argument is the flag short_name or long_name (either may be NULL). */
int cli_flag(cli_args *a, const char *short_name, const char *long_name);
/* 1 if the current argument is the option; *value gets its value (usage error if missing). */
int cli_value(cli_args *a, const char *short_name, const char *long_name, const char **value);
/* 1 if the current argument is not an option ("-" alone counts as one); *value gets it. */
int cli_positional(cli_args *a, const char **value);
/* Usage error for the current argument. */
void cli_unknown(cli_args *a);

/* Number parsers for option values; a bad value is a usage error naming the option. */
long cli_int(const cli_args *a, const char *s, long min, long max);
double cli_float(const cli_args *a, const char *s, double min, double max);
/* A count with an optional K, M or G suffix (powers of 1024): "4K" is 4096. */
uint64_t cli_size(const cli_args *a, const char *s, uint64_t min, uint64_t max);
/* "f32" or "f16" (either case). */
llm_kv_type cli_kv_type(const cli_args *a, const char *s);

/* Prints "llm: error: ..." on stderr and exits with status 1. */
void cli_fail(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* Prints "llm CMD: ..." and the usage text on stderr and exits with status 2. */
void cli_usage_error(const cli_args *a, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

/* malloc that fails the command instead of returning NULL. */
void *cli_alloc(size_t size);
/* Reads a whole file, NUL-terminated; *size (may be NULL) gets its length. Fails the
   command if the file cannot be read. Caller frees. */
char *cli_read_file(const char *path, size_t *size);

/* Loads a model, failing the command with the loader's message. path may also name a model
   of the store (see cli_model_path). */
llm_model *cli_load_model(const char *path, int vocab_only);
/* The same with its last gpu_layers layers (and the output head) on a GPU through Vulkan
   (llm_vulkan.h): the device is $LLM_VULKAN_DEVICE (a name substring or a 1-based index of
   `llm devices`), else the best GPU. Without one the model runs on the CPU, saying why on
   stderr. The device stays open until the command exits. */
llm_model *cli_load_model_gpu(const char *path, int gpu_layers);

/* ---- the model store (llm pull, ls, rm), tools/llm/store.c ----
   One folder of NAME.gguf files: $LLM_MODELS, else $XDG_CACHE_HOME/llm/models (or
   ~/.cache/llm/models); on Windows %LOCALAPPDATA%\llm\models. A download in progress is
   NAME.gguf.part beside it. */
#define CLI_STORE_NAME_MAX 128
/* The store folder into buf; fails the command when no folder can be named. */
const char *cli_store_dir(char *buf, size_t size);
/* 1 if name can be a store name: 1 to CLI_STORE_NAME_MAX letters, digits and "._-+", not
   starting with '.' or '-' (so never a path, a hidden file or an option). */
int cli_store_name_valid(const char *name);
/* The file a -m argument means: arg itself when it is an existing file, else the store's
   NAME.gguf when arg is a valid name that the store has, else arg (the loader then says it
   cannot open it). The result is arg or buf. */
const char *cli_model_path(const char *arg, char *buf, size_t size);
/* dir/NAME.gguf followed by suffix (".part", ...) into buf. */
const char *cli_store_file(const char *dir, const char *name, const char *suffix, char *buf, size_t size);
/* Removes NAME.gguf.part and the files that go with it (missing ones are fine). */
void cli_store_remove_partial(const char *dir, const char *name);
/* Creates a folder and its parents; 0 on success, else -1 with errno set. */
int cli_mkdirs(const char *path);
/* 1 if path is an existing regular file; *size (may be NULL) gets its size. */
int cli_file_exists(const char *path, uint64_t *size);

/* Milliseconds since an arbitrary start. */
double cli_now_ms(void);
/* cli_now_ms() when main began (the process start, for "first token at"). */
extern double cli_start_ms;

/* "1.50 MiB" into buf. */
const char *cli_fmt_bytes(uint64_t n, char *buf, size_t size);
/* A count in thousands, millions or billions: "260.1K", "1.10B". */
const char *cli_fmt_count(uint64_t n, char *buf, size_t size);
/* Writes s as a JSON string literal (quoted, escaped; invalid UTF-8 bytes become U+FFFD). */
void cli_json_string(FILE *f, const char *s, size_t len);
/* Writes len bytes of s with C escapes for control characters, backslash and bytes that
   are not part of valid UTF-8, so that the text stays on one line. */
void cli_escaped(FILE *f, const char *s, size_t len);

/* ---- cost: the article's arithmetic for llm bench --cost, tools/llm/cost.c ---- */
#define CLI_COST_DAYS_PER_MONTH 30
#define CLI_COST_DAYS_PER_YEAR 360 /* twelve months of 30 days, as the article counts */
typedef struct cli_cost_inputs {
    double hw_price;              /* dollars, paid once                                   */
    double watts;                 /* drawn while the machine runs                         */
    double hours_per_day;         /* hours a day it runs (electricity is paid for these)  */
    double kwh_price;             /* dollars per kWh; 0 leaves electricity out            */
    double api_in, api_out;       /* dollars per million input / output tokens            */
    double tokens_in, tokens_out; /* tokens a day                                         */
    double years;                 /* hardware paid off over this time, for the local cost */
    double tg_tps, pp_tps;        /* measured generation / prompt tokens/s; 0 = unknown   */
} cli_cost_inputs;

typedef struct cli_cost {
    double api_day, api_year;        /* dollars                                               */
    double api_per_mtok;             /* dollars per million tokens at the input/output mix    */
    double elec_day, elec_year;      /* dollars                                               */
    double breakeven_years;          /* hardware / (API - electricity) a year; INFINITY: never */
    double breakeven_years_no_elec;  /* hardware / API a year                                 */
    double local_elec_per_mtok;      /* electricity per million generated tokens (tg_tps > 0) */
    double local_per_mtok;           /* that plus the hardware over `years` (tg_tps > 0)      */
    double hours_needed;             /* hours a day the volume takes at the speeds (tg_tps > 0) */
} cli_cost;

/* The article's inputs: $4,200, 700 W, 8 h a day, $0.15/kWh, $0.50 / $1.50 per million
   tokens, 1 M input and 1 M output tokens a day; 3 years to pay off the hardware. */
void cli_cost_default_inputs(cli_cost_inputs *in);
void cli_cost_compute(const cli_cost_inputs *in, cli_cost *out);
/* "5.8 years", "7.3 months" (from 3 months), "6.1 weeks" (from 2 weeks), "3.0 days" or
   "never". */
const char *cli_cost_fmt_duration(double years, char *buf, size_t size);
/* The assumptions, then the figures, as text. */
void cli_cost_print(FILE *f, const cli_cost_inputs *in, const cli_cost *c);

/* ---- SHA-256 (FIPS 180-4), for llm dequant --sha256 and llm pull ---- */
typedef struct cli_sha256 {
    uint32_t h[8];
    unsigned char buf[64];
    uint64_t len; /* bytes hashed so far */
} cli_sha256;
void cli_sha256_init(cli_sha256 *s);
void cli_sha256_update(cli_sha256 *s, const void *data, size_t n);
/* Finishes the hash and writes it as 64 lower-case hex digits and a NUL. */
void cli_sha256_hex(cli_sha256 *s, char out[65]);

/* ---- a GGUF writer (llm synth, llm quantize) ----
   Add metadata and tensor descriptions, write the header, then each tensor's bytes in the
   order added, each followed by cli_gguf_pad. */
typedef struct cli_gguf_tensor {
    char name[96];
    int type, n_dims;
    int64_t ne[4];
    uint64_t offset, bytes;
} cli_gguf_tensor;

typedef struct cli_gguf {
    unsigned char *kv; /* encoded key-value pairs */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    cli_gguf_tensor *t;
    int n_t, cap_t;
    uint64_t data_size;
} cli_gguf;

#define CLI_GGUF_ALIGN 32
void cli_gguf_kv_str(cli_gguf *g, const char *key, const char *v);
void cli_gguf_kv_u32(cli_gguf *g, const char *key, uint32_t v);
void cli_gguf_kv_f32(cli_gguf *g, const char *key, float v);
void cli_gguf_kv_bool(cli_gguf *g, const char *key, int v);
void cli_gguf_kv_strs(cli_gguf *g, const char *key, const char *const *v, uint64_t n);
void cli_gguf_kv_f32s(cli_gguf *g, const char *key, const float *v, uint64_t n);
void cli_gguf_kv_i32s(cli_gguf *g, const char *key, const int32_t *v, uint64_t n);
/* A value copied from a model as llm_model_meta_raw gives it. */
void cli_gguf_kv_raw(cli_gguf *g, const char *key, int gguf_type, int arr_type, uint64_t count,
                     const void *data, size_t bytes);
/* Describes a tensor (ne[0] is the row length); fails the command if the type cannot hold
   rows of ne[0]. */
void cli_gguf_tensor_add(cli_gguf *g, const char *name, int type, int n_dims, const int64_t *ne);
void cli_gguf_write_header(const cli_gguf *g, FILE *f);
/* Zero bytes after tensor i's data up to the alignment. */
void cli_gguf_pad(const cli_gguf *g, int i, FILE *f);
void cli_gguf_free(cli_gguf *g);

#endif
