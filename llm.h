/* llm.h - v0.1.0 - run GGUF language models on your own hardware - MIT or public domain

   USAGE
     In *one* C or C++ file:
         #define LLM_IMPLEMENTATION
         #include "llm.h"
     Everywhere else just #include "llm.h". C11 or C++17, libc and libm only
     (plus pthreads unless LLM_NO_THREADS).

   QUICK START
     char err[256];
     llm_model *m = llm_model_load("model.gguf", NULL, err, sizeof err);
     if (!m) { fprintf(stderr, "%s\n", err); return 1; }
     llm_context *c = llm_context_new(m, NULL, err, sizeof err);
     if (!c) { fprintf(stderr, "%s\n", err); llm_model_free(m); return 1; }
     llm_generate_params g = llm_generate_default_params();
     g.n_predict = 64;
     if (llm_generate(c, "Once upon a time", &g, on_token, NULL) != LLM_OK)
         fprintf(stderr, "%s\n", llm_context_error(c));
     llm_context_free(c); llm_model_free(m);

   CONTENTS (search for the >>tag)
     >>platform   platform, CPU features, timing
     >>alloc      allocation, errors, logging, checked sizes
     >>gguf       GGUF reader (bounded, overflow-checked)
     >>types      tensor type table, fp16/bf16 conversion, quantizers
     >>kernels    dot products: scalar reference, then AVX2, then NEON
     >>threads    persistent thread pool
     >>model      model loading and architecture hyper-parameters
     >>kvcache    KV cache
     >>forward    the forward pass
     >>tokenizer  SentencePiece tokenizer and detokenizer
     >>sampling   sampler chain and RNG
     >>generate   text generation
     >>estimate   memory estimates

   CONFIGURATION (define before including the implementation)
     LLMDEF                    decoration of every public function (default: extern;
                               define LLM_STATIC to make them static)
     LLM_MALLOC(sz,user)       all three or none; default malloc/realloc/free. An
     LLM_REALLOC(p,sz,user)    llm_allocator in the params overrides them at run time.
     LLM_FREE(p,user)
     LLM_ASSERT(x)             internal invariants only (default assert)
     LLM_NO_STDIO              no file loading (only llm_model_load_memory)
     LLM_NO_THREADS            no thread pool; everything runs on the calling thread
     LLM_NO_SIMD               scalar kernels only
     LLM_MAX_TENSORS           largest tensor count accepted in a file (default 65536)
     LLM_MAX_KV                largest metadata count accepted in a file (default 65536)
     LLM_MAX_VOCAB             largest vocabulary accepted (default 1048576)
     LLM_MAX_CTX               largest context a caller may ask for (default 1048576)

   SUPPORT
     tensor type   scalar  AVX2  NEON
     F32           yes     yes   yes
     F16           yes     yes   yes
     BF16          yes     yes   yes
     Q8_0          yes     yes   yes (+dotprod)
     architectures: llama (tied or separate output, GQA)
     tokenizers:    SentencePiece ("llama")

   ERROR REPORTING AND LOGGING
     Failing calls return an llm_result (LLM_OK = 0, errors negative) or NULL. Loading
     functions explain themselves in the caller's err buffer; a context keeps its last
     message for llm_context_error(). Nothing is printed unless a log callback is set.

   THREAD SAFETY
     A model is read-only after loading and may be shared by any number of contexts on
     any threads. A context (and a sampler) is used by one thread at a time.

   LICENSE
     See the end of the file.
*/
#ifndef LLM_H
#define LLM_H

#define LLM_VERSION_MAJOR 0
#define LLM_VERSION_MINOR 1
#define LLM_VERSION_PATCH 0

#include <stddef.h>
#include <stdint.h>

#ifndef LLMDEF
#if defined(LLM_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define LLMDEF static __attribute__((unused)) /* a program need not call every function */
#elif defined(LLM_STATIC)
#define LLMDEF static
#else
#define LLMDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results ---------------------------------------------------------------------- */

/* X-macro list of result codes: name, value, text. */
#define LLM__RESULTS(X)                                                        \
    X(LLM_OK, 0, "ok")                                                         \
    X(LLM_ERR_IO, -1, "input/output error")                                    \
    X(LLM_ERR_FORMAT, -2, "malformed file")                                    \
    X(LLM_ERR_UNSUPPORTED, -3, "unsupported")                                  \
    X(LLM_ERR_NOMEM, -4, "out of memory")                                      \
    X(LLM_ERR_ARG, -5, "bad argument")                                         \
    X(LLM_ERR_CONTEXT_FULL, -6, "context full")                                \
    X(LLM_ERR_CANCELLED, -7, "cancelled")                                      \
    X(LLM_ERR_DEVICE, -8, "device error")

#define LLM__RESULT_ENUM(name, value, text) name = value,
typedef enum llm_result { LLM__RESULTS(LLM__RESULT_ENUM) LLM_RESULT_COUNT_ = -9 } llm_result;
#undef LLM__RESULT_ENUM

/* Names a result code ("context full"); never NULL. */
LLMDEF const char *llm_result_string(int result);

/* ---- tensor types (numbers are the GGUF/ggml type ids, never renumbered) ------------ */

typedef enum llm_type {
    LLM_TYPE_F32 = 0,
    LLM_TYPE_F16 = 1,
    LLM_TYPE_Q4_0 = 2,
    LLM_TYPE_Q4_1 = 3,
    /* 4, 5: Q4_2, Q4_3, retired */
    LLM_TYPE_Q5_0 = 6,
    LLM_TYPE_Q5_1 = 7,
    LLM_TYPE_Q8_0 = 8,
    LLM_TYPE_Q8_1 = 9,
    LLM_TYPE_Q2_K = 10,
    LLM_TYPE_Q3_K = 11,
    LLM_TYPE_Q4_K = 12,
    LLM_TYPE_Q5_K = 13,
    LLM_TYPE_Q6_K = 14,
    LLM_TYPE_Q8_K = 15,
    LLM_TYPE_IQ2_XXS = 16,
    LLM_TYPE_IQ2_XS = 17,
    LLM_TYPE_IQ3_XXS = 18,
    LLM_TYPE_IQ1_S = 19,
    LLM_TYPE_IQ4_NL = 20,
    LLM_TYPE_IQ3_S = 21,
    LLM_TYPE_IQ2_S = 22,
    LLM_TYPE_IQ4_XS = 23,
    LLM_TYPE_I8 = 24,
    LLM_TYPE_I16 = 25,
    LLM_TYPE_I32 = 26,
    LLM_TYPE_I64 = 27,
    LLM_TYPE_F64 = 28,
    LLM_TYPE_IQ1_M = 29,
    LLM_TYPE_BF16 = 30,
    /* 31, 32, 33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8, retired */
    LLM_TYPE_TQ1_0 = 34,
    LLM_TYPE_TQ2_0 = 35,
    /* 36, 37, 38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8, retired */
    LLM_TYPE_MXFP4 = 39,
    LLM_TYPE_COUNT
} llm_type;

/* ggml's lower-case name of a type ("q8_0", "f16"), or NULL for an unknown id. */
LLMDEF const char *llm_type_name(int type);
/* Type id from its name (either case), or -1. */
LLMDEF int llm_type_from_name(const char *name);
/* 1 if this build can compute with tensors of the type (dequantize and multiply). */
LLMDEF int llm_type_supported(int type);
/* Bytes used by n elements of the type (n a multiple of its block size), else 0. */
LLMDEF size_t llm_type_row_size(int type, int64_t n);

/* ---- CPU features (bit mask) -------------------------------------------------------- */

enum {
    LLM_CPU_SCALAR = 1 << 0,  /* always present; a mask of only this forces scalar kernels */
    LLM_CPU_AVX2 = 1 << 1,    /* AVX2 + FMA + F16C, with OS support for YMM state */
    LLM_CPU_NEON = 1 << 2,    /* AArch64 Advanced SIMD */
    LLM_CPU_DOTPROD = 1 << 3, /* ARMv8.2 SDOT/UDOT */
    LLM_CPU_ALL = 0x7fffffff
};

/* The features this machine has that this build can use (LLM_CPU_* bits). */
LLMDEF unsigned llm_cpu_features(void);

/* ---- allocation and logging --------------------------------------------------------- */

/* A run-time allocator; when alloc is NULL the LLM_MALLOC/LLM_FREE macros are used. */
typedef struct llm_allocator {
    void *(*alloc)(size_t size, void *user);
    void (*free)(void *ptr, void *user);
    void *user;
} llm_allocator;

enum { LLM_LOG_ERROR = 1, LLM_LOG_WARN = 2, LLM_LOG_INFO = 3, LLM_LOG_DEBUG = 4 };
/* Receives one message (no trailing newline) at a time; level is LLM_LOG_*. */
typedef void (*llm_log_fn)(int level, const char *msg, void *user);

/* ---- models ------------------------------------------------------------------------- */

typedef struct llm_model llm_model;     /* opaque; read-only after load, shared by contexts */
typedef struct llm_context llm_context; /* opaque; one thread at a time                     */
typedef struct llm_sampler llm_sampler; /* opaque; one thread at a time                     */
typedef int32_t llm_token;

#define LLM_TOKEN_NULL (-1) /* "absent", as 0xFFFFFFFF in a GGUF file */

/* Zero-initialised params mean defaults; NULL params too. */
typedef struct llm_model_params {
    llm_allocator allocator; /* alloc == NULL: the LLM_MALLOC/LLM_FREE macros           */
    llm_log_fn log;          /* NULL: silent                                            */
    void *log_user;
    int vocab_only;          /* 1: load only the tokenizer; tensors are not needed      */
    int no_mmap;             /* 1: read the file into memory instead of mapping it      */
    uint32_t max_tensors;    /* 0: LLM_MAX_TENSORS                                      */
    uint32_t max_vocab;      /* 0: LLM_MAX_VOCAB                                        */
} llm_model_params;

LLMDEF llm_model_params llm_model_default_params(void);

/* Loads a GGUF file (memory-mapped where possible). Returns NULL on failure with a message
   in err (which may be NULL). The model owns everything it allocates. Thread-safe. */
LLMDEF llm_model *llm_model_load(const char *path, const llm_model_params *p, char *err, size_t err_size);

/* Loads from a caller's buffer without copying it: the buffer is borrowed and must outlive
   the model and every context made from it. Same errors as llm_model_load. */
LLMDEF llm_model *llm_model_load_memory(const void *data, size_t size, const llm_model_params *p,
                                        char *err, size_t err_size);

/* Frees a model; every context made from it must be freed first. NULL does nothing. */
LLMDEF void llm_model_free(llm_model *m);

/* Hyper-parameters and vocabulary facts. */
LLMDEF const char *llm_model_arch(const llm_model *m);  /* "llama" */
LLMDEF int llm_model_n_vocab(const llm_model *m);
LLMDEF int llm_model_n_ctx_train(const llm_model *m);   /* tokens */
LLMDEF int llm_model_n_embd(const llm_model *m);
LLMDEF int llm_model_n_layer(const llm_model *m);
LLMDEF int llm_model_n_head(const llm_model *m);
LLMDEF int llm_model_n_head_kv(const llm_model *m);
LLMDEF int llm_model_n_ff(const llm_model *m);
LLMDEF int llm_model_n_rot(const llm_model *m);         /* rotary dimensions per head */
LLMDEF float llm_model_rope_freq_base(const llm_model *m);
LLMDEF float llm_model_rms_eps(const llm_model *m);
LLMDEF uint64_t llm_model_n_params(const llm_model *m); /* weights' element count */
LLMDEF uint64_t llm_model_size_bytes(const llm_model *m); /* bytes of tensor data */
LLMDEF int llm_model_vocab_only(const llm_model *m);

/* Metadata, in file order. Keys and string values are NUL-terminated copies owned by
   the model. llm_model_meta_value writes the value as text (arrays abbreviated) like
   snprintf and returns the length it needed, or -1 for a bad index. */
LLMDEF int llm_model_meta_count(const llm_model *m);
LLMDEF const char *llm_model_meta_key(const llm_model *m, int i);
LLMDEF int llm_model_meta_value(const llm_model *m, int i, char *buf, size_t size);
/* Index of a key, or -1. */
LLMDEF int llm_model_meta_find(const llm_model *m, const char *key);

/* Tensors, in file order. */
typedef struct llm_tensor_info {
    const char *name; /* owned by the model */
    int type;         /* llm_type */
    int n_dims;
    int64_t ne[4];    /* ne[0] is the row length; unused dims are 1 */
    uint64_t offset;  /* bytes from the start of the data section */
    size_t size_bytes;
} llm_tensor_info;
LLMDEF int llm_model_tensor_count(const llm_model *m);
LLMDEF int llm_model_tensor_info(const llm_model *m, int i, llm_tensor_info *out); /* LLM_OK or LLM_ERR_ARG */
/* Index of a tensor by name, or -1. */
LLMDEF int llm_model_tensor_find(const llm_model *m, const char *name);
/* Dequantizes rows [row0, row0 + n_rows) of tensor i (rows of ne[0] elements) into out,
   which holds n_rows * ne[0] floats. Returns LLM_OK or an error code. */
LLMDEF int llm_model_tensor_dequantize(const llm_model *m, int i, int64_t row0, int64_t n_rows, float *out);

/* ---- tokens ------------------------------------------------------------------------- */

enum {
    LLM_TOKENIZE_ADD_SPECIAL = 1 << 0,   /* add BOS (and EOS) where the model's metadata asks */
    LLM_TOKENIZE_PARSE_SPECIAL = 1 << 1, /* "<s>" in the text becomes the control token     */
};

/* Tokenizes len bytes of text (need not be NUL-terminated) into out. Returns the number of
   tokens; when that exceeds max, nothing beyond max is written and the full count is
   returned (so out = NULL, max = 0 asks). Returns a negative llm_result on error. */
LLMDEF int llm_tokenize(const llm_model *m, const char *text, size_t len, llm_token *out, int max, int flags);

enum { LLM_PIECE_SPECIAL = 1 << 0 /* render control tokens ("</s>") instead of nothing */ };

/* Writes the bytes of one token (not NUL-terminated) like snprintf: returns the length
   needed; writes at most size bytes. Negative for an invalid token. A piece may be part
   of a UTF-8 character (byte tokens). */
LLMDEF int llm_token_to_piece(const llm_model *m, llm_token t, char *buf, int size, int flags);

enum {
    LLM_DETOKENIZE_SPECIAL = 1 << 0,     /* render control tokens                        */
    LLM_DETOKENIZE_KEEP_PREFIX = 1 << 1, /* keep the space the tokenizer put in front   */
};
/* Joins tokens into text, NUL-terminated when it fits; returns the length needed (without
   the NUL), or a negative llm_result. By default the leading space that SentencePiece
   tokenization adds is removed, so detokenize(tokenize(s)) == s. */
LLMDEF int llm_detokenize(const llm_model *m, const llm_token *tokens, int n, char *buf, int size, int flags);

LLMDEF llm_token llm_token_bos(const llm_model *m); /* LLM_TOKEN_NULL when absent */
LLMDEF llm_token llm_token_eos(const llm_model *m);
LLMDEF llm_token llm_token_unk(const llm_model *m);
/* 1 if generation should end at t (EOS, EOT, EOM ...). */
LLMDEF int llm_token_is_eog(const llm_model *m, llm_token t);
/* 1 if t is a control token (rendered only with LLM_PIECE_SPECIAL). */
LLMDEF int llm_token_is_control(const llm_model *m, llm_token t);
/* The raw vocabulary string of t ("▁the", "<0x0A>"), owned by the model, or NULL. */
LLMDEF const char *llm_token_text(const llm_model *m, llm_token t);
LLMDEF int llm_model_add_bos(const llm_model *m);

/* ---- contexts ----------------------------------------------------------------------- */

typedef enum llm_kv_type {
    LLM_KV_DEFAULT = 0, /* F16 */
    LLM_KV_F32 = 1,
    LLM_KV_F16 = 2,
    LLM_KV_TYPE_COUNT
} llm_kv_type;

typedef struct llm_context_params {
    int32_t n_ctx;       /* tokens; 0 = min(training length, 4096); at most LLM_MAX_CTX   */
    int32_t n_batch;     /* most tokens per llm_decode call; 0 = min(n_ctx, 512)          */
    int32_t n_threads;   /* 0 = the number of CPUs this process may use (at most 64)       */
    int32_t n_outputs;   /* logits rows one llm_decode may return; 0 = 1 (the last token).
                            LLM_DECODE_ALL_LOGITS needs n <= n_outputs; each row costs n_vocab floats */
    llm_kv_type kv_type; /* 0 = F16                                                        */
    unsigned cpu_features; /* LLM_CPU_* mask of kernels allowed; 0 = everything detected  */
    llm_allocator allocator; /* alloc == NULL: the model's allocator                        */
    llm_log_fn log;          /* NULL: the model's log callback                              */
    void *log_user;
} llm_context_params;

LLMDEF llm_context_params llm_context_default_params(void);

/* Makes a context: KV cache, scratch and thread pool, all allocated here (decoding and
   sampling allocate nothing). Returns NULL with a message in err on failure. The model is
   borrowed and must outlive the context. */
LLMDEF llm_context *llm_context_new(llm_model *m, const llm_context_params *p, char *err, size_t err_size);
LLMDEF void llm_context_free(llm_context *c); /* NULL does nothing */

LLMDEF const llm_model *llm_context_model(const llm_context *c);
LLMDEF int llm_context_n_ctx(const llm_context *c);
LLMDEF int llm_context_n_batch(const llm_context *c);
LLMDEF int llm_context_n_threads(const llm_context *c);
LLMDEF unsigned llm_context_cpu_features(const llm_context *c); /* the kernels in use */
/* The last error message of this context ("" when none). Valid until the next call. */
LLMDEF const char *llm_context_error(const llm_context *c);

enum { LLM_DECODE_ALL_LOGITS = 1 << 0 /* logits for every token, not only the last */ };

/* Decodes n tokens (1 <= n <= n_batch) at the next positions of the sequence. Returns
   LLM_OK, LLM_ERR_CONTEXT_FULL (nothing decoded) or another error. Logits stay valid until
   the next llm_decode on c. */
LLMDEF int llm_decode(llm_context *c, const llm_token *tokens, int n, int flags);

/* Row i of the last batch's logits (n_vocab floats); i = -1 is the last row. NULL if that
   row was not computed. Valid until the next llm_decode on c. */
LLMDEF const float *llm_logits(llm_context *c, int i);

/* Tokens decoded so far (the next position). */
LLMDEF int llm_context_n_past(const llm_context *c);
/* Forgets every position from n_keep on (0 clears the sequence). */
LLMDEF void llm_context_truncate(llm_context *c, int n_keep);

/* ---- sampling ----------------------------------------------------------------------- */

/* The chain runs in this order: penalties, top-k, top-p, min-p, temperature, draw.
   Zero fields mean "off" (temperature 0 = greedy: the lowest id among the largest logits). */
typedef struct llm_sampler_params {
    float temperature;       /* 0 = greedy                                                */
    int32_t top_k;           /* 0 = off                                                   */
    float top_p;             /* 0 or 1 = off                                              */
    float min_p;             /* 0 = off                                                   */
    float repeat_penalty;    /* 0 or 1 = off; divides positive logits, multiplies negative */
    float frequency_penalty; /* subtracted once per earlier occurrence                    */
    float presence_penalty;  /* subtracted once if the token occurred                    */
    int32_t penalty_last_n;  /* tokens the penalties look back at; 0 = 64                 */
    uint64_t seed;           /* RNG seed; the same seed gives the same draws everywhere   */
} llm_sampler_params;

/* Typical chat settings: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05. */
LLMDEF llm_sampler_params llm_sampler_default_params(void);
LLMDEF llm_sampler *llm_sampler_new(const llm_model *m, const llm_sampler_params *p);
LLMDEF void llm_sampler_free(llm_sampler *s);
/* Picks a token from n_vocab logits (not modified). Does not accept it. */
LLMDEF llm_token llm_sampler_sample(llm_sampler *s, const float *logits);
/* Records t in the penalty history. */
LLMDEF void llm_sampler_accept(llm_sampler *s, llm_token t);
/* Clears the history and reseeds. */
LLMDEF void llm_sampler_reset(llm_sampler *s);

/* ---- generation --------------------------------------------------------------------- */

/* Called for each generated piece of text: whole UTF-8 characters only (bytes of a
   character split over tokens are held back until complete). Return nonzero to stop. */
typedef int (*llm_on_token)(llm_token t, const char *piece, int len, void *user);

typedef struct llm_generate_stats {
    int n_prompt, n_generated;  /* tokens */
    double prompt_ms;           /* time to decode the prompt (= time to first token) */
    double generate_ms;         /* time for the tokens after the first              */
} llm_generate_stats;

typedef struct llm_generate_params {
    int32_t n_predict;         /* most tokens to generate; 0 = until EOG or the context is full */
    llm_sampler_params sampler;
    int no_bos;                /* 1: do not add BOS even if the model asks for it            */
    int parse_special;         /* 1: "<s>" in the prompt is the control token                */
    int ignore_eos;            /* 1: keep going past end-of-generation tokens                */
    int render_special;        /* 1: pass control tokens' text to the callback               */
    const char *const *stop;   /* n_stop strings; generation ends when the text contains one */
    int n_stop;
    llm_generate_stats *stats; /* filled when not NULL */
} llm_generate_params;

LLMDEF llm_generate_params llm_generate_default_params(void);

/* Tokenizes the prompt, decodes it after what the context already holds, then samples up
   to n_predict tokens, calling cb for each piece. Returns LLM_OK (also when cb stopped it
   or an end-of-generation token came), LLM_ERR_CONTEXT_FULL when the context filled up
   (what fit was generated), or another error. */
LLMDEF int llm_generate(llm_context *c, const char *prompt, const llm_generate_params *g,
                        llm_on_token cb, void *user);

/* ---- estimates ---------------------------------------------------------------------- */

typedef struct llm_memory_estimate {
    uint64_t weights_bytes;  /* tensor data */
    uint64_t kv_bytes;       /* KV cache at n_ctx */
    uint64_t scratch_bytes;  /* activations and logits at n_batch */
    uint64_t total_bytes;
} llm_memory_estimate;

/* What llm_context_new would need for this model and these params, without allocating. */
LLMDEF int llm_context_estimate(const llm_model *m, const llm_context_params *p, llm_memory_estimate *out);

#ifdef __cplusplus
}
#endif
#endif /* LLM_H */

/* ===================================================================================== */
/*                                   IMPLEMENTATION                                      */
/* ===================================================================================== */
#if defined(LLM_IMPLEMENTATION) && !defined(LLM__IMPLEMENTED)
#define LLM__IMPLEMENTED

/* ==== platform and CPU features ================================================ >>platform */

#include <math.h>
#include <string.h>
#include <stdarg.h>
#include <float.h>
#include <limits.h>
#include <stdio.h> /* vsnprintf; files only without LLM_NO_STDIO */
#if !defined(LLM_MALLOC) && !defined(LLM_REALLOC) && !defined(LLM_FREE)
#include <stdlib.h>
#define LLM_MALLOC(sz, user) ((void)(user), malloc(sz))
#define LLM_REALLOC(p, sz, user) ((void)(user), realloc((p), (sz)))
#define LLM_FREE(p, user) ((void)(user), free(p))
#elif !defined(LLM_MALLOC) || !defined(LLM_REALLOC) || !defined(LLM_FREE)
#error "define all of LLM_MALLOC, LLM_REALLOC and LLM_FREE, or none of them"
#endif
#ifndef LLM_ASSERT
#include <assert.h>
#define LLM_ASSERT(x) assert(x)
#endif
#ifndef LLM_MAX_TENSORS
#define LLM_MAX_TENSORS 65536
#endif
#ifndef LLM_MAX_KV
#define LLM_MAX_KV 65536
#endif
#ifndef LLM_MAX_VOCAB
#define LLM_MAX_VOCAB 1048576
#endif
#ifndef LLM_MAX_CTX
#define LLM_MAX_CTX 1048576
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define LLM__X86 1
#endif
#if defined(__aarch64__) && !defined(LLM_NO_SIMD)
#define LLM__NEON 1
#include <arm_neon.h>
#endif
#if defined(LLM__X86) && !defined(LLM_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#define LLM__AVX2 1
#include <immintrin.h>
#define LLM__TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LLM__UNUSED __attribute__((unused))
#define LLM_RESTRICT __restrict__
#define LLM__LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define LLM__UNUSED
#define LLM_RESTRICT
#define LLM__LIKELY(x) (x)
#endif

#ifdef __cplusplus
#define LLM__STATIC_ASSERT(c, m) static_assert(c, #m)
#else
#define LLM__STATIC_ASSERT(c, m) _Static_assert(c, #m)
#endif

#if !defined(LLM_NO_THREADS)
#if defined(_WIN32)
#define LLM__WIN32_THREADS 1
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <pthread.h>
#include <unistd.h>
#endif
#endif
#if !defined(_WIN32) && !defined(LLM_NO_STDIO)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif
#include <time.h>

/* Milliseconds of wall time (C11 timespec_get: no POSIX feature macros needed), for
   statistics only. */
static double llm__now_ms(void) {
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC) return 0.0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ==== allocation, errors, logging, checked sizes ================================== >>alloc */

static void *llm__malloc(const llm_allocator *a, size_t n) {
    if (n == 0) n = 1;
    if (a && a->alloc) return a->alloc(n, a->user);
    return LLM_MALLOC(n, a ? a->user : NULL);
}

static void llm__free(const llm_allocator *a, void *p) {
    if (!p) return;
    if (a && a->alloc) {
        if (a->free) a->free(p, a->user);
        return;
    }
    LLM_FREE(p, a ? a->user : NULL);
}

/* a + b and a * b without wrapping: 1 on success, 0 on overflow. */
LLM__UNUSED static int llm__add_size(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return 0;
    *out = a + b;
    return 1;
}
static int llm__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* n elements of size bytes, zeroed; NULL on overflow or exhaustion. */
static void *llm__alloc_array(const llm_allocator *a, size_t n, size_t size) {
    size_t bytes;
    void *p;
    if (!llm__mul_size(n, size, &bytes)) return NULL;
    p = llm__malloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

static char *llm__strndup(const llm_allocator *a, const char *s, size_t n) {
    char *p;
    if (n == SIZE_MAX) return NULL;
    p = (char *)llm__malloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Formats a message into a caller's buffer (may be NULL) and returns code. */
static int llm__errf(char *err, size_t err_size, int code, const char *fmt, ...) {
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void llm__logf(llm_log_fn log, void *user, int level, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    if (!log) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log(level, buf, user);
}

LLMDEF const char *llm_result_string(int result) {
#define LLM__RESULT_CASE(name, value, text) if (result == (value)) return text;
    LLM__RESULTS(LLM__RESULT_CASE)
#undef LLM__RESULT_CASE
    return "unknown error";
}

/* ==== GGUF reader ================================================================= >>gguf */
/* GGUF layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv of
   {string key, u32 value type, value}; n_tensors of {string name, u32 n_dims, u64 ne[n_dims],
   u32 type, u64 offset}; padding to general.alignment; the data section. A string is a u64
   length and that many bytes (no NUL). Version 1 used u32 counts and is refused. */

enum {
    LLM__GGUF_U8 = 0, LLM__GGUF_I8 = 1, LLM__GGUF_U16 = 2, LLM__GGUF_I16 = 3,
    LLM__GGUF_U32 = 4, LLM__GGUF_I32 = 5, LLM__GGUF_F32 = 6, LLM__GGUF_BOOL = 7,
    LLM__GGUF_STRING = 8, LLM__GGUF_ARRAY = 9, LLM__GGUF_U64 = 10, LLM__GGUF_I64 = 11,
    LLM__GGUF_F64 = 12, LLM__GGUF_TYPE_COUNT = 13
};

/* Bytes of one value of each fixed-size GGUF type (0: variable or invalid). */
static const uint8_t llm__gguf_type_size[LLM__GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char *const llm__gguf_type_name[LLM__GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};

typedef struct llm__gguf_kv {
    char *key;           /* owned, NUL-terminated */
    uint32_t type;       /* LLM__GGUF_* */
    uint32_t arr_type;   /* element type when type is ARRAY */
    uint64_t arr_n;      /* element count when type is ARRAY */
    const uint8_t *data; /* the value (for arrays: the first element) inside the file */
    uint64_t str_len;    /* for STRING: bytes at data */
} llm__gguf_kv;

typedef struct llm__tensor {
    char *name;          /* owned */
    int type;            /* llm_type */
    int n_dims;
    int64_t ne[4];
    uint64_t offset;     /* from the start of the data section */
    size_t nbytes;
    const uint8_t *data; /* inside the file */
} llm__tensor;

typedef struct llm__gguf {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    llm__gguf_kv *kv;
    llm__tensor *tensors;
    size_t alignment;
    const uint8_t *data; /* start of the data section */
    size_t data_size;
} llm__gguf;

/* A bounded reader: every read checks what is left; the first failure sticks. */
typedef struct llm__reader {
    const uint8_t *p, *end;
    int failed;
} llm__reader;

static const uint8_t *llm__rd_take(llm__reader *r, uint64_t n) {
    const uint8_t *p = r->p;
    if (r->failed || n > (uint64_t)(r->end - r->p)) {
        r->failed = 1;
        return NULL;
    }
    r->p += n;
    return p;
}
static uint32_t llm__rd_u32(llm__reader *r) {
    const uint8_t *p = llm__rd_take(r, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}
static uint64_t llm__rd_u64(llm__reader *r) {
    const uint8_t *p = llm__rd_take(r, 8);
    uint64_t v = 0;
    int i;
    if (!p) return 0;
    for (i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
/* A GGUF string: returns its bytes (not NUL-terminated) and sets *len. */
static const char *llm__rd_str(llm__reader *r, uint64_t *len) {
    *len = llm__rd_u64(r);
    return (const char *)llm__rd_take(r, *len);
}

/* Little-endian loads from file bytes (unaligned-safe). */
static uint32_t llm__le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t llm__le64(const uint8_t *p) { return (uint64_t)llm__le32(p) | (uint64_t)llm__le32(p + 4) << 32; }
static float llm__lef32(const uint8_t *p) {
    uint32_t u = llm__le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Skips one value of type t (arrays not allowed inside arrays). */
static int llm__gguf_skip_value(llm__reader *r, uint32_t t) {
    uint64_t len;
    if (t == LLM__GGUF_STRING) return llm__rd_str(r, &len) != NULL;
    if (t >= LLM__GGUF_TYPE_COUNT || t == LLM__GGUF_ARRAY) return 0;
    return llm__rd_take(r, llm__gguf_type_size[t]) != NULL;
}

static void llm__gguf_free(llm__gguf *g, const llm_allocator *a) {
    uint64_t i;
    if (g->kv)
        for (i = 0; i < g->n_kv; i++) llm__free(a, g->kv[i].key);
    if (g->tensors)
        for (i = 0; i < g->n_tensors; i++) llm__free(a, g->tensors[i].name);
    llm__free(a, g->kv);
    llm__free(a, g->tensors);
    memset(g, 0, sizeof *g);
}

static int llm__gguf_find(const llm__gguf *g, const char *key) {
    uint64_t i;
    for (i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return (int)i;
    return -1;
}

static size_t llm__type_row_bytes(int type, int64_t n); /* >>types */
static int llm__type_block(int type);

/* FNV-1a over a NUL-terminated string. */
static uint32_t llm__hash_str(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* A set of names for duplicate detection in linear time: slots hold index + 1. */
typedef struct llm__nameset {
    uint32_t *slot;
    uint32_t mask;
} llm__nameset;

static int llm__nameset_init(llm__nameset *s, const llm_allocator *a, uint64_t n) {
    uint32_t cap = 16;
    while (cap < 2 * n) cap *= 2; /* n <= LLM_MAX_* keeps this in range */
    s->mask = cap - 1;
    s->slot = (uint32_t *)llm__alloc_array(a, cap, sizeof(uint32_t));
    return s->slot != NULL;
}

/* Adds names[i] (names is an array of structs whose first member is the name pointer).
   Returns 0 if an equal name was already there. */
static int llm__nameset_add(llm__nameset *s, const char *name, uint32_t i, const char *(*name_of)(const void *, uint32_t),
                            const void *arr) {
    uint32_t k = llm__hash_str(name) & s->mask;
    while (s->slot[k]) {
        if (strcmp(name_of(arr, s->slot[k] - 1), name) == 0) return 0;
        k = (k + 1) & s->mask;
    }
    s->slot[k] = i + 1;
    return 1;
}
static const char *llm__kv_name(const void *arr, uint32_t i) { return ((const llm__gguf_kv *)arr)[i].key; }
static const char *llm__tensor_name(const void *arr, uint32_t i) { return ((const llm__tensor *)arr)[i].name; }

/* Parses the header, metadata and tensor table of size bytes at data (borrowed) into g.
   Returns LLM_OK or an error code with a message in err. */
static int llm__gguf_parse(llm__gguf *g, const uint8_t *data, size_t size, const llm_allocator *a,
                           uint64_t max_tensors, char *err, size_t err_size) {
    llm__reader r;
    uint64_t i, len;
    uint32_t version;
    size_t header_end, data_start;
    int ai;
    llm__nameset names;
    names.slot = NULL;
    memset(g, 0, sizeof *g);
    r.p = data;
    r.end = data + size;
    r.failed = 0;
    if (size < 4 || memcmp(data, "GGUF", 4) != 0)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "not a GGUF file (bad magic)");
    llm__rd_take(&r, 4);
    version = llm__rd_u32(&r);
    if (r.failed) return llm__errf(err, err_size, LLM_ERR_FORMAT, "GGUF header truncated");
    if (version != 0 && (version & 0xFFFF) == 0)
        return llm__errf(err, err_size, LLM_ERR_FORMAT,
                         "GGUF version 0x%08x looks big-endian; only little-endian GGUF files are supported",
                         (unsigned)version);
    if (version == 1)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "GGUF version 1 is not supported (only versions 2 and 3)");
    if (version < 2 || version > 3)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "GGUF version %u is not supported (only versions 2 and 3)",
                         (unsigned)version);
    g->version = version;
    g->n_tensors = llm__rd_u64(&r);
    g->n_kv = llm__rd_u64(&r);
    if (r.failed) return llm__errf(err, err_size, LLM_ERR_FORMAT, "GGUF header truncated");
    /* Each KV needs at least 12 bytes and each tensor 24, so counts are bounded by the size. */
    if (g->n_kv > LLM_MAX_KV || g->n_kv > (uint64_t)(r.end - r.p) / 12) {
        uint64_t n = g->n_kv;
        g->n_kv = g->n_tensors = 0;
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata count %llu is too large for this file",
                         (unsigned long long)n);
    }
    if (g->n_tensors > max_tensors || g->n_tensors > (uint64_t)(r.end - r.p) / 24) {
        uint64_t n = g->n_tensors;
        g->n_kv = g->n_tensors = 0;
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor count %llu is too large for this file",
                         (unsigned long long)n);
    }
    g->kv = (llm__gguf_kv *)llm__alloc_array(a, (size_t)g->n_kv, sizeof *g->kv);
    g->tensors = (llm__tensor *)llm__alloc_array(a, (size_t)g->n_tensors, sizeof *g->tensors);
    if (!g->kv || !g->tensors || !llm__nameset_init(&names, a, g->n_kv)) {
        llm__gguf_free(g, a);
        return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory reading the GGUF header");
    }

    for (i = 0; i < g->n_kv; i++) {
        llm__gguf_kv *kv = &g->kv[i];
        const char *key = llm__rd_str(&r, &len);
        uint64_t j;
        if (!key) goto truncated;
        kv->key = llm__strndup(a, key, (size_t)len);
        if (!kv->key) goto nomem;
        if (strlen(kv->key) != len) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata key %llu contains a NUL byte", (unsigned long long)i);
            goto fail;
        }
        if (!llm__nameset_add(&names, kv->key, (uint32_t)i, llm__kv_name, g->kv)) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "duplicate metadata key '%s'", kv->key);
            goto fail;
        }
        kv->type = llm__rd_u32(&r);
        if (r.failed) goto truncated;
        if (kv->type >= LLM__GGUF_TYPE_COUNT) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' has unknown value type %u", kv->key,
                      (unsigned)kv->type);
            goto fail;
        }
        if (kv->type == LLM__GGUF_ARRAY) {
            kv->arr_type = llm__rd_u32(&r);
            kv->arr_n = llm__rd_u64(&r);
            if (r.failed) goto truncated;
            if (kv->arr_type >= LLM__GGUF_TYPE_COUNT || kv->arr_type == LLM__GGUF_ARRAY) {
                llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata array '%s' has unsupported element type %u",
                          kv->key, (unsigned)kv->arr_type);
                goto fail;
            }
            kv->data = r.p;
            if (kv->arr_type == LLM__GGUF_STRING) {
                /* each string takes at least its 8-byte length */
                if (kv->arr_n > (uint64_t)(r.end - r.p) / 8) goto truncated;
                for (j = 0; j < kv->arr_n; j++)
                    if (!llm__rd_str(&r, &len)) goto truncated;
            } else {
                uint64_t es = llm__gguf_type_size[kv->arr_type];
                if (kv->arr_n > (uint64_t)(r.end - r.p) / es) goto truncated;
                llm__rd_take(&r, kv->arr_n * es);
            }
        } else if (kv->type == LLM__GGUF_STRING) {
            const char *s = llm__rd_str(&r, &kv->str_len);
            if (!s) goto truncated;
            kv->data = (const uint8_t *)s;
        } else {
            kv->data = r.p;
            if (!llm__gguf_skip_value(&r, kv->type)) goto truncated;
        }
    }

    g->alignment = 32;
    ai = llm__gguf_find(g, "general.alignment");
    if (ai >= 0) {
        uint32_t al;
        if (g->kv[ai].type != LLM__GGUF_U32) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "general.alignment must be a u32");
            goto fail;
        }
        al = llm__le32(g->kv[ai].data);
        if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20)) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "general.alignment %u is not a power of two up to 1 MiB",
                      (unsigned)al);
            goto fail;
        }
        g->alignment = al;
    }

    llm__free(a, names.slot);
    names.slot = NULL;
    if (!llm__nameset_init(&names, a, g->n_tensors)) goto nomem;
    for (i = 0; i < g->n_tensors; i++) {
        llm__tensor *t = &g->tensors[i];
        const char *name = llm__rd_str(&r, &len);
        uint32_t n_dims, type;
        int d;
        if (!name) goto truncated;
        t->name = llm__strndup(a, name, (size_t)len);
        if (!t->name) goto nomem;
        if (strlen(t->name) != len || len == 0) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor %llu has an empty name or one with a NUL byte",
                      (unsigned long long)i);
            goto fail;
        }
        if (!llm__nameset_add(&names, t->name, (uint32_t)i, llm__tensor_name, g->tensors)) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "duplicate tensor name '%s'", t->name);
            goto fail;
        }
        n_dims = llm__rd_u32(&r);
        if (r.failed) goto truncated;
        if (n_dims < 1 || n_dims > 4) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' has %u dimensions (1 to 4 allowed)", t->name,
                      (unsigned)n_dims);
            goto fail;
        }
        t->n_dims = (int)n_dims;
        for (d = 0; d < 4; d++) t->ne[d] = 1;
        for (d = 0; d < (int)n_dims; d++) {
            uint64_t ne = llm__rd_u64(&r);
            if (r.failed) goto truncated;
            if (ne < 1 || ne > (uint64_t)INT64_MAX) {
                llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' dimension %d is %llu", t->name, d,
                          (unsigned long long)ne);
                goto fail;
            }
            t->ne[d] = (int64_t)ne;
        }
        type = llm__rd_u32(&r);
        t->offset = llm__rd_u64(&r);
        if (r.failed) goto truncated;
        if (type >= LLM_TYPE_COUNT || llm_type_name((int)type) == NULL) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' has unknown type id %u", t->name, (unsigned)type);
            goto fail;
        }
        t->type = (int)type;
        {
            /* bytes = row bytes * rows, all overflow-checked */
            size_t row = llm__type_row_bytes(t->type, t->ne[0]), rows = 1, bytes;
            if (row == 0 && t->ne[0] % llm__type_block(t->type) == 0) {
                llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' is too large", t->name);
                goto fail;
            }
            if (row == 0) {
                llm__errf(err, err_size, LLM_ERR_FORMAT,
                          "tensor '%s': row length %lld is not a multiple of the %s block size", t->name,
                          (long long)t->ne[0], llm_type_name(t->type));
                goto fail;
            }
            for (d = 1; d < 4; d++)
                if ((uint64_t)t->ne[d] > SIZE_MAX || !llm__mul_size(rows, (size_t)t->ne[d], &rows)) break;
            if (d < 4 || !llm__mul_size(row, rows, &bytes)) {
                llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' is too large", t->name);
                goto fail;
            }
            t->nbytes = bytes;
        }
        if (t->offset % g->alignment != 0) {
            llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' data offset %llu is not aligned to %u", t->name,
                      (unsigned long long)t->offset, (unsigned)g->alignment);
            goto fail;
        }
    }

    header_end = (size_t)(r.p - data);
    data_start = header_end + (g->alignment - header_end % g->alignment) % g->alignment;
    if (g->n_tensors > 0 && data_start > size) goto truncated;
    g->data = data + (data_start <= size ? data_start : size);
    g->data_size = data_start <= size ? size - data_start : 0;
    for (i = 0; i < g->n_tensors; i++) {
        llm__tensor *t = &g->tensors[i];
        if (t->offset > g->data_size || t->nbytes > g->data_size - t->offset) {
            llm__errf(err, err_size, LLM_ERR_FORMAT,
                      "tensor '%s' (offset %llu, %llu bytes) ends past the end of the file", t->name,
                      (unsigned long long)t->offset, (unsigned long long)t->nbytes);
            goto fail;
        }
        t->data = g->data + t->offset;
    }
    llm__free(a, names.slot);
    return LLM_OK;

truncated:
    llm__errf(err, err_size, LLM_ERR_FORMAT, "GGUF file truncated or corrupt (reading past the end at byte %llu)",
              (unsigned long long)(r.p - data));
    goto fail;
nomem:
    llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory reading GGUF metadata");
    llm__free(a, names.slot);
    llm__gguf_free(g, a);
    return LLM_ERR_NOMEM;
fail:
    llm__free(a, names.slot);
    llm__gguf_free(g, a);
    return LLM_ERR_FORMAT;
}

/* Typed metadata getters: return 1 and set *out when the key exists with a compatible type,
   0 when absent, -1 when present with a wrong type. */
static int llm__gguf_get_u32(const llm__gguf *g, const char *key, uint32_t *out) {
    int i = llm__gguf_find(g, key);
    const llm__gguf_kv *kv;
    if (i < 0) return 0;
    kv = &g->kv[i];
    switch (kv->type) {
    case LLM__GGUF_U8: *out = kv->data[0]; return 1;
    case LLM__GGUF_U16: *out = (uint32_t)kv->data[0] | (uint32_t)kv->data[1] << 8; return 1;
    case LLM__GGUF_U32: *out = llm__le32(kv->data); return 1;
    case LLM__GGUF_I32: if ((int32_t)llm__le32(kv->data) < 0) return -1; *out = llm__le32(kv->data); return 1;
    case LLM__GGUF_U64: if (llm__le64(kv->data) > UINT32_MAX) return -1; *out = (uint32_t)llm__le64(kv->data); return 1;
    case LLM__GGUF_I64: if (llm__le64(kv->data) > UINT32_MAX) return -1; *out = (uint32_t)llm__le64(kv->data); return 1;
    default: return -1;
    }
}
static int llm__gguf_get_f32(const llm__gguf *g, const char *key, float *out) {
    int i = llm__gguf_find(g, key);
    const llm__gguf_kv *kv;
    if (i < 0) return 0;
    kv = &g->kv[i];
    if (kv->type == LLM__GGUF_F32) {
        *out = llm__lef32(kv->data);
        return 1;
    }
    if (kv->type == LLM__GGUF_F64) {
        uint64_t u = llm__le64(kv->data);
        double d;
        memcpy(&d, &u, 8);
        *out = (float)d;
        return 1;
    }
    return -1;
}
static int llm__gguf_get_bool(const llm__gguf *g, const char *key, int *out) {
    int i = llm__gguf_find(g, key);
    if (i < 0) return 0;
    if (g->kv[i].type != LLM__GGUF_BOOL) return -1;
    *out = g->kv[i].data[0] != 0;
    return 1;
}
/* A string value as pointer + length into the file. */
static int llm__gguf_get_str(const llm__gguf *g, const char *key, const char **s, size_t *len) {
    int i = llm__gguf_find(g, key);
    if (i < 0) return 0;
    if (g->kv[i].type != LLM__GGUF_STRING) return -1;
    *s = (const char *)g->kv[i].data;
    *len = (size_t)g->kv[i].str_len;
    return 1;
}

/* ==== tensor type table =========================================================== >>types */
/* ---- half precision: exact conversions, round to nearest even (as F16C does) ---- */

static float llm__f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t llm__f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float llm__fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return llm__f32_from_bits(sign | 0x7f800000 | man << 13);
    if (exp == 0) /* zero or subnormal: man * 2^-24, exact in float */
        return llm__f32_from_bits(sign | llm__f32_bits((float)man * 5.9604644775390625e-8f));
    return llm__f32_from_bits(sign | (exp + 112) << 23 | man << 13);
}

/* Rounds a float in [0, 2^22] to an integer, ties to even, in the default rounding mode:
   adding 1.5 * 2^23 pushes the fraction out of the mantissa. ggml's nearest_int does the same. */
static float llm__round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }

static uint16_t llm__fp32_to_fp16(float f) {
    uint32_t u = llm__f32_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffff, m;
    if (a > 0x7f800000) return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff)); /* NaN stays NaN */
    if (a >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  /* >= 65520 rounds to infinity */
    if (a < 0x38800000) /* below 2^-14: a subnormal half, man = round(|f| * 2^24) */
        return (uint16_t)(sign | (uint32_t)llm__round_even(llm__f32_from_bits(a) * 16777216.0f));
    m = a - 0x38000000; /* rebias the exponent from 127 to 15, then drop 13 bits rounding to even */
    return (uint16_t)(sign | (m + 0xfff + ((m >> 13) & 1)) >> 13);
}

static float llm__bf16_to_fp32(uint16_t h) { return llm__f32_from_bits((uint32_t)h << 16); }

static uint16_t llm__fp32_to_bf16(float f) {
    uint32_t u = llm__f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static uint16_t llm__le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void llm__put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- per-type conversions (n is a multiple of the block size) ---- */

typedef void (*llm__to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*llm__from_float_fn)(const float *src, void *dst, int64_t n);
/* *s = dot(w, x) over n elements; w in the weight type, x in its vec_dot type. */
typedef void (*llm__vec_dot_fn)(int n, float *s, const void *w, const void *x);

static void llm__f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void llm__f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void llm__f16_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = llm__fp16_to_fp32(llm__le16(p + 2 * i));
}
static void llm__f16_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *p = (uint8_t *)dst;
    int64_t i;
    for (i = 0; i < n; i++) llm__put16(p + 2 * i, llm__fp32_to_fp16(src[i]));
}
static void llm__bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = llm__bf16_to_fp32(llm__le16(p + 2 * i));
}
static void llm__bf16_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *p = (uint8_t *)dst;
    int64_t i;
    for (i = 0; i < n; i++) llm__put16(p + 2 * i, llm__fp32_to_bf16(src[i]));
}

/* A rounded value as int8 within +-127; NaN (from a corrupt file's weights) becomes 0, as a
   float-to-int cast of NaN or of a value out of range is undefined behaviour in C. */
static int8_t llm__to_i8(float r) {
    if (r >= -127.0f && r <= 127.0f) return (int8_t)r;
    return (int8_t)(r > 0.0f ? 127 : r < 0.0f ? -127 : 0);
}

/* Q8_0: blocks of 32 as {fp16 d; int8 q[32]} (34 bytes); x = d * q. */
#define LLM__Q8_0_BYTES 34

static void llm__q8_0_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__Q8_0_BYTES) {
        float d = llm__fp16_to_fp32(llm__le16(b));
        for (j = 0; j < 32; j++) dst[i * 32 + j] = (float)(int8_t)b[2 + j] * d;
    }
}

/* The weight quantizer (ggml's quantize_row_q8_0_ref): d = amax/127, q = roundf(x / d). */
static void llm__q8_0_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__Q8_0_BYTES) {
        const float *x = src + i * 32;
        float amax = 0.0f, d, id;
        for (j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        llm__put16(b, llm__fp32_to_fp16(d));
        for (j = 0; j < 32; j++) b[2 + j] = (uint8_t)llm__to_i8(roundf(x[j] * id));
    }
}

/* The activation form used by the dot products. ggml's CPU backend (not its _ref function)
   scales by 127/amax and rounds half to even; matching it is what makes our mat-vec agree
   with llama.cpp to float rounding (refs/README.md 2.2). |q| <= 127, never -128. */
static void llm__q8_0_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__Q8_0_BYTES) {
        const float *x = src + i * 32;
        float amax = 0.0f, id;
        for (j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        id = amax != 0.0f ? 127.0f / amax : 0.0f;
        llm__put16(b, llm__fp32_to_fp16(amax / 127.0f));
        for (j = 0; j < 32; j++) {
            float v = x[j] * id;
            b[2 + j] = (uint8_t)llm__to_i8(v < 0 ? -llm__round_even(-v) : llm__round_even(v));
        }
    }
}

/* Q8_K: the activation form of the 256-element types: {f32 d; int8 q[256]; int16 bsums[16]}
   (292 bytes), bsums[i] the sum of q[16i .. 16i+15]. x = d * q. */
#define LLM__Q8_K_BYTES 292

static void llm__q8_K_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += LLM__Q8_K_BYTES) {
        float d = llm__lef32(b);
        for (j = 0; j < 256; j++) dst[i * 256 + j] = d * (float)(int8_t)b[4 + j];
    }
}

/* ggml's quantize_row_q8_K (the reference function is what its CPU backend uses): the scale
   comes from the first element of largest magnitude, keeping its sign, iscale = -127/max, q
   rounded half to even and capped at 127; d = 1/iscale stays float. */
static void llm__q8_K_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += LLM__Q8_K_BYTES) {
        const float *x = src + i * 256;
        float amax = 0.0f, max = 0.0f, iscale, d;
        for (j = 0; j < 256; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        iscale = amax != 0.0f ? -127.0f / max : 0.0f;
        for (j = 0; j < 256; j++) b[4 + j] = (uint8_t)llm__to_i8(llm__round_even(iscale * x[j]));
        for (j = 0; j < 16; j++) {
            int k, s = 0;
            for (k = 0; k < 16; k++) s += (int8_t)b[4 + 16 * j + k];
            llm__put16(b + 4 + 256 + 2 * j, (uint16_t)(int16_t)s);
        }
        d = amax != 0.0f ? 1.0f / iscale : 0.0f;
        memcpy(b, &d, 4); /* little-endian hosts; the GGUF files are little-endian too */
    }
}

/* ---- the type table: one row per GGUF type id, positional, each starting with its id ---- */

typedef struct llm__type_traits {
    int id;
    const char *name;    /* ggml's name */
    int blck;            /* elements per block */
    int size;            /* bytes per block */
    llm__to_float_fn to_float;     /* dequantize (bit-exact with ggml) */
    llm__from_float_fn quantize;   /* weight quantizer (ggml's reference) */
    llm__from_float_fn from_float; /* activation conversion when this is a vec_dot type */
    int vec_dot_type;              /* the form activations take for a dot with this type */
    llm__vec_dot_fn vec_dot;       /* scalar reference dot product */
} llm__type_traits;

static void llm__vec_dot_f32_f32(int n, float *s, const void *w, const void *x);
static void llm__vec_dot_f16_f16(int n, float *s, const void *w, const void *x);
static void llm__vec_dot_bf16_bf16(int n, float *s, const void *w, const void *x);
static void llm__vec_dot_q8_0_q8_0(int n, float *s, const void *w, const void *x);

/* Types without functions are known (their sizes let a file be parsed) but not computable. */
static const llm__type_traits llm__types[LLM_TYPE_COUNT] = {
    {0, "f32", 1, 4, llm__f32_to_float, llm__f32_from_float, llm__f32_from_float, LLM_TYPE_F32, llm__vec_dot_f32_f32},
    {1, "f16", 1, 2, llm__f16_to_float, llm__f16_from_float, llm__f16_from_float, LLM_TYPE_F16, llm__vec_dot_f16_f16},
    {2, "q4_0", 32, 18, NULL, NULL, NULL, 0, NULL},
    {3, "q4_1", 32, 20, NULL, NULL, NULL, 0, NULL},
    {4, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {5, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {6, "q5_0", 32, 22, NULL, NULL, NULL, 0, NULL},
    {7, "q5_1", 32, 24, NULL, NULL, NULL, 0, NULL},
    {8, "q8_0", 32, 34, llm__q8_0_to_float, llm__q8_0_quantize, llm__q8_0_from_float, LLM_TYPE_Q8_0, llm__vec_dot_q8_0_q8_0},
    {9, "q8_1", 32, 36, NULL, NULL, NULL, 0, NULL},
    {10, "q2_K", 256, 84, NULL, NULL, NULL, 0, NULL},
    {11, "q3_K", 256, 110, NULL, NULL, NULL, 0, NULL},
    {12, "q4_K", 256, 144, NULL, NULL, NULL, 0, NULL},
    {13, "q5_K", 256, 176, NULL, NULL, NULL, 0, NULL},
    {14, "q6_K", 256, 210, NULL, NULL, NULL, 0, NULL},
    {15, "q8_K", 256, 292, llm__q8_K_to_float, llm__q8_K_from_float, llm__q8_K_from_float, LLM_TYPE_Q8_K, NULL},
    {16, "iq2_xxs", 256, 66, NULL, NULL, NULL, 0, NULL},
    {17, "iq2_xs", 256, 74, NULL, NULL, NULL, 0, NULL},
    {18, "iq3_xxs", 256, 98, NULL, NULL, NULL, 0, NULL},
    {19, "iq1_s", 256, 50, NULL, NULL, NULL, 0, NULL},
    {20, "iq4_nl", 32, 18, NULL, NULL, NULL, 0, NULL},
    {21, "iq3_s", 256, 110, NULL, NULL, NULL, 0, NULL},
    {22, "iq2_s", 256, 82, NULL, NULL, NULL, 0, NULL},
    {23, "iq4_xs", 256, 136, NULL, NULL, NULL, 0, NULL},
    {24, "i8", 1, 1, NULL, NULL, NULL, 0, NULL},
    {25, "i16", 1, 2, NULL, NULL, NULL, 0, NULL},
    {26, "i32", 1, 4, NULL, NULL, NULL, 0, NULL},
    {27, "i64", 1, 8, NULL, NULL, NULL, 0, NULL},
    {28, "f64", 1, 8, NULL, NULL, NULL, 0, NULL},
    {29, "iq1_m", 256, 56, NULL, NULL, NULL, 0, NULL},
    {30, "bf16", 1, 2, llm__bf16_to_float, llm__bf16_from_float, llm__bf16_from_float, LLM_TYPE_BF16, llm__vec_dot_bf16_bf16},
    {31, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {32, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {33, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {34, "tq1_0", 256, 54, NULL, NULL, NULL, 0, NULL},
    {35, "tq2_0", 256, 66, NULL, NULL, NULL, 0, NULL},
    {36, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {37, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {38, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {39, "mxfp4", 32, 17, NULL, NULL, NULL, 0, NULL},
};

static const llm__type_traits *llm__type(int type) {
    return type >= 0 && type < LLM_TYPE_COUNT && llm__types[type].name ? &llm__types[type] : NULL;
}

/* Bytes of a row of n elements; 0 when n is not a positive multiple of the block or overflows. */
static size_t llm__type_row_bytes(int type, int64_t n) {
    const llm__type_traits *t = llm__type(type);
    size_t bytes;
    if (!t || n <= 0 || n % t->blck != 0 || (uint64_t)(n / t->blck) > SIZE_MAX) return 0;
    if (!llm__mul_size((size_t)(n / t->blck), (size_t)t->size, &bytes)) return 0;
    return bytes;
}

/* Elements per block of a known type, 1 otherwise. */
static int llm__type_block(int type) {
    const llm__type_traits *t = llm__type(type);
    return t ? t->blck : 1;
}

LLMDEF const char *llm_type_name(int type) {
    const llm__type_traits *t = llm__type(type);
    return t ? t->name : NULL;
}

LLMDEF int llm_type_from_name(const char *name) {
    int i;
    size_t k;
    for (i = 0; i < LLM_TYPE_COUNT && name; i++) {
        const char *tn = llm__types[i].name;
        if (!tn || strlen(tn) != strlen(name)) continue;
        for (k = 0; tn[k]; k++) {
            char a = tn[k], b = name[k];
            if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
            if (a != b) break;
        }
        if (!tn[k]) return i;
    }
    return -1;
}

LLMDEF int llm_type_supported(int type) {
    const llm__type_traits *t = llm__type(type);
    return t && t->to_float && t->vec_dot;
}

LLMDEF size_t llm_type_row_size(int type, int64_t n) { return llm__type_row_bytes(type, n); }

/* ==== kernels: scalar reference, AVX2, NEON ====================================== >>kernels */
/* Scalar references: the specification every SIMD kernel is tested against. Float and half
   products accumulate in double (as ggml's scalar path does); the quantized ones sum each
   block's integer products exactly and scale them in float, as ggml does. */

static void llm__vec_dot_f32_f32(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++) sum += (double)(llm__lef32(pw + 4 * i) * llm__lef32(px + 4 * i));
    *s = (float)sum;
}

static void llm__vec_dot_f16_f16(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++)
        sum += (double)(llm__fp16_to_fp32(llm__le16(pw + 2 * i)) * llm__fp16_to_fp32(llm__le16(px + 2 * i)));
    *s = (float)sum;
}

static void llm__vec_dot_bf16_bf16(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++)
        sum += (double)(llm__bf16_to_fp32(llm__le16(pw + 2 * i)) * llm__bf16_to_fp32(llm__le16(px + 2 * i)));
    *s = (float)sum;
}

static void llm__vec_dot_q8_0_q8_0(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j;
    for (i = 0; i < n / 32; i++, bw += LLM__Q8_0_BYTES, bx += LLM__Q8_0_BYTES) {
        int isum = 0;
        for (j = 0; j < 32; j++) isum += (int8_t)bw[2 + j] * (int8_t)bx[2 + j];
        sum += (float)isum * (llm__fp16_to_fp32(llm__le16(bw)) * llm__fp16_to_fp32(llm__le16(bx)));
    }
    *s = sum;
}

/* The dot products a context uses: the scalar table, with rows replaced by the fastest
   kernels the allowed features have. */
typedef struct llm__kernels {
    unsigned features;
    llm__vec_dot_fn vec_dot[LLM_TYPE_COUNT];
} llm__kernels;

/* ---- AVX2 + FMA + F16C (x86-64, chosen at run time) ---- */
#ifdef LLM__AVX2

LLM__TARGET_AVX2 static float llm__hsum256(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

LLM__TARGET_AVX2 static void llm__vec_dot_f32_f32_avx2(int n, float *s, const void *w, const void *x) {
    const float *pw = (const float *)w, *px = (const float *)x; /* loadu: no alignment assumed */
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    float sum;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(pw + i), _mm256_loadu_ps(px + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(pw + i + 8), _mm256_loadu_ps(px + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(pw + i + 16), _mm256_loadu_ps(px + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(pw + i + 24), _mm256_loadu_ps(px + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(pw + i), _mm256_loadu_ps(px + i), a0);
    sum = llm__hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += llm__lef32((const uint8_t *)(pw + i)) * llm__lef32((const uint8_t *)(px + i));
    *s = sum;
}

LLM__TARGET_AVX2 static void llm__vec_dot_f16_f16_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    float sum;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pw + 2 * i))),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(px + 2 * i))), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pw + 2 * i + 16))),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(px + 2 * i + 16))), a1);
    }
    sum = llm__hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++) sum += llm__fp16_to_fp32(llm__le16(pw + 2 * i)) * llm__fp16_to_fp32(llm__le16(px + 2 * i));
    *s = sum;
}

LLM__TARGET_AVX2 static __m256 llm__bf16x8_avx2(const uint8_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

LLM__TARGET_AVX2 static void llm__vec_dot_bf16_bf16_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    float sum;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(llm__bf16x8_avx2(pw + 2 * i), llm__bf16x8_avx2(px + 2 * i), a0);
        a1 = _mm256_fmadd_ps(llm__bf16x8_avx2(pw + 2 * i + 16), llm__bf16x8_avx2(px + 2 * i + 16), a1);
    }
    sum = llm__hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++) sum += llm__bf16_to_fp32(llm__le16(pw + 2 * i)) * llm__bf16_to_fp32(llm__le16(px + 2 * i));
    *s = sum;
}

/* 32 int8 products summed into 8 int32 lanes. maddubs needs an unsigned operand, so take
   |w| and move w's sign onto x; x never holds -128 (activations are within +-127). */
LLM__TARGET_AVX2 static __m256i llm__dot_i8x32_avx2(__m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

LLM__TARGET_AVX2 static void llm__vec_dot_q8_0_q8_0_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    __m256 acc = _mm256_setzero_ps();
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q8_0_BYTES, bx += LLM__Q8_0_BYTES) {
        __m256i qw = _mm256_loadu_si256((const __m256i *)(bw + 2)), qx = _mm256_loadu_si256((const __m256i *)(bx + 2));
        __m256 d = _mm256_set1_ps(llm__fp16_to_fp32(llm__le16(bw)) * llm__fp16_to_fp32(llm__le16(bx)));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(llm__dot_i8x32_avx2(qw, qx)), acc);
    }
    *s = llm__hsum256(acc);
}
#endif /* LLM__AVX2 */

/* ---- NEON (AArch64, chosen at compile time) ---- */
#ifdef LLM__NEON
/* Loads go through uint8 vectors and a reinterpret: no pointer to file bytes is ever cast to
   float or uint16, and AArch64's LD1 takes any alignment. Lanes read bytes in memory order,
   which is the file's little-endian order only on a little-endian core, so big-endian AArch64
   keeps the scalar kernels (see llm__kernels_init_neon). */
#if !defined(__AARCH64EB__)

static float32x4_t llm__f32x4_neon(const uint8_t *p) { return vreinterpretq_f32_u8(vld1q_u8(p)); }

static void llm__vec_dot_f32_f32_neon(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f), a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
    float sum;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, llm__f32x4_neon(pw + 4 * i), llm__f32x4_neon(px + 4 * i));
        a1 = vfmaq_f32(a1, llm__f32x4_neon(pw + 4 * i + 16), llm__f32x4_neon(px + 4 * i + 16));
        a2 = vfmaq_f32(a2, llm__f32x4_neon(pw + 4 * i + 32), llm__f32x4_neon(px + 4 * i + 32));
        a3 = vfmaq_f32(a3, llm__f32x4_neon(pw + 4 * i + 48), llm__f32x4_neon(px + 4 * i + 48));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, llm__f32x4_neon(pw + 4 * i), llm__f32x4_neon(px + 4 * i));
    sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) sum += llm__lef32(pw + 4 * i) * llm__lef32(px + 4 * i);
    *s = sum;
}

/* 8 halves widened exactly to two float32x4 (FCVTL/FCVTL2, base ARMv8.0: no +fp16 needed). */
static void llm__vec_dot_f16_f16_neon(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f), a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
    float sum;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        float16x8_t w0 = vreinterpretq_f16_u8(vld1q_u8(pw + 2 * i)), x0 = vreinterpretq_f16_u8(vld1q_u8(px + 2 * i));
        float16x8_t w1 = vreinterpretq_f16_u8(vld1q_u8(pw + 2 * i + 16));
        float16x8_t x1 = vreinterpretq_f16_u8(vld1q_u8(px + 2 * i + 16));
        a0 = vfmaq_f32(a0, vcvt_f32_f16(vget_low_f16(w0)), vcvt_f32_f16(vget_low_f16(x0)));
        a1 = vfmaq_f32(a1, vcvt_high_f32_f16(w0), vcvt_high_f32_f16(x0));
        a2 = vfmaq_f32(a2, vcvt_f32_f16(vget_low_f16(w1)), vcvt_f32_f16(vget_low_f16(x1)));
        a3 = vfmaq_f32(a3, vcvt_high_f32_f16(w1), vcvt_high_f32_f16(x1));
    }
    for (; i + 4 <= n; i += 4)
        a0 = vfmaq_f32(a0, vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(pw + 2 * i))),
                       vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(px + 2 * i))));
    sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) sum += llm__fp16_to_fp32(llm__le16(pw + 2 * i)) * llm__fp16_to_fp32(llm__le16(px + 2 * i));
    *s = sum;
}

/* bf16 is the top half of a float32: widen u16 to u32 shifting left by 16 (SHLL/SHLL2). */
static void llm__vec_dot_bf16_bf16_neon(int n, float *s, const void *w, const void *x) {
    const uint8_t *pw = (const uint8_t *)w, *px = (const uint8_t *)x;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f), a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
    float sum;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        uint16x8_t w0 = vreinterpretq_u16_u8(vld1q_u8(pw + 2 * i)), x0 = vreinterpretq_u16_u8(vld1q_u8(px + 2 * i));
        uint16x8_t w1 = vreinterpretq_u16_u8(vld1q_u8(pw + 2 * i + 16));
        uint16x8_t x1 = vreinterpretq_u16_u8(vld1q_u8(px + 2 * i + 16));
        a0 = vfmaq_f32(a0, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(w0), 16)),
                       vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(x0), 16)));
        a1 = vfmaq_f32(a1, vreinterpretq_f32_u32(vshll_high_n_u16(w0, 16)),
                       vreinterpretq_f32_u32(vshll_high_n_u16(x0, 16)));
        a2 = vfmaq_f32(a2, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(w1), 16)),
                       vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(x1), 16)));
        a3 = vfmaq_f32(a3, vreinterpretq_f32_u32(vshll_high_n_u16(w1, 16)),
                       vreinterpretq_f32_u32(vshll_high_n_u16(x1, 16)));
    }
    for (; i + 4 <= n; i += 4)
        a0 = vfmaq_f32(a0, vreinterpretq_f32_u32(vshll_n_u16(vreinterpret_u16_u8(vld1_u8(pw + 2 * i)), 16)),
                       vreinterpretq_f32_u32(vshll_n_u16(vreinterpret_u16_u8(vld1_u8(px + 2 * i)), 16)));
    sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) sum += llm__bf16_to_fp32(llm__le16(pw + 2 * i)) * llm__bf16_to_fp32(llm__le16(px + 2 * i));
    *s = sum;
}

/* d_w * d_x for two Q8_0 blocks: both fp16 scales widened by one FCVTL, which is exact (as is
   llm__fp16_to_fp32, an out-of-line call in the loop otherwise), then one float product. */
static float llm__q8_0_scale_neon(const uint8_t *bw, const uint8_t *bx) {
    uint16x4_t h = vdup_n_u16(0);
    float32x4_t d;
    h = vset_lane_u16(llm__le16(bw), h, 0);
    h = vset_lane_u16(llm__le16(bx), h, 1);
    d = vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vgetq_lane_f32(d, 0) * vgetq_lane_f32(d, 1);
}

/* Q8_0: each block's integer dot is exact, and the blocks are scaled and summed one by one in
   the scalar kernel's order, so the result is bit-identical to llm__vec_dot_q8_0_q8_0.
   ARMv8.0: int8 x int8 widened to int16 (|p| <= 128 * 128, fits), pairs added into int32. */
static void llm__vec_dot_q8_0_q8_0_neon(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q8_0_BYTES, bx += LLM__Q8_0_BYTES) {
        int8x16_t w0 = vreinterpretq_s8_u8(vld1q_u8(bw + 2)), w1 = vreinterpretq_s8_u8(vld1q_u8(bw + 18));
        int8x16_t x0 = vreinterpretq_s8_u8(vld1q_u8(bx + 2)), x1 = vreinterpretq_s8_u8(vld1q_u8(bx + 18));
        int32x4_t acc = vdupq_n_s32(0);
        int isum;
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
        acc = vpadalq_s16(acc, vmull_high_s8(w0, x0));
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
        acc = vpadalq_s16(acc, vmull_high_s8(w1, x1));
        isum = vaddvq_s32(acc);
        sum += (float)isum * llm__q8_0_scale_neon(bw, bx);
    }
    *s = sum;
}

#if defined(__ARM_FEATURE_DOTPROD)
/* ARMv8.2 SDOT: four int8 products summed into each int32 lane, exact. */
static void llm__vec_dot_q8_0_q8_0_neon_dotprod(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q8_0_BYTES, bx += LLM__Q8_0_BYTES) {
        int8x16_t w0 = vreinterpretq_s8_u8(vld1q_u8(bw + 2)), w1 = vreinterpretq_s8_u8(vld1q_u8(bw + 18));
        int8x16_t x0 = vreinterpretq_s8_u8(vld1q_u8(bx + 2)), x1 = vreinterpretq_s8_u8(vld1q_u8(bx + 18));
        int isum = vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1));
        sum += (float)isum * llm__q8_0_scale_neon(bw, bx);
    }
    *s = sum;
}
#endif /* __ARM_FEATURE_DOTPROD */

#endif /* !__AARCH64EB__ */

static void llm__kernels_init_neon(llm__kernels *k) {
#if !defined(__AARCH64EB__)
    k->vec_dot[LLM_TYPE_F32] = llm__vec_dot_f32_f32_neon;
    k->vec_dot[LLM_TYPE_F16] = llm__vec_dot_f16_f16_neon;
    k->vec_dot[LLM_TYPE_BF16] = llm__vec_dot_bf16_bf16_neon;
    k->vec_dot[LLM_TYPE_Q8_0] = llm__vec_dot_q8_0_q8_0_neon;
#if defined(__ARM_FEATURE_DOTPROD)
    if (k->features & LLM_CPU_DOTPROD) k->vec_dot[LLM_TYPE_Q8_0] = llm__vec_dot_q8_0_q8_0_neon_dotprod;
#endif
#else
    (void)k;
#endif
}
#endif

/* ---- CPU features and the kernel table ---- */

#if defined(LLM__AVX2)
#include <cpuid.h>
static unsigned llm__detect_x86(void) {
    unsigned a, b, c, d, xcr0_lo, xcr0_hi;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    /* FMA (ecx 12), OSXSAVE (27), AVX (28), F16C (29) */
    if ((c & (1u << 12 | 1u << 27 | 1u << 28 | 1u << 29)) != (1u << 12 | 1u << 27 | 1u << 28 | 1u << 29)) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    if ((xcr0_lo & 6) != 6) return 0; /* the OS must save XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 5)) ? LLM_CPU_AVX2 : 0;
}
#endif

LLMDEF unsigned llm_cpu_features(void) {
    unsigned f = LLM_CPU_SCALAR;
#if defined(LLM__AVX2)
    f |= llm__detect_x86();
#endif
#if defined(LLM__NEON)
    f |= LLM_CPU_NEON;
#if defined(__ARM_FEATURE_DOTPROD)
    f |= LLM_CPU_DOTPROD;
#endif
#endif
    return f;
}

static void llm__kernels_init(llm__kernels *k, unsigned allowed) {
    int i;
    k->features = llm_cpu_features() & (allowed ? allowed | LLM_CPU_SCALAR : (unsigned)LLM_CPU_ALL);
    for (i = 0; i < LLM_TYPE_COUNT; i++) k->vec_dot[i] = llm__types[i].vec_dot;
#if defined(LLM__AVX2)
    if (k->features & LLM_CPU_AVX2) {
        k->vec_dot[LLM_TYPE_F32] = llm__vec_dot_f32_f32_avx2;
        k->vec_dot[LLM_TYPE_F16] = llm__vec_dot_f16_f16_avx2;
        k->vec_dot[LLM_TYPE_BF16] = llm__vec_dot_bf16_bf16_avx2;
        k->vec_dot[LLM_TYPE_Q8_0] = llm__vec_dot_q8_0_q8_0_avx2;
    }
#endif
#if defined(LLM__NEON)
    if (k->features & LLM_CPU_NEON) llm__kernels_init_neon(k);
#endif
}

/* ==== thread pool ================================================================ >>threads */
/* A persistent pool: n_threads - 1 workers plus the calling thread run the tasks of one job
   at a time. Tasks are handed out by an atomic counter; each task writes its own outputs, so
   results never depend on which thread ran what. Workers spin briefly for the next job (a
   forward pass issues many small ones), then sleep on a condition variable. */

typedef void (*llm__task_fn)(void *arg, int task, int ith);

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static int llm__atomic_add(volatile int *p, int v) { return (int)_InterlockedExchangeAdd((volatile long *)p, v); }
LLM__UNUSED static int llm__atomic_load(volatile int *p) { return (int)_InterlockedOr((volatile long *)p, 0); }
LLM__UNUSED static void llm__atomic_store(volatile int *p, int v) { _InterlockedExchange((volatile long *)p, v); }
#else
static int llm__atomic_add(volatile int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
LLM__UNUSED static int llm__atomic_load(volatile int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
LLM__UNUSED static void llm__atomic_store(volatile int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
#endif

LLM__UNUSED static void llm__cpu_relax(void) {
#if defined(LLM__X86) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("yield");
#endif
}

#define LLM__MAX_THREADS 64
#define LLM__SPIN 20000

typedef struct llm__pool llm__pool;
typedef struct llm__worker {
    llm__pool *pool;
    int ith;
} llm__worker;

struct llm__pool {
    int n_threads;          /* including the caller */
    volatile int generation; /* bumped for each job */
    volatile int next;       /* next task index */
    volatile int busy;       /* workers still in the current job */
    volatile int stop;
    llm__task_fn fn;
    void *arg;
    int n_tasks;
#if !defined(LLM_NO_THREADS) && !defined(LLM__WIN32_THREADS)
    pthread_t th[LLM__MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
#elif defined(LLM__WIN32_THREADS)
    HANDLE th[LLM__MAX_THREADS];
    CRITICAL_SECTION mu;
    CONDITION_VARIABLE cv;
    int started;
#endif
    llm__worker workers[LLM__MAX_THREADS];
};

/* Runs tasks until none are left; ith is this thread's index (0 = the caller). */
static void llm__pool_work(llm__pool *p, int ith) {
    for (;;) {
        int t = llm__atomic_add(&p->next, 1);
        if (t >= p->n_tasks) break;
        p->fn(p->arg, t, ith);
    }
}

#if !defined(LLM_NO_THREADS)
#if defined(LLM__WIN32_THREADS)
#define LLM__LOCK(p) EnterCriticalSection(&(p)->mu)
#define LLM__UNLOCK(p) LeaveCriticalSection(&(p)->mu)
#define LLM__WAIT(p) SleepConditionVariableCS(&(p)->cv, &(p)->mu, INFINITE)
#define LLM__WAKE_ALL(p) WakeAllConditionVariable(&(p)->cv)
#else
#define LLM__LOCK(p) pthread_mutex_lock(&(p)->mu)
#define LLM__UNLOCK(p) pthread_mutex_unlock(&(p)->mu)
#define LLM__WAIT(p) pthread_cond_wait(&(p)->cv, &(p)->mu)
#define LLM__WAKE_ALL(p) pthread_cond_broadcast(&(p)->cv)
#endif

static void llm__pool_worker_loop(llm__worker *w) {
    llm__pool *p = w->pool;
    int seen = 0;
    for (;;) {
        int spins = 0, gen;
        while ((gen = llm__atomic_load(&p->generation)) == seen && !llm__atomic_load(&p->stop) && spins < LLM__SPIN) {
            llm__cpu_relax();
            spins++;
        }
        if (gen == seen && !llm__atomic_load(&p->stop)) {
            LLM__LOCK(p);
            while ((gen = llm__atomic_load(&p->generation)) == seen && !llm__atomic_load(&p->stop)) LLM__WAIT(p);
            LLM__UNLOCK(p);
        }
        if (llm__atomic_load(&p->stop)) return;
        seen = gen;
        llm__pool_work(p, w->ith);
        llm__atomic_add(&p->busy, -1);
    }
}

#if defined(LLM__WIN32_THREADS)
static DWORD WINAPI llm__pool_thread(LPVOID arg) {
    llm__pool_worker_loop((llm__worker *)arg);
    return 0;
}
#else
static void *llm__pool_thread(void *arg) {
    llm__pool_worker_loop((llm__worker *)arg);
    return NULL;
}
#endif
#endif /* !LLM_NO_THREADS */

/* Starts n_threads - 1 workers. Returns 0 on failure (the pool then runs single-threaded). */
static int llm__pool_start(llm__pool *p, int n_threads) {
    memset(p, 0, sizeof *p);
    p->n_threads = 1;
#if !defined(LLM_NO_THREADS)
    if (n_threads > LLM__MAX_THREADS) n_threads = LLM__MAX_THREADS;
#if defined(LLM__WIN32_THREADS)
    InitializeCriticalSection(&p->mu);
    InitializeConditionVariable(&p->cv);
#else
    if (pthread_mutex_init(&p->mu, NULL) != 0) return 0;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return 0;
    }
#endif
    p->started = 1;
    while (p->n_threads < n_threads) {
        llm__worker *w = &p->workers[p->n_threads];
        w->pool = p;
        w->ith = p->n_threads;
#if defined(LLM__WIN32_THREADS)
        p->th[p->n_threads - 1] = CreateThread(NULL, 0, llm__pool_thread, w, 0, NULL);
        if (!p->th[p->n_threads - 1]) return 0;
#else
        if (pthread_create(&p->th[p->n_threads - 1], NULL, llm__pool_thread, w) != 0) return 0;
#endif
        p->n_threads++;
    }
#else
    (void)n_threads;
#endif
    return 1;
}

static void llm__pool_stop(llm__pool *p) {
#if !defined(LLM_NO_THREADS)
    int i;
    if (!p->started) return;
    LLM__LOCK(p);
    llm__atomic_store(&p->stop, 1);
    LLM__WAKE_ALL(p);
    LLM__UNLOCK(p);
    for (i = 0; i < p->n_threads - 1; i++) {
#if defined(LLM__WIN32_THREADS)
        WaitForSingleObject(p->th[i], INFINITE);
        CloseHandle(p->th[i]);
#else
        pthread_join(p->th[i], NULL);
#endif
    }
#if defined(LLM__WIN32_THREADS)
    DeleteCriticalSection(&p->mu);
#else
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
#endif
    p->started = 0;
#else
    (void)p;
#endif
}

/* Runs fn(arg, 0 .. n_tasks-1) on the pool and returns when all are done. */
static void llm__pool_run(llm__pool *p, int n_tasks, llm__task_fn fn, void *arg) {
    if (n_tasks <= 0) return;
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    llm__atomic_store(&p->next, 0);
    if (p->n_threads == 1 || n_tasks == 1) {
        llm__pool_work(p, 0);
        return;
    }
#if !defined(LLM_NO_THREADS)
    llm__atomic_store(&p->busy, p->n_threads - 1);
    LLM__LOCK(p);
    llm__atomic_add(&p->generation, 1);
    LLM__WAKE_ALL(p);
    LLM__UNLOCK(p);
    llm__pool_work(p, 0);
    while (llm__atomic_load(&p->busy) > 0) llm__cpu_relax();
#endif
}

/* ==== model and architectures ===================================================== >>model */

/* GGUF tokenizer.ggml.token_type values. */
enum {
    LLM__TOKEN_NORMAL = 1,
    LLM__TOKEN_UNKNOWN = 2,
    LLM__TOKEN_CONTROL = 3,
    LLM__TOKEN_USER_DEFINED = 4,
    LLM__TOKEN_UNUSED = 5,
    LLM__TOKEN_BYTE = 6
};

enum {
    LLM__VOCAB_NONE = 0, /* a tokenizer we cannot run (vocab_only loads keep its tokens) */
    LLM__VOCAB_SPM = 1,  /* tokenizer.ggml.model "llama" */
    LLM__VOCAB_BPE = 2   /* tokenizer.ggml.model "gpt2": byte-level BPE */
};

/* Pre-tokenizers of byte-level BPE, chosen by tokenizer.ggml.pre (see >>tokenizer). */
enum {
    LLM__PRE_DEFAULT = 0,
    LLM__PRE_GPT2,         /* gpt-2, phi-2, mpt, olmo, jais */
    LLM__PRE_LLAMA3,       /* llama-bpe, llama3, llama-v3, falcon3 */
    LLM__PRE_QWEN2,        /* qwen2, deepseek-r1-qwen, stablelm2, megrez */
    LLM__PRE_DEEPSEEK_LLM, /* deepseek-llm */
    LLM__PRE_DEEPSEEK_CODER, /* deepseek-coder */
    LLM__PRE_FALCON,       /* falcon */
    LLM__PRE_STARCODER,    /* starcoder, refact, command-r, smollm, codeshell, exaone, minerva-7b */
    LLM__PRE_COUNT
};

/* The tokenizer's data. text/score/type are filled by the model loader from the GGUF
   arrays (copies owned by the model); llm__vocab_build() derives the rest. */
typedef struct llm__vocab {
    int kind;                 /* LLM__VOCAB_* */
    int n_vocab;
    const char **text;        /* [n_vocab] NUL-terminated token strings (UTF-8, "▁" for space) */
    uint32_t *text_len;       /* [n_vocab] bytes */
    float *score;             /* [n_vocab] SentencePiece scores (0 when absent) */
    int32_t *type;            /* [n_vocab] LLM__TOKEN_* (NORMAL when absent) */
    llm_token bos, eos, unk, pad, eot, eom; /* LLM_TOKEN_NULL when absent */
    int add_bos, add_eos;     /* tokenizer.ggml.add_bos_token / add_eos_token */
    int add_space_prefix;     /* tokenizer.ggml.add_space_prefix (default 1 for SPM) */
    int pre;                  /* LLM__PRE_*, for BPE */
    int ignore_merges;        /* BPE: a pre-tokenized word that is a token is emitted whole */
    int n_merges;             /* BPE merge rules "left right", rank = index */
    const char **merge;       /* [n_merges] (borrowed, or owned through merge_owned) */
    uint32_t *merge_len;      /* [n_merges] bytes */
    void *merge_owned;        /* the loader's copies, freed by llm__vocab_free */
    /* derived by llm__vocab_build */
    llm_token byte_token[256]; /* id of "<0xXX>", or LLM_TOKEN_NULL */
    uint32_t *hash;           /* open addressing: token id + 1, 0 = empty */
    uint32_t hash_mask;
    llm_token *special;       /* control and user-defined tokens, longest text first */
    int n_special;
    uint8_t *is_eog;          /* [n_vocab] */
    uint32_t *merge_hash;     /* open addressing over (left, right): rank + 1, 0 = empty */
    uint32_t merge_mask;
    uint32_t *merge_split;    /* [n_merges] offset of the space between left and right */
} llm__vocab;

/* One transformer block's weights. Norm weights are copied to float at load. */
typedef struct llm__layer {
    float *attn_norm, *ffn_norm;        /* [n_embd] */
    const llm__tensor *wq, *wk, *wv, *wo; /* [n_embd][n_embd], [n_kv_dim][n_embd] x2, [n_embd][n_embd]: rows of ne0 */
    const llm__tensor *w_gate, *w_up;   /* [n_ff][n_embd] */
    const llm__tensor *w_down;          /* [n_embd][n_ff] */
} llm__layer;

struct llm_model {
    llm_allocator alloc;
    llm_log_fn log;
    void *log_user;
    const uint8_t *file; /* the whole GGUF file (mapped, read, or the caller's buffer) */
    size_t file_size;
    void *owned;         /* read() fallback buffer, freed with the model */
    int mapped;
    llm__gguf gguf;
    char arch[32];
    int vocab_only;
    /* hyper-parameters */
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff, n_rot, head_dim;
    float rope_freq_base, rope_freq_scale, rms_eps;
    uint64_t n_params, size_bytes;
    llm__vocab vocab;
    char *vocab_text;    /* all token strings, NUL-separated */
    /* weights */
    const llm__tensor *tok_embd; /* [n_vocab][n_embd] */
    const llm__tensor *output;   /* [n_vocab][n_embd]; tok_embd when tied */
    float *output_norm;          /* [n_embd] */
    llm__layer *layers;          /* [n_layer] */
};

static const llm__tensor *llm__model_tensor(const llm_model *m, const char *name) {
    uint64_t i;
    for (i = 0; i < m->gguf.n_tensors; i++)
        if (strcmp(m->gguf.tensors[i].name, name) == 0) return &m->gguf.tensors[i];
    return NULL;
}

/* Finds a weight and checks its shape (ne0, ne1; ne1 = 0 for a vector) and type. */
static int llm__model_weight(llm_model *m, const char *name, int64_t ne0, int64_t ne1, int optional,
                             const llm__tensor **out, char *err, size_t err_size) {
    const llm__tensor *t = llm__model_tensor(m, name);
    *out = t;
    if (!t) {
        if (optional) return LLM_OK;
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' is missing", name);
    }
    if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 || t->ne[3] != 1)
        return llm__errf(err, err_size, LLM_ERR_FORMAT,
                         "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
                         (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                         (long long)ne0, (long long)(ne1 ? ne1 : 1));
    if (!llm_type_supported(t->type))
        return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "tensor '%s' has type %s, which this build cannot compute",
                         name, llm_type_name(t->type));
    return LLM_OK;
}

/* A float copy of a 1-D weight (norms). */
static int llm__model_vector(llm_model *m, const char *name, int64_t n, float **out, char *err, size_t err_size) {
    const llm__tensor *t;
    int r = llm__model_weight(m, name, n, 0, 0, &t, err, err_size);
    if (r != LLM_OK) return r;
    *out = (float *)llm__alloc_array(&m->alloc, (size_t)n, sizeof(float));
    if (!*out) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
    llm__types[t->type].to_float(t->data, *out, n);
    return LLM_OK;
}

/* 1 if "<arch>.<suffix>" is present. */
static int llm__model_has(const llm_model *m, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    return llm__gguf_find(&m->gguf, key) >= 0;
}

/* Reads "<arch>.<suffix>" as u32 into *out; missing keys keep *out unless required. */
static int llm__model_hparam(llm_model *m, const char *suffix, int required, int *out, char *err, size_t err_size) {
    char key[128];
    uint32_t v;
    int r;
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    r = llm__gguf_get_u32(&m->gguf, key, &v);
    if (r == 0 && !required) return LLM_OK;
    if (r == 0) return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' is missing", key);
    if (r < 0 || v > INT32_MAX) return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' has a bad type or value", key);
    *out = (int)v;
    return LLM_OK;
}

static int llm__model_fparam(llm_model *m, const char *suffix, int required, float *out, char *err, size_t err_size) {
    char key[128];
    int r;
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    r = llm__gguf_get_f32(&m->gguf, key, out);
    if (r == 0 && !required) return LLM_OK;
    if (r == 0) return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' is missing", key);
    if (r < 0 || !(*out == *out)) return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' has a bad type or value", key);
    return LLM_OK;
}

/* A special token id: 0xFFFFFFFF (or a negative i32) means absent; others must be < n_vocab. */
static int llm__model_token_id(llm_model *m, const char *key, llm_token *out, char *err, size_t err_size) {
    int i = llm__gguf_find(&m->gguf, key);
    const llm__gguf_kv *kv;
    uint64_t v;
    if (i < 0) return LLM_OK;
    kv = &m->gguf.kv[i];
    if (kv->type == LLM__GGUF_U32 || kv->type == LLM__GGUF_I32) {
        v = llm__le32(kv->data);
        if (v == 0xFFFFFFFFu || (kv->type == LLM__GGUF_I32 && (int32_t)v < 0)) {
            *out = LLM_TOKEN_NULL;
            return LLM_OK;
        }
    } else if (kv->type == LLM__GGUF_U64 || kv->type == LLM__GGUF_I64) {
        v = llm__le64(kv->data);
    } else {
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' is not an integer", key);
    }
    if (v >= (uint64_t)m->vocab.n_vocab)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata '%s' = %llu is not below the vocabulary size %d", key,
                         (unsigned long long)v, m->vocab.n_vocab);
    *out = (llm_token)v;
    return LLM_OK;
}

static int llm__vocab_build(llm__vocab *v, const llm_allocator *a, char *err, size_t err_size); /* >>tokenizer */
static void llm__vocab_free(llm__vocab *v, const llm_allocator *a);

/* Byte-level BPE: the pre-tokenizer named by tokenizer.ggml.pre and the merge rules of
   tokenizer.ggml.merges ("left right", rank = index), copied into memory the vocabulary owns. */
static int llm__model_load_bpe(llm_model *m, char *err, size_t err_size) {
    static const struct {
        const char *name;
        int pre;
    } names[] = {{"default", LLM__PRE_DEFAULT},        {"gpt-2", LLM__PRE_GPT2},
                 {"phi-2", LLM__PRE_GPT2},             {"mpt", LLM__PRE_GPT2},
                 {"olmo", LLM__PRE_GPT2},              {"jais", LLM__PRE_GPT2},
                 {"llama-bpe", LLM__PRE_LLAMA3},       {"llama3", LLM__PRE_LLAMA3},
                 {"llama-v3", LLM__PRE_LLAMA3},        {"falcon3", LLM__PRE_LLAMA3},
                 {"qwen2", LLM__PRE_QWEN2},            {"deepseek-r1-qwen", LLM__PRE_QWEN2},
                 {"stablelm2", LLM__PRE_QWEN2},        {"megrez", LLM__PRE_QWEN2},
                 {"deepseek-llm", LLM__PRE_DEEPSEEK_LLM}, {"deepseek-coder", LLM__PRE_DEEPSEEK_CODER},
                 {"falcon", LLM__PRE_FALCON},          {"starcoder", LLM__PRE_STARCODER},
                 {"refact", LLM__PRE_STARCODER},       {"command-r", LLM__PRE_STARCODER},
                 {"smollm", LLM__PRE_STARCODER},       {"codeshell", LLM__PRE_STARCODER},
                 {"exaone", LLM__PRE_STARCODER},       {"minerva-7b", LLM__PRE_STARCODER}};
    const llm__gguf *g = &m->gguf;
    llm__vocab *v = &m->vocab;
    const char *pre;
    size_t pre_len, total = 0, len, k;
    int mi = llm__gguf_find(g, "tokenizer.ggml.merges"), r;
    const uint8_t *p;
    uint64_t i, n;
    char *dst;
    v->pre = LLM__PRE_DEFAULT; /* llama.cpp's choice when the key is missing */
    r = llm__gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pre_len);
    if (r < 0) return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata 'tokenizer.ggml.pre' is not a string");
    if (r > 0) {
        for (k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strlen(names[k].name) == pre_len && memcmp(names[k].name, pre, pre_len) == 0) break;
        if (k == sizeof names / sizeof names[0]) {
            if (m->vocab_only) {
                v->kind = LLM__VOCAB_NONE;
                return LLM_OK;
            }
            return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "pre-tokenizer '%.*s' is not supported",
                             (int)(pre_len > 32 ? 32 : pre_len), pre);
        }
        v->pre = names[k].pre;
    }
    if (v->pre == LLM__PRE_LLAMA3) v->ignore_merges = 1, v->add_bos = 1;
    if (mi < 0 || g->kv[mi].type != LLM__GGUF_ARRAY || g->kv[mi].arr_type != LLM__GGUF_STRING)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata 'tokenizer.ggml.merges' is missing or not a string array");
    n = g->kv[mi].arr_n;
    if (n > (1u << 24)) /* ranks travel as exact floats in the merge heap */
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "%llu merges are too many", (unsigned long long)n);
    for (i = 0, p = g->kv[mi].data; i < n; i++) {
        len = (size_t)llm__le64(p);
        total += len + 1;
        p += 8 + len;
    }
    /* One block: the pointer array, the lengths, then the texts. */
    if (!llm__add_size(total, (size_t)n * (sizeof(char *) + sizeof(uint32_t)), &total))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "merges too large");
    v->merge_owned = llm__malloc(&m->alloc, total ? total : 1);
    if (!v->merge_owned) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory loading %llu merges", (unsigned long long)n);
    v->merge = (const char **)v->merge_owned;
    v->merge_len = (uint32_t *)(void *)((char *)v->merge_owned + (size_t)n * sizeof(char *));
    dst = (char *)(v->merge_len + n);
    for (i = 0, p = g->kv[mi].data; i < n; i++) {
        len = (size_t)llm__le64(p);
        if (len > UINT32_MAX) return llm__errf(err, err_size, LLM_ERR_FORMAT, "merge %llu is too long", (unsigned long long)i);
        memcpy(dst, p + 8, len);
        dst[len] = 0;
        v->merge[i] = dst;
        v->merge_len[i] = (uint32_t)len;
        dst += len + 1;
        p += 8 + len;
    }
    v->n_merges = (int)n;
    return LLM_OK;
}

/* Loads the tokenizer arrays and special ids. */
static int llm__model_load_vocab(llm_model *m, uint32_t max_vocab, char *err, size_t err_size) {
    const llm__gguf *g = &m->gguf;
    llm__vocab *v = &m->vocab;
    int ti = llm__gguf_find(g, "tokenizer.ggml.tokens"), si, yi, r, flag;
    const char *model_name;
    size_t model_len, total = 0, len;
    const uint8_t *p;
    uint64_t i, n;
    char *dst;
    r = llm__gguf_get_str(g, "tokenizer.ggml.model", &model_name, &model_len);
    if (r <= 0) return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata 'tokenizer.ggml.model' is missing or not a string");
    if (model_len == 5 && memcmp(model_name, "llama", 5) == 0) v->kind = LLM__VOCAB_SPM;
    else if (model_len == 4 && memcmp(model_name, "gpt2", 4) == 0) v->kind = LLM__VOCAB_BPE;
    else if (m->vocab_only) {
        /* Kept readable for `llm info`; llm_tokenize says LLM_ERR_UNSUPPORTED. */
        v->kind = LLM__VOCAB_NONE;
        llm__logf(m->log, m->log_user, LLM_LOG_WARN, "tokenizer '%.*s' is not supported: tokenizing will fail",
                  (int)(model_len > 32 ? 32 : model_len), model_name);
    } else
        return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED,
                         "tokenizer '%.*s' is not supported (SentencePiece 'llama' and byte-level BPE 'gpt2' are)",
                         (int)(model_len > 32 ? 32 : model_len), model_name);
    if (ti < 0 || g->kv[ti].type != LLM__GGUF_ARRAY || g->kv[ti].arr_type != LLM__GGUF_STRING)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata 'tokenizer.ggml.tokens' is missing or not a string array");
    n = g->kv[ti].arr_n;
    if (n == 0 || n > max_vocab || n > INT32_MAX)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "vocabulary size %llu is out of range (1 to %u)", (unsigned long long)n,
                         (unsigned)max_vocab);
    v->n_vocab = (int)n;
    /* The parser already checked that the strings lie inside the file. */
    for (i = 0, p = g->kv[ti].data; i < n; i++) {
        len = (size_t)llm__le64(p);
        total += len + 1;
        p += 8 + len;
    }
    v->text = (const char **)llm__alloc_array(&m->alloc, (size_t)n, sizeof(char *));
    v->text_len = (uint32_t *)llm__alloc_array(&m->alloc, (size_t)n, sizeof(uint32_t));
    v->score = (float *)llm__alloc_array(&m->alloc, (size_t)n, sizeof(float));
    v->type = (int32_t *)llm__alloc_array(&m->alloc, (size_t)n, sizeof(int32_t));
    m->vocab_text = (char *)llm__malloc(&m->alloc, total);
    if (!v->text || !v->text_len || !v->score || !v->type || !m->vocab_text)
        return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory loading the vocabulary");
    for (i = 0, p = g->kv[ti].data, dst = m->vocab_text; i < n; i++) {
        len = (size_t)llm__le64(p);
        if (len > UINT32_MAX) return llm__errf(err, err_size, LLM_ERR_FORMAT, "token %llu is too long", (unsigned long long)i);
        memcpy(dst, p + 8, len);
        dst[len] = 0;
        v->text[i] = dst;
        v->text_len[i] = (uint32_t)len;
        dst += len + 1;
        p += 8 + len;
        v->type[i] = LLM__TOKEN_NORMAL;
    }
    si = llm__gguf_find(g, "tokenizer.ggml.scores");
    if (si >= 0) {
        if (g->kv[si].type != LLM__GGUF_ARRAY || g->kv[si].arr_type != LLM__GGUF_F32 || g->kv[si].arr_n != n)
            return llm__errf(err, err_size, LLM_ERR_FORMAT, "'tokenizer.ggml.scores' must be %llu f32 values", (unsigned long long)n);
        for (i = 0; i < n; i++) v->score[i] = llm__lef32(g->kv[si].data + 4 * i);
    }
    yi = llm__gguf_find(g, "tokenizer.ggml.token_type");
    if (yi >= 0) {
        if (g->kv[yi].type != LLM__GGUF_ARRAY || g->kv[yi].arr_type != LLM__GGUF_I32 || g->kv[yi].arr_n != n)
            return llm__errf(err, err_size, LLM_ERR_FORMAT, "'tokenizer.ggml.token_type' must be %llu i32 values", (unsigned long long)n);
        for (i = 0; i < n; i++) v->type[i] = (int32_t)llm__le32(g->kv[yi].data + 4 * i);
    }
    /* SentencePiece defaults, as llama.cpp: <unk> 0, <s> 1, </s> 2, BOS added, space prefix. */
    v->unk = 0;
    v->bos = 1;
    v->eos = 2;
    v->pad = v->eot = v->eom = LLM_TOKEN_NULL;
    if (v->n_vocab < 3) v->unk = v->bos = v->eos = LLM_TOKEN_NULL;
    v->add_bos = 1;
    v->add_eos = 0;
    v->add_space_prefix = 1;
    if (v->kind == LLM__VOCAB_BPE) {
        /* llama.cpp's BPE defaults: bos = eos = 11 (GPT-2 style files), no UNK, no space prefix. */
        v->unk = LLM_TOKEN_NULL;
        v->bos = v->eos = v->n_vocab > 11 ? 11 : LLM_TOKEN_NULL;
        v->add_bos = 0;
        v->add_space_prefix = 0;
        if ((r = llm__model_load_bpe(m, err, err_size)) != LLM_OK) return r;
    }
    if ((r = llm__model_token_id(m, "tokenizer.ggml.bos_token_id", &v->bos, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_token_id(m, "tokenizer.ggml.eos_token_id", &v->eos, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_token_id(m, "tokenizer.ggml.unknown_token_id", &v->unk, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_token_id(m, "tokenizer.ggml.padding_token_id", &v->pad, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_token_id(m, "tokenizer.ggml.eot_token_id", &v->eot, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_token_id(m, "tokenizer.ggml.eom_token_id", &v->eom, err, err_size)) != LLM_OK) return r;
    if (llm__gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &flag) > 0) v->add_bos = flag;
    if (llm__gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &flag) > 0) v->add_eos = flag;
    if (llm__gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &flag) > 0) v->add_space_prefix = flag;
    return llm__vocab_build(v, &m->alloc, err, err_size);
}

/* Reads and checks the architecture's hyper-parameters. */
static int llm__model_load_hparams(llm_model *m, char *err, size_t err_size) {
    const char *s;
    size_t len;
    int r, vocab_size = 0;
    char key[128];
    m->n_head_kv = 0;
    m->n_rot = 0;
    m->rope_freq_base = 10000.0f;
    m->rope_freq_scale = 1.0f;
    if ((r = llm__model_hparam(m, "context_length", 1, &m->n_ctx_train, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "embedding_length", 1, &m->n_embd, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "block_count", 1, &m->n_layer, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "feed_forward_length", 1, &m->n_ff, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.head_count", 1, &m->n_head, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.head_count_kv", 0, &m->n_head_kv, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "rope.dimension_count", 0, &m->n_rot, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "vocab_size", 0, &vocab_size, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "attention.layer_norm_rms_epsilon", 1, &m->rms_eps, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "rope.freq_base", 0, &m->rope_freq_base, err, err_size)) != LLM_OK)
        return r;
    if (m->n_head_kv == 0 && llm__model_has(m, "attention.head_count_kv"))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s.attention.head_count_kv is 0", m->arch);
    if (m->n_rot == 0 && llm__model_has(m, "rope.dimension_count"))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s.rope.dimension_count is 0", m->arch);
    if (m->n_head_kv == 0) m->n_head_kv = m->n_head;
    if (m->n_embd < 1 || m->n_embd > (1 << 20) || m->n_layer < 1 || m->n_layer > 4096 || m->n_head < 1 ||
        m->n_head > 4096 || m->n_ff < 1 || m->n_ff > (1 << 22) || m->n_ctx_train < 1)
        return llm__errf(err, err_size, LLM_ERR_FORMAT,
                         "hyper-parameters out of range (n_embd %d, n_layer %d, n_head %d, n_ff %d, n_ctx %d)", m->n_embd,
                         m->n_layer, m->n_head, m->n_ff, m->n_ctx_train);
    if (m->n_embd % m->n_head != 0 || m->n_head_kv < 1 || m->n_head % m->n_head_kv != 0)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "n_embd %d, n_head %d and n_head_kv %d do not divide evenly", m->n_embd,
                         m->n_head, m->n_head_kv);
    m->head_dim = m->n_embd / m->n_head;
    if (m->n_rot == 0) m->n_rot = m->head_dim;
    if (m->n_rot < 2 || m->n_rot > m->head_dim || m->n_rot % 2 != 0)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "rope dimension %d does not fit head size %d", m->n_rot, m->head_dim);
    if (!(m->rms_eps >= 0.0f && m->rms_eps < 1.0f) || !(m->rope_freq_base > 0.0f && m->rope_freq_base < 1e30f))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "rms epsilon or rope base out of range");
    if (vocab_size && vocab_size != m->vocab.n_vocab)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s.vocab_size %d differs from the %d tokens", m->arch, vocab_size,
                         m->vocab.n_vocab);
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch);
    if (llm__gguf_get_str(&m->gguf, key, &s, &len) > 0 && !(len == 4 && memcmp(s, "none", 4) == 0)) {
        float factor = 1.0f;
        if (!(len == 6 && memcmp(s, "linear", 6) == 0))
            return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "rope scaling '%.*s' is not supported yet", (int)(len > 32 ? 32 : len), s);
        if ((r = llm__model_fparam(m, "rope.scaling.factor", 0, &factor, err, err_size)) != LLM_OK) return r;
        if (!(factor >= 1.0f && factor <= 1024.0f)) return llm__errf(err, err_size, LLM_ERR_FORMAT, "rope scaling factor out of range");
        m->rope_freq_scale = 1.0f / factor;
    }
    {
        uint32_t kl = 0, vl = 0;
        snprintf(key, sizeof key, "%s.attention.key_length", m->arch);
        llm__gguf_get_u32(&m->gguf, key, &kl);
        snprintf(key, sizeof key, "%s.attention.value_length", m->arch);
        llm__gguf_get_u32(&m->gguf, key, &vl);
        if ((kl && (int)kl != m->head_dim) || (vl && (int)vl != m->head_dim))
            return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "head sizes other than n_embd / n_head are not supported yet");
    }
    return LLM_OK;
}

/* Finds and checks every weight of a llama-family model. */
static int llm__model_load_weights(llm_model *m, char *err, size_t err_size) {
    int64_t e = m->n_embd, kv = (int64_t)m->n_head_kv * m->head_dim, ff = m->n_ff, nv = m->vocab.n_vocab;
    int l, r;
    char name[96];
    if ((r = llm__model_weight(m, "token_embd.weight", e, nv, 0, &m->tok_embd, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_weight(m, "output.weight", e, nv, 1, &m->output, err, err_size)) != LLM_OK) return r;
    if (!m->output) m->output = m->tok_embd; /* tied embeddings */
    if ((r = llm__model_vector(m, "output_norm.weight", e, &m->output_norm, err, err_size)) != LLM_OK) return r;
    m->layers = (llm__layer *)llm__alloc_array(&m->alloc, (size_t)m->n_layer, sizeof(llm__layer));
    if (!m->layers) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
    for (l = 0; l < m->n_layer; l++) {
        llm__layer *L = &m->layers[l];
#define LLM__W(field, suffix, ne0, ne1)                                                    \
    snprintf(name, sizeof name, "blk.%d." suffix, l);                                      \
    if ((r = llm__model_weight(m, name, ne0, ne1, 0, &L->field, err, err_size)) != LLM_OK) \
        return r;
        LLM__W(wq, "attn_q.weight", e, e)
        LLM__W(wk, "attn_k.weight", e, kv)
        LLM__W(wv, "attn_v.weight", e, kv)
        LLM__W(wo, "attn_output.weight", e, e)
        LLM__W(w_gate, "ffn_gate.weight", e, ff)
        LLM__W(w_up, "ffn_up.weight", e, ff)
        LLM__W(w_down, "ffn_down.weight", ff, e)
#undef LLM__W
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        if ((r = llm__model_vector(m, name, e, &L->attn_norm, err, err_size)) != LLM_OK) return r;
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        if ((r = llm__model_vector(m, name, e, &L->ffn_norm, err, err_size)) != LLM_OK) return r;
    }
    return LLM_OK;
}

LLMDEF llm_model_params llm_model_default_params(void) {
    llm_model_params p;
    memset(&p, 0, sizeof p);
    return p;
}

LLMDEF void llm_model_free(llm_model *m) {
    llm_allocator a;
    int l;
    if (!m) return;
    a = m->alloc;
    llm__vocab_free(&m->vocab, &a);
    llm__free(&a, (void *)m->vocab.text);
    llm__free(&a, m->vocab.text_len);
    llm__free(&a, m->vocab.score);
    llm__free(&a, m->vocab.type);
    llm__free(&a, m->vocab_text);
    if (m->layers)
        for (l = 0; l < m->n_layer; l++) {
            llm__free(&a, m->layers[l].attn_norm);
            llm__free(&a, m->layers[l].ffn_norm);
        }
    llm__free(&a, m->layers);
    llm__free(&a, m->output_norm);
    llm__gguf_free(&m->gguf, &a);
#if !defined(_WIN32) && !defined(LLM_NO_STDIO)
    if (m->mapped) munmap((void *)m->file, m->file_size);
#endif
    llm__free(&a, m->owned);
    llm__free(&a, m);
}

/* Builds a model over size bytes at data (kept by the caller or by m->owned/m->mapped). */
static llm_model *llm__model_from_bytes(llm_model *m, const llm_model_params *p, char *err, size_t err_size) {
    uint64_t i;
    int r;
    const char *arch;
    size_t arch_len;
    r = llm__gguf_parse(&m->gguf, m->file, m->file_size, &m->alloc, p->max_tensors ? p->max_tensors : LLM_MAX_TENSORS, err,
                        err_size);
    if (r != LLM_OK) goto fail;
    for (i = 0; i < m->gguf.n_tensors; i++) {
        m->n_params += (uint64_t)m->gguf.tensors[i].ne[0] * (uint64_t)m->gguf.tensors[i].ne[1] *
                       (uint64_t)m->gguf.tensors[i].ne[2] * (uint64_t)m->gguf.tensors[i].ne[3];
        m->size_bytes += m->gguf.tensors[i].nbytes;
    }
    r = llm__gguf_get_str(&m->gguf, "general.architecture", &arch, &arch_len);
    if (r <= 0) {
        r = llm__errf(err, err_size, LLM_ERR_FORMAT, "metadata 'general.architecture' is missing or not a string");
        goto fail;
    }
    if (arch_len >= sizeof m->arch || memchr(arch, 0, arch_len)) {
        r = llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "architecture name is too long");
        goto fail;
    }
    memcpy(m->arch, arch, arch_len);
    m->arch[arch_len] = 0;
    m->vocab_only = p->vocab_only != 0;
    r = llm__model_load_vocab(m, p->max_vocab ? p->max_vocab : LLM_MAX_VOCAB, err, err_size);
    if (r != LLM_OK) goto fail;
    if (m->vocab_only) return m;
    if (strcmp(m->arch, "llama") != 0) {
        r = llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "architecture '%s' is not supported yet", m->arch);
        goto fail;
    }
    if ((r = llm__model_load_hparams(m, err, err_size)) != LLM_OK) goto fail;
    if ((r = llm__model_load_weights(m, err, err_size)) != LLM_OK) goto fail;
    llm__logf(m->log, m->log_user, LLM_LOG_INFO, "loaded %s: %d layers, n_embd %d, vocab %d, %.1f MiB", m->arch, m->n_layer,
              m->n_embd, m->vocab.n_vocab, (double)m->size_bytes / 1048576.0);
    return m;
fail:
    llm__logf(m->log, m->log_user, LLM_LOG_ERROR, "%s", err ? err : llm_result_string(r));
    llm_model_free(m);
    return NULL;
}

static llm_model *llm__model_new(const llm_model_params *p, char *err, size_t err_size) {
    llm_model_params d = llm_model_default_params();
    llm_model *m;
    if (!p) p = &d;
    m = (llm_model *)llm__alloc_array(&p->allocator, 1, sizeof *m);
    if (!m) {
        llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->alloc = p->allocator;
    m->log = p->log;
    m->log_user = p->log_user;
    return m;
}

LLMDEF llm_model *llm_model_load_memory(const void *data, size_t size, const llm_model_params *p, char *err, size_t err_size) {
    llm_model_params d = llm_model_default_params();
    llm_model *m;
    if (err && err_size) err[0] = 0;
    if (!data) {
        llm__errf(err, err_size, LLM_ERR_ARG, "no data");
        return NULL;
    }
    if (!p) p = &d;
    m = llm__model_new(p, err, err_size);
    if (!m) return NULL;
    m->file = (const uint8_t *)data;
    m->file_size = size;
    return llm__model_from_bytes(m, p, err, err_size);
}

LLMDEF llm_model *llm_model_load(const char *path, const llm_model_params *p, char *err, size_t err_size) {
#if defined(LLM_NO_STDIO)
    (void)path;
    (void)p;
    llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "built with LLM_NO_STDIO: use llm_model_load_memory");
    return NULL;
#else
    llm_model_params d = llm_model_default_params();
    llm_model *m;
    FILE *f;
    long long size;
    if (err && err_size) err[0] = 0;
    if (!path) {
        llm__errf(err, err_size, LLM_ERR_ARG, "no path");
        return NULL;
    }
    if (!p) p = &d;
    m = llm__model_new(p, err, err_size);
    if (!m) return NULL;
#if !defined(_WIN32)
    if (!p->no_mmap) {
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (unsigned long long)st.st_size <= (unsigned long long)SIZE_MAX) {
            void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map != MAP_FAILED) {
                m->file = (const uint8_t *)map;
                m->file_size = (size_t)st.st_size;
                m->mapped = 1;
            }
        }
        if (fd >= 0) close(fd);
        if (m->mapped) return llm__model_from_bytes(m, p, err, err_size);
    }
#endif
    /* read() fallback: the whole file into memory */
#if !defined(_WIN32)
    {
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) { /* ftell on a directory says LONG_MAX */
            llm__errf(err, err_size, LLM_ERR_IO, "'%s' is not a regular file", path);
            llm_model_free(m);
            return NULL;
        }
    }
#endif
    f = fopen(path, "rb");
    if (!f) {
        llm__errf(err, err_size, LLM_ERR_IO, "cannot open '%s'", path);
        llm_model_free(m);
        return NULL;
    }
    size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = (long long)ftell(f);
    if (size < 0 || (unsigned long long)size > (unsigned long long)SIZE_MAX || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        llm__errf(err, err_size, LLM_ERR_IO, "cannot read '%s'", path);
        llm_model_free(m);
        return NULL;
    }
    m->owned = llm__malloc(&m->alloc, (size_t)size);
    if (!m->owned || (size > 0 && fread(m->owned, 1, (size_t)size, f) != (size_t)size)) {
        fclose(f);
        llm__errf(err, err_size, m->owned ? LLM_ERR_IO : LLM_ERR_NOMEM, m->owned ? "cannot read '%s'" : "out of memory reading '%s'", path);
        llm_model_free(m);
        return NULL;
    }
    fclose(f);
    m->file = (const uint8_t *)m->owned;
    m->file_size = (size_t)size;
    return llm__model_from_bytes(m, p, err, err_size);
#endif
}

LLMDEF const char *llm_model_arch(const llm_model *m) { return m->arch; }
LLMDEF int llm_model_n_vocab(const llm_model *m) { return m->vocab.n_vocab; }
LLMDEF int llm_model_n_ctx_train(const llm_model *m) { return m->n_ctx_train; }
LLMDEF int llm_model_n_embd(const llm_model *m) { return m->n_embd; }
LLMDEF int llm_model_n_layer(const llm_model *m) { return m->n_layer; }
LLMDEF int llm_model_n_head(const llm_model *m) { return m->n_head; }
LLMDEF int llm_model_n_head_kv(const llm_model *m) { return m->n_head_kv; }
LLMDEF int llm_model_n_ff(const llm_model *m) { return m->n_ff; }
LLMDEF int llm_model_n_rot(const llm_model *m) { return m->n_rot; }
LLMDEF float llm_model_rope_freq_base(const llm_model *m) { return m->rope_freq_base; }
LLMDEF float llm_model_rms_eps(const llm_model *m) { return m->rms_eps; }
LLMDEF uint64_t llm_model_n_params(const llm_model *m) { return m->n_params; }
LLMDEF uint64_t llm_model_size_bytes(const llm_model *m) { return m->size_bytes; }
LLMDEF int llm_model_vocab_only(const llm_model *m) { return m->vocab_only; }

LLMDEF int llm_model_meta_count(const llm_model *m) { return (int)m->gguf.n_kv; }
LLMDEF const char *llm_model_meta_key(const llm_model *m, int i) {
    return i >= 0 && (uint64_t)i < m->gguf.n_kv ? m->gguf.kv[i].key : NULL;
}
LLMDEF int llm_model_meta_find(const llm_model *m, const char *key) { return key ? llm__gguf_find(&m->gguf, key) : -1; }

/* Appends to an snprintf-style buffer, counting what would be needed. */
typedef struct llm__sbuf {
    char *buf;
    size_t size, len;
} llm__sbuf;
static void llm__sbuf_put(llm__sbuf *b, const char *s, size_t n) {
    if (b->len < b->size) {
        size_t room = b->size - 1 - b->len;
        memcpy(b->buf + b->len, s, n < room ? n : room);
        b->buf[b->len + (n < room ? n : room)] = 0;
    }
    b->len += n;
}
static void llm__sbuf_printf(llm__sbuf *b, const char *fmt, ...) {
    char tmp[64];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) llm__sbuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* One scalar value as text; returns the bytes it occupied in the file. */
static size_t llm__meta_scalar(llm__sbuf *b, uint32_t type, const uint8_t *p) {
    uint64_t u;
    double d;
    switch (type) {
    case LLM__GGUF_U8: llm__sbuf_printf(b, "%u", (unsigned)p[0]); return 1;
    case LLM__GGUF_I8: llm__sbuf_printf(b, "%d", (int)(int8_t)p[0]); return 1;
    case LLM__GGUF_U16: llm__sbuf_printf(b, "%u", (unsigned)llm__le16(p)); return 2;
    case LLM__GGUF_I16: llm__sbuf_printf(b, "%d", (int)(int16_t)llm__le16(p)); return 2;
    case LLM__GGUF_U32: llm__sbuf_printf(b, "%lu", (unsigned long)llm__le32(p)); return 4;
    case LLM__GGUF_I32: llm__sbuf_printf(b, "%ld", (long)(int32_t)llm__le32(p)); return 4;
    case LLM__GGUF_F32: llm__sbuf_printf(b, "%.9g", (double)llm__lef32(p)); return 4;
    case LLM__GGUF_BOOL: llm__sbuf_printf(b, "%s", p[0] ? "true" : "false"); return 1;
    case LLM__GGUF_U64: llm__sbuf_printf(b, "%llu", (unsigned long long)llm__le64(p)); return 8;
    case LLM__GGUF_I64: llm__sbuf_printf(b, "%lld", (long long)(int64_t)llm__le64(p)); return 8;
    case LLM__GGUF_F64:
        u = llm__le64(p);
        memcpy(&d, &u, 8);
        llm__sbuf_printf(b, "%.17g", d);
        return 8;
    case LLM__GGUF_STRING:
        u = llm__le64(p);
        llm__sbuf_put(b, (const char *)p + 8, (size_t)u);
        return 8 + (size_t)u;
    default: return 0;
    }
}

LLMDEF int llm_model_meta_value(const llm_model *m, int i, char *buf, size_t size) {
    const llm__gguf_kv *kv;
    llm__sbuf b;
    if (i < 0 || (uint64_t)i >= m->gguf.n_kv) return -1;
    kv = &m->gguf.kv[i];
    b.buf = buf;
    b.size = buf ? size : 0;
    b.len = 0;
    if (buf && size) buf[0] = 0;
    if (kv->type == LLM__GGUF_STRING) {
        llm__sbuf_put(&b, (const char *)kv->data, (size_t)kv->str_len);
    } else if (kv->type == LLM__GGUF_ARRAY) {
        /* the first 8 elements, then the count */
        const uint8_t *p = kv->data;
        uint64_t j;
        llm__sbuf_put(&b, "[", 1);
        for (j = 0; j < kv->arr_n && j < 8; j++) {
            if (j) llm__sbuf_put(&b, ", ", 2);
            if (kv->arr_type == LLM__GGUF_STRING) llm__sbuf_put(&b, "\"", 1);
            p += llm__meta_scalar(&b, kv->arr_type, p);
            if (kv->arr_type == LLM__GGUF_STRING) llm__sbuf_put(&b, "\"", 1);
        }
        if (kv->arr_n > 8) llm__sbuf_printf(&b, ", ... (%llu %s)", (unsigned long long)kv->arr_n, llm__gguf_type_name[kv->arr_type]);
        llm__sbuf_put(&b, "]", 1);
    } else {
        llm__meta_scalar(&b, kv->type, kv->data);
    }
    return b.len > INT_MAX ? INT_MAX : (int)b.len;
}

LLMDEF int llm_model_tensor_count(const llm_model *m) { return (int)m->gguf.n_tensors; }

LLMDEF int llm_model_tensor_info(const llm_model *m, int i, llm_tensor_info *out) {
    const llm__tensor *t;
    int d;
    if (!out || i < 0 || (uint64_t)i >= m->gguf.n_tensors) return LLM_ERR_ARG;
    t = &m->gguf.tensors[i];
    out->name = t->name;
    out->type = t->type;
    out->n_dims = t->n_dims;
    for (d = 0; d < 4; d++) out->ne[d] = t->ne[d];
    out->offset = t->offset;
    out->size_bytes = t->nbytes;
    return LLM_OK;
}

LLMDEF int llm_model_tensor_find(const llm_model *m, const char *name) {
    const llm__tensor *t = name ? llm__model_tensor(m, name) : NULL;
    return t ? (int)(t - m->gguf.tensors) : -1;
}

LLMDEF int llm_model_tensor_dequantize(const llm_model *m, int i, int64_t row0, int64_t n_rows, float *out) {
    const llm__tensor *t;
    int64_t rows, r;
    size_t row_bytes;
    if (i < 0 || (uint64_t)i >= m->gguf.n_tensors || !out) return LLM_ERR_ARG;
    t = &m->gguf.tensors[i];
    rows = t->ne[1] * t->ne[2] * t->ne[3];
    if (row0 < 0 || n_rows < 0 || row0 > rows || n_rows > rows - row0) return LLM_ERR_ARG;
    if (!llm__types[t->type].to_float) return LLM_ERR_UNSUPPORTED;
    row_bytes = llm__type_row_bytes(t->type, t->ne[0]);
    for (r = 0; r < n_rows; r++)
        llm__types[t->type].to_float(t->data + (size_t)(row0 + r) * row_bytes, out + (size_t)r * (size_t)t->ne[0], t->ne[0]);
    return LLM_OK;
}

/* ==== KV cache ==================================================================== >>kvcache */
/* Per layer, K and V are [n_ctx][n_head_kv * head_dim] rows in the cache type (F32 or F16),
   one row per position, so attention reads each position's heads contiguously. */

static int llm__kv_elt_type(llm_kv_type t) { return t == LLM_KV_F32 ? LLM_TYPE_F32 : LLM_TYPE_F16; }

/* Bytes of one layer's K (or V) for n_ctx positions. */
static int llm__kv_layer_bytes(const llm_model *m, int n_ctx, llm_kv_type t, size_t *out) {
    size_t row = llm__type_row_bytes(llm__kv_elt_type(t), (int64_t)m->n_head_kv * m->head_dim);
    return row && llm__mul_size(row, (size_t)n_ctx, out);
}

/* ==== forward pass ================================================================ >>forward */
struct llm_context {
    llm_model *model;
    llm_allocator alloc;
    llm_log_fn log;
    void *log_user;
    int n_ctx, n_batch, n_threads, n_outputs;
    llm_kv_type kv_type;
    int kv_elt;               /* LLM_TYPE_F32 or LLM_TYPE_F16 */
    llm__kernels kern;
    llm__pool pool;
    int pool_started;
    uint8_t *k_cache, *v_cache; /* [n_layer][n_ctx][kv_dim] */
    size_t kv_layer_bytes, kv_row_bytes;
    int n_past;
    /* scratch for one batch */
    float *x, *xb, *q, *k, *v, *att, *hb, *hb2; /* [n_batch][...] */
    uint8_t *xq;              /* activations converted to a vec_dot type: [n_batch][xq_stride] */
    size_t xq_stride;
    float *scores;            /* [n_threads][n_ctx] attention weights */
    uint8_t *head_tmp;        /* [n_threads][head_tmp_stride]: q and weights in the cache type */
    size_t head_tmp_stride;
    float *rope_cs;           /* [n_batch][n_rot] cos, sin pairs */
    float *logits;            /* [n_outputs][n_vocab] */
    int logits_first;         /* batch index of logits row 0 */
    int n_logits;             /* rows valid in logits */
    int last_n;               /* tokens in the last batch */
    char err[256];
};

static int llm__ctx_fail(llm_context *c, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    llm__logf(c->log, c->log_user, LLM_LOG_ERROR, "%s", c->err);
    return code;
}

/* ---- matrix multiplication: y[col][row] = W[row] . x[col] ---- */

typedef struct llm__matmul_job {
    llm_context *c;
    const llm__tensor *w;
    const uint8_t *xq;  /* columns in the vec_dot type */
    size_t xq_stride;
    float *y;           /* [n_cols][ld_y] */
    int n_cols, ld_y, rows_per_task;
    size_t row_bytes;
    llm__vec_dot_fn dot;
} llm__matmul_job;

/* One task: a band of weight rows against every column, so each row is read once while hot.
   Every output element comes from one dot call, whatever the thread or batch split. */
static void llm__matmul_task(void *arg, int task, int ith) {
    const llm__matmul_job *j = (const llm__matmul_job *)arg;
    int r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task, r, col, n = (int)j->w->ne[0];
    (void)ith;
    if (r1 > (int)j->w->ne[1]) r1 = (int)j->w->ne[1];
    for (r = r0; r < r1; r++) {
        const uint8_t *wr = j->w->data + (size_t)r * j->row_bytes;
        for (col = 0; col < j->n_cols; col++) j->dot(n, &j->y[(size_t)col * j->ld_y + r], wr, j->xq + (size_t)col * j->xq_stride);
    }
}

typedef struct llm__convert_job {
    const float *x;
    int ld_x, n;
    uint8_t *xq;
    size_t stride;
    llm__from_float_fn from_float;
} llm__convert_job;

static void llm__convert_task(void *arg, int col, int ith) {
    const llm__convert_job *j = (const llm__convert_job *)arg;
    (void)ith;
    j->from_float(j->x + (size_t)col * j->ld_x, j->xq + (size_t)col * j->stride, j->n);
}

/* y = W x for n_cols columns of x (each W->ne[0] floats, ld_x apart); y has ld_y floats per
   column. x is first converted to W's vec_dot type, as ggml does. */
static void llm__matmul(llm_context *c, const llm__tensor *w, const float *x, int ld_x, int n_cols, float *y, int ld_y) {
    const llm__type_traits *tt = &llm__types[w->type];
    int vdt = tt->vec_dot_type, n = (int)w->ne[0], rows = (int)w->ne[1], n_tasks;
    llm__matmul_job j;
    j.c = c;
    j.w = w;
    j.y = y;
    j.n_cols = n_cols;
    j.ld_y = ld_y;
    j.row_bytes = llm__type_row_bytes(w->type, n);
    j.dot = c->kern.vec_dot[w->type];
    if (vdt == LLM_TYPE_F32) {
        j.xq = (const uint8_t *)x;
        j.xq_stride = (size_t)ld_x * sizeof(float);
    } else {
        llm__convert_job cj;
        cj.x = x;
        cj.ld_x = ld_x;
        cj.n = n;
        cj.xq = c->xq;
        cj.stride = c->xq_stride;
        cj.from_float = llm__types[vdt].from_float;
        llm__pool_run(&c->pool, n_cols, llm__convert_task, &cj);
        j.xq = c->xq;
        j.xq_stride = c->xq_stride;
    }
    /* about four bands per thread, at least 4 rows each */
    j.rows_per_task = rows / (c->pool.n_threads * 4);
    if (j.rows_per_task < 4) j.rows_per_task = 4;
    n_tasks = (rows + j.rows_per_task - 1) / j.rows_per_task;
    llm__pool_run(&c->pool, n_tasks, llm__matmul_task, &j);
}

/* ---- element-wise steps ---- */

/* y = x / rms(x) * w. Sum of squares in double, as ggml. */
static void llm__rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    float scale;
    int i;
    for (i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

/* cos/sin pairs for one position: theta_i = pos * base^(-2i/n_rot) * freq_scale, with the
   powers built by repeated float multiplication as the reference does (its rounding shows
   at large positions). */
static void llm__rope_table(float *cs, int pos, int n_rot, float base, float freq_scale) {
    float theta_scale = powf(base, -2.0f / (float)n_rot), theta = (float)pos;
    int i;
    for (i = 0; i < n_rot / 2; i++) {
        float t = freq_scale * theta;
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

/* Rotates adjacent pairs (x[2i], x[2i+1]) of each head's first n_rot values ("normal" order). */
static void llm__rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs) {
    int h, i;
    for (h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (i = 0; i < n_rot / 2; i++) {
            float x0 = v[2 * i], x1 = v[2 * i + 1], co = cs[2 * i], si = cs[2 * i + 1];
            v[2 * i] = x0 * co - x1 * si;
            v[2 * i + 1] = x0 * si + x1 * co;
        }
    }
}

static float llm__silu(float x) { return x / (1.0f + expf(-x)); }

/* ---- attention ---- */

typedef struct llm__attn_job {
    llm_context *c;
    int layer, pos0;
} llm__attn_job;

/* One (token, head): softmax(q.K / sqrt(d)) V over positions 0..pos. */
static void llm__attn_task(void *arg, int task, int ith) {
    const llm__attn_job *j = (const llm__attn_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    int hd = m->head_dim, t = task / m->n_head, h = task % m->n_head, kvh = h / (m->n_head / m->n_head_kv);
    int pos = j->pos0 + t, p;
    const float *q = c->q + (size_t)t * m->n_embd + (size_t)h * hd;
    float *out = c->att + (size_t)t * m->n_embd + (size_t)h * hd;
    float *s = c->scores + (size_t)ith * c->n_ctx, scale = 1.0f / sqrtf((float)hd), max = -INFINITY, inv;
    const uint8_t *kc = c->k_cache + (size_t)j->layer * c->kv_layer_bytes, *vc = c->v_cache + (size_t)j->layer * c->kv_layer_bytes;
    size_t head_off = (size_t)kvh * hd * (size_t)llm__types[c->kv_elt].size; /* F32/F16: one element per block */
    uint8_t *tmp = c->head_tmp + (size_t)ith * c->head_tmp_stride;
    const void *qv = q;
    llm__vec_dot_fn dot = c->kern.vec_dot[c->kv_elt];
    double sum = 0.0;
    int i;
    if (c->kv_elt != LLM_TYPE_F32) { /* q takes the cache's type, as ggml converts it for the dot */
        llm__types[c->kv_elt].from_float(q, tmp, hd);
        qv = tmp;
    }
    for (p = 0; p <= pos; p++) {
        dot(hd, &s[p], kc + (size_t)p * c->kv_row_bytes + head_off, qv);
        s[p] *= scale;
        if (s[p] > max) max = s[p];
    }
    for (p = 0; p <= pos; p++) {
        s[p] = expf(s[p] - max);
        sum += (double)s[p];
    }
    inv = (float)(1.0 / sum);
    for (i = 0; i < hd; i++) out[i] = 0.0f;
    for (p = 0; p <= pos; p++) {
        float w = s[p] * inv;
        const uint8_t *vr = vc + (size_t)p * c->kv_row_bytes + head_off;
        if (c->kv_elt == LLM_TYPE_F32) {
            for (i = 0; i < hd; i++) out[i] += w * llm__lef32(vr + 4 * i);
        } else { /* the weights are rounded to F16 too, as in the reference's F16 mat-vec */
            w = llm__fp16_to_fp32(llm__fp32_to_fp16(w));
            for (i = 0; i < hd; i++) out[i] += w * llm__fp16_to_fp32(llm__le16(vr + 2 * i));
        }
    }
}

/* ---- per-token steps run as pool tasks ---- */

typedef struct llm__rows_job {
    llm_context *c;
    int layer, pos0, n_first;
    const llm_token *tokens;
} llm__rows_job;

/* Token embedding (dequantized row) and the token's rope table. */
static void llm__embed_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    size_t rb = llm__type_row_bytes(m->tok_embd->type, m->n_embd);
    (void)ith;
    llm__types[m->tok_embd->type].to_float(m->tok_embd->data + (size_t)j->tokens[t] * rb, j->c->x + (size_t)t * m->n_embd, m->n_embd);
    llm__rope_table(j->c->rope_cs + (size_t)t * m->n_rot, j->pos0 + t, m->n_rot, m->rope_freq_base, m->rope_freq_scale);
}

static void llm__attn_norm_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    size_t o = (size_t)t * m->n_embd;
    (void)ith;
    llm__rmsnorm(j->c->xb + o, j->c->x + o, m->layers[j->layer].attn_norm, m->n_embd, m->rms_eps);
}

static void llm__ffn_norm_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    size_t o = (size_t)t * m->n_embd;
    (void)ith;
    llm__rmsnorm(j->c->xb + o, j->c->x + o, m->layers[j->layer].ffn_norm, m->n_embd, m->rms_eps);
}

static void llm__out_norm_task(void *arg, int i, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    size_t o = (size_t)(j->n_first + i) * m->n_embd;
    (void)ith;
    llm__rmsnorm(j->c->xb + o, j->c->x + o, m->output_norm, m->n_embd, m->rms_eps);
}

/* RoPE on q and k, then k and v into the cache at their positions. */
static void llm__rope_store_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    int kv_dim = m->n_head_kv * m->head_dim, pos = j->pos0 + t;
    float *cs = c->rope_cs + (size_t)t * m->n_rot;
    size_t off = (size_t)j->layer * c->kv_layer_bytes + (size_t)pos * c->kv_row_bytes;
    const llm__type_traits *kt = &llm__types[c->kv_elt];
    (void)ith;
    llm__rope_apply(c->q + (size_t)t * m->n_embd, m->n_head, m->head_dim, m->n_rot, cs);
    llm__rope_apply(c->k + (size_t)t * kv_dim, m->n_head_kv, m->head_dim, m->n_rot, cs);
    kt->from_float(c->k + (size_t)t * kv_dim, c->k_cache + off, kv_dim);
    kt->from_float(c->v + (size_t)t * kv_dim, c->v_cache + off, kv_dim);
}

static void llm__swiglu_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    int n_ff = j->c->model->n_ff, i;
    float *g = j->c->hb + (size_t)t * n_ff, *u = j->c->hb2 + (size_t)t * n_ff;
    (void)ith;
    for (i = 0; i < n_ff; i++) g[i] = llm__silu(g[i]) * u[i];
}

/* x += xb, row by row */
static void llm__residual_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    int n = j->c->model->n_embd, i;
    float *x = j->c->x + (size_t)t * n, *d = j->c->xb + (size_t)t * n;
    (void)ith;
    for (i = 0; i < n; i++) x[i] += d[i];
}

/* The forward pass for n tokens at positions pos0.., leaving logits for tokens
   [n_first, n): llama2.c's forward(), batched. */
static void llm__forward(llm_context *c, const llm_token *tokens, int n, int pos0, int n_first) {
    const llm_model *m = c->model;
    int e = m->n_embd, kv_dim = m->n_head_kv * m->head_dim, l;
    llm__rows_job rj;
    llm__attn_job aj;
    rj.c = c;
    rj.pos0 = pos0;
    rj.tokens = tokens;
    rj.n_first = n_first;
    aj.c = c;
    aj.pos0 = pos0;
    /* 1. embeddings */
    llm__pool_run(&c->pool, n, llm__embed_task, &rj);
    for (l = 0; l < m->n_layer; l++) {
        const llm__layer *L = &m->layers[l];
        rj.layer = aj.layer = l;
        /* 2. attention: norm, q k v projections, rope, cache, softmax(qK)V, output projection */
        llm__pool_run(&c->pool, n, llm__attn_norm_task, &rj);
        llm__matmul(c, L->wq, c->xb, e, n, c->q, e);
        llm__matmul(c, L->wk, c->xb, e, n, c->k, kv_dim);
        llm__matmul(c, L->wv, c->xb, e, n, c->v, kv_dim);
        llm__pool_run(&c->pool, n, llm__rope_store_task, &rj);
        llm__pool_run(&c->pool, n * m->n_head, llm__attn_task, &aj);
        llm__matmul(c, L->wo, c->att, e, n, c->xb, e);
        llm__pool_run(&c->pool, n, llm__residual_task, &rj);
        /* 3. feed-forward: norm, silu(gate) * up, down */
        llm__pool_run(&c->pool, n, llm__ffn_norm_task, &rj);
        llm__matmul(c, L->w_gate, c->xb, e, n, c->hb, m->n_ff);
        llm__matmul(c, L->w_up, c->xb, e, n, c->hb2, m->n_ff);
        llm__pool_run(&c->pool, n, llm__swiglu_task, &rj);
        llm__matmul(c, L->w_down, c->hb, m->n_ff, n, c->xb, e);
        llm__pool_run(&c->pool, n, llm__residual_task, &rj);
    }
    /* 4. final norm and logits for the requested rows */
    llm__pool_run(&c->pool, n - n_first, llm__out_norm_task, &rj);
    llm__matmul(c, m->output, c->xb + (size_t)n_first * e, e, n - n_first, c->logits, m->vocab.n_vocab);
}

/* ---- contexts ---- */

LLMDEF llm_context_params llm_context_default_params(void) {
    llm_context_params p;
    memset(&p, 0, sizeof p);
    p.kv_type = LLM_KV_F16;
    return p;
}

static int llm__default_threads(void) {
#if defined(LLM_NO_THREADS)
    return 1;
#elif defined(_WIN32)
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (int)si.dwNumberOfProcessors;
#else
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
}

/* Resolved sizes of a context: shared by llm_context_new and llm_context_estimate. */
typedef struct llm__ctx_sizes {
    int n_ctx, n_batch, n_outputs, n_threads;
    llm_kv_type kv_type;
    size_t kv_layer_bytes, xq_stride, head_tmp_stride;
    uint64_t kv_bytes, scratch_bytes;
} llm__ctx_sizes;

static int llm__ctx_resolve(const llm_model *m, const llm_context_params *p, llm__ctx_sizes *s, char *err, size_t err_size) {
    size_t floats_per_token;
    int l, i, max_k;
    const llm__tensor *ws[7];
    if (m->vocab_only) return llm__errf(err, err_size, LLM_ERR_ARG, "the model was loaded with vocab_only");
    if (p->n_ctx < 0 || p->n_batch < 0 || p->n_threads < 0 || p->n_outputs < 0 || (int)p->kv_type < 0 ||
        p->kv_type >= LLM_KV_TYPE_COUNT)
        return llm__errf(err, err_size, LLM_ERR_ARG, "negative or unknown context parameter");
    s->n_ctx = p->n_ctx ? p->n_ctx : (m->n_ctx_train < 4096 ? m->n_ctx_train : 4096);
    if (s->n_ctx > LLM_MAX_CTX) return llm__errf(err, err_size, LLM_ERR_ARG, "n_ctx %d exceeds LLM_MAX_CTX (%d)", s->n_ctx, LLM_MAX_CTX);
    s->n_batch = p->n_batch ? p->n_batch : 512;
    if (s->n_batch > s->n_ctx) s->n_batch = s->n_ctx;
    s->n_outputs = p->n_outputs ? p->n_outputs : 1;
    if (s->n_outputs > s->n_batch) s->n_outputs = s->n_batch;
    s->n_threads = p->n_threads ? p->n_threads : llm__default_threads();
    if (s->n_threads < 1) s->n_threads = 1;
    if (s->n_threads > LLM__MAX_THREADS) s->n_threads = LLM__MAX_THREADS;
    s->kv_type = p->kv_type ? p->kv_type : LLM_KV_F16;
    if (!llm__kv_layer_bytes(m, s->n_ctx, s->kv_type, &s->kv_layer_bytes))
        return llm__errf(err, err_size, LLM_ERR_ARG, "KV cache size overflows");
    s->kv_bytes = 2ull * (uint64_t)m->n_layer * s->kv_layer_bytes;
    /* activation conversion buffer: the largest row any weight needs, per token */
    s->xq_stride = 0;
    for (l = 0; l <= m->n_layer; l++) {
        if (l < m->n_layer) {
            const llm__layer *L = &m->layers[l];
            ws[0] = L->wq; ws[1] = L->wk; ws[2] = L->wv; ws[3] = L->wo; ws[4] = L->w_gate; ws[5] = L->w_up; ws[6] = L->w_down;
            max_k = 7;
        } else {
            ws[0] = m->output;
            max_k = 1;
        }
        for (i = 0; i < max_k; i++) {
            size_t b = llm__type_row_bytes(llm__types[ws[i]->type].vec_dot_type, ws[i]->ne[0]);
            if (b > s->xq_stride) s->xq_stride = b;
        }
    }
    s->xq_stride = (s->xq_stride + 63) & ~(size_t)63;
    s->head_tmp_stride = ((size_t)m->head_dim * 4 + 63) & ~(size_t)63;
    floats_per_token = (size_t)m->n_embd * 4 + (size_t)m->n_head_kv * m->head_dim * 2 + (size_t)m->n_ff * 2 + (size_t)m->n_rot;
    s->scratch_bytes = (uint64_t)s->n_batch * (floats_per_token * 4 + s->xq_stride) +
                       (uint64_t)s->n_threads * ((uint64_t)s->n_ctx * 4 + s->head_tmp_stride) +
                       (uint64_t)s->n_outputs * (uint64_t)m->vocab.n_vocab * 4;
    return LLM_OK;
}

LLMDEF void llm_context_free(llm_context *c) {
    llm_allocator a;
    if (!c) return;
    a = c->alloc;
    if (c->pool_started) llm__pool_stop(&c->pool);
    llm__free(&a, c->k_cache);
    llm__free(&a, c->v_cache);
    llm__free(&a, c->x);
    llm__free(&a, c->xb);
    llm__free(&a, c->q);
    llm__free(&a, c->k);
    llm__free(&a, c->v);
    llm__free(&a, c->att);
    llm__free(&a, c->hb);
    llm__free(&a, c->hb2);
    llm__free(&a, c->xq);
    llm__free(&a, c->scores);
    llm__free(&a, c->head_tmp);
    llm__free(&a, c->rope_cs);
    llm__free(&a, c->logits);
    llm__free(&a, c);
}

LLMDEF llm_context *llm_context_new(llm_model *m, const llm_context_params *p, char *err, size_t err_size) {
    llm_context_params d = llm_context_default_params();
    llm__ctx_sizes s;
    llm_context *c;
    memset(&s, 0, sizeof s);
    const llm_allocator *a;
    size_t nb, e, kvd;
    int r;
    if (err && err_size) err[0] = 0;
    if (!m) {
        llm__errf(err, err_size, LLM_ERR_ARG, "no model");
        return NULL;
    }
    if (!p) p = &d;
    if ((r = llm__ctx_resolve(m, p, &s, err, err_size)) != LLM_OK) return NULL;
    a = p->allocator.alloc ? &p->allocator : &m->alloc;
    c = (llm_context *)llm__alloc_array(a, 1, sizeof *c);
    if (!c) {
        llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->alloc = *a;
    c->model = m;
    c->log = p->log ? p->log : m->log;
    c->log_user = p->log ? p->log_user : m->log_user;
    c->n_ctx = s.n_ctx;
    c->n_batch = s.n_batch;
    c->n_outputs = s.n_outputs;
    c->kv_type = s.kv_type;
    c->kv_elt = llm__kv_elt_type(s.kv_type);
    c->kv_layer_bytes = s.kv_layer_bytes;
    c->kv_row_bytes = llm__type_row_bytes(c->kv_elt, (int64_t)m->n_head_kv * m->head_dim);
    c->xq_stride = s.xq_stride;
    c->head_tmp_stride = s.head_tmp_stride;
    llm__kernels_init(&c->kern, p->cpu_features);
    nb = (size_t)s.n_batch;
    e = (size_t)m->n_embd;
    kvd = (size_t)m->n_head_kv * m->head_dim;
    c->k_cache = (uint8_t *)llm__alloc_array(a, (size_t)m->n_layer, s.kv_layer_bytes);
    c->v_cache = (uint8_t *)llm__alloc_array(a, (size_t)m->n_layer, s.kv_layer_bytes);
    c->x = (float *)llm__alloc_array(a, nb * e, sizeof(float));
    c->xb = (float *)llm__alloc_array(a, nb * e, sizeof(float));
    c->q = (float *)llm__alloc_array(a, nb * e, sizeof(float));
    c->att = (float *)llm__alloc_array(a, nb * e, sizeof(float));
    c->k = (float *)llm__alloc_array(a, nb * kvd, sizeof(float));
    c->v = (float *)llm__alloc_array(a, nb * kvd, sizeof(float));
    c->hb = (float *)llm__alloc_array(a, nb * (size_t)m->n_ff, sizeof(float));
    c->hb2 = (float *)llm__alloc_array(a, nb * (size_t)m->n_ff, sizeof(float));
    c->xq = (uint8_t *)llm__alloc_array(a, nb, s.xq_stride);
    c->scores = (float *)llm__alloc_array(a, (size_t)s.n_threads * (size_t)s.n_ctx, sizeof(float));
    c->head_tmp = (uint8_t *)llm__alloc_array(a, (size_t)s.n_threads, s.head_tmp_stride);
    c->rope_cs = (float *)llm__alloc_array(a, nb * (size_t)m->n_rot, sizeof(float));
    c->logits = (float *)llm__alloc_array(a, (size_t)s.n_outputs * (size_t)m->vocab.n_vocab, sizeof(float));
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->att || !c->k || !c->v || !c->hb || !c->hb2 || !c->xq ||
        !c->scores || !c->head_tmp || !c->rope_cs || !c->logits) {
        llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory for a context of %d tokens (KV cache %.1f MiB)", s.n_ctx,
                  (double)s.kv_bytes / 1048576.0);
        llm_context_free(c);
        return NULL;
    }
    c->pool_started = 1;
    if (!llm__pool_start(&c->pool, s.n_threads))
        llm__logf(c->log, c->log_user, LLM_LOG_WARN, "could only start %d of %d threads", c->pool.n_threads, s.n_threads);
    c->n_threads = c->pool.n_threads;
    return c;
}

LLMDEF const llm_model *llm_context_model(const llm_context *c) { return c->model; }
LLMDEF int llm_context_n_ctx(const llm_context *c) { return c->n_ctx; }
LLMDEF int llm_context_n_batch(const llm_context *c) { return c->n_batch; }
LLMDEF int llm_context_n_threads(const llm_context *c) { return c->n_threads; }
LLMDEF unsigned llm_context_cpu_features(const llm_context *c) { return c->kern.features; }
LLMDEF const char *llm_context_error(const llm_context *c) { return c->err; }
LLMDEF int llm_context_n_past(const llm_context *c) { return c->n_past; }

LLMDEF void llm_context_truncate(llm_context *c, int n_keep) {
    if (n_keep < 0) n_keep = 0;
    if (n_keep < c->n_past) c->n_past = n_keep;
}

LLMDEF int llm_decode(llm_context *c, const llm_token *tokens, int n, int flags) {
    int i, n_first;
    c->err[0] = 0;
    if (!tokens || n < 1 || n > c->n_batch)
        return llm__ctx_fail(c, LLM_ERR_ARG, "llm_decode: %d tokens (1 to n_batch %d allowed)", n, c->n_batch);
    for (i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->model->vocab.n_vocab)
            return llm__ctx_fail(c, LLM_ERR_ARG, "llm_decode: token %d at %d is outside the vocabulary", (int)tokens[i], i);
    if (n > c->n_ctx - c->n_past)
        return llm__ctx_fail(c, LLM_ERR_CONTEXT_FULL, "context full: %d tokens held, %d more do not fit in %d", c->n_past, n,
                             c->n_ctx);
    n_first = (flags & LLM_DECODE_ALL_LOGITS) ? 0 : n - 1;
    if (n - n_first > c->n_outputs)
        return llm__ctx_fail(c, LLM_ERR_ARG, "llm_decode: %d logits rows asked, llm_context_params.n_outputs is %d", n - n_first,
                             c->n_outputs);
    llm__forward(c, tokens, n, c->n_past, n_first);
    c->n_past += n;
    c->logits_first = n_first;
    c->n_logits = n - n_first;
    c->last_n = n;
    return LLM_OK;
}

LLMDEF const float *llm_logits(llm_context *c, int i) {
    if (i < 0) i += c->last_n;
    if (c->n_logits == 0 || i < c->logits_first || i >= c->logits_first + c->n_logits) return NULL;
    return c->logits + (size_t)(i - c->logits_first) * c->model->vocab.n_vocab;
}

/* ==== SentencePiece tokenizer and detokenizer ===================================== >>tokenizer */
/* SentencePiece ("llama") tokenizer and detokenizer.

   The behaviour matched is llama.cpp v0.4.0's SPM path (llama-vocab.cpp), the reference of the
   tokenizer vectors in ../shared:

   1. Partition. The text is split around special tokens: each special token, longest text
      first, claims every leftmost non-overlapping occurrence in the text fragments left by the
      ones before it. USER_DEFINED tokens are always matched; CONTROL and UNKNOWN tokens only with
      LLM_TOKENIZE_PARSE_SPECIAL (llama.cpp's tokenizer_st_partition, after Hugging Face, which
      pre-tokenizes added tokens before everything else).
   2. Each text fragment gets " " in front when add_space_prefix is set and it starts the text or
      follows a special token; then every ' ' becomes "▁" (U+2581).
   3. The fragment is cut into UTF-8 characters by their lead byte alone (a continuation byte or
      a truncated sequence is a character of its own or of the bytes left), and adjacent symbols
      whose concatenation is a token are merged, highest score first, leftmost first on ties,
      until no pair is a token. A heap of candidate pairs with lazy deletion keeps this
      O(n log n).
   4. Every final symbol that is a token is emitted. Any other symbol is a single character no
      token covers (merges only ever produce tokens), emitted as byte tokens "<0xXX>" (else the
      token whose text is that one byte). llama.cpp throws when a byte has neither; we emit one
      UNK for such a character instead (DESIGN §10).

   Building the vocabulary also applies llama.cpp's end-of-generation rule: tokens whose text is
   on its list ("<|im_end|>", "<|end|>", "</s>", ...) end generation and become CONTROL if the
   file said otherwise, which changes how they are matched and rendered. Not done: llama.cpp's
   right-stripping of whitespace after special tokens in Phi-3 models (chosen by general.name)
   and its guessing of FIM tokens by text. */

static int llm__bpe_build(llm__vocab *v, const llm_allocator *a); /* below, ---- byte-level BPE */

/* GGUF token types whose text the partition step can match. */
static int llm__vocab_is_special_type(int32_t type) {
    return type == LLM__TOKEN_CONTROL || type == LLM__TOKEN_USER_DEFINED || type == LLM__TOKEN_UNKNOWN;
}

/* FNV-1a, 32 bits. Unseeded is fine: the table holds the file's texts only, so a crafted
   vocabulary can lengthen probes into its own table but user text cannot. */
static uint32_t llm__fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Id of the token whose text is exactly s[0..n), or -1. The table is at most half full, so
   the probe always reaches an empty slot. */
static llm_token llm__vocab_find(const llm__vocab *v, const char *s, size_t n) {
    uint32_t i, e;
    if (!v->hash || n == 0) return -1;
    i = llm__fnv1a(s, n) & v->hash_mask;
    while ((e = v->hash[i]) != 0) {
        if (v->text_len[e - 1] == n && memcmp(v->text[e - 1], s, n) == 0) return (llm_token)(e - 1);
        i = (i + 1) & v->hash_mask;
    }
    return -1;
}

/* Sort key of a special token: longer texts first, then lower ids (llama.cpp's std::sort leaves
   equal lengths in no particular order; a fixed order keeps our results reproducible). */
static int llm__special_key_cmp(const void *pa, const void *pb) {
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Frees what llm__vocab_build allocated (not the loader's arrays); harmless on a zeroed or
   half-built vocabulary, and twice. */
static void llm__vocab_free(llm__vocab *v, const llm_allocator *a) {
    if (!v) return;
    llm__free(a, v->hash);
    llm__free(a, v->special);
    llm__free(a, v->is_eog);
    llm__free(a, v->merge_hash);
    llm__free(a, v->merge_split);
    llm__free(a, v->merge_owned);
    v->merge_hash = NULL;
    v->merge_split = NULL;
    v->merge_owned = NULL;
    v->merge = NULL;
    v->merge_len = NULL;
    v->n_merges = 0;
    v->hash = NULL;
    v->hash_mask = 0;
    v->special = NULL;
    v->n_special = 0;
    v->is_eog = NULL;
}

/* Derives the lookup table, byte tokens, end-of-generation flags and the special-token list
   from the loader's arrays, after checking the special ids. May change type[] (the EOG rule).
   Returns LLM_OK or an error with a message in err; on error nothing stays allocated. */
static int llm__vocab_build(llm__vocab *v, const llm_allocator *a, char *err, size_t err_size) {
    /* Texts that end generation whatever their id: llama.cpp's list (v0.4.0, llama-vocab.cpp),
       which also makes them CONTROL when the file did not. */
    static const char *const eog_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>", /* DeepSeek's "<｜end▁of▁sentence｜>" */
        "[e~["};
    static const char *const id_names[] = {"bos", "eos", "unk", "pad", "eot", "eom"};
    llm_token ids[6];
    uint64_t *keys = NULL;
    uint32_t cap = 16;
    int i, j, n, n_special = 0;

    ids[0] = v->bos;
    ids[1] = v->eos;
    ids[2] = v->unk;
    ids[3] = v->pad;
    ids[4] = v->eot;
    ids[5] = v->eom;
    /* The derived fields start empty (a zeroed vocab); error paths free what was built. */
    v->hash = NULL;
    v->hash_mask = 0;
    v->special = NULL;
    v->n_special = 0;
    v->is_eog = NULL;
    v->merge_hash = NULL;
    v->merge_split = NULL;
    n = v->n_vocab;
    if (n <= 0) return llm__errf(err, err_size, LLM_ERR_FORMAT, "the vocabulary is empty");
    if (n > (1 << 30)) return llm__errf(err, err_size, LLM_ERR_FORMAT, "vocabulary of %d tokens is too large", n);
    if (!v->text || !v->text_len || !v->score || !v->type)
        return llm__errf(err, err_size, LLM_ERR_ARG, "vocabulary arrays missing");
    for (i = 0; i < 6; i++)
        if (ids[i] != LLM_TOKEN_NULL && (ids[i] < 0 || ids[i] >= n))
            return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s token id %d is outside the vocabulary (%d tokens)",
                             id_names[i], (int)ids[i], n);

    /* text -> id. Empty texts are left out: no symbol or special match is ever empty. */
    while (cap < 2u * (uint32_t)n) cap <<= 1;
    v->hash = (uint32_t *)llm__alloc_array(a, cap, sizeof(uint32_t));
    v->is_eog = (uint8_t *)llm__alloc_array(a, (size_t)n, 1);
    if (!v->hash || !v->is_eog) goto nomem;
    v->hash_mask = cap - 1;
    for (i = 0; i < n; i++) {
        uint32_t h;
        if (v->text_len[i] == 0) continue;
        if (!v->text[i]) {
            llm__vocab_free(v, a);
            return llm__errf(err, err_size, LLM_ERR_FORMAT, "token %d has no text", i);
        }
        if ((j = llm__vocab_find(v, v->text[i], v->text_len[i])) >= 0) {
            /* llama.cpp refuses these too: the text -> id map would be ambiguous. */
            llm__vocab_free(v, a);
            return llm__errf(err, err_size, LLM_ERR_FORMAT, "duplicate token text at ids %d and %d", j, i);
        }
        h = llm__fnv1a(v->text[i], v->text_len[i]) & v->hash_mask;
        while (v->hash[h]) h = (h + 1) & v->hash_mask;
        v->hash[h] = (uint32_t)i + 1;
    }

    /* Byte fallback tokens, found by text as llama.cpp's byte_to_token does (upper-case hex). */
    for (i = 0; i < 256; i++) {
        static const char hex[] = "0123456789ABCDEF";
        char b[6];
        b[0] = '<', b[1] = '0', b[2] = 'x', b[3] = hex[i >> 4], b[4] = hex[i & 15], b[5] = '>';
        v->byte_token[i] = llm__vocab_find(v, b, 6);
    }

    /* End of generation. */
    for (j = 0; j < (int)(sizeof eog_texts / sizeof eog_texts[0]); j++) {
        llm_token t = llm__vocab_find(v, eog_texts[j], strlen(eog_texts[j]));
        if (t < 0) continue;
        v->is_eog[t] = 1;
        v->type[t] = LLM__TOKEN_CONTROL;
    }
    if (v->eos != LLM_TOKEN_NULL) v->is_eog[v->eos] = 1;
    if (v->eot != LLM_TOKEN_NULL) v->is_eog[v->eot] = 1;
    if (v->eom != LLM_TOKEN_NULL) v->is_eog[v->eom] = 1;
    /* llama.cpp's two exceptions: in o200k_harmony / solar-open vocabularies "<|end|>" ends a
       message, not generation (it becomes USER_DEFINED); next to gemma4's "<|tool_response>",
       "</s>" is an ordinary token. */
    {
        llm_token ret = llm__vocab_find(v, "<|return|>", 10), call = llm__vocab_find(v, "<|call|>", 8);
        llm_token calls = llm__vocab_find(v, "<|calls|>", 9), flush = llm__vocab_find(v, "<|flush|>", 9);
        llm_token end = llm__vocab_find(v, "<|end|>", 7), tool = llm__vocab_find(v, "<|tool_response>", 16);
        llm_token eos_text = llm__vocab_find(v, "</s>", 4);
        int has_call = (call >= 0 && v->is_eog[call]) || (calls >= 0 && v->is_eog[calls]);
        if (end >= 0 && v->is_eog[end] && has_call &&
            ((ret >= 0 && v->is_eog[ret]) || (flush >= 0 && v->is_eog[flush]))) {
            v->is_eog[end] = 0;
            v->type[end] = LLM__TOKEN_USER_DEFINED;
        }
        if (tool >= 0 && v->is_eog[tool] && eos_text >= 0 && v->is_eog[eos_text]) {
            v->is_eog[eos_text] = 0;
            v->type[eos_text] = LLM__TOKEN_NORMAL;
        }
    }

    /* Special tokens, longest first: the key packs (max - length, id) so one sort orders both. */
    for (i = 0; i < n; i++)
        if (llm__vocab_is_special_type(v->type[i]) && v->text_len[i] > 0) n_special++;
    if (n_special > 0) {
        keys = (uint64_t *)llm__alloc_array(a, (size_t)n_special, sizeof(uint64_t));
        v->special = (llm_token *)llm__alloc_array(a, (size_t)n_special, sizeof(llm_token));
        if (!keys || !v->special) goto nomem;
        for (i = 0, j = 0; i < n; i++)
            if (llm__vocab_is_special_type(v->type[i]) && v->text_len[i] > 0)
                keys[j++] = ((uint64_t)(UINT32_MAX - v->text_len[i]) << 32) | (uint32_t)i;
        qsort(keys, (size_t)n_special, sizeof(uint64_t), llm__special_key_cmp);
        for (i = 0; i < n_special; i++) v->special[i] = (llm_token)(keys[i] & 0xffffffffu);
        llm__free(a, keys);
    }
    v->n_special = n_special;
    if (v->kind == LLM__VOCAB_BPE && !llm__bpe_build(v, a)) goto nomem;
    return LLM_OK;

nomem:
    llm__free(a, keys);
    llm__vocab_free(v, a);
    return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory building the vocabulary (%d tokens)", n);
}

/* ---- tokenizing ---------------------------------------------------------------------- */

/* Bytes in the UTF-8 sequence a lead byte announces, from its high nibble alone, as llama.cpp's
   unicode_len_utf8: continuation bytes (0x80-0xBF) count as 1, 0xF8-0xFF as 4. */
static int llm__utf8_len(unsigned char c) {
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* First occurrence of needle in hay, or -1. memchr finds candidates for the first byte. */
static ptrdiff_t llm__find(const char *hay, size_t hay_len, const char *needle, size_t n) {
    const char *p = hay, *end = hay + hay_len;
    if (n == 0 || n > hay_len) return -1;
    while ((size_t)(end - p) >= n) {
        p = (const char *)memchr(p, (unsigned char)needle[0], (size_t)(end - p) - n + 1);
        if (!p) return -1;
        if (memcmp(p, needle, n) == 0) return p - hay;
        p++;
    }
    return -1;
}

/* p (cap elements of size bytes) grown to hold at least need elements, its contents kept:
   returns the new array (p itself when big enough), or NULL when out of memory, p untouched.
   The allocator has no realloc, so this copies; doubling keeps that linear overall. */
static void *llm__grow(const llm_allocator *a, void *p, size_t *cap, size_t need, size_t size) {
    size_t new_cap = *cap ? *cap : 16;
    void *q;
    if (need <= *cap) return p;
    while (new_cap < need) new_cap = new_cap > SIZE_MAX / 2 ? need : new_cap * 2;
    q = llm__alloc_array(a, new_cap, size);
    if (!q) return NULL;
    if (p) memcpy(q, p, *cap * size);
    llm__free(a, p);
    *cap = new_cap;
    return q;
}

/* A piece of the input: text [off, off + len) when tok < 0, else the special token tok. */
typedef struct llm__frag {
    int off, len;
    llm_token tok;
} llm__frag;

/* A symbol of the merge step: bytes [off, off + n) of the escaped fragment, in a doubly linked
   list of the symbols still alive (n == 0 once merged into its left neighbour). */
typedef struct llm__sym {
    int prev, next, off, n;
} llm__sym;

/* A candidate merge of symbols left and right, whose texts had size bytes together when it was
   queued; it is stale when either has changed since. */
typedef struct llm__bigram {
    int left, right, size;
    float score;
} llm__bigram;

typedef struct llm__tok_state {
    const llm__vocab *v;
    const llm_allocator *a;
    llm_token *out;
    int max;
    size_t count;        /* tokens produced so far, also past max */
    char *esc;           /* escaped fragment */
    llm__sym *sym;
    size_t sym_cap;
    llm__bigram *heap;
    size_t heap_n, heap_cap; /* up to 3 per symbol: one at the start, two per merge */
} llm__tok_state;

static void llm__tok_emit(llm__tok_state *st, llm_token t) {
    if (st->count < (size_t)st->max) st->out[st->count] = t;
    st->count++;
}

/* Heap order: higher score first, then the leftmost pair (llama.cpp's llm_bigram_spm). */
static int llm__bigram_before(const llm__bigram *x, const llm__bigram *y) {
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static int llm__heap_push(llm__tok_state *st, llm__bigram b) {
    size_t i;
    void *q = llm__grow(st->a, st->heap, &st->heap_cap, st->heap_n + 1, sizeof(llm__bigram));
    if (!q) return 0;
    st->heap = (llm__bigram *)q;
    i = st->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!llm__bigram_before(&b, &st->heap[parent])) break;
        st->heap[i] = st->heap[parent];
        i = parent;
    }
    st->heap[i] = b;
    return 1;
}

static llm__bigram llm__heap_pop(llm__tok_state *st) {
    llm__bigram top = st->heap[0], last = st->heap[--st->heap_n];
    size_t i = 0, n = st->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && llm__bigram_before(&st->heap[c + 1], &st->heap[c])) c++;
        if (!llm__bigram_before(&st->heap[c], &last)) break;
        st->heap[i] = st->heap[c];
        i = c;
    }
    if (n > 0) st->heap[i] = last;
    return top;
}

/* Queues the merge of left and its right neighbour if their joined text is a token. */
static int llm__spm_try_pair(llm__tok_state *st, int left, int right) {
    llm__bigram b;
    llm_token id;
    if (left < 0 || right < 0) return 1;
    b.left = left;
    b.right = right;
    b.size = st->sym[left].n + st->sym[right].n;
    id = llm__vocab_find(st->v, st->esc + st->sym[left].off, (size_t)b.size);
    if (id < 0) return 1;
    b.score = st->v->score[id];
    return llm__heap_push(st, b);
}

/* Emits a symbol that survived merging: its token, else its bytes' tokens, else one UNK. */
static int llm__spm_emit_symbol(llm__tok_state *st, const char *s, int n) {
    const llm__vocab *v = st->v;
    llm_token id = llm__vocab_find(v, s, (size_t)n);
    int i;
    if (id >= 0) {
        llm__tok_emit(st, id);
        return LLM_OK;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (v->byte_token[c] < 0 && llm__vocab_find(v, s + i, 1) < 0) break;
    }
    if (i < n) {
        /* Some byte has no token: the whole character becomes UNK (llama.cpp throws here). */
        if (v->unk == LLM_TOKEN_NULL) return LLM_ERR_UNSUPPORTED;
        llm__tok_emit(st, v->unk);
        return LLM_OK;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        llm__tok_emit(st, v->byte_token[c] >= 0 ? v->byte_token[c] : llm__vocab_find(v, s + i, 1));
    }
    return LLM_OK;
}

/* Tokenizes one text fragment: escape, split into characters, merge, emit. */
static int llm__spm_fragment(llm__tok_state *st, const char *text, int len, int prefix) {
    char *esc = st->esc;
    llm__sym *sym;
    void *q;
    int n = 0, n_sym = 0, i, r;

    /* Escape: optional leading "▁", then ' ' -> "▁" (E2 96 81). */
    if (prefix) esc[n++] = (char)0xE2, esc[n++] = (char)0x96, esc[n++] = (char)0x81;
    for (i = 0; i < len; i++) {
        if (text[i] == ' ')
            esc[n++] = (char)0xE2, esc[n++] = (char)0x96, esc[n++] = (char)0x81;
        else
            esc[n++] = text[i];
    }
    if (n == 0) return LLM_OK;

    /* Split into characters. A space escaped after a broken sequence can give more than one
       symbol, so count first. */
    for (i = 0; i < n; n_sym++) i += llm__utf8_len((unsigned char)esc[i]);
    if (!(q = llm__grow(st->a, st->sym, &st->sym_cap, (size_t)n_sym, sizeof(llm__sym)))) return LLM_ERR_NOMEM;
    sym = st->sym = (llm__sym *)q;
    n_sym = 0;
    for (i = 0; i < n;) {
        int l = llm__utf8_len((unsigned char)esc[i]);
        if (l > n - i) l = n - i;
        sym[n_sym].prev = n_sym - 1;
        sym[n_sym].next = n_sym + 1;
        sym[n_sym].off = i;
        sym[n_sym].n = l;
        n_sym++;
        i += l;
    }
    sym[n_sym - 1].next = -1;

    /* Merge the best pair until none is a token. */
    st->heap_n = 0;
    for (i = 1; i < n_sym; i++)
        if (!llm__spm_try_pair(st, i - 1, i)) return LLM_ERR_NOMEM;
    while (st->heap_n > 0) {
        llm__bigram b = llm__heap_pop(st);
        llm__sym *l = &sym[b.left], *rs = &sym[b.right];
        if (l->n == 0 || rs->n == 0 || l->n + rs->n != b.size) continue; /* stale */
        l->n += rs->n;
        rs->n = 0;
        l->next = rs->next;
        if (rs->next >= 0) sym[rs->next].prev = b.left;
        if (!llm__spm_try_pair(st, l->prev, b.left) || !llm__spm_try_pair(st, b.left, l->next))
            return LLM_ERR_NOMEM;
    }

    for (i = 0; i != -1; i = sym[i].next)
        if ((r = llm__spm_emit_symbol(st, esc + sym[i].off, sym[i].n)) != LLM_OK) return r;
    return LLM_OK;
}

/* ---- byte-level BPE -------------------------------------------------------------------- */
/* Byte-level BPE ("gpt2"), as llama.cpp v0.4.0's BPE path:

   1. Special tokens partition the text exactly as for SentencePiece (no space prefix).
   2. Each text fragment is decoded into code points and cut into words by the pre-tokenizer of
      tokenizer.ggml.pre: one or more passes, each splitting every piece the passes before left
      into its leftmost-first matches and the gaps between them (std::regex_iterator's rule).
      The passes are hand-written scanners for llama.cpp's regular expressions over the
      Unicode classes of >>unicode (\p{L}, \p{N}, \p{P}, White_Space for \s).
   3. Each word's bytes are mapped to printable code points (GPT-2's bytes_to_unicode: bytes
      '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves, the other 68 become U+0100..
      U+0143 in byte order), split into those characters, and adjacent symbols are merged
      lowest merge rank first, leftmost on ties, until no adjacent pair has a rule. With
      ignore_merges (llama3), a word that is itself a token is emitted whole first.
   4. Each final symbol is emitted as its token; a symbol without one (a vocabulary missing
      byte characters) becomes the tokens of its single bytes that exist, as llama.cpp does.

   One deliberate difference: llama.cpp replaces an invalid UTF-8 byte by U+FFFD before
   encoding; we classify it as U+FFFD (a symbol) but encode the byte itself, so that
   detokenize(tokenize(s)) == s holds for any bytes. */

enum {
    LLM__UC_UNASSIGNED = 0,
    LLM__UC_NUMBER = 1,
    LLM__UC_LETTER = 2,
    LLM__UC_MARK = 3,
    LLM__UC_PUNCT = 4,
    LLM__UC_SYMBOL = 5,
    LLM__UC_SEPARATOR = 6,
    LLM__UC_OTHER = 7, /* control, format, surrogate, private use */
    LLM__UC_WS = 8     /* flag: White_Space */
};
static int llm__unicode_class(uint32_t cp); /* generated table, end of the implementation */

/* The code point standing for byte b in byte-level BPE texts. */
static uint32_t llm__bpe_byte_cp(unsigned b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 256 + b;
    if (b <= 0xA0) return 256 + 33 + (b - 0x7F);
    return 256 + 67; /* 0xAD */
}

/* The byte code point cp stands for, or -1. */
static int llm__bpe_cp_byte(uint32_t cp) {
    if (cp < 256) return ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || cp >= 0xAE) ? (int)cp : -1;
    if (cp < 256 + 33) return (int)(cp - 256);
    if (cp < 256 + 67) return (int)(cp - 256 - 33 + 0x7F);
    return cp == 256 + 67 ? 0xAD : -1;
}

/* Decodes one code point at s[0..n) as llama.cpp does (lead byte and continuation bytes
   checked, nothing else); *len gets its bytes. An invalid byte gives -1 and *len = 1. */
static int32_t llm__utf8_decode(const unsigned char *s, size_t n, int *len) {
    unsigned c = s[0];
    int k, i;
    uint32_t cp;
    *len = 1;
    if (c < 0x80) return (int32_t)c;
    if ((c & 0xE0) == 0xC0) k = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) k = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) k = 3, cp = c & 0x07;
    else return -1;
    if ((size_t)k >= n) return -1;
    for (i = 1; i <= k; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    *len = k + 1;
    return (int32_t)cp;
}

/* Rank of the merge "left right", or -1. */
static int llm__bpe_rank(const llm__vocab *v, const char *l, size_t nl, const char *r, size_t nr) {
    uint32_t h = 2166136261u, i, e;
    size_t k;
    if (!v->merge_hash) return -1;
    for (k = 0; k < nl; k++) h = (h ^ (unsigned char)l[k]) * 16777619u;
    h = (h ^ ' ') * 16777619u;
    for (k = 0; k < nr; k++) h = (h ^ (unsigned char)r[k]) * 16777619u;
    for (i = h & v->merge_mask; (e = v->merge_hash[i]) != 0; i = (i + 1) & v->merge_mask) {
        const char *m = v->merge[e - 1];
        if (v->merge_split[e - 1] == nl && v->merge_len[e - 1] == nl + 1 + nr && memcmp(m, l, nl) == 0 &&
            memcmp(m + nl + 1, r, nr) == 0)
            return (int)(e - 1);
    }
    return -1;
}

/* Builds the merge table; the first of duplicate rules keeps its rank (as llama.cpp). */
static int llm__bpe_build(llm__vocab *v, const llm_allocator *a) {
    uint32_t cap = 16;
    int i;
    if (v->n_merges <= 0) return 1;
    while (cap < 2u * (uint32_t)v->n_merges) cap <<= 1;
    v->merge_hash = (uint32_t *)llm__alloc_array(a, cap, sizeof(uint32_t));
    v->merge_split = (uint32_t *)llm__alloc_array(a, (size_t)v->n_merges, sizeof(uint32_t));
    if (!v->merge_hash || !v->merge_split) return 0;
    v->merge_mask = cap - 1;
    for (i = 0; i < v->n_merges; i++) {
        const char *m = v->merge[i], *sp;
        uint32_t n = v->merge_len[i], h;
        /* The split is the first space after the first byte; a rule without one never applies. */
        sp = n > 1 ? (const char *)memchr(m + 1, ' ', n - 1) : NULL;
        v->merge_split[i] = 0;
        if (!sp) continue;
        v->merge_split[i] = (uint32_t)(sp - m);
        if (llm__bpe_rank(v, m, (size_t)(sp - m), sp + 1, n - (size_t)(sp - m) - 1) >= 0) continue;
        h = llm__fnv1a(m, n) & v->merge_mask;
        while (v->merge_hash[h]) h = (h + 1) & v->merge_mask;
        v->merge_hash[h] = (uint32_t)i + 1;
    }
    return 1;
}

/* ---- pre-tokenizers ---- */

/* Passes, each one of llama.cpp's regular expressions. */
enum {
    LLM__PASS_GPT2,          /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    LLM__PASS_LLAMA3,        /* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                                 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    LLM__PASS_QWEN2,         /* the same with \p{N} instead of \p{N}{1,3} */
    LLM__PASS_NUMBER,        /* \p{N} */
    LLM__PASS_NUMBERS,       /* \p{N}+ */
    LLM__PASS_PUNCT_FALCON,  /* [\p{P}\$\+<=>\^~\|`]+ */
    LLM__PASS_PUNCT_DEFAULT, /* [\p{P}\$\+<=>\^~\|]+ */
    LLM__PASS_DIGITS3,       /* [0-9][0-9][0-9] */
    LLM__PASS_NEWLINE,       /* [\r\n] */
    LLM__PASS_DS_LETTERS,    /* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...]+ (deepseek-llm's list of letters) */
    LLM__PASS_DS_PUNCT,      /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
    LLM__PASS_WS_END,        /* \s+$ */
    LLM__PASS_CJK,           /* [一-龥ࠀ-一가-퟿]+ */
    LLM__PASS_SP_LETTERS,    /* \s?\p{L}+ */
    LLM__PASS_SP_PUNCT,      /* \s?\p{P}+ */
    LLM__PASS_NONE
};

/* The passes of each LLM__PRE_*, in order (llama.cpp's regex_exprs). */
static const unsigned char llm__pre_passes[LLM__PRE_COUNT][6] = {
    /* DEFAULT */ {LLM__PASS_PUNCT_DEFAULT, LLM__PASS_GPT2, LLM__PASS_NUMBERS, LLM__PASS_DIGITS3, LLM__PASS_NONE},
    /* GPT2 */ {LLM__PASS_GPT2, LLM__PASS_NONE},
    /* LLAMA3 */ {LLM__PASS_LLAMA3, LLM__PASS_NONE},
    /* QWEN2 */ {LLM__PASS_QWEN2, LLM__PASS_NONE},
    /* DEEPSEEK_LLM */
    {LLM__PASS_NEWLINE, LLM__PASS_DS_LETTERS, LLM__PASS_DS_PUNCT, LLM__PASS_WS_END, LLM__PASS_CJK, LLM__PASS_NUMBERS},
    /* DEEPSEEK_CODER */
    {LLM__PASS_NEWLINE, LLM__PASS_SP_LETTERS, LLM__PASS_SP_PUNCT, LLM__PASS_CJK, LLM__PASS_NUMBER, LLM__PASS_NONE},
    /* FALCON */ {LLM__PASS_PUNCT_FALCON, LLM__PASS_GPT2, LLM__PASS_DIGITS3, LLM__PASS_NONE},
    /* STARCODER */ {LLM__PASS_NUMBER, LLM__PASS_GPT2, LLM__PASS_NONE},
};

/* deepseek-llm's letter list, [first, last] code points. */
static const uint32_t llm__ds_letters[][2] = {
    {0x41, 0x5a},       {0x61, 0x7a},       {0xb5, 0xb5},       {0xc0, 0xd6},       {0xd8, 0xf6},
    {0xf8, 0x1ba},      {0x1bc, 0x1bf},     {0x1c4, 0x293},     {0x295, 0x2af},     {0x370, 0x373},
    {0x376, 0x377},     {0x37b, 0x37d},     {0x37f, 0x37f},     {0x386, 0x386},     {0x388, 0x38a},
    {0x38c, 0x38c},     {0x38e, 0x3a1},     {0x3a3, 0x3f5},     {0x3f7, 0x481},     {0x48a, 0x52f},
    {0x531, 0x556},     {0x10a0, 0x10c5},   {0x13a0, 0x13f5},   {0x13f8, 0x13fd},   {0x1c90, 0x1cba},
    {0x1cbd, 0x1cbf},   {0x1d00, 0x1d2b},   {0x1d6b, 0x1d77},   {0x1d79, 0x1d9a},   {0x1e00, 0x1f15},
    {0x1f18, 0x1f1d},   {0x1f20, 0x1f45},   {0x1f48, 0x1f4d},   {0x1f50, 0x1f57},   {0x1f59, 0x1f59},
    {0x1f5b, 0x1f5b},   {0x1f5d, 0x1f5d},   {0x1f5f, 0x1f7d},   {0x1f80, 0x1fb4},   {0x1fb6, 0x1fbc},
    {0x1fbe, 0x1fbe},   {0x1fc2, 0x1fc4},   {0x1fc6, 0x1fcc},   {0x1fd0, 0x1fd3},   {0x1fd6, 0x1fdb},
    {0x1fe0, 0x1fec},   {0x1ff2, 0x1ff4},   {0x1ff6, 0x1ffc},   {0x2102, 0x2102},   {0x2107, 0x2107},
    {0x210a, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211d},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212a, 0x212d},   {0x212f, 0x2134},   {0x2139, 0x2139},   {0x213c, 0x213f},
    {0x2145, 0x2149},   {0x214e, 0x214e},   {0x2183, 0x2184},   {0x2c00, 0x2c7b},   {0x2c7e, 0x2ce4},
    {0x2ceb, 0x2cee},   {0x2cf2, 0x2cf3},   {0xa640, 0xa66d},   {0xa680, 0xa69b},   {0xa722, 0xa76f},
    {0xa771, 0xa787},   {0xa78b, 0xa78e},   {0xab70, 0xabbf},   {0xfb00, 0xfb06},   {0xfb13, 0xfb17},
    {0xff21, 0xff3a},   {0xff41, 0xff5a},   {0x10400, 0x1044f}, {0x104b0, 0x104d3}, {0x104d8, 0x104fb},
    {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x118a0, 0x118df}, {0x1e900, 0x1e943}};
static const uint32_t llm__ds_punct[][2] = {{0x21, 0x2f},     {0x3a, 0x7e},     {0xff01, 0xff0f},
                                            {0xff1a, 0xff5e}, {0x2018, 0x201f}, {0x3000, 0x3002}};
static const uint32_t llm__ds_cjk[][2] = {{0x4e00, 0x9fa5}, {0x800, 0x4e00}, {0xac00, 0xd7ff}};

static int llm__in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (cp >= r[i][0] && cp <= r[i][1]) return 1;
    return 0;
}

/* A fragment's code points: value, class (LLM__UC_* | LLM__UC_WS) and byte offset. */
typedef struct llm__cps {
    uint32_t *cp;
    uint8_t *cls;
    int *off; /* [n + 1] */
    int n;
} llm__cps;

#define LLM__CP_WS(c, i) ((c)->cls[i] & LLM__UC_WS)
#define LLM__CP_IS(c, i, k) (!LLM__CP_WS(c, i) && ((c)->cls[i] & 7) == (k))
#define LLM__CP_OTHER(c, i) (!LLM__CP_WS(c, i) && ((c)->cls[i] & 7) != LLM__UC_LETTER && ((c)->cls[i] & 7) != LLM__UC_NUMBER)

/* Whether code point i is in one of the character sets the passes use. */
static int llm__pass_set(const llm__cps *c, int i, int pass) {
    uint32_t cp = c->cp[i];
    if (LLM__CP_WS(c, i)) return 0; /* llama.cpp maps white space to \v before matching sets */
    switch (pass) {
    case LLM__PASS_PUNCT_FALCON:
        if (cp == '`') return 1;
        /* fall through */
    case LLM__PASS_PUNCT_DEFAULT:
        return LLM__CP_IS(c, i, LLM__UC_PUNCT) || cp == '$' || cp == '+' || cp == '<' || cp == '=' || cp == '>' ||
               cp == '^' || cp == '~' || cp == '|';
    case LLM__PASS_DS_LETTERS: return llm__in_ranges(cp, llm__ds_letters, sizeof llm__ds_letters / sizeof llm__ds_letters[0]);
    case LLM__PASS_DS_PUNCT: return llm__in_ranges(cp, llm__ds_punct, sizeof llm__ds_punct / sizeof llm__ds_punct[0]);
    case LLM__PASS_CJK: return llm__in_ranges(cp, llm__ds_cjk, sizeof llm__ds_cjk / sizeof llm__ds_cjk[0]);
    case LLM__PASS_SP_LETTERS: return LLM__CP_IS(c, i, LLM__UC_LETTER);
    case LLM__PASS_SP_PUNCT: return LLM__CP_IS(c, i, LLM__UC_PUNCT);
    default: return 0;
    }
}

static int llm__ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? (int)(c + 32) : (int)c; }

/* Length in code points of the match of pass at pos inside [pos, end), 0 if none. */
static int llm__pass_match(const llm__cps *c, int pos, int end, int pass) {
    const uint32_t *cp = c->cp;
    int j, k, w, last;
    switch (pass) {
    case LLM__PASS_GPT2:
    case LLM__PASS_LLAMA3:
    case LLM__PASS_QWEN2: {
        int icase = pass != LLM__PASS_GPT2;
        /* contractions: 's 't 'm 'd 're 've 'll (any case but GPT-2's) */
        if (cp[pos] == '\'' && pos + 1 < end) {
            int a = icase ? llm__ascii_lower(cp[pos + 1]) : (int)cp[pos + 1];
            if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
            if (pos + 2 < end) {
                int b = icase ? llm__ascii_lower(cp[pos + 2]) : (int)cp[pos + 2];
                if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
            }
        }
        if (pass == LLM__PASS_GPT2) {
            /* ' ?' then a run of letters, of numbers, or of anything else but white space */
            k = cp[pos] == ' ' ? pos + 1 : pos;
            if (k < end) {
                int kind = LLM__CP_IS(c, k, LLM__UC_LETTER) ? 1 : LLM__CP_IS(c, k, LLM__UC_NUMBER) ? 2 : LLM__CP_OTHER(c, k) ? 3 : 0;
                if (kind) {
                    for (j = k + 1; j < end; j++)
                        if ((kind == 1 && !LLM__CP_IS(c, j, LLM__UC_LETTER)) || (kind == 2 && !LLM__CP_IS(c, j, LLM__UC_NUMBER)) ||
                            (kind == 3 && !LLM__CP_OTHER(c, j)))
                            break;
                    return j - pos;
                }
            }
        } else {
            /* [^\r\n\p{L}\p{N}]?\p{L}+ */
            if (cp[pos] != '\r' && cp[pos] != '\n' && !LLM__CP_IS(c, pos, LLM__UC_NUMBER) &&
                (LLM__CP_IS(c, pos, LLM__UC_LETTER) || (pos + 1 < end && LLM__CP_IS(c, pos + 1, LLM__UC_LETTER)))) {
                for (j = pos + 1; j < end && LLM__CP_IS(c, j, LLM__UC_LETTER); j++) {}
                return j - pos;
            }
            /* \p{N}{1,3} or \p{N} */
            if (LLM__CP_IS(c, pos, LLM__UC_NUMBER)) {
                int max = pass == LLM__PASS_LLAMA3 ? 3 : 1;
                for (j = pos + 1; j < end && j - pos < max && LLM__CP_IS(c, j, LLM__UC_NUMBER); j++) {}
                return j - pos;
            }
            /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
            k = cp[pos] == ' ' ? pos + 1 : pos;
            if (k < end && LLM__CP_OTHER(c, k)) {
                for (j = k + 1; j < end && LLM__CP_OTHER(c, j); j++) {}
                while (j < end && (cp[j] == '\r' || cp[j] == '\n')) j++;
                return j - pos;
            }
        }
        /* white space: \s*[\r\n]+ (not GPT-2), \s+(?!\S), \s+ */
        for (w = 0, last = 0; pos + w < end && LLM__CP_WS(c, pos + w); w++)
            if (cp[pos + w] == '\r' || cp[pos + w] == '\n') last = w + 1;
        if (last && pass != LLM__PASS_GPT2) return last;
        if (w > 1 && pos + w < end) return w - 1;
        return w > 0 ? w : 1;
    }
    case LLM__PASS_NUMBER: return LLM__CP_IS(c, pos, LLM__UC_NUMBER) ? 1 : 0;
    case LLM__PASS_NUMBERS:
        for (j = pos; j < end && LLM__CP_IS(c, j, LLM__UC_NUMBER); j++) {}
        return j - pos;
    case LLM__PASS_DIGITS3:
        for (j = pos; j < end && j < pos + 3 && cp[j] >= '0' && cp[j] <= '9'; j++) {}
        return j == pos + 3 ? 3 : 0;
    case LLM__PASS_NEWLINE: return cp[pos] == '\r' || cp[pos] == '\n';
    case LLM__PASS_WS_END:
        for (j = pos; j < end && LLM__CP_WS(c, j); j++) {}
        return j > pos && j == end ? j - pos : 0;
    case LLM__PASS_PUNCT_FALCON:
    case LLM__PASS_PUNCT_DEFAULT:
    case LLM__PASS_CJK:
        for (j = pos; j < end && llm__pass_set(c, j, pass); j++) {}
        return j - pos;
    default: /* \s?[set]+ */
        k = LLM__CP_WS(c, pos) && pos + 1 < end && llm__pass_set(c, pos + 1, pass) ? pos + 1 : pos;
        for (j = k; j < end && llm__pass_set(c, j, pass); j++) {}
        return j > k ? j - pos : 0;
    }
}

/* Cuts [0, c->n) into words: ends[] gets each word's end (in code points); returns the count.
   tmp has room for c->n ints. */
static int llm__pretokenize(const llm__cps *c, int pre, int *ends, int *tmp) {
    int n_ends = 1, p, i;
    ends[0] = c->n;
    for (p = 0; p < 6 && llm__pre_passes[pre][p] != LLM__PASS_NONE; p++) {
        int pass = llm__pre_passes[pre][p], n_out = 0, start = 0;
        for (i = 0; i < n_ends; i++) {
            int end = ends[i], pos = start, gap = start;
            while (pos < end) {
                int m = llm__pass_match(c, pos, end, pass);
                if (m <= 0) {
                    pos++;
                    continue;
                }
                if (pos > gap) tmp[n_out++] = pos;
                pos += m;
                tmp[n_out++] = pos;
                gap = pos;
            }
            if (gap < end) tmp[n_out++] = end;
            start = end;
        }
        memcpy(ends, tmp, sizeof(int) * (size_t)n_out);
        n_ends = n_out;
    }
    return n_ends;
}

/* Queues the merge of left and its right neighbour if a rule joins them. */
static int llm__bpe_try_pair(llm__tok_state *st, const char *word, int left, int right) {
    llm__bigram b;
    int rank;
    if (left < 0 || right < 0) return 1;
    rank = llm__bpe_rank(st->v, word + st->sym[left].off, (size_t)st->sym[left].n, word + st->sym[right].off,
                         (size_t)st->sym[right].n);
    if (rank < 0) return 1;
    b.left = left;
    b.right = right;
    b.size = st->sym[left].n + st->sym[right].n;
    b.score = -(float)rank; /* the heap takes the highest score: the lowest rank */
    return llm__heap_push(st, b);
}

/* Merges and emits one byte-encoded word of n bytes. */
static int llm__bpe_word(llm__tok_state *st, const char *word, int n) {
    const llm__vocab *v = st->v;
    llm__sym *sym;
    void *q;
    int n_sym = 0, i, k;
    llm_token id;
    if (v->ignore_merges && (id = llm__vocab_find(v, word, (size_t)n)) >= 0) {
        llm__tok_emit(st, id);
        return LLM_OK;
    }
    if (!(q = llm__grow(st->a, st->sym, &st->sym_cap, (size_t)n, sizeof(llm__sym)))) return LLM_ERR_NOMEM;
    sym = st->sym = (llm__sym *)q;
    for (i = 0; i < n;) {
        int l = llm__utf8_len((unsigned char)word[i]);
        if (l > n - i) l = n - i;
        sym[n_sym].prev = n_sym - 1;
        sym[n_sym].next = n_sym + 1;
        sym[n_sym].off = i;
        sym[n_sym].n = l;
        n_sym++;
        i += l;
    }
    sym[n_sym - 1].next = -1;
    st->heap_n = 0;
    for (i = 1; i < n_sym; i++)
        if (!llm__bpe_try_pair(st, word, i - 1, i)) return LLM_ERR_NOMEM;
    while (st->heap_n > 0) {
        llm__bigram b = llm__heap_pop(st);
        llm__sym *l = &sym[b.left], *rs = &sym[b.right];
        if (l->n == 0 || rs->n == 0 || l->n + rs->n != b.size) continue; /* stale */
        l->n += rs->n;
        rs->n = 0;
        l->next = rs->next;
        if (rs->next >= 0) sym[rs->next].prev = b.left;
        if (!llm__bpe_try_pair(st, word, l->prev, b.left) || !llm__bpe_try_pair(st, word, b.left, l->next))
            return LLM_ERR_NOMEM;
    }
    for (i = 0; i != -1; i = sym[i].next) {
        const char *s = word + sym[i].off;
        id = llm__vocab_find(v, s, (size_t)sym[i].n);
        if (id >= 0) {
            llm__tok_emit(st, id);
            continue;
        }
        for (k = 0; k < sym[i].n; k++)
            if ((id = llm__vocab_find(v, s + k, 1)) >= 0) llm__tok_emit(st, id);
    }
    return LLM_OK;
}

/* Tokenizes one text fragment with byte-level BPE (steps 2-4 above). */
static int llm__bpe_fragment(llm__tok_state *st, const char *text, int len) {
    const unsigned char *s = (const unsigned char *)text;
    llm__cps c;
    int *ends = NULL, *tmp = NULL, n_words, i, w, r = LLM_OK, start = 0;
    char *word = NULL;
    if (len <= 0) return LLM_OK;
    c.cp = (uint32_t *)llm__alloc_array(st->a, (size_t)len, sizeof(uint32_t));
    c.cls = (uint8_t *)llm__alloc_array(st->a, (size_t)len, 1);
    c.off = (int *)llm__alloc_array(st->a, (size_t)len + 1, sizeof(int));
    ends = (int *)llm__alloc_array(st->a, (size_t)len, sizeof(int));
    tmp = (int *)llm__alloc_array(st->a, (size_t)len, sizeof(int));
    word = (char *)llm__malloc(st->a, (size_t)len * 2);
    if (!c.cp || !c.cls || !c.off || !ends || !tmp || !word) {
        r = LLM_ERR_NOMEM;
        goto done;
    }
    for (i = 0, c.n = 0; i < len; c.n++) {
        int l;
        int32_t cp = llm__utf8_decode(s + i, (size_t)(len - i), &l);
        c.cp[c.n] = cp < 0 ? 0xFFFDu : (uint32_t)cp;
        c.cls[c.n] = (uint8_t)llm__unicode_class(c.cp[c.n]);
        c.off[c.n] = i;
        i += l;
    }
    c.off[c.n] = len;
    n_words = llm__pretokenize(&c, st->v->pre, ends, tmp);
    for (w = 0; w < n_words; w++) {
        int n = 0, b;
        for (b = c.off[start]; b < c.off[ends[w]]; b++) {
            uint32_t u = llm__bpe_byte_cp(s[b]);
            if (u < 0x80) word[n++] = (char)u;
            else word[n++] = (char)(0xC0 | (u >> 6)), word[n++] = (char)(0x80 | (u & 0x3F));
        }
        start = ends[w];
        if (n > 0 && (r = llm__bpe_word(st, word, n)) != LLM_OK) goto done;
    }
done:
    llm__free(st->a, c.cp);
    llm__free(st->a, c.cls);
    llm__free(st->a, c.off);
    llm__free(st->a, ends);
    llm__free(st->a, tmp);
    llm__free(st->a, word);
    return r;
}

/* Splits fragment list *frags around every occurrence of special token t in its text
   fragments (step 1 above). Returns 0 when out of memory. */
static int llm__split_special(const llm_allocator *a, const char *text, llm__frag **frags, int *n_frags,
                              const char *s, int s_len, llm_token t) {
    llm__frag *out = NULL;
    void *q;
    size_t cap_out = 0;
    int n_out = 0, i;
    for (i = 0; i < *n_frags; i++) {
        llm__frag f = (*frags)[i];
        int pos, end;
        if (f.tok >= 0) {
            if (!(q = llm__grow(a, out, &cap_out, (size_t)n_out + 1, sizeof(llm__frag)))) goto nomem;
            out = (llm__frag *)q;
            out[n_out++] = f;
            continue;
        }
        pos = f.off;
        end = f.off + f.len;
        for (;;) {
            ptrdiff_t m = llm__find(text + pos, (size_t)(end - pos), s, (size_t)s_len);
            if (!(q = llm__grow(a, out, &cap_out, (size_t)n_out + 2, sizeof(llm__frag)))) goto nomem;
            out = (llm__frag *)q;
            if (m < 0) {
                if (end > pos) {
                    out[n_out].off = pos, out[n_out].len = end - pos, out[n_out].tok = -1;
                    n_out++;
                }
                break;
            }
            if (m > 0) {
                out[n_out].off = pos, out[n_out].len = (int)m, out[n_out].tok = -1;
                n_out++;
            }
            out[n_out].off = pos + (int)m, out[n_out].len = s_len, out[n_out].tok = t;
            n_out++;
            pos += (int)m + s_len;
        }
    }
    llm__free(a, *frags);
    *frags = out;
    *n_frags = n_out;
    return 1;
nomem:
    llm__free(a, out);
    return 0;
}

/* llm_tokenize: the token count (also beyond max; only max are written) or a negative
   llm_result. Scratch memory comes from a and is freed before returning. Inputs over
   INT_MAX / 4 bytes are refused (LLM_ERR_ARG) so that offsets fit in an int. */
static int llm__vocab_tokenize(const llm__vocab *v, const llm_allocator *a, const char *text, size_t len,
                               llm_token *out, int max, int flags) {
    llm__tok_state st;
    llm__frag *frags = NULL;
    uint8_t *pairs = NULL; /* bit (b0 << 8 | b1): the byte pair b0 b1 occurs in the text */
    int n_frags = 0, i, r = LLM_OK, max_frag = 0, prev_special = 1;
    int parse_special = (flags & LLM_TOKENIZE_PARSE_SPECIAL) != 0;

    if (!v || (!text && len > 0) || max < 0 || (!out && max > 0)) return LLM_ERR_ARG;
    if ((v->kind != LLM__VOCAB_SPM && v->kind != LLM__VOCAB_BPE) || !v->hash) return LLM_ERR_UNSUPPORTED;
    /* Offsets are ints, and an escaped fragment is at most 3 bytes per input byte plus 3. */
    if (len > (size_t)(INT_MAX / 4)) return LLM_ERR_ARG;
    memset(&st, 0, sizeof st);
    st.v = v;
    st.a = a;
    st.out = out;
    st.max = max;

    if ((flags & LLM_TOKENIZE_ADD_SPECIAL) && v->add_bos && v->bos != LLM_TOKEN_NULL) llm__tok_emit(&st, v->bos);

    if (len > 0) {
        frags = (llm__frag *)llm__alloc_array(a, 1, sizeof(llm__frag));
        if (!frags) return LLM_ERR_NOMEM;
        frags[0].off = 0, frags[0].len = (int)len, frags[0].tok = -1;
        n_frags = 1;

        /* Special tokens. A table of the byte pairs present lets most of them be skipped
           without a search (a token's first two bytes must occur somewhere). */
        if (v->n_special > 0) {
            pairs = (uint8_t *)llm__alloc_array(a, 65536 / 8, 1);
            if (!pairs) {
                r = LLM_ERR_NOMEM;
                goto done;
            }
            for (i = 0; i + 1 < (int)len; i++) {
                unsigned k = (unsigned)(unsigned char)text[i] << 8 | (unsigned char)text[i + 1];
                pairs[k >> 3] |= (uint8_t)(1u << (k & 7));
            }
        }
        for (i = 0; i < v->n_special; i++) {
            llm_token t = v->special[i];
            const char *s = v->text[t];
            int s_len;
            if (!parse_special && v->type[t] != LLM__TOKEN_USER_DEFINED) continue;
            if ((size_t)v->text_len[t] > len) continue;
            s_len = (int)v->text_len[t];
            if (s_len >= 2) {
                unsigned k = (unsigned)(unsigned char)s[0] << 8 | (unsigned char)s[1];
                if (!(pairs[k >> 3] & (1u << (k & 7)))) continue;
            }
            if (llm__find(text, len, s, (size_t)s_len) < 0) continue;
            if (!llm__split_special(a, text, &frags, &n_frags, s, s_len, t)) {
                r = LLM_ERR_NOMEM;
                goto done;
            }
        }

        /* The escaped longest text fragment: 3 bytes per space, plus the prefix. Symbols and
           queued pairs grow as needed. */
        for (i = 0; i < n_frags; i++)
            if (frags[i].tok < 0 && frags[i].len > max_frag) max_frag = frags[i].len;
        if (max_frag > 0) {
            st.esc = (char *)llm__malloc(a, (size_t)max_frag * 3 + 3);
            if (!st.esc) {
                r = LLM_ERR_NOMEM;
                goto done;
            }
        }

        for (i = 0; i < n_frags; i++) {
            if (frags[i].tok >= 0) {
                llm__tok_emit(&st, frags[i].tok);
                prev_special = 1;
                continue;
            }
            if (v->kind == LLM__VOCAB_BPE)
                r = llm__bpe_fragment(&st, text + frags[i].off, frags[i].len);
            else
                r = llm__spm_fragment(&st, text + frags[i].off, frags[i].len, v->add_space_prefix && prev_special);
            if (r != LLM_OK) goto done;
            prev_special = 0;
        }
    }

    if ((flags & LLM_TOKENIZE_ADD_SPECIAL) && v->add_eos && v->eos != LLM_TOKEN_NULL) llm__tok_emit(&st, v->eos);

done:
    llm__free(a, frags);
    llm__free(a, pairs);
    llm__free(a, st.esc);
    llm__free(a, st.sym);
    llm__free(a, st.heap);
    if (r != LLM_OK) return r;
    if (st.count > (size_t)INT_MAX) return LLM_ERR_ARG;
    return (int)st.count;
}

/* ---- pieces and detokenizing ---------------------------------------------------------- */

/* Writes the bytes of token t into dst[0..cap) (what fits) and returns their full count.
   With strip, a leading ' ' is dropped (the space the tokenizer put in front). */
static size_t llm__piece_write(const llm__vocab *v, llm_token t, char *dst, size_t cap, int flags, int strip) {
    const char *s = v->text[t];
    size_t len = v->text_len[t], n = 0, i;
    int type = v->type[t];
    if (type == LLM__TOKEN_BYTE) {
        /* "<0xXX>": the two hex digits at offset 3 (as llama.cpp's token_to_byte). */
        unsigned b = 0;
        for (i = 3; i < 5 && i < len; i++) {
            char c = s[i];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16u;
            if (d == 16) break;
            b = b * 16 + d;
        }
        if (strip && b == ' ') return 0;
        if (cap > 0) dst[0] = (char)b;
        return 1;
    }
    if (v->kind == LLM__VOCAB_BPE && type == LLM__TOKEN_NORMAL) {
        /* Byte-level text: each code point back to its byte; others (not in a well-formed
           vocabulary) are copied as they are, where llama.cpp writes "[UNK_BYTE_0x..]". */
        for (i = 0; i < len;) {
            int l, b;
            int32_t cp = llm__utf8_decode((const unsigned char *)s + i, len - i, &l);
            b = cp < 0 ? -1 : llm__bpe_cp_byte((uint32_t)cp);
            if (b >= 0) {
                if (n < cap) dst[n] = (char)b;
                n++;
            } else {
                int k;
                for (k = 0; k < l; k++, n++)
                    if (n < cap) dst[n] = s[i + k];
            }
            i += (size_t)l;
        }
        return n;
    }
    if (type == LLM__TOKEN_CONTROL || type == LLM__TOKEN_UNKNOWN) {
        if (!(flags & LLM_PIECE_SPECIAL)) return 0;
    } else if (type != LLM__TOKEN_NORMAL && type != LLM__TOKEN_USER_DEFINED) {
        return 0; /* UNUSED and unknown types render nothing, as in llama.cpp */
    }
    for (i = 0; i < len; i++) {
        char c = s[i];
        /* Only normal tokens carry escaped spaces; special texts are copied as they are. */
        if (type == LLM__TOKEN_NORMAL && i + 2 < len && (unsigned char)c == 0xE2 && (unsigned char)s[i + 1] == 0x96 &&
            (unsigned char)s[i + 2] == 0x81) {
            c = ' ';
            i += 2;
        }
        if (strip) {
            strip = 0;
            if (c == ' ') continue;
        }
        if (n < cap) dst[n] = c;
        n++;
    }
    return n;
}

/* llm_token_to_piece: "▁" -> ' ', "<0xXX>" -> that byte, CONTROL and UNKNOWN texts only with
   LLM_PIECE_SPECIAL, USER_DEFINED texts as they are, UNUSED nothing (as llama.cpp's
   token_to_piece). snprintf-like: returns the full length, writes what fits, no NUL. */
static int llm__vocab_piece(const llm__vocab *v, llm_token t, char *buf, int size, int flags) {
    size_t n;
    if (!v || t < 0 || t >= v->n_vocab || size < 0 || (!buf && size > 0)) return LLM_ERR_ARG;
    n = llm__piece_write(v, t, buf, (size_t)size, flags, 0);
    return n > (size_t)INT_MAX ? LLM_ERR_FORMAT : (int)n;
}

/* llm_detokenize: the pieces joined, one leading space removed when the tokenizer adds them
   (unless LLM_DETOKENIZE_KEEP_PREFIX). snprintf-like: returns the full length and always
   NUL-terminates when size > 0, truncating if needed. */
static int llm__vocab_detokenize(const llm__vocab *v, const llm_token *tokens, int n, char *buf, int size, int flags) {
    int i = 0, strip, pflags = (flags & LLM_DETOKENIZE_SPECIAL) ? LLM_PIECE_SPECIAL : 0;
    size_t total = 0;
    if (!v || n < 0 || (!tokens && n > 0) || size < 0 || (!buf && size > 0)) return LLM_ERR_ARG;
    strip = v->add_space_prefix && !(flags & LLM_DETOKENIZE_KEEP_PREFIX);
    /* A leading BOS that is not rendered is skipped, so the space removal reaches the text.
       (llama.cpp keeps that space after a removed BOS; we want detokenize(tokenize(s)) == s
       whether or not BOS was added.) */
    if (!pflags && n > 0 && v->bos != LLM_TOKEN_NULL && tokens[0] == v->bos) i = 1;
    for (; i < n; i++) {
        llm_token t = tokens[i];
        size_t room = total < (size_t)size ? (size_t)size - total : 0;
        if (t < 0 || t >= v->n_vocab) return LLM_ERR_ARG;
        total += llm__piece_write(v, t, room ? buf + total : NULL, room, pflags, strip);
        strip = 0;
        if (total > (size_t)INT_MAX) return LLM_ERR_ARG;
    }
    if (size > 0) buf[total < (size_t)size ? total : (size_t)size - 1] = 0;
    return (int)total;
}

/* ==== sampling ==================================================================== >>sampling */
/* xoshiro256** seeded through splitmix64: the same seed gives the same draws on every
   platform (integer arithmetic only; the float is built from the top 24 bits). */
typedef struct llm__rng {
    uint64_t s[4];
} llm__rng;

static uint64_t llm__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void llm__rng_seed(llm__rng *r, uint64_t seed) {
    int i;
    for (i = 0; i < 4; i++) r->s[i] = llm__splitmix64(&seed);
}
static uint64_t llm__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t llm__rng_next(llm__rng *r) {
    uint64_t *s = r->s, out = llm__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = llm__rotl(s[3], 45);
    return out;
}
/* Uniform in [0, 1). */
static float llm__rng_float(llm__rng *r) { return (float)(llm__rng_next(r) >> 40) * (1.0f / 16777216.0f); }

typedef struct llm__cand {
    llm_token id;
    float logit, p;
} llm__cand;

struct llm_sampler {
    const llm_model *model;
    llm_sampler_params p;
    llm__rng rng;
    llm__cand *cand;   /* [n_vocab] */
    int32_t *count;    /* [n_vocab], zero between calls */
    llm_token *hist;   /* ring of the last penalty_last_n tokens */
    int hist_n, hist_pos;
};

LLMDEF llm_sampler_params llm_sampler_default_params(void) {
    llm_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.penalty_last_n = 64;
    return p;
}

LLMDEF void llm_sampler_free(llm_sampler *s) {
    const llm_allocator *a;
    if (!s) return;
    a = &s->model->alloc;
    llm__free(a, s->cand);
    llm__free(a, s->count);
    llm__free(a, s->hist);
    llm__free(a, s);
}

LLMDEF llm_sampler *llm_sampler_new(const llm_model *m, const llm_sampler_params *p) {
    llm_sampler *s;
    llm_sampler_params d;
    if (!m) return NULL;
    memset(&d, 0, sizeof d);
    s = (llm_sampler *)llm__alloc_array(&m->alloc, 1, sizeof *s);
    if (!s) return NULL;
    s->model = m;
    s->p = p ? *p : d;
    if (s->p.penalty_last_n <= 0) s->p.penalty_last_n = 64;
    if (s->p.penalty_last_n > 1 << 16) s->p.penalty_last_n = 1 << 16;
    s->cand = (llm__cand *)llm__alloc_array(&m->alloc, (size_t)m->vocab.n_vocab, sizeof(llm__cand));
    s->count = (int32_t *)llm__alloc_array(&m->alloc, (size_t)m->vocab.n_vocab, sizeof(int32_t));
    s->hist = (llm_token *)llm__alloc_array(&m->alloc, (size_t)s->p.penalty_last_n, sizeof(llm_token));
    if (!s->cand || !s->count || !s->hist) {
        llm_sampler_free(s);
        return NULL;
    }
    llm_sampler_reset(s);
    return s;
}

LLMDEF void llm_sampler_reset(llm_sampler *s) {
    s->hist_n = s->hist_pos = 0;
    llm__rng_seed(&s->rng, s->p.seed ? s->p.seed : 0x5EED5EEDull);
}

LLMDEF void llm_sampler_accept(llm_sampler *s, llm_token t) {
    if (t < 0 || t >= s->model->vocab.n_vocab) return;
    s->hist[s->hist_pos] = t;
    s->hist_pos = (s->hist_pos + 1) % s->p.penalty_last_n;
    if (s->hist_n < s->p.penalty_last_n) s->hist_n++;
}

/* Larger logit first; the lower id wins a tie, so the order is total and deterministic. */
static int llm__cand_cmp(const void *a, const void *b) {
    const llm__cand *x = (const llm__cand *)a, *y = (const llm__cand *)b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Repetition (llama.cpp's rule: divide positive logits, multiply negative ones), frequency
   and presence penalties over the tokens in the history window. */
static void llm__sampler_penalize(llm_sampler *s, llm__cand *c) {
    float rp = s->p.repeat_penalty > 0.0f ? s->p.repeat_penalty : 1.0f;
    int i;
    if (rp == 1.0f && s->p.frequency_penalty == 0.0f && s->p.presence_penalty == 0.0f) return;
    for (i = 0; i < s->hist_n; i++) s->count[s->hist[i]]++;
    for (i = 0; i < s->hist_n; i++) {
        llm_token t = s->hist[i];
        int n = s->count[t];
        if (n == 0) continue; /* already applied */
        c[t].logit = c[t].logit > 0.0f ? c[t].logit / rp : c[t].logit * rp;
        c[t].logit -= (float)n * s->p.frequency_penalty + s->p.presence_penalty;
        s->count[t] = 0;
    }
}

/* p = softmax(logit / temp) over the first n candidates (sorted, so [0] is the largest). */
static void llm__cand_softmax(llm__cand *c, int n, float temp) {
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - c[0].logit) / temp);
        sum += c[i].p;
    }
    for (i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
}

LLMDEF llm_token llm_sampler_sample(llm_sampler *s, const float *logits) {
    int nv = s->model->vocab.n_vocab, n = nv, i, best = 0;
    llm__cand *c = s->cand;
    float u, cum;
    for (i = 0; i < nv; i++) {
        c[i].id = i;
        c[i].logit = logits[i];
        c[i].p = 0.0f;
    }
    llm__sampler_penalize(s, c);
    if (!(s->p.temperature > 0.0f)) { /* greedy: first of the largest */
        for (i = 1; i < nv; i++)
            if (c[i].logit > c[best].logit) best = i;
        return best;
    }
    qsort(c, (size_t)nv, sizeof *c, llm__cand_cmp);
    if (s->p.top_k > 0 && s->p.top_k < n) n = s->p.top_k;
    llm__cand_softmax(c, n, 1.0f);
    if (s->p.top_p > 0.0f && s->p.top_p < 1.0f) {
        for (i = 0, cum = 0.0f; i < n; i++) {
            cum += c[i].p;
            if (cum >= s->p.top_p) break;
        }
        if (i + 1 < n) n = i + 1;
    }
    if (s->p.min_p > 0.0f) {
        for (i = 1; i < n && c[i].p >= s->p.min_p * c[0].p; i++) {
        }
        n = i;
    }
    llm__cand_softmax(c, n, s->p.temperature);
    u = llm__rng_float(&s->rng);
    for (i = 0, cum = 0.0f; i < n - 1; i++) {
        cum += c[i].p;
        if (u < cum) break;
    }
    return c[i].id;
}

/* ==== generation ================================================================== >>generate */
LLMDEF int llm_tokenize(const llm_model *m, const char *text, size_t len, llm_token *out, int max, int flags) {
    if (!m || (!text && len) || max < 0 || (max > 0 && !out)) return LLM_ERR_ARG;
    return llm__vocab_tokenize(&m->vocab, &m->alloc, text ? text : "", len, out, max, flags);
}
LLMDEF int llm_token_to_piece(const llm_model *m, llm_token t, char *buf, int size, int flags) {
    if (!m || size < 0 || (size > 0 && !buf)) return LLM_ERR_ARG;
    return llm__vocab_piece(&m->vocab, t, buf, size, flags);
}
LLMDEF int llm_detokenize(const llm_model *m, const llm_token *tokens, int n, char *buf, int size, int flags) {
    if (!m || n < 0 || (n > 0 && !tokens) || size < 0 || (size > 0 && !buf)) return LLM_ERR_ARG;
    return llm__vocab_detokenize(&m->vocab, tokens, n, buf, size, flags);
}
LLMDEF llm_token llm_token_bos(const llm_model *m) { return m->vocab.bos; }
LLMDEF llm_token llm_token_eos(const llm_model *m) { return m->vocab.eos; }
LLMDEF llm_token llm_token_unk(const llm_model *m) { return m->vocab.unk; }
LLMDEF int llm_model_add_bos(const llm_model *m) { return m->vocab.add_bos; }
LLMDEF int llm_token_is_eog(const llm_model *m, llm_token t) {
    return t >= 0 && t < m->vocab.n_vocab && m->vocab.is_eog && m->vocab.is_eog[t];
}
LLMDEF int llm_token_is_control(const llm_model *m, llm_token t) {
    return t >= 0 && t < m->vocab.n_vocab && m->vocab.type[t] == LLM__TOKEN_CONTROL;
}
LLMDEF const char *llm_token_text(const llm_model *m, llm_token t) {
    return t >= 0 && t < m->vocab.n_vocab ? m->vocab.text[t] : NULL;
}

LLMDEF llm_generate_params llm_generate_default_params(void) {
    llm_generate_params g;
    memset(&g, 0, sizeof g);
    g.n_predict = 128;
    g.sampler = llm_sampler_default_params();
    return g;
}

/* Text on its way to the callback: held back while it may still become a stop string, or
   while it ends inside a UTF-8 character. */
typedef struct llm__outbuf {
    char *buf;
    size_t len, cap;
    const llm_generate_params *g;
    llm_on_token cb;
    void *user;
    int stopped; /* the callback asked to stop, or a stop string was seen */
} llm__outbuf;

/* Bytes at the end of s[0..n) that start a UTF-8 character not yet complete. */
static size_t llm__utf8_incomplete_tail(const char *s, size_t n) {
    size_t i, k;
    for (i = 1; i <= 3 && i <= n; i++) {
        unsigned char b = (unsigned char)s[n - i];
        if ((b & 0xC0) == 0x80) continue;        /* continuation byte: look further back */
        k = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return k > i ? i : 0;
    }
    return 0;
}

static void llm__out_emit(llm__outbuf *o, llm_token t, size_t n) {
    if (n == 0) return;
    if (o->cb && !o->stopped && o->cb(t, o->buf, (int)n, o->user)) o->stopped = 1;
    memmove(o->buf, o->buf + n, o->len - n);
    o->len -= n;
}

/* Adds a piece, emits what is safe. final: flush everything that is not a stop string. */
static void llm__out_add(llm__outbuf *o, llm_token t, const char *piece, size_t n, int final) {
    size_t keep = 0, i, k;
    int s;
    if (n > o->cap - o->len) n = o->cap - o->len; /* cannot happen: cap covers the longest piece */
    memcpy(o->buf + o->len, piece, n);
    o->len += n;
    for (s = 0; s < o->g->n_stop; s++) {
        const char *st = o->g->stop[s];
        size_t sl = st ? strlen(st) : 0;
        if (sl == 0) continue;
        for (i = 0; i + sl <= o->len; i++)
            if (memcmp(o->buf + i, st, sl) == 0) {
                llm__out_emit(o, t, i);
                o->len = 0;
                o->stopped = 1;
                return;
            }
        /* the longest suffix that begins this stop string */
        for (k = sl - 1; k > keep; k--)
            if (k <= o->len && memcmp(o->buf + o->len - k, st, k) == 0) {
                keep = k;
                break;
            }
    }
    if (final) keep = 0;
    else if (keep < o->len) {
        size_t u = llm__utf8_incomplete_tail(o->buf, o->len - keep);
        keep += u;
    }
    llm__out_emit(o, t, o->len - keep);
}

LLMDEF int llm_generate(llm_context *c, const char *prompt, const llm_generate_params *g, llm_on_token cb, void *user) {
    const llm_model *m = c->model;
    llm_generate_params d = llm_generate_default_params();
    llm_token *toks = NULL, t = 0;
    llm_sampler *smp = NULL;
    llm__outbuf o;
    int n_prompt, flags = 0, i, r = LLM_OK, n_gen = 0, max_piece = 0, s;
    size_t max_stop = 0;
    double t0, t1, t2;
    char piece[256];
    c->err[0] = 0;
    memset(&o, 0, sizeof o);
    if (!g) g = &d;
    if (!prompt) prompt = "";
    t0 = llm__now_ms();
    if (!g->no_bos && c->n_past == 0) flags |= LLM_TOKENIZE_ADD_SPECIAL;
    if (g->parse_special) flags |= LLM_TOKENIZE_PARSE_SPECIAL;
    n_prompt = llm_tokenize(m, prompt, strlen(prompt), NULL, 0, flags);
    if (n_prompt < 0) return llm__ctx_fail(c, n_prompt, "cannot tokenize the prompt");
    if (n_prompt == 0 && c->n_past == 0) return llm__ctx_fail(c, LLM_ERR_ARG, "empty prompt and empty context");
    if (n_prompt > c->n_ctx - c->n_past)
        return llm__ctx_fail(c, LLM_ERR_CONTEXT_FULL, "the prompt (%d tokens) does not fit in the context (%d of %d free)", n_prompt,
                             c->n_ctx - c->n_past, c->n_ctx);
    for (s = 0; s < g->n_stop; s++)
        if (g->stop && g->stop[s] && strlen(g->stop[s]) > max_stop) max_stop = strlen(g->stop[s]);
    for (i = 0; i < m->vocab.n_vocab; i++)
        if ((int)m->vocab.text_len[i] > max_piece) max_piece = (int)m->vocab.text_len[i];
    o.cap = max_stop + (size_t)max_piece + 16;
    o.buf = (char *)llm__malloc(&c->alloc, o.cap);
    toks = (llm_token *)llm__alloc_array(&c->alloc, (size_t)n_prompt + 1, sizeof(llm_token));
    smp = llm_sampler_new(m, &g->sampler);
    if (!o.buf || !toks || !smp) {
        r = llm__ctx_fail(c, LLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    o.g = g;
    o.cb = cb;
    o.user = user;
    llm_tokenize(m, prompt, strlen(prompt), toks, n_prompt, flags);
    for (i = 0; i < n_prompt; i += c->n_batch) {
        int n = n_prompt - i < c->n_batch ? n_prompt - i : c->n_batch;
        if ((r = llm_decode(c, toks + i, n, 0)) != LLM_OK) goto done;
    }
    for (i = 0; i < n_prompt; i++) llm_sampler_accept(smp, toks[i]);
    t1 = t2 = llm__now_ms();
    while (g->n_predict <= 0 || n_gen < g->n_predict) {
        int len;
        t = llm_sampler_sample(smp, llm_logits(c, -1));
        llm_sampler_accept(smp, t);
        n_gen++;
        if (n_gen == 1) t1 = llm__now_ms();
        if (llm_token_is_eog(m, t) && !g->ignore_eos) break;
        len = llm_token_to_piece(m, t, piece, (int)sizeof piece, g->render_special ? LLM_PIECE_SPECIAL : 0);
        if (len > (int)sizeof piece) { /* a long user-defined token: the outbuf has room for it */
            char *big = (char *)llm__malloc(&c->alloc, (size_t)len);
            if (big) {
                llm_token_to_piece(m, t, big, len, g->render_special ? LLM_PIECE_SPECIAL : 0);
                llm__out_add(&o, t, big, (size_t)len, 0);
                llm__free(&c->alloc, big);
            }
        } else if (len > 0) {
            llm__out_add(&o, t, piece, (size_t)len, 0);
        }
        if (o.stopped || (g->n_predict > 0 && n_gen >= g->n_predict)) break;
        if ((r = llm_decode(c, &t, 1, 0)) != LLM_OK) break;
    }
    t2 = llm__now_ms();
    llm__out_add(&o, t, "", 0, 1);
done:
    if (g->stats) {
        g->stats->n_prompt = n_prompt;
        g->stats->n_generated = n_gen;
        g->stats->prompt_ms = (n_gen ? t1 : llm__now_ms()) - t0;
        g->stats->generate_ms = n_gen > 1 ? t2 - t1 : 0.0;
    }
    llm_sampler_free(smp);
    llm__free(&c->alloc, toks);
    llm__free(&c->alloc, o.buf);
    return r;
}

/* ==== memory estimates ============================================================ >>estimate */
LLMDEF int llm_context_estimate(const llm_model *m, const llm_context_params *p, llm_memory_estimate *out) {
    llm_context_params d = llm_context_default_params();
    llm__ctx_sizes s;
    int r;
    memset(&s, 0, sizeof s);
    if (!m || !out) return LLM_ERR_ARG;
    if ((r = llm__ctx_resolve(m, p ? p : &d, &s, NULL, 0)) != LLM_OK) return r;
    out->weights_bytes = m->size_bytes;
    out->kv_bytes = s.kv_bytes;
    out->scratch_bytes = s.scratch_bytes;
    out->total_bytes = out->weights_bytes + out->kv_bytes + out->scratch_bytes;
    return LLM_OK;
}

/* ==== Unicode categories: generated by tools/gen_unicode.py, do not edit ====== >>unicode */
/* General category classes of every code point (Unicode 15.0.0) and White_Space, as ranges:
   entry = first code point << 4 | LLM__UC_* | (8 if white space); a range lasts until the next
   entry's start. Looked up by llm__unicode_class(). */
#define LLM__UNICODE_N_RANGES 2274
static const uint32_t llm__unicode_ranges[LLM__UNICODE_N_RANGES] = {
    0x0000007, 0x000009f, 0x00000e7, 0x000020e, 0x0000214, 0x0000245, 0x0000254, 0x00002b5, 0x00002c4, 0x0000301,
    0x00003a4, 0x00003c5, 0x00003f4, 0x0000412, 0x00005b4, 0x00005e5, 0x00005f4, 0x0000605, 0x0000612, 0x00007b4,
    0x00007c5, 0x00007d4, 0x00007e5, 0x00007f7, 0x000085f, 0x0000867, 0x0000a0e, 0x0000a14, 0x0000a25, 0x0000a74,
    0x0000a85, 0x0000aa2, 0x0000ab4, 0x0000ac5, 0x0000ad7, 0x0000ae5, 0x0000b21, 0x0000b45, 0x0000b52, 0x0000b64,
    0x0000b85, 0x0000b91, 0x0000ba2, 0x0000bb4, 0x0000bc1, 0x0000bf4, 0x0000c02, 0x0000d75, 0x0000d82, 0x0000f75,
    0x0000f82, 0x0002c25, 0x0002c62, 0x0002d25, 0x0002e02, 0x0002e55, 0x0002ec2, 0x0002ed5, 0x0002ee2, 0x0002ef5,
    0x0003003, 0x0003702, 0x0003755, 0x0003762, 0x0003780, 0x00037a2, 0x00037e4, 0x00037f2, 0x0003800, 0x0003845,
    0x0003862, 0x0003874, 0x0003882, 0x00038b0, 0x00038c2, 0x00038d0, 0x00038e2, 0x0003a20, 0x0003a32, 0x0003f65,
    0x0003f72, 0x0004825, 0x0004833, 0x00048a2, 0x0005300, 0x0005312, 0x0005570, 0x0005592, 0x00055a4, 0x0005602,
    0x0005894, 0x00058b0, 0x00058d5, 0x0005900, 0x0005913, 0x0005be4, 0x0005bf3, 0x0005c04, 0x0005c13, 0x0005c34,
    0x0005c43, 0x0005c64, 0x0005c73, 0x0005c80, 0x0005d02, 0x0005eb0, 0x0005ef2, 0x0005f34, 0x0005f50, 0x0006007,
    0x0006065, 0x0006094, 0x00060b5, 0x00060c4, 0x00060e5, 0x0006103, 0x00061b4, 0x00061c7, 0x00061d4, 0x0006202,
    0x00064b3, 0x0006601, 0x00066a4, 0x00066e2, 0x0006703, 0x0006712, 0x0006d44, 0x0006d52, 0x0006d63, 0x0006dd7,
    0x0006de5, 0x0006df3, 0x0006e52, 0x0006e73, 0x0006e95, 0x0006ea3, 0x0006ee2, 0x0006f01, 0x0006fa2, 0x0006fd5,
    0x0006ff2, 0x0007004, 0x00070e0, 0x00070f7, 0x0007102, 0x0007113, 0x0007122, 0x0007303, 0x00074b0, 0x00074d2,
    0x0007a63, 0x0007b12, 0x0007b20, 0x0007c01, 0x0007ca2, 0x0007eb3, 0x0007f42, 0x0007f65, 0x0007f74, 0x0007fa2,
    0x0007fb0, 0x0007fd3, 0x0007fe5, 0x0008002, 0x0008163, 0x00081a2, 0x00081b3, 0x0008242, 0x0008253, 0x0008282,
    0x0008293, 0x00082e0, 0x0008304, 0x00083f0, 0x0008402, 0x0008593, 0x00085c0, 0x00085e4, 0x00085f0, 0x0008602,
    0x00086b0, 0x0008702, 0x0008885, 0x0008892, 0x00088f0, 0x0008907, 0x0008920, 0x0008983, 0x0008a02, 0x0008ca3,
    0x0008e27, 0x0008e33, 0x0009042, 0x00093a3, 0x00093d2, 0x00093e3, 0x0009502, 0x0009513, 0x0009582, 0x0009623,
    0x0009644, 0x0009661, 0x0009704, 0x0009712, 0x0009813, 0x0009840, 0x0009852, 0x00098d0, 0x00098f2, 0x0009910,
    0x0009932, 0x0009a90, 0x0009aa2, 0x0009b10, 0x0009b22, 0x0009b30, 0x0009b62, 0x0009ba0, 0x0009bc3, 0x0009bd2,
    0x0009be3, 0x0009c50, 0x0009c73, 0x0009c90, 0x0009cb3, 0x0009ce2, 0x0009cf0, 0x0009d73, 0x0009d80, 0x0009dc2,
    0x0009de0, 0x0009df2, 0x0009e23, 0x0009e40, 0x0009e61, 0x0009f02, 0x0009f25, 0x0009f41, 0x0009fa5, 0x0009fc2,
    0x0009fd4, 0x0009fe3, 0x0009ff0, 0x000a013, 0x000a040, 0x000a052, 0x000a0b0, 0x000a0f2, 0x000a110, 0x000a132,
    0x000a290, 0x000a2a2, 0x000a310, 0x000a322, 0x000a340, 0x000a352, 0x000a370, 0x000a382, 0x000a3a0, 0x000a3c3,
    0x000a3d0, 0x000a3e3, 0x000a430, 0x000a473, 0x000a490, 0x000a4b3, 0x000a4e0, 0x000a513, 0x000a520, 0x000a592,
    0x000a5d0, 0x000a5e2, 0x000a5f0, 0x000a661, 0x000a703, 0x000a722, 0x000a753, 0x000a764, 0x000a770, 0x000a813,
    0x000a840, 0x000a852, 0x000a8e0, 0x000a8f2, 0x000a920, 0x000a932, 0x000aa90, 0x000aaa2, 0x000ab10, 0x000ab22,
    0x000ab40, 0x000ab52, 0x000aba0, 0x000abc3, 0x000abd2, 0x000abe3, 0x000ac60, 0x000ac73, 0x000aca0, 0x000acb3,
    0x000ace0, 0x000ad02, 0x000ad10, 0x000ae02, 0x000ae23, 0x000ae40, 0x000ae61, 0x000af04, 0x000af15, 0x000af20,
    0x000af92, 0x000afa3, 0x000b000, 0x000b013, 0x000b040, 0x000b052, 0x000b0d0, 0x000b0f2, 0x000b110, 0x000b132,
    0x000b290, 0x000b2a2, 0x000b310, 0x000b322, 0x000b340, 0x000b352, 0x000b3a0, 0x000b3c3, 0x000b3d2, 0x000b3e3,
    0x000b450, 0x000b473, 0x000b490, 0x000b4b3, 0x000b4e0, 0x000b553, 0x000b580, 0x000b5c2, 0x000b5e0, 0x000b5f2,
    0x000b623, 0x000b640, 0x000b661, 0x000b705, 0x000b712, 0x000b721, 0x000b780, 0x000b823, 0x000b832, 0x000b840,
    0x000b852, 0x000b8b0, 0x000b8e2, 0x000b910, 0x000b922, 0x000b960, 0x000b992, 0x000b9b0, 0x000b9c2, 0x000b9d0,
    0x000b9e2, 0x000ba00, 0x000ba32, 0x000ba50, 0x000ba82, 0x000bab0, 0x000bae2, 0x000bba0, 0x000bbe3, 0x000bc30,
    0x000bc63, 0x000bc90, 0x000bca3, 0x000bce0, 0x000bd02, 0x000bd10, 0x000bd73, 0x000bd80, 0x000be61, 0x000bf35,
    0x000bfb0, 0x000c003, 0x000c052, 0x000c0d0, 0x000c0e2, 0x000c110, 0x000c122, 0x000c290, 0x000c2a2, 0x000c3a0,
    0x000c3c3, 0x000c3d2, 0x000c3e3, 0x000c450, 0x000c463, 0x000c490, 0x000c4a3, 0x000c4e0, 0x000c553, 0x000c570,
    0x000c582, 0x000c5b0, 0x000c5d2, 0x000c5e0, 0x000c602, 0x000c623, 0x000c640, 0x000c661, 0x000c700, 0x000c774,
    0x000c781, 0x000c7f5, 0x000c802, 0x000c813, 0x000c844, 0x000c852, 0x000c8d0, 0x000c8e2, 0x000c910, 0x000c922,
    0x000ca90, 0x000caa2, 0x000cb40, 0x000cb52, 0x000cba0, 0x000cbc3, 0x000cbd2, 0x000cbe3, 0x000cc50, 0x000cc63,
    0x000cc90, 0x000cca3, 0x000cce0, 0x000cd53, 0x000cd70, 0x000cdd2, 0x000cdf0, 0x000ce02, 0x000ce23, 0x000ce40,
    0x000ce61, 0x000cf00, 0x000cf12, 0x000cf33, 0x000cf40, 0x000d003, 0x000d042, 0x000d0d0, 0x000d0e2, 0x000d110,
    0x000d122, 0x000d3b3, 0x000d3d2, 0x000d3e3, 0x000d450, 0x000d463, 0x000d490, 0x000d4a3, 0x000d4e2, 0x000d4f5,
    0x000d500, 0x000d542, 0x000d573, 0x000d581, 0x000d5f2, 0x000d623, 0x000d640, 0x000d661, 0x000d795, 0x000d7a2,
    0x000d800, 0x000d813, 0x000d840, 0x000d852, 0x000d970, 0x000d9a2, 0x000db20, 0x000db32, 0x000dbc0, 0x000dbd2,
    0x000dbe0, 0x000dc02, 0x000dc70, 0x000dca3, 0x000dcb0, 0x000dcf3, 0x000dd50, 0x000dd63, 0x000dd70, 0x000dd83,
    0x000de00, 0x000de61, 0x000df00, 0x000df23, 0x000df44, 0x000df50, 0x000e012, 0x000e313, 0x000e322, 0x000e343,
    0x000e3b0, 0x000e3f5, 0x000e402, 0x000e473, 0x000e4f4, 0x000e501, 0x000e5a4, 0x000e5c0, 0x000e812, 0x000e830,
    0x000e842, 0x000e850, 0x000e862, 0x000e8b0, 0x000e8c2, 0x000ea40, 0x000ea52, 0x000ea60, 0x000ea72, 0x000eb13,
    0x000eb22, 0x000eb43, 0x000ebd2, 0x000ebe0, 0x000ec02, 0x000ec50, 0x000ec62, 0x000ec70, 0x000ec83, 0x000ecf0,
    0x000ed01, 0x000eda0, 0x000edc2, 0x000ee00, 0x000f002, 0x000f015, 0x000f044, 0x000f135, 0x000f144, 0x000f155,
    0x000f183, 0x000f1a5, 0x000f201, 0x000f345, 0x000f353, 0x000f365, 0x000f373, 0x000f385, 0x000f393, 0x000f3a4,
    0x000f3e3, 0x000f402, 0x000f480, 0x000f492, 0x000f6d0, 0x000f713, 0x000f854, 0x000f863, 0x000f882, 0x000f8d3,
    0x000f980, 0x000f993, 0x000fbd0, 0x000fbe5, 0x000fc63, 0x000fc75, 0x000fcd0, 0x000fce5, 0x000fd04, 0x000fd55,
    0x000fd94, 0x000fdb0, 0x0010002, 0x00102b3, 0x00103f2, 0x0010401, 0x00104a4, 0x0010502, 0x0010563, 0x00105a2,
    0x00105e3, 0x0010612, 0x0010623, 0x0010652, 0x0010673, 0x00106e2, 0x0010713, 0x0010752, 0x0010823, 0x00108e2,
    0x00108f3, 0x0010901, 0x00109a3, 0x00109e5, 0x0010a02, 0x0010c60, 0x0010c72, 0x0010c80, 0x0010cd2, 0x0010ce0,
    0x0010d02, 0x0010fb4, 0x0010fc2, 0x0012490, 0x00124a2, 0x00124e0, 0x0012502, 0x0012570, 0x0012582, 0x0012590,
    0x00125a2, 0x00125e0, 0x0012602, 0x0012890, 0x00128a2, 0x00128e0, 0x0012902, 0x0012b10, 0x0012b22, 0x0012b60,
    0x0012b82, 0x0012bf0, 0x0012c02, 0x0012c10, 0x0012c22, 0x0012c60, 0x0012c82, 0x0012d70, 0x0012d82, 0x0013110,
    0x0013122, 0x0013160, 0x0013182, 0x00135b0, 0x00135d3, 0x0013604, 0x0013691, 0x00137d0, 0x0013802, 0x0013905,
    0x00139a0, 0x0013a02, 0x0013f60, 0x0013f82, 0x0013fe0, 0x0014004, 0x0014012, 0x00166d5, 0x00166e4, 0x00166f2,
    0x001680e, 0x0016812, 0x00169b4, 0x00169d0, 0x0016a02, 0x0016eb4, 0x0016ee1, 0x0016f12, 0x0016f90, 0x0017002,
    0x0017123, 0x0017160, 0x00171f2, 0x0017323, 0x0017354, 0x0017370, 0x0017402, 0x0017523, 0x0017540, 0x0017602,
    0x00176d0, 0x00176e2, 0x0017710, 0x0017723, 0x0017740, 0x0017802, 0x0017b43, 0x0017d44, 0x0017d72, 0x0017d84,
    0x0017db5, 0x0017dc2, 0x0017dd3, 0x0017de0, 0x0017e01, 0x0017ea0, 0x0017f01, 0x0017fa0, 0x0018004, 0x00180b3,
    0x00180e7, 0x00180f3, 0x0018101, 0x00181a0, 0x0018202, 0x0018790, 0x0018802, 0x0018853, 0x0018872, 0x0018a93,
    0x0018aa2, 0x0018ab0, 0x0018b02, 0x0018f60, 0x0019002, 0x00191f0, 0x0019203, 0x00192c0, 0x0019303, 0x00193c0,
    0x0019405, 0x0019410, 0x0019444, 0x0019461, 0x0019502, 0x00196e0, 0x0019702, 0x0019750, 0x0019802, 0x0019ac0,
    0x0019b02, 0x0019ca0, 0x0019d01, 0x0019db0, 0x0019de5, 0x001a002, 0x001a173, 0x001a1c0, 0x001a1e4, 0x001a202,
    0x001a553, 0x001a5f0, 0x001a603, 0x001a7d0, 0x001a7f3, 0x001a801, 0x001a8a0, 0x001a901, 0x001a9a0, 0x001aa04,
    0x001aa72, 0x001aa84, 0x001aae0, 0x001ab03, 0x001acf0, 0x001b003, 0x001b052, 0x001b343, 0x001b452, 0x001b4d0,
    0x001b501, 0x001b5a4, 0x001b615, 0x001b6b3, 0x001b745, 0x001b7d4, 0x001b7f0, 0x001b803, 0x001b832, 0x001ba13,
    0x001bae2, 0x001bb01, 0x001bba2, 0x001be63, 0x001bf40, 0x001bfc4, 0x001c002, 0x001c243, 0x001c380, 0x001c3b4,
    0x001c401, 0x001c4a0, 0x001c4d2, 0x001c501, 0x001c5a2, 0x001c7e4, 0x001c802, 0x001c890, 0x001c902, 0x001cbb0,
    0x001cbd2, 0x001cc04, 0x001cc80, 0x001cd03, 0x001cd34, 0x001cd43, 0x001ce92, 0x001ced3, 0x001cee2, 0x001cf43,
    0x001cf52, 0x001cf73, 0x001cfa2, 0x001cfb0, 0x001d002, 0x001dc03, 0x001e002, 0x001f160, 0x001f182, 0x001f1e0,
    0x001f202, 0x001f460, 0x001f482, 0x001f4e0, 0x001f502, 0x001f580, 0x001f592, 0x001f5a0, 0x001f5b2, 0x001f5c0,
    0x001f5d2, 0x001f5e0, 0x001f5f2, 0x001f7e0, 0x001f802, 0x001fb50, 0x001fb62, 0x001fbd5, 0x001fbe2, 0x001fbf5,
    0x001fc22, 0x001fc50, 0x001fc62, 0x001fcd5, 0x001fd02, 0x001fd40, 0x001fd62, 0x001fdc0, 0x001fdd5, 0x001fe02,
    0x001fed5, 0x001ff00, 0x001ff22, 0x001ff50, 0x001ff62, 0x001ffd5, 0x001fff0, 0x002000e, 0x00200b7, 0x0020104,
    0x002028e, 0x00202a7, 0x00202fe, 0x0020304, 0x0020445, 0x0020454, 0x0020525, 0x0020534, 0x00205fe, 0x0020607,
    0x0020650, 0x0020667, 0x0020701, 0x0020712, 0x0020720, 0x0020741, 0x00207a5, 0x00207d4, 0x00207f2, 0x0020801,
    0x00208a5, 0x00208d4, 0x00208f0, 0x0020902, 0x00209d0, 0x0020a05, 0x0020c10, 0x0020d03, 0x0020f10, 0x0021005,
    0x0021022, 0x0021035, 0x0021072, 0x0021085, 0x00210a2, 0x0021145, 0x0021152, 0x0021165, 0x0021192, 0x00211e5,
    0x0021242, 0x0021255, 0x0021262, 0x0021275, 0x0021282, 0x0021295, 0x00212a2, 0x00212e5, 0x00212f2, 0x00213a5,
    0x00213c2, 0x0021405, 0x0021452, 0x00214a5, 0x00214e2, 0x00214f5, 0x0021501, 0x0021832, 0x0021851, 0x00218a5,
    0x00218c0, 0x0021905, 0x0023084, 0x00230c5, 0x0023294, 0x00232b5, 0x0024270, 0x0024405, 0x00244b0, 0x0024601,
    0x00249c5, 0x0024ea1, 0x0025005, 0x0027684, 0x0027761, 0x0027945, 0x0027c54, 0x0027c75, 0x0027e64, 0x0027f05,
    0x0029834, 0x0029995, 0x0029d84, 0x0029dc5, 0x0029fc4, 0x0029fe5, 0x002b740, 0x002b765, 0x002b960, 0x002b975,
    0x002c002, 0x002ce55, 0x002ceb2, 0x002cef3, 0x002cf22, 0x002cf40, 0x002cf94, 0x002cfd1, 0x002cfe4, 0x002d002,
    0x002d260, 0x002d272, 0x002d280, 0x002d2d2, 0x002d2e0, 0x002d302, 0x002d680, 0x002d6f2, 0x002d704, 0x002d710,
    0x002d7f3, 0x002d802, 0x002d970, 0x002da02, 0x002da70, 0x002da82, 0x002daf0, 0x002db02, 0x002db70, 0x002db82,
    0x002dbf0, 0x002dc02, 0x002dc70, 0x002dc82, 0x002dcf0, 0x002dd02, 0x002dd70, 0x002dd82, 0x002ddf0, 0x002de03,
    0x002e004, 0x002e2f2, 0x002e304, 0x002e505, 0x002e524, 0x002e5e0, 0x002e805, 0x002e9a0, 0x002e9b5, 0x002ef40,
    0x002f005, 0x002fd60, 0x002ff05, 0x002ffc0, 0x003000e, 0x0030014, 0x0030045, 0x0030052, 0x0030071, 0x0030084,
    0x0030125, 0x0030144, 0x0030205, 0x0030211, 0x00302a3, 0x0030304, 0x0030312, 0x0030365, 0x0030381, 0x00303b2,
    0x00303d4, 0x00303e5, 0x0030400, 0x0030412, 0x0030970, 0x0030993, 0x00309b5, 0x00309d2, 0x0030a04, 0x0030a12,
    0x0030fb4, 0x0030fc2, 0x0031000, 0x0031052, 0x0031300, 0x0031312, 0x00318f0, 0x0031905, 0x0031921, 0x0031965,
    0x0031a02, 0x0031c05, 0x0031e40, 0x0031f02, 0x0032005, 0x00321f0, 0x0032201, 0x00322a5, 0x0032481, 0x0032505,
    0x0032511, 0x0032605, 0x0032801, 0x00328a5, 0x0032b11, 0x0032c05, 0x0034002, 0x004dc05, 0x004e002, 0x00a48d0,
    0x00a4905, 0x00a4c70, 0x00a4d02, 0x00a4fe4, 0x00a5002, 0x00a60d4, 0x00a6102, 0x00a6201, 0x00a62a2, 0x00a62c0,
    0x00a6402, 0x00a66f3, 0x00a6734, 0x00a6743, 0x00a67e4, 0x00a67f2, 0x00a69e3, 0x00a6a02, 0x00a6e61, 0x00a6f03,
    0x00a6f24, 0x00a6f80, 0x00a7005, 0x00a7172, 0x00a7205, 0x00a7222, 0x00a7895, 0x00a78b2, 0x00a7cb0, 0x00a7d02,
    0x00a7d20, 0x00a7d32, 0x00a7d40, 0x00a7d52, 0x00a7da0, 0x00a7f22, 0x00a8023, 0x00a8032, 0x00a8063, 0x00a8072,
    0x00a80b3, 0x00a80c2, 0x00a8233, 0x00a8285, 0x00a82c3, 0x00a82d0, 0x00a8301, 0x00a8365, 0x00a83a0, 0x00a8402,
    0x00a8744, 0x00a8780, 0x00a8803, 0x00a8822, 0x00a8b43, 0x00a8c60, 0x00a8ce4, 0x00a8d01, 0x00a8da0, 0x00a8e03,
    0x00a8f22, 0x00a8f84, 0x00a8fb2, 0x00a8fc4, 0x00a8fd2, 0x00a8ff3, 0x00a9001, 0x00a90a2, 0x00a9263, 0x00a92e4,
    0x00a9302, 0x00a9473, 0x00a9540, 0x00a95f4, 0x00a9602, 0x00a97d0, 0x00a9803, 0x00a9842, 0x00a9b33, 0x00a9c14,
    0x00a9ce0, 0x00a9cf2, 0x00a9d01, 0x00a9da0, 0x00a9de4, 0x00a9e02, 0x00a9e53, 0x00a9e62, 0x00a9f01, 0x00a9fa2,
    0x00a9ff0, 0x00aa002, 0x00aa293, 0x00aa370, 0x00aa402, 0x00aa433, 0x00aa442, 0x00aa4c3, 0x00aa4e0, 0x00aa501,
    0x00aa5a0, 0x00aa5c4, 0x00aa602, 0x00aa775, 0x00aa7a2, 0x00aa7b3, 0x00aa7e2, 0x00aab03, 0x00aab12, 0x00aab23,
    0x00aab52, 0x00aab73, 0x00aab92, 0x00aabe3, 0x00aac02, 0x00aac13, 0x00aac22, 0x00aac30, 0x00aadb2, 0x00aade4,
    0x00aae02, 0x00aaeb3, 0x00aaf04, 0x00aaf22, 0x00aaf53, 0x00aaf70, 0x00ab012, 0x00ab070, 0x00ab092, 0x00ab0f0,
    0x00ab112, 0x00ab170, 0x00ab202, 0x00ab270, 0x00ab282, 0x00ab2f0, 0x00ab302, 0x00ab5b5, 0x00ab5c2, 0x00ab6a5,
    0x00ab6c0, 0x00ab702, 0x00abe33, 0x00abeb4, 0x00abec3, 0x00abee0, 0x00abf01, 0x00abfa0, 0x00ac002, 0x00d7a40,
    0x00d7b02, 0x00d7c70, 0x00d7cb2, 0x00d7fc0, 0x00d8007, 0x00f9002, 0x00fa6e0, 0x00fa702, 0x00fada0, 0x00fb002,
    0x00fb070, 0x00fb132, 0x00fb180, 0x00fb1d2, 0x00fb1e3, 0x00fb1f2, 0x00fb295, 0x00fb2a2, 0x00fb370, 0x00fb382,
    0x00fb3d0, 0x00fb3e2, 0x00fb3f0, 0x00fb402, 0x00fb420, 0x00fb432, 0x00fb450, 0x00fb462, 0x00fbb25, 0x00fbc30,
    0x00fbd32, 0x00fd3e4, 0x00fd405, 0x00fd502, 0x00fd900, 0x00fd922, 0x00fdc80, 0x00fdcf5, 0x00fdd00, 0x00fdf02,
    0x00fdfc5, 0x00fe003, 0x00fe104, 0x00fe1a0, 0x00fe203, 0x00fe304, 0x00fe530, 0x00fe544, 0x00fe625, 0x00fe634,
    0x00fe645, 0x00fe670, 0x00fe684, 0x00fe695, 0x00fe6a4, 0x00fe6c0, 0x00fe702, 0x00fe750, 0x00fe762, 0x00fefd0,
    0x00feff7, 0x00ff000, 0x00ff014, 0x00ff045, 0x00ff054, 0x00ff0b5, 0x00ff0c4, 0x00ff101, 0x00ff1a4, 0x00ff1c5,
    0x00ff1f4, 0x00ff212, 0x00ff3b4, 0x00ff3e5, 0x00ff3f4, 0x00ff405, 0x00ff412, 0x00ff5b4, 0x00ff5c5, 0x00ff5d4,
    0x00ff5e5, 0x00ff5f4, 0x00ff662, 0x00ffbf0, 0x00ffc22, 0x00ffc80, 0x00ffca2, 0x00ffd00, 0x00ffd22, 0x00ffd80,
    0x00ffda2, 0x00ffdd0, 0x00ffe05, 0x00ffe70, 0x00ffe85, 0x00ffef0, 0x00fff97, 0x00fffc5, 0x00fffe0, 0x0100002,
    0x01000c0, 0x01000d2, 0x0100270, 0x0100282, 0x01003b0, 0x01003c2, 0x01003e0, 0x01003f2, 0x01004e0, 0x0100502,
    0x01005e0, 0x0100802, 0x0100fb0, 0x0101004, 0x0101030, 0x0101071, 0x0101340, 0x0101375, 0x0101401, 0x0101795,
    0x01018a1, 0x01018c5, 0x01018f0, 0x0101905, 0x01019d0, 0x0101a05, 0x0101a10, 0x0101d05, 0x0101fd3, 0x0101fe0,
    0x0102802, 0x01029d0, 0x0102a02, 0x0102d10, 0x0102e03, 0x0102e11, 0x0102fc0, 0x0103002, 0x0103201, 0x0103240,
    0x01032d2, 0x0103411, 0x0103422, 0x01034a1, 0x01034b0, 0x0103502, 0x0103763, 0x01037b0, 0x0103802, 0x01039e0,
    0x01039f4, 0x0103a02, 0x0103c40, 0x0103c82, 0x0103d04, 0x0103d11, 0x0103d60, 0x0104002, 0x01049e0, 0x0104a01,
    0x0104aa0, 0x0104b02, 0x0104d40, 0x0104d82, 0x0104fc0, 0x0105002, 0x0105280, 0x0105302, 0x0105640, 0x01056f4,
    0x0105702, 0x01057b0, 0x01057c2, 0x01058b0, 0x01058c2, 0x0105930, 0x0105942, 0x0105960, 0x0105972, 0x0105a20,
    0x0105a32, 0x0105b20, 0x0105b32, 0x0105ba0, 0x0105bb2, 0x0105bd0, 0x0106002, 0x0107370, 0x0107402, 0x0107560,
    0x0107602, 0x0107680, 0x0107802, 0x0107860, 0x0107872, 0x0107b10, 0x0107b22, 0x0107bb0, 0x0108002, 0x0108060,
    0x0108082, 0x0108090, 0x01080a2, 0x0108360, 0x0108372, 0x0108390, 0x01083c2, 0x01083d0, 0x01083f2, 0x0108560,
    0x0108574, 0x0108581, 0x0108602, 0x0108775, 0x0108791, 0x0108802, 0x01089f0, 0x0108a71, 0x0108b00, 0x0108e02,
    0x0108f30, 0x0108f42, 0x0108f60, 0x0108fb1, 0x0109002, 0x0109161, 0x01091c0, 0x01091f4, 0x0109202, 0x01093a0,
    0x01093f4, 0x0109400, 0x0109802, 0x0109b80, 0x0109bc1, 0x0109be2, 0x0109c01, 0x0109d00, 0x0109d21, 0x010a002,
    0x010a013, 0x010a040, 0x010a053, 0x010a070, 0x010a0c3, 0x010a102, 0x010a140, 0x010a152, 0x010a180, 0x010a192,
    0x010a360, 0x010a383, 0x010a3b0, 0x010a3f3, 0x010a401, 0x010a490, 0x010a504, 0x010a590, 0x010a602, 0x010a7d1,
    0x010a7f4, 0x010a802, 0x010a9d1, 0x010aa00, 0x010ac02, 0x010ac85, 0x010ac92, 0x010ae53, 0x010ae70, 0x010aeb1,
    0x010af04, 0x010af70, 0x010b002, 0x010b360, 0x010b394, 0x010b402, 0x010b560, 0x010b581, 0x010b602, 0x010b730,
    0x010b781, 0x010b802, 0x010b920, 0x010b994, 0x010b9d0, 0x010ba91, 0x010bb00, 0x010c002, 0x010c490, 0x010c802,
    0x010cb30, 0x010cc02, 0x010cf30, 0x010cfa1, 0x010d002, 0x010d243, 0x010d280, 0x010d301, 0x010d3a0, 0x010e601,
    0x010e7f0, 0x010e802, 0x010eaa0, 0x010eab3, 0x010ead4, 0x010eae0, 0x010eb02, 0x010eb20, 0x010efd3, 0x010f002,
    0x010f1d1, 0x010f272, 0x010f280, 0x010f302, 0x010f463, 0x010f511, 0x010f554, 0x010f5a0, 0x010f702, 0x010f823,
    0x010f864, 0x010f8a0, 0x010fb02, 0x010fc51, 0x010fcc0, 0x010fe02, 0x010ff70, 0x0110003, 0x0110032, 0x0110383,
    0x0110474, 0x01104e0, 0x0110521, 0x0110703, 0x0110712, 0x0110733, 0x0110752, 0x0110760, 0x01107f3, 0x0110832,
    0x0110b03, 0x0110bb4, 0x0110bd7, 0x0110be4, 0x0110c23, 0x0110c30, 0x0110cd7, 0x0110ce0, 0x0110d02, 0x0110e90,
    0x0110f01, 0x0110fa0, 0x0111003, 0x0111032, 0x0111273, 0x0111350, 0x0111361, 0x0111404, 0x0111442, 0x0111453,
    0x0111472, 0x0111480, 0x0111502, 0x0111733, 0x0111744, 0x0111762, 0x0111770, 0x0111803, 0x0111832, 0x0111b33,
    0x0111c12, 0x0111c54, 0x0111c93, 0x0111cd4, 0x0111ce3, 0x0111d01, 0x0111da2, 0x0111db4, 0x0111dc2, 0x0111dd4,
    0x0111e00, 0x0111e11, 0x0111f50, 0x0112002, 0x0112120, 0x0112132, 0x01122c3, 0x0112384, 0x01123e3, 0x01123f2,
    0x0112413, 0x0112420, 0x0112802, 0x0112870, 0x0112882, 0x0112890, 0x01128a2, 0x01128e0, 0x01128f2, 0x01129e0,
    0x01129f2, 0x0112a94, 0x0112aa0, 0x0112b02, 0x0112df3, 0x0112eb0, 0x0112f01, 0x0112fa0, 0x0113003, 0x0113040,
    0x0113052, 0x01130d0, 0x01130f2, 0x0113110, 0x0113132, 0x0113290, 0x01132a2, 0x0113310, 0x0113322, 0x0113340,
    0x0113352, 0x01133a0, 0x01133b3, 0x01133d2, 0x01133e3, 0x0113450, 0x0113473, 0x0113490, 0x01134b3, 0x01134e0,
    0x0113502, 0x0113510, 0x0113573, 0x0113580, 0x01135d2, 0x0113623, 0x0113640, 0x0113663, 0x01136d0, 0x0113703,
    0x0113750, 0x0114002, 0x0114353, 0x0114472, 0x01144b4, 0x0114501, 0x01145a4, 0x01145c0, 0x01145d4, 0x01145e3,
    0x01145f2, 0x0114620, 0x0114802, 0x0114b03, 0x0114c42, 0x0114c64, 0x0114c72, 0x0114c80, 0x0114d01, 0x0114da0,
    0x0115802, 0x0115af3, 0x0115b60, 0x0115b83, 0x0115c14, 0x0115d82, 0x0115dc3, 0x0115de0, 0x0116002, 0x0116303,
    0x0116414, 0x0116442, 0x0116450, 0x0116501, 0x01165a0, 0x0116604, 0x01166d0, 0x0116802, 0x0116ab3, 0x0116b82,
    0x0116b94, 0x0116ba0, 0x0116c01, 0x0116ca0, 0x0117002, 0x01171b0, 0x01171d3, 0x01172c0, 0x0117301, 0x01173c4,
    0x01173f5, 0x0117402, 0x0117470, 0x0118002, 0x01182c3, 0x01183b4, 0x01183c0, 0x0118a02, 0x0118e01, 0x0118f30,
    0x0118ff2, 0x0119070, 0x0119092, 0x01190a0, 0x01190c2, 0x0119140, 0x0119152, 0x0119170, 0x0119182, 0x0119303,
    0x0119360, 0x0119373, 0x0119390, 0x01193b3, 0x01193f2, 0x0119403, 0x0119412, 0x0119423, 0x0119444, 0x0119470,
    0x0119501, 0x01195a0, 0x0119a02, 0x0119a80, 0x0119aa2, 0x0119d13, 0x0119d80, 0x0119da3, 0x0119e12, 0x0119e24,
    0x0119e32, 0x0119e43, 0x0119e50, 0x011a002, 0x011a013, 0x011a0b2, 0x011a333, 0x011a3a2, 0x011a3b3, 0x011a3f4,
    0x011a473, 0x011a480, 0x011a502, 0x011a513, 0x011a5c2, 0x011a8a3, 0x011a9a4, 0x011a9d2, 0x011a9e4, 0x011aa30,
    0x011ab02, 0x011af90, 0x011b004, 0x011b0a0, 0x011c002, 0x011c090, 0x011c0a2, 0x011c2f3, 0x011c370, 0x011c383,
    0x011c402, 0x011c414, 0x011c460, 0x011c501, 0x011c6d0, 0x011c704, 0x011c722, 0x011c900, 0x011c923, 0x011ca80,
    0x011ca93, 0x011cb70, 0x011d002, 0x011d070, 0x011d082, 0x011d0a0, 0x011d0b2, 0x011d313, 0x011d370, 0x011d3a3,
    0x011d3b0, 0x011d3c3, 0x011d3e0, 0x011d3f3, 0x011d462, 0x011d473, 0x011d480, 0x011d501, 0x011d5a0, 0x011d602,
    0x011d660, 0x011d672, 0x011d690, 0x011d6a2, 0x011d8a3, 0x011d8f0, 0x011d903, 0x011d920, 0x011d933, 0x011d982,
    0x011d990, 0x011da01, 0x011daa0, 0x011ee02, 0x011ef33, 0x011ef74, 0x011ef90, 0x011f003, 0x011f022, 0x011f033,
    0x011f042, 0x011f110, 0x011f122, 0x011f343, 0x011f3b0, 0x011f3e3, 0x011f434, 0x011f501, 0x011f5a0, 0x011fb02,
    0x011fb10, 0x011fc01, 0x011fd55, 0x011ff20, 0x011fff4, 0x0120002, 0x01239a0, 0x0124001, 0x01246f0, 0x0124704,
    0x0124750, 0x0124802, 0x0125440, 0x012f902, 0x012ff14, 0x012ff30, 0x0130002, 0x0134307, 0x0134403, 0x0134412,
    0x0134473, 0x0134560, 0x0144002, 0x0146470, 0x0168002, 0x016a390, 0x016a402, 0x016a5f0, 0x016a601, 0x016a6a0,
    0x016a6e4, 0x016a702, 0x016abf0, 0x016ac01, 0x016aca0, 0x016ad02, 0x016aee0, 0x016af03, 0x016af54, 0x016af60,
    0x016b002, 0x016b303, 0x016b374, 0x016b3c5, 0x016b402, 0x016b444, 0x016b455, 0x016b460, 0x016b501, 0x016b5a0,
    0x016b5b1, 0x016b620, 0x016b632, 0x016b780, 0x016b7d2, 0x016b900, 0x016e402, 0x016e801, 0x016e974, 0x016e9b0,
    0x016f002, 0x016f4b0, 0x016f4f3, 0x016f502, 0x016f513, 0x016f880, 0x016f8f3, 0x016f932, 0x016fa00, 0x016fe02,
    0x016fe24, 0x016fe32, 0x016fe43, 0x016fe50, 0x016ff03, 0x016ff20, 0x0170002, 0x0187f80, 0x0188002, 0x018cd60,
    0x018d002, 0x018d090, 0x01aff02, 0x01aff40, 0x01aff52, 0x01affc0, 0x01affd2, 0x01afff0, 0x01b0002, 0x01b1230,
    0x01b1322, 0x01b1330, 0x01b1502, 0x01b1530, 0x01b1552, 0x01b1560, 0x01b1642, 0x01b1680, 0x01b1702, 0x01b2fc0,
    0x01bc002, 0x01bc6b0, 0x01bc702, 0x01bc7d0, 0x01bc802, 0x01bc890, 0x01bc902, 0x01bc9a0, 0x01bc9c5, 0x01bc9d3,
    0x01bc9f4, 0x01bca07, 0x01bca40, 0x01cf003, 0x01cf2e0, 0x01cf303, 0x01cf470, 0x01cf505, 0x01cfc40, 0x01d0005,
    0x01d0f60, 0x01d1005, 0x01d1270, 0x01d1295, 0x01d1653, 0x01d16a5, 0x01d16d3, 0x01d1737, 0x01d17b3, 0x01d1835,
    0x01d1853, 0x01d18c5, 0x01d1aa3, 0x01d1ae5, 0x01d1eb0, 0x01d2005, 0x01d2423, 0x01d2455, 0x01d2460, 0x01d2c01,
    0x01d2d40, 0x01d2e01, 0x01d2f40, 0x01d3005, 0x01d3570, 0x01d3601, 0x01d3790, 0x01d4002, 0x01d4550, 0x01d4562,
    0x01d49d0, 0x01d49e2, 0x01d4a00, 0x01d4a22, 0x01d4a30, 0x01d4a52, 0x01d4a70, 0x01d4a92, 0x01d4ad0, 0x01d4ae2,
    0x01d4ba0, 0x01d4bb2, 0x01d4bc0, 0x01d4bd2, 0x01d4c40, 0x01d4c52, 0x01d5060, 0x01d5072, 0x01d50b0, 0x01d50d2,
    0x01d5150, 0x01d5162, 0x01d51d0, 0x01d51e2, 0x01d53a0, 0x01d53b2, 0x01d53f0, 0x01d5402, 0x01d5450, 0x01d5462,
    0x01d5470, 0x01d54a2, 0x01d5510, 0x01d5522, 0x01d6a60, 0x01d6a82, 0x01d6c15, 0x01d6c22, 0x01d6db5, 0x01d6dc2,
    0x01d6fb5, 0x01d6fc2, 0x01d7155, 0x01d7162, 0x01d7355, 0x01d7362, 0x01d74f5, 0x01d7502, 0x01d76f5, 0x01d7702,
    0x01d7895, 0x01d78a2, 0x01d7a95, 0x01d7aa2, 0x01d7c35, 0x01d7c42, 0x01d7cc0, 0x01d7ce1, 0x01d8005, 0x01da003,
    0x01da375, 0x01da3b3, 0x01da6d5, 0x01da753, 0x01da765, 0x01da843, 0x01da855, 0x01da874, 0x01da8c0, 0x01da9b3,
    0x01daa00, 0x01daa13, 0x01dab00, 0x01df002, 0x01df1f0, 0x01df252, 0x01df2b0, 0x01e0003, 0x01e0070, 0x01e0083,
    0x01e0190, 0x01e01b3, 0x01e0220, 0x01e0233, 0x01e0250, 0x01e0263, 0x01e02b0, 0x01e0302, 0x01e06e0, 0x01e08f3,
    0x01e0900, 0x01e1002, 0x01e12d0, 0x01e1303, 0x01e1372, 0x01e13e0, 0x01e1401, 0x01e14a0, 0x01e14e2, 0x01e14f5,
    0x01e1500, 0x01e2902, 0x01e2ae3, 0x01e2af0, 0x01e2c02, 0x01e2ec3, 0x01e2f01, 0x01e2fa0, 0x01e2ff5, 0x01e3000,
    0x01e4d02, 0x01e4ec3, 0x01e4f01, 0x01e4fa0, 0x01e7e02, 0x01e7e70, 0x01e7e82, 0x01e7ec0, 0x01e7ed2, 0x01e7ef0,
    0x01e7f02, 0x01e7ff0, 0x01e8002, 0x01e8c50, 0x01e8c71, 0x01e8d03, 0x01e8d70, 0x01e9002, 0x01e9443, 0x01e94b2,
    0x01e94c0, 0x01e9501, 0x01e95a0, 0x01e95e4, 0x01e9600, 0x01ec711, 0x01ecac5, 0x01ecad1, 0x01ecb05, 0x01ecb11,
    0x01ecb50, 0x01ed011, 0x01ed2e5, 0x01ed2f1, 0x01ed3e0, 0x01ee002, 0x01ee040, 0x01ee052, 0x01ee200, 0x01ee212,
    0x01ee230, 0x01ee242, 0x01ee250, 0x01ee272, 0x01ee280, 0x01ee292, 0x01ee330, 0x01ee342, 0x01ee380, 0x01ee392,
    0x01ee3a0, 0x01ee3b2, 0x01ee3c0, 0x01ee422, 0x01ee430, 0x01ee472, 0x01ee480, 0x01ee492, 0x01ee4a0, 0x01ee4b2,
    0x01ee4c0, 0x01ee4d2, 0x01ee500, 0x01ee512, 0x01ee530, 0x01ee542, 0x01ee550, 0x01ee572, 0x01ee580, 0x01ee592,
    0x01ee5a0, 0x01ee5b2, 0x01ee5c0, 0x01ee5d2, 0x01ee5e0, 0x01ee5f2, 0x01ee600, 0x01ee612, 0x01ee630, 0x01ee642,
    0x01ee650, 0x01ee672, 0x01ee6b0, 0x01ee6c2, 0x01ee730, 0x01ee742, 0x01ee780, 0x01ee792, 0x01ee7d0, 0x01ee7e2,
    0x01ee7f0, 0x01ee802, 0x01ee8a0, 0x01ee8b2, 0x01ee9c0, 0x01eea12, 0x01eea40, 0x01eea52, 0x01eeaa0, 0x01eeab2,
    0x01eebc0, 0x01eef05, 0x01eef20, 0x01f0005, 0x01f02c0, 0x01f0305, 0x01f0940, 0x01f0a05, 0x01f0af0, 0x01f0b15,
    0x01f0c00, 0x01f0c15, 0x01f0d00, 0x01f0d15, 0x01f0f60, 0x01f1001, 0x01f10d5, 0x01f1ae0, 0x01f1e65, 0x01f2030,
    0x01f2105, 0x01f23c0, 0x01f2405, 0x01f2490, 0x01f2505, 0x01f2520, 0x01f2605, 0x01f2660, 0x01f3005, 0x01f6d80,
    0x01f6dc5, 0x01f6ed0, 0x01f6f05, 0x01f6fd0, 0x01f7005, 0x01f7770, 0x01f77b5, 0x01f7da0, 0x01f7e05, 0x01f7ec0,
    0x01f7f05, 0x01f7f10, 0x01f8005, 0x01f80c0, 0x01f8105, 0x01f8480, 0x01f8505, 0x01f85a0, 0x01f8605, 0x01f8880,
    0x01f8905, 0x01f8ae0, 0x01f8b05, 0x01f8b20, 0x01f9005, 0x01fa540, 0x01fa605, 0x01fa6e0, 0x01fa705, 0x01fa7d0,
    0x01fa805, 0x01fa890, 0x01fa905, 0x01fabe0, 0x01fabf5, 0x01fac60, 0x01face5, 0x01fadc0, 0x01fae05, 0x01fae90,
    0x01faf05, 0x01faf90, 0x01fb005, 0x01fb930, 0x01fb945, 0x01fbcb0, 0x01fbf01, 0x01fbfa0, 0x0200002, 0x02a6e00,
    0x02a7002, 0x02b73a0, 0x02b7402, 0x02b81e0, 0x02b8202, 0x02cea20, 0x02ceb02, 0x02ebe10, 0x02f8002, 0x02fa1e0,
    0x0300002, 0x03134b0, 0x0313502, 0x0323b00, 0x0e00017, 0x0e00020, 0x0e00207, 0x0e00800, 0x0e01003, 0x0e01f00,
    0x0f00007, 0x0ffffe0, 0x1000007, 0x10fffe0,
};
/* ==== end of generated Unicode categories ==== */

/* Class of code point cp (LLM__UC_*, plus LLM__UC_WS if it is white space): the last range
   starting at or before cp. */
static int llm__unicode_class(uint32_t cp) {
    size_t lo = 0, hi = LLM__UNICODE_N_RANGES;
    if (cp > 0x10FFFF) return LLM__UC_UNASSIGNED;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((llm__unicode_ranges[mid] >> 4) <= cp) lo = mid;
        else hi = mid;
    }
    return (int)(llm__unicode_ranges[lo] & 15);
}

#endif /* LLM_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the llm.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain worldwide. This dedication is in addition to all present and future
rights to that work. Overt acts of dedication are committed to the public
domain. We make this dedication as an overt act of relinquishment in perpetuity
of all present and future rights to that software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
