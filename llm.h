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
     Q2_K..Q5_K    yes     yes   yes (+dotprod)
     Q4_0 Q4_1     yes     yes   yes (+dotprod)
     Q5_0 Q5_1     yes     yes   yes (+dotprod)
     IQ4_NL        yes     yes   yes (+dotprod)
     Q6_K IQ4_XS   yes     yes   yes (+dotprod)
     TQ1_0 TQ2_0   yes     yes   yes (+dotprod)
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
/* Quantizes n_rows rows of n_per_row floats into dst (n_rows * llm_type_row_size bytes) with
   the type's reference quantizer. Returns the bytes written, or 0 when this build cannot
   quantize to the type or n_per_row is not a multiple of its block. Thread-safe. */
LLMDEF size_t llm_quantize(int type, const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

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
/* Hyper-parameter i (0, 1, ...) of the model as a name ("n_head", "rope_type", "swa_layers")
   and its value as text, snprintf-like into value. Lists only what applies to this model's
   architecture and file. Returns 1, or 0 past the last one (and for vocab-only models). */
LLMDEF int llm_model_hparam(const llm_model *m, int i, const char **name, char *value, size_t size);
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
/* Drops positions [n_keep, n_keep + n_discard) and moves the later ones down, re-rotating
   their keys, so a conversation can go on past the window while keeping its start (the
   system prompt). Returns LLM_OK or LLM_ERR_ARG. The logits of the last decode stay. */
LLMDEF int llm_context_shift(llm_context *c, int n_keep, int n_discard);

/* The KV cache and the last logits as bytes (an NPC's memory across sessions): size asks
   how many bytes a save needs; save writes them (snprintf-like: returns the size needed,
   writes nothing if buf is too small); load checks that the bytes come from a model with
   the same shape and a cache of the same type, then replaces the context's state. After a
   load, sampling from llm_logits(c, -1) continues exactly where the save was made. */
LLMDEF size_t llm_context_state_size(const llm_context *c);
LLMDEF size_t llm_context_state_save(const llm_context *c, void *buf, size_t size);
LLMDEF int llm_context_state_load(llm_context *c, const void *buf, size_t size);

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
    const char *const *stop;   /* n_stop strings; generation ends when the text contains one;
                                  borrowed until the generation ends                       */
    int n_stop;
    int context_shift;         /* 1: when the context is full, drop the oldest half of what
                                  follows n_keep and go on (else stop with CONTEXT_FULL)    */
    int32_t n_keep;            /* tokens a context shift keeps at the start (system prompt) */
    llm_generate_stats *stats; /* filled when not NULL, at the end of the generation        */
} llm_generate_params;

LLMDEF llm_generate_params llm_generate_default_params(void);

/* Tokenizes the prompt, decodes it after what the context already holds, then samples up
   to n_predict tokens, calling cb for each piece. Returns LLM_OK (also when cb stopped it
   or an end-of-generation token came), LLM_ERR_CONTEXT_FULL when the context filled up
   (what fit was generated), LLM_ERR_CANCELLED, or another error. The same as
   llm_generate_begin followed by llm_step until it returns 0 or an error. */
LLMDEF int llm_generate(llm_context *c, const char *prompt, const llm_generate_params *g,
                        llm_on_token cb, void *user);

/* Stepping, for a loop that cannot block (a game's frame): begin tokenizes the prompt and
   prepares sampling (it allocates; the steps do not). Each llm_step either decodes one
   chunk of the prompt (at most n_batch tokens) or generates at most max_tokens tokens,
   calling cb for their text, and returns 1 while there is more to do, 0 when the generation
   ended normally, or a negative llm_result (then it ended too). The params, callback and
   stop strings are used until the end. One thread at a time per context. */
LLMDEF int llm_generate_begin(llm_context *c, const char *prompt, const llm_generate_params *g,
                              llm_on_token cb, void *user);
LLMDEF int llm_step(llm_context *c, int max_tokens);
/* Asks the generation in progress to stop: the next llm_step ends it with
   LLM_ERR_CANCELLED. Safe to call from any thread. */
LLMDEF void llm_generate_cancel(llm_context *c);
/* 1 while a generation begun on c has not ended. */
LLMDEF int llm_generate_active(const llm_context *c);

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
#include <sched.h>
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

/* ---- K-quants: Q2_K Q3_K Q4_K Q5_K ---- */
/* Super-blocks of 256 weights in sub-blocks of 16 (Q2_K, Q3_K) or 32 (Q4_K, Q5_K), each with
   an integer scale (and, except Q3_K, an integer min) times fp16 super-block factors. Byte
   layouts, as GGUF stores them (ggml-common.h):
     Q2_K  84 bytes: scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin
     Q3_K 110 bytes: hmask[32] (3rd bit), qs[64] (low 2 bits), scales[12] (6-bit, bias 32), d
     Q4_K 144 bytes: d, dmin, scales[12] (6-bit scales and mins), qs[128] (4 bits)
     Q5_K 176 bytes: d, dmin, scales[12], qh[32] (5th bit), qs[128] (low 4 bits)
   Where element e (0..255) sits: Q2_K/Q3_K keep 2-bit fields of e = 128h + 32k + l in byte
   qs[32h + l] at bit 2k, and Q3_K's third bit in hmask[l] at bit e/32; Q4_K/Q5_K keep nibble
   (e/32)&1 of qs[32(e/64) + l], and Q5_K's fifth bit in qh[l] at bit e/32 (l = e % 32). */
#define LLM__Q2_K_BYTES 84
#define LLM__Q3_K_BYTES 110
#define LLM__Q4_K_BYTES 144
#define LLM__Q5_K_BYTES 176
/* Small helpers shared with the SIMD kernels are always inlined: compiled inside an AVX2
   function they stay VEX-encoded, where a call into SSE code would stall on the live YMM state. */
#if defined(__GNUC__) || defined(__clang__)
#define LLM__KQ_INLINE static inline __attribute__((always_inline))
#else
#define LLM__KQ_INLINE static inline
#endif

static int llm__q2_K_q(const uint8_t *qs, int e) { return (qs[32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3; }
static int llm__q4_K_q(const uint8_t *qs, int e) { return (qs[32 * (e >> 6) + (e & 31)] >> (4 * ((e >> 5) & 1))) & 15; }

/* Q3_K's sixteen 6-bit scales, bias removed (-32..31): low 4 bits in the nibbles of bytes 0..7
   (scale j < 8 low nibble of byte j, j >= 8 high nibble of byte j - 8), high 2 bits in bytes
   8..11 (byte 8 + j % 4, bits 2 (j / 4)). */
LLM__KQ_INLINE void llm__q3_K_scales(const uint8_t *s, int *sc) {
    int j;
    for (j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4, hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        sc[j] = (lo | hi << 4) - 32;
    }
}

/* Q4_K/Q5_K's eight 6-bit scales and mins: for j < 4 the low 6 bits of bytes j (scale) and
   j + 4 (min); for j >= 4 the nibbles of byte j + 4 (scale low, min high) with their top 2
   bits in the top bits of bytes j - 4 (scale) and j (min). */
LLM__KQ_INLINE void llm__k4_scales(const uint8_t *s, int *sc, int *mn) {
    int j;
    for (j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = s[j] & 63;
            mn[j] = s[j + 4] & 63;
        } else {
            sc[j] = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
            mn[j] = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
        }
    }
}

/* Dequantization, bit-exact with ggml: a sub-block's factors first (d * scale, dmin * min, in
   float), then factor * q - min_factor. Two statements, so no compiler fuses them into an FMA. */
static void llm__q2_K_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int e;
    for (i = 0; i < n / 256; i++, b += LLM__Q2_K_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b + 80)), dmin = llm__fp16_to_fp32(llm__le16(b + 82));
        for (e = 0; e < 256; e++) {
            float dl = d * (float)(b[e >> 4] & 15), ml = dmin * (float)(b[e >> 4] >> 4);
            float v = dl * (float)llm__q2_K_q(b + 16, e);
            dst[e] = v - ml;
        }
    }
}

static void llm__q3_K_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int e, sc[16];
    for (i = 0; i < n / 256; i++, b += LLM__Q3_K_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b + 108));
        llm__q3_K_scales(b + 96, sc);
        for (e = 0; e < 256; e++) {
            int q = llm__q2_K_q(b + 32, e) - ((b[e & 31] >> (e >> 5)) & 1 ? 0 : 4);
            float dl = d * (float)sc[e >> 4];
            dst[e] = dl * (float)q;
        }
    }
}

static void llm__q4_K_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int e, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, b += LLM__Q4_K_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b)), dmin = llm__fp16_to_fp32(llm__le16(b + 2));
        llm__k4_scales(b + 4, sc, mn);
        for (e = 0; e < 256; e++) {
            float dl = d * (float)sc[e >> 5], ml = dmin * (float)mn[e >> 5];
            float v = dl * (float)llm__q4_K_q(b + 16, e);
            dst[e] = v - ml;
        }
    }
}

static void llm__q5_K_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int e, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, b += LLM__Q5_K_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b)), dmin = llm__fp16_to_fp32(llm__le16(b + 2));
        llm__k4_scales(b + 4, sc, mn);
        for (e = 0; e < 256; e++) {
            float dl = d * (float)sc[e >> 5], ml = dmin * (float)mn[e >> 5];
            int q = llm__q4_K_q(b + 48, e) | ((b[16 + (e & 31)] >> (e >> 5)) & 1) << 4;
            float v = dl * (float)q;
            dst[e] = v - ml;
        }
    }
}

/* Dot products with Q8_K activations, as ggml computes them: per super-block the integer sum
   isum = sum_j scale_j * sum(q_w q_x) over sub-block j, and for the types with mins
   msum = sum_j min_j * (sum of x's q over sub-block j, from bsums); then in float
   d_w d_x isum - dmin_w d_x msum. Integer sums are exact, so every SIMD kernel that forms the
   same isum and msum and ends with these float steps gives the same bits. */
LLM__KQ_INLINE float llm__kq_combine(float sum, float dw, float dmw, float dx, int isum, int msum) {
    float a = dw * dx, am = dmw * dx, t = a * (float)isum, tm = am * (float)msum;
    sum += t;
    return sum - tm;
}

static int llm__q8_K_bsum(const uint8_t *bx, int j) { return (int16_t)llm__le16(bx + 260 + 2 * j); }

static void llm__vec_dot_q2_K_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j, l;
    for (i = 0; i < n / 256; i++, bw += LLM__Q2_K_BYTES, bx += LLM__Q8_K_BYTES) {
        int isum = 0, msum = 0;
        for (j = 0; j < 16; j++) {
            int sj = 0;
            for (l = 16 * j; l < 16 * j + 16; l++) sj += llm__q2_K_q(bw + 16, l) * (int8_t)bx[4 + l];
            isum += (bw[j] & 15) * sj;
            msum += (bw[j] >> 4) * llm__q8_K_bsum(bx, j);
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw + 80)), llm__fp16_to_fp32(llm__le16(bw + 82)), llm__lef32(bx),
                              isum, msum);
    }
    *s = sum;
}

static void llm__vec_dot_q3_K_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j, l, sc[16];
    for (i = 0; i < n / 256; i++, bw += LLM__Q3_K_BYTES, bx += LLM__Q8_K_BYTES) {
        int isum = 0;
        llm__q3_K_scales(bw + 96, sc);
        for (j = 0; j < 16; j++) {
            int sj = 0;
            for (l = 16 * j; l < 16 * j + 16; l++) {
                int q = llm__q2_K_q(bw + 32, l) - ((bw[l & 31] >> (l >> 5)) & 1 ? 0 : 4);
                sj += q * (int8_t)bx[4 + l];
            }
            isum += sc[j] * sj;
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw + 108)), 0.0f, llm__lef32(bx), isum, 0);
    }
    *s = sum;
}

static void llm__vec_dot_q4_K_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j, l, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, bw += LLM__Q4_K_BYTES, bx += LLM__Q8_K_BYTES) {
        int isum = 0, msum = 0;
        llm__k4_scales(bw + 4, sc, mn);
        for (j = 0; j < 8; j++) {
            int sj = 0;
            for (l = 32 * j; l < 32 * j + 32; l++) sj += llm__q4_K_q(bw + 16, l) * (int8_t)bx[4 + l];
            isum += sc[j] * sj;
            msum += mn[j] * (llm__q8_K_bsum(bx, 2 * j) + llm__q8_K_bsum(bx, 2 * j + 1));
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw)), llm__fp16_to_fp32(llm__le16(bw + 2)), llm__lef32(bx), isum, msum);
    }
    *s = sum;
}

static void llm__vec_dot_q5_K_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j, l, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, bw += LLM__Q5_K_BYTES, bx += LLM__Q8_K_BYTES) {
        int isum = 0, msum = 0;
        llm__k4_scales(bw + 4, sc, mn);
        for (j = 0; j < 8; j++) {
            int sj = 0;
            for (l = 32 * j; l < 32 * j + 32; l++)
                sj += (llm__q4_K_q(bw + 48, l) | ((bw[16 + (l & 31)] >> j) & 1) << 4) * (int8_t)bx[4 + l];
            isum += sc[j] * sj;
            msum += mn[j] * (llm__q8_K_bsum(bx, 2 * j) + llm__q8_K_bsum(bx, 2 * j + 1));
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw)), llm__fp16_to_fp32(llm__le16(bw + 2)), llm__lef32(bx), isum, msum);
    }
    *s = sum;
}

/* ---- K-quant weight quantizers (no importance matrix) ----
   Our own search, minimising the plain squared error of the dequantized block:
   1. each sub-block gets the continuous scale (and min) that fits it best: a sweep of trial
      scales around range / levels, each followed by the least-squares refit of scale and min to
      the integer levels it chose (two rounds);
   2. the super-block factors start at the largest sub-block scale (min) over the integer
      maximum, rounded to fp16;
   3. coordinate descent: each sub-block picks its integer scale and min among the neighbours of
      its continuous fit, by the error of the block as it will dequantize; then the fp16 factors
      get the least-squares refit for those integers. The best state seen is kept. */

/* round(v) clamped to [lo, hi]; NaN gives lo. */
static int llm__kq_nearest(float v, int lo, int hi) {
    if (!(v > (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    return (int)llm__round_even(v);
}

static float llm__kq_fp16(float v) { return llm__fp16_to_fp32(llm__fp32_to_fp16(v)); }

/* Best continuous (s, m >= 0) with x ~ s * L - m, L in 0..nmax, over n values. */
static void llm__kq_fit_asym(const float *x, int n, int nmax, float *s_out, float *m_out) {
    float xmin = x[0], xmax = x[0], best = -1.0f, s_best = 0.0f, m_best = 0.0f;
    int i, step, round;
    for (i = 1; i < n; i++) {
        xmin = x[i] < xmin ? x[i] : xmin;
        xmax = x[i] > xmax ? x[i] : xmax;
    }
    if (xmin > 0.0f) xmin = 0.0f;
    if (!(xmax > xmin)) { /* constant block (or NaN) */
        *s_out = 0.0f;
        *m_out = xmin == xmin ? -xmin : 0.0f;
        return;
    }
    for (step = -10; step <= 10; step++) {
        float s = (xmax - xmin) / ((float)nmax + 0.1f * (float)step), m = -xmin;
        for (round = 0; round < 2 && s > 0.0f; round++) {
            double sl = 0, sll = 0, sx = 0, sxl = 0, det, err = 0;
            float ns, nm;
            int L[32];
            for (i = 0; i < n; i++) {
                L[i] = llm__kq_nearest((x[i] + m) / s, 0, nmax);
                sl += L[i];
                sll += (double)L[i] * L[i];
                sx += x[i];
                sxl += (double)x[i] * L[i];
            }
            det = (double)n * sll - sl * sl;
            if (det <= 0) break;
            ns = (float)(((double)n * sxl - sl * sx) / det);
            nm = (float)((ns * sl - sx) / n);
            if (nm < 0.0f) { /* the min may only lower the levels: fit the scale alone */
                nm = 0.0f;
                ns = sll > 0 ? (float)(sxl / sll) : 0.0f;
            }
            for (i = 0; i < n; i++) {
                double dv = (double)ns * L[i] - nm - x[i];
                err += dv * dv;
            }
            if (best < 0.0f || err < best) {
                best = (float)err;
                s_best = ns;
                m_best = nm;
            }
            s = ns;
            m = nm;
        }
    }
    if (best < 0.0f) { /* no fit: the initial range split */
        s_best = (xmax - xmin) / (float)nmax;
        m_best = -xmin;
    }
    *s_out = s_best > 0.0f ? s_best : 0.0f;
    *m_out = m_best;
}

/* Levels and squared error of n values for the dequantized form f * L - g, L in lo..hi. */
static double llm__kq_levels(const float *x, int n, float f, float g, int lo, int hi, uint8_t *L) {
    double err = 0;
    int i;
    for (i = 0; i < n; i++) {
        int q = f != 0.0f ? llm__kq_nearest((x[i] + g) / f, lo, hi) : 0;
        float v = f * (float)q, dv;
        dv = v - g - x[i];
        err += (double)dv * dv;
        L[i] = (uint8_t)(q - lo);
    }
    return err;
}

/* Asymmetric super-block (Q2_K, Q4_K, Q5_K): nsub sub-blocks of len values, levels 0..nmax,
   integer scales and mins 0..smax. Fills d, dmin (fp16 values), sc, mn, L (per element). */
static void llm__kq_quant_asym(const float *x, int nsub, int len, int nmax, int smax, float *d_out, float *dmin_out, int *sc_out,
                               int *mn_out, uint8_t *L_out) {
    float s[16], m[16], maxs = 0.0f, maxm = 0.0f, d, dmin;
    int j, i, iter, sc[16], mn[16];
    uint8_t L[256], Lt[32];
    double best = -1.0;
    for (j = 0; j < nsub; j++) {
        llm__kq_fit_asym(x + j * len, len, nmax, &s[j], &m[j]);
        maxs = s[j] > maxs ? s[j] : maxs;
        maxm = m[j] > maxm ? m[j] : maxm;
    }
    d = llm__kq_fp16(maxs / (float)smax);
    dmin = llm__kq_fp16(maxm / (float)smax);
    for (iter = 0; iter < 3; iter++) {
        double err = 0, spp = 0, spq = 0, sqq = 0, sxp = 0, sxq = 0, det;
        for (j = 0; j < nsub; j++) { /* integer scale and min: the neighbours of the fit */
            int s0 = d > 0.0f ? llm__kq_nearest(s[j] / d, 0, smax) : 0;
            int m0 = dmin > 0.0f ? llm__kq_nearest(m[j] / dmin, 0, smax) : 0, a, b;
            double bj = -1.0;
            for (a = s0 - 1; a <= s0 + 1; a++)
                for (b = m0 - 1; b <= m0 + 1; b++) {
                    double e;
                    if (a < 0 || a > smax || b < 0 || b > smax || (dmin == 0.0f && b != 0)) continue;
                    e = llm__kq_levels(x + j * len, len, d * (float)a, dmin * (float)b, 0, nmax, Lt);
                    if (bj < 0 || e < bj) {
                        bj = e;
                        sc[j] = a;
                        mn[j] = b;
                        memcpy(L + j * len, Lt, (size_t)len);
                    }
                }
            err += bj;
        }
        if (best < 0 || err < best) {
            best = err;
            *d_out = d;
            *dmin_out = dmin;
            memcpy(sc_out, sc, sizeof(int) * (size_t)nsub);
            memcpy(mn_out, mn, sizeof(int) * (size_t)nsub);
            memcpy(L_out, L, (size_t)(nsub * len));
        }
        /* least squares for d, dmin with x ~ d * (sc L) - dmin * mn */
        for (j = 0; j < nsub; j++)
            for (i = 0; i < len; i++) {
                double p = (double)sc[j] * L[j * len + i], q = mn[j], xv = x[j * len + i];
                spp += p * p;
                spq += p * q;
                sqq += q * q;
                sxp += xv * p;
                sxq += xv * q;
            }
        det = spp * sqq - spq * spq;
        if (sqq == 0 && spp > 0) {
            d = llm__kq_fp16((float)(sxp / spp));
            dmin = 0.0f;
        } else if (det > 0) {
            float nd = (float)((sxp * sqq - sxq * spq) / det), ndm = (float)((sxp * spq - sxq * spp) / det);
            if (nd < 0.0f || ndm < 0.0f) break;
            d = llm__kq_fp16(nd);
            dmin = llm__kq_fp16(ndm);
        } else {
            break;
        }
    }
}

static void llm__q2_K_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, L[256];
    int64_t i;
    int j, e, sc[16], mn[16];
    for (i = 0; i < n / 256; i++, b += LLM__Q2_K_BYTES, src += 256) {
        float d, dmin;
        llm__kq_quant_asym(src, 16, 16, 3, 15, &d, &dmin, sc, mn, L);
        memset(b, 0, LLM__Q2_K_BYTES);
        for (j = 0; j < 16; j++) b[j] = (uint8_t)(sc[j] | mn[j] << 4);
        for (e = 0; e < 256; e++) b[16 + 32 * (e >> 7) + (e & 31)] |= (uint8_t)(L[e] << (2 * ((e >> 5) & 3)));
        llm__put16(b + 80, llm__fp32_to_fp16(d));
        llm__put16(b + 82, llm__fp32_to_fp16(dmin));
    }
}

/* Packs eight 6-bit scales and mins as llm__k4_scales reads them. */
static void llm__k4_pack_scales(uint8_t *s, const int *sc, const int *mn) {
    int j;
    for (j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

static void llm__q4_K_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, L[256];
    int64_t i;
    int e, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, b += LLM__Q4_K_BYTES, src += 256) {
        float d, dmin;
        llm__kq_quant_asym(src, 8, 32, 15, 63, &d, &dmin, sc, mn, L);
        memset(b, 0, LLM__Q4_K_BYTES);
        llm__put16(b, llm__fp32_to_fp16(d));
        llm__put16(b + 2, llm__fp32_to_fp16(dmin));
        llm__k4_pack_scales(b + 4, sc, mn);
        for (e = 0; e < 256; e++) b[16 + 32 * (e >> 6) + (e & 31)] |= (uint8_t)(L[e] << (4 * ((e >> 5) & 1)));
    }
}

static void llm__q5_K_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, L[256];
    int64_t i;
    int e, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, b += LLM__Q5_K_BYTES, src += 256) {
        float d, dmin;
        llm__kq_quant_asym(src, 8, 32, 31, 63, &d, &dmin, sc, mn, L);
        memset(b, 0, LLM__Q5_K_BYTES);
        llm__put16(b, llm__fp32_to_fp16(d));
        llm__put16(b + 2, llm__fp32_to_fp16(dmin));
        llm__k4_pack_scales(b + 4, sc, mn);
        for (e = 0; e < 256; e++) {
            b[48 + 32 * (e >> 6) + (e & 31)] |= (uint8_t)((L[e] & 15) << (4 * ((e >> 5) & 1)));
            b[16 + (e & 31)] |= (uint8_t)((L[e] >> 4) << (e >> 5));
        }
    }
}

/* Q3_K is symmetric: x ~ d * sc * L with L in -4..3 and sc in -32..31. Each sub-block's
   continuous scale is swept for both signs (the largest value on level -4 or +3). */
static float llm__kq_fit_sym(const float *x, int n) {
    float xm = 0.0f, s_best = 0.0f;
    double best = 0;
    int i, step, sign, round, have = 0;
    for (i = 0; i < n; i++) xm = fabsf(x[i]) > fabsf(xm) ? x[i] : xm;
    if (xm == 0.0f || xm != xm) return 0.0f;
    for (sign = 0; sign < 2; sign++)
        for (step = -6; step <= 6; step++) {
            float s = xm / (sign ? 3.0f + 0.1f * (float)step : -4.0f - 0.1f * (float)step);
            for (round = 0; round < 2 && s != 0.0f; round++) {
                double sxl = 0, sll = 0, err;
                for (i = 0; i < n; i++) {
                    int q = llm__kq_nearest(x[i] / s, -4, 3);
                    sxl += (double)x[i] * q;
                    sll += (double)q * q;
                }
                if (sll <= 0) break;
                err = -sxl * sxl / sll; /* the squared error less sum x^2 */
                if (!have || err < best) {
                    have = 1;
                    best = err;
                    s_best = (float)(sxl / sll);
                }
                s = (float)(sxl / sll);
            }
        }
    return s_best;
}

static void llm__q3_K_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, L[256], Lt[16], Lb[256];
    int64_t i;
    int j, e, start, iter, sc[16], scb[16];
    for (i = 0; i < n / 256; i++, b += LLM__Q3_K_BYTES, src += 256) {
        float s[16], xm = 0.0f, d, db = 0.0f;
        double best = -1.0;
        for (j = 0; j < 16; j++) {
            s[j] = llm__kq_fit_sym(src + 16 * j, 16);
            xm = fabsf(s[j]) > fabsf(xm) ? s[j] : xm;
        }
        memset(scb, 0, sizeof scb);
        memset(Lb, 4, sizeof Lb);
        /* start with the largest scale on -32, then on +31 */
        for (start = 0; start < 2 && xm != 0.0f; start++) {
            d = llm__kq_fp16(start ? xm / 31.0f : xm / -32.0f);
            for (iter = 0; iter < 3 && d != 0.0f; iter++) {
                double err = 0, spp = 0, sxp = 0;
                for (j = 0; j < 16; j++) {
                    int s0 = llm__kq_nearest(s[j] / d, -32, 31), a;
                    double bj = -1.0;
                    for (a = s0 - 1; a <= s0 + 1; a++) {
                        double ea;
                        if (a < -32 || a > 31) continue;
                        ea = llm__kq_levels(src + 16 * j, 16, d * (float)a, 0.0f, -4, 3, Lt);
                        if (bj < 0 || ea < bj) {
                            bj = ea;
                            sc[j] = a;
                            memcpy(L + 16 * j, Lt, 16);
                        }
                    }
                    err += bj;
                }
                if (best < 0 || err < best) {
                    best = err;
                    db = d;
                    memcpy(scb, sc, sizeof sc);
                    memcpy(Lb, L, sizeof L);
                }
                for (e = 0; e < 256; e++) { /* least squares for d with x ~ d * (sc L) */
                    double p = (double)sc[e >> 4] * ((int)L[e] - 4);
                    spp += p * p;
                    sxp += (double)src[e] * p;
                }
                if (spp <= 0) break;
                d = llm__kq_fp16((float)(sxp / spp));
            }
        }
        memset(b, 0, LLM__Q3_K_BYTES);
        for (e = 0; e < 256; e++) {
            b[32 + 32 * (e >> 7) + (e & 31)] |= (uint8_t)((Lb[e] & 3) << (2 * ((e >> 5) & 3)));
            b[e & 31] |= (uint8_t)((Lb[e] >> 2) << (e >> 5));
        }
        for (j = 0; j < 16; j++) {
            int v = scb[j] + 32;
            b[96 + (j & 7)] |= (uint8_t)((v & 15) << (j < 8 ? 0 : 4));
            b[96 + 8 + (j & 3)] |= (uint8_t)((v >> 4) << (2 * (j >> 2)));
        }
        llm__put16(b + 108, llm__fp32_to_fp16(db));
    }
}

/* ---- 32-element blocks: Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL, and Q8_1 ---- */
/* Layouts (bytes, little-endian fp16 scales), element j of a block:
     Q4_0   {d; qs[16]}            18  nibble q = j < 16 ? qs[j] & 15 : qs[j-16] >> 4;  x = (q - 8) * d
     Q4_1   {d; m; qs[16]}         20  nibble as Q4_0;                                 x = q * d + m
     Q5_0   {d; qh[4]; qs[16]}     22  q = nibble | bit j of the u32 qh << 4;          x = (q - 16) * d
     Q5_1   {d; m; qh[4]; qs[16]}  24  q as Q5_0;                                      x = q * d + m
     IQ4_NL {d; qs[16]}            18  nibble as Q4_0;                   x = d * llm__iq4nl_values[q]
     Q8_1   {d; s; int8 qs[32]}    36  x = d * q; s = d * (sum of q), the activation form of Q4_1/Q5_1
   Dequantization does ggml's float operations in ggml's order (an exact int-to-float, one
   product, for _1 types one sum), so it is bit-exact with ggml's to_float. */
#define LLM__Q4_0_BYTES 18
#define LLM__Q4_1_BYTES 20
#define LLM__Q5_0_BYTES 22
#define LLM__Q5_1_BYTES 24
#define LLM__IQ4_NL_BYTES 18
#define LLM__Q8_1_BYTES 36

/* IQ4_NL's 16 levels (a public format constant), ascending. */
static const int8_t llm__iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* The 32 unsigned 4-bit codes of a block's 16 bytes (low nibbles first), optionally with the
   fifth bit of each from a little-endian u32 (bit j for element j). */
static void llm__unpack_nibbles(const uint8_t *qs, const uint8_t *qh, uint8_t q[32]) {
    uint32_t h = qh ? llm__le32(qh) : 0;
    int j;
    for (j = 0; j < 16; j++) {
        q[j] = (uint8_t)((qs[j] & 15) | ((h >> j) & 1) << 4);
        q[j + 16] = (uint8_t)((qs[j] >> 4) | ((h >> (j + 16)) & 1) << 4);
    }
}

/* The inverse: codes (each < 32) into qs (and the fifth bits into qh when given). */
static void llm__pack_nibbles(const uint8_t q[32], uint8_t *qs, uint8_t *qh) {
    uint32_t h = 0;
    int j;
    for (j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
        h |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    if (qh) {
        qh[0] = (uint8_t)h;
        qh[1] = (uint8_t)(h >> 8);
        qh[2] = (uint8_t)(h >> 16);
        qh[3] = (uint8_t)(h >> 24);
    }
}

/* Dequantizes blocks of bytes bytes: codes at qs_at (fifth bits at qh_at, or none when 0),
   minimum at 2 when has_min. x = (q - offset) * d, or q * d + m. */
static void llm__q32_to_float(const void *src, float *dst, int64_t n, int bytes, int qs_at, int qh_at, int offset, int has_min) {
    const uint8_t *b = (const uint8_t *)src;
    uint8_t q[32];
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += bytes) {
        float d = llm__fp16_to_fp32(llm__le16(b)), m = has_min ? llm__fp16_to_fp32(llm__le16(b + 2)) : 0.0f;
        float *y = dst + i * 32;
        llm__unpack_nibbles(b + qs_at, qh_at ? b + qh_at : NULL, q);
        if (has_min)
            for (j = 0; j < 32; j++) y[j] = (float)q[j] * d + m;
        else
            for (j = 0; j < 32; j++) y[j] = (float)(q[j] - offset) * d;
    }
}

static void llm__q4_0_to_float(const void *src, float *dst, int64_t n) { llm__q32_to_float(src, dst, n, LLM__Q4_0_BYTES, 2, 0, 8, 0); }
static void llm__q4_1_to_float(const void *src, float *dst, int64_t n) { llm__q32_to_float(src, dst, n, LLM__Q4_1_BYTES, 4, 0, 0, 1); }
static void llm__q5_0_to_float(const void *src, float *dst, int64_t n) { llm__q32_to_float(src, dst, n, LLM__Q5_0_BYTES, 6, 2, 16, 0); }
static void llm__q5_1_to_float(const void *src, float *dst, int64_t n) { llm__q32_to_float(src, dst, n, LLM__Q5_1_BYTES, 8, 4, 0, 1); }

static void llm__iq4_nl_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    uint8_t q[32];
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__IQ4_NL_BYTES) {
        float d = llm__fp16_to_fp32(llm__le16(b));
        llm__unpack_nibbles(b + 2, NULL, q);
        for (j = 0; j < 32; j++) dst[i * 32 + j] = d * (float)llm__iq4nl_values[q[j]];
    }
}

static void llm__q8_1_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__Q8_1_BYTES) {
        float d = llm__fp16_to_fp32(llm__le16(b));
        for (j = 0; j < 32; j++) dst[i * 32 + j] = d * (float)(int8_t)b[4 + j];
    }
}

/* The code ggml's reference quantizers store for v = x/d + offset + 1/2: truncated toward
   zero (a cast) and capped at top. v is never far below 0; NaN (a corrupt input) gives 0. */
static uint8_t llm__trunc_code(float v, int top) {
    if (v >= (float)top) return (uint8_t)top;
    return (uint8_t)(v >= 1.0f ? (int)v : 0);
}

/* Q4_0 / Q5_0 weights (ggml's quantize_row_q4_0_ref / _q5_0_ref): d = max / -half, where max
   is the first element of largest magnitude with its sign, so max itself gets code 0. */
static void llm__q32_sym_quantize(const float *src, void *dst, int64_t n, int bytes, int qs_at, int qh_at, int half) {
    uint8_t *b = (uint8_t *)dst, q[32];
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += bytes) {
        const float *x = src + i * 32;
        float amax = 0.0f, max = 0.0f, d, id;
        for (j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        d = max / (float)-half;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        llm__put16(b, llm__fp32_to_fp16(d));
        for (j = 0; j < 32; j++) q[j] = llm__trunc_code(x[j] * id + ((float)half + 0.5f), 2 * half - 1);
        llm__pack_nibbles(q, b + qs_at, qh_at ? b + qh_at : NULL);
    }
}

/* Q4_1 / Q5_1 weights (ggml's quantize_row_q4_1_ref / _q5_1_ref): m = min, d = (max - min) / top. */
static void llm__q32_min_quantize(const float *src, void *dst, int64_t n, int bytes, int qs_at, int qh_at, int top) {
    uint8_t *b = (uint8_t *)dst, q[32];
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += bytes) {
        const float *x = src + i * 32;
        float min = FLT_MAX, max = -FLT_MAX, d, id;
        for (j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        d = (max - min) / (float)top;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        llm__put16(b, llm__fp32_to_fp16(d));
        llm__put16(b + 2, llm__fp32_to_fp16(min));
        for (j = 0; j < 32; j++) q[j] = llm__trunc_code((x[j] - min) * id + 0.5f, top);
        llm__pack_nibbles(q, b + qs_at, qh_at ? b + qh_at : NULL);
    }
}

static void llm__q4_0_quantize(const float *src, void *dst, int64_t n) { llm__q32_sym_quantize(src, dst, n, LLM__Q4_0_BYTES, 2, 0, 8); }
static void llm__q5_0_quantize(const float *src, void *dst, int64_t n) { llm__q32_sym_quantize(src, dst, n, LLM__Q5_0_BYTES, 6, 2, 16); }
static void llm__q4_1_quantize(const float *src, void *dst, int64_t n) { llm__q32_min_quantize(src, dst, n, LLM__Q4_1_BYTES, 4, 0, 15); }
static void llm__q5_1_quantize(const float *src, void *dst, int64_t n) { llm__q32_min_quantize(src, dst, n, LLM__Q5_1_BYTES, 8, 4, 31); }

/* Index of the IQ4_NL level nearest to v (the lower one on a tie). */
static int llm__iq4nl_nearest(float v) {
    int lo = 0, hi = 15;
    if (!(v > -127.0f)) return 0; /* also NaN */
    if (v >= 113.0f) return 15;
    while (hi - lo > 1) { /* levels[lo] < v < levels[hi] */
        int mid = (lo + hi) / 2;
        if (v < (float)llm__iq4nl_values[mid]) hi = mid;
        else lo = mid;
    }
    return v - (float)llm__iq4nl_values[lo] <= (float)llm__iq4nl_values[hi] - v ? lo : hi;
}

/* Squared error of a block stored with the fp16 scale dh and each element at its nearest
   level; q gets the codes. */
static float llm__iq4nl_block_error(const float *x, uint16_t dh, uint8_t q[32]) {
    float d = llm__fp16_to_fp32(dh), id = d != 0.0f ? 1.0f / d : 0.0f, err = 0.0f;
    int j;
    for (j = 0; j < 32; j++) {
        float e;
        q[j] = (uint8_t)llm__iq4nl_nearest(x[j] * id);
        e = x[j] - d * (float)llm__iq4nl_values[q[j]];
        err += e * e;
    }
    return err;
}

/* Least-squares scale for the levels of codes q, rounded to fp16: a candidate stored scale. */
static uint16_t llm__iq4nl_fit(const float *x, const uint8_t q[32]) {
    float sqx = 0.0f, sqq = 0.0f;
    int j;
    for (j = 0; j < 32; j++) {
        float v = (float)llm__iq4nl_values[q[j]];
        sqx += v * x[j];
        sqq += v * v;
    }
    return llm__fp32_to_fp16(sqq > 0.0f ? sqx / sqq : 0.0f);
}

/* IQ4_NL weights: a search over scales. Each candidate puts the element of largest
   magnitude at -127 + 2t or 113 + 2t level units (t = -4..4: both ends of the levels, and
   near them); the codes that gives are refitted by least squares, the scale rounded to fp16
   and the block re-coded against that stored scale. The best candidate is refitted again
   while that helps. (ggml searches a similar family with x^2-weighted fits; this minimises
   the plain squared error of the block as stored.) */
static void llm__iq4_nl_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, q[32], best_q[32];
    int64_t i;
    int j, t, round;
    for (i = 0; i < n / 32; i++, b += LLM__IQ4_NL_BYTES) {
        const float *x = src + i * 32;
        float amax = 0.0f, max = 0.0f, best = FLT_MAX, err;
        uint16_t best_dh = 0, dh;
        for (j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        memset(best_q, 8, 32); /* level 1: an all-zero block stays zero with d = 0 */
        if (amax > 1e-30f && amax <= FLT_MAX) {
            for (t = 0; t < 18; t++) {
                float id = ((t < 9 ? -127.0f : 113.0f) + 2.0f * (float)(t % 9 - 4)) / max;
                for (j = 0; j < 32; j++) q[j] = (uint8_t)llm__iq4nl_nearest(x[j] * id);
                dh = llm__iq4nl_fit(x, q);
                err = llm__iq4nl_block_error(x, dh, q);
                if (err < best) {
                    best = err;
                    best_dh = dh;
                    memcpy(best_q, q, 32);
                }
            }
            for (round = 0; round < 3; round++) {
                dh = llm__iq4nl_fit(x, best_q);
                err = llm__iq4nl_block_error(x, dh, q);
                if (!(err < best)) break;
                best = err;
                best_dh = dh;
                memcpy(best_q, q, 32);
            }
        }
        llm__put16(b, best_dh);
        llm__pack_nibbles(best_q, b + 2, NULL);
    }
}

/* Q8_1, the activation form for Q4_1 and Q5_1 (ggml's CPU quantize_row_q8_1): q exactly as
   llm__q8_0_from_float (127/amax, ties to even), then s = fp16(d * sum q) with the float
   d = amax/127 before its rounding to fp16. */
static void llm__q8_1_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__Q8_1_BYTES) {
        const float *x = src + i * 32;
        float amax = 0.0f, id, d;
        int sum = 0;
        for (j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        d = amax / 127.0f;
        id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (j = 0; j < 32; j++) {
            float v = x[j] * id;
            int8_t q = llm__to_i8(v < 0 ? -llm__round_even(-v) : llm__round_even(v));
            b[4 + j] = (uint8_t)q;
            sum += q;
        }
        llm__put16(b, llm__fp32_to_fp16(d));
        llm__put16(b + 2, llm__fp32_to_fp16(d * (float)sum));
    }
}

/* ggml's quantize_row_q8_1_ref: d = amax/127, q = roundf(x * (1/d)), s = fp16(sum q * d). */
static void llm__q8_1_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += LLM__Q8_1_BYTES) {
        const float *x = src + i * 32;
        float amax = 0.0f, d, id;
        int sum = 0;
        for (j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        for (j = 0; j < 32; j++) {
            int8_t q = llm__to_i8(roundf(x[j] * id));
            b[4 + j] = (uint8_t)q;
            sum += q;
        }
        llm__put16(b, llm__fp32_to_fp16(d));
        llm__put16(b + 2, llm__fp32_to_fp16((float)sum * d));
    }
}

/* Scalar dot products: each block's integer sum is exact, then scaled in float and added in
   block order. For the _1 types the minimum meets the activations' sum: m_w * s_x. */

/* The exact integer dot of a block's 32 codes minus offset (nibbles at qs, fifth bits in qh,
   0 for the 4-bit types) with 32 int8 activations at qx. */
static int llm__q32_isum(const uint8_t *qs, uint32_t qh, int offset, const uint8_t *qx) {
    int j, isum = 0;
    for (j = 0; j < 16; j++) {
        int lo = (int)((qs[j] & 15) | ((qh >> j) & 1) << 4) - offset;
        int hi = (int)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - offset;
        isum += lo * (int8_t)qx[j] + hi * (int8_t)qx[j + 16];
    }
    return isum;
}

static void llm__vec_dot_q4_0_q8_0(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q4_0_BYTES, bx += LLM__Q8_0_BYTES) {
        int isum = llm__q32_isum(bw + 2, 0, 8, bx + 2);
        sum += (float)isum * (llm__fp16_to_fp32(llm__le16(bw)) * llm__fp16_to_fp32(llm__le16(bx)));
    }
    *s = sum;
}

static void llm__vec_dot_q5_0_q8_0(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q5_0_BYTES, bx += LLM__Q8_0_BYTES) {
        int isum = llm__q32_isum(bw + 6, llm__le32(bw + 2), 16, bx + 2);
        sum += (float)isum * (llm__fp16_to_fp32(llm__le16(bw)) * llm__fp16_to_fp32(llm__le16(bx)));
    }
    *s = sum;
}

static void llm__vec_dot_q4_1_q8_1(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q4_1_BYTES, bx += LLM__Q8_1_BYTES) {
        float dw = llm__fp16_to_fp32(llm__le16(bw)), mw = llm__fp16_to_fp32(llm__le16(bw + 2));
        float dx = llm__fp16_to_fp32(llm__le16(bx)), sx = llm__fp16_to_fp32(llm__le16(bx + 2));
        int isum = llm__q32_isum(bw + 4, 0, 0, bx + 4);
        sum += (float)isum * (dw * dx) + mw * sx;
    }
    *s = sum;
}

static void llm__vec_dot_q5_1_q8_1(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q5_1_BYTES, bx += LLM__Q8_1_BYTES) {
        float dw = llm__fp16_to_fp32(llm__le16(bw)), mw = llm__fp16_to_fp32(llm__le16(bw + 2));
        float dx = llm__fp16_to_fp32(llm__le16(bx)), sx = llm__fp16_to_fp32(llm__le16(bx + 2));
        int isum = llm__q32_isum(bw + 8, llm__le32(bw + 4), 0, bx + 4);
        sum += (float)isum * (dw * dx) + mw * sx;
    }
    *s = sum;
}

static void llm__vec_dot_iq4_nl_q8_0(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j;
    for (i = 0; i < n / 32; i++, bw += LLM__IQ4_NL_BYTES, bx += LLM__Q8_0_BYTES) {
        int isum = 0;
        for (j = 0; j < 16; j++)
            isum += llm__iq4nl_values[bw[2 + j] & 15] * (int8_t)bx[2 + j] + llm__iq4nl_values[bw[2 + j] >> 4] * (int8_t)bx[18 + j];
        sum += (float)isum * (llm__fp16_to_fp32(llm__le16(bw)) * llm__fp16_to_fp32(llm__le16(bx)));
    }
    *s = sum;
}

/* ---- Q6_K, IQ4_XS, TQ1_0, TQ2_0 ---- */
/* Four weight types in super-blocks of 256, all dotted with Q8_K activations. Each dot product
   forms one exact integer sum per super-block (sub-block sums times their integer scales) and
   adds it to a float total scaled by d_w * d_x, as ggml's kernels do; the SIMD kernels form the
   same integers and the same float steps, so they agree with these bit for bit. */

/* An integer from a float rounded half to even (ggml's nearest_int); values beyond +-2^22 are
   clamped first and NaN gives 0, so no input reaches an undefined conversion. */
static int llm__k2_round(float v) {
    if (!(v > -4194303.0f)) v = v < 0.0f ? -4194303.0f : 0.0f;
    if (v > 4194303.0f) v = 4194303.0f;
    return (int)llm__round_even(v);
}

static int llm__k2_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The first element of largest magnitude, with its sign; *amax gets the magnitude. */
static float llm__k2_signed_max(const float *x, int n, float *amax) {
    float m = 0.0f, a = 0.0f;
    int i;
    for (i = 0; i < n; i++)
        if (fabsf(x[i]) > a) {
            a = fabsf(x[i]);
            m = x[i];
        }
    *amax = a;
    return m;
}

/* Q6_K: {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d} (210 bytes). A 6-bit code
   c in 0..63 stands for c - 32; x = d * scales[e / 16] * (c - 32). Per half of 128 elements,
   element l + 32k (l < 32, k < 4) keeps its low 4 bits in ql[64h + l + 32 (k & 1)], low
   nibble for k < 2 and high nibble otherwise, and its top 2 bits in qh[32h + l] at bit 2k. */
#define LLM__Q6_K_BYTES 210

/* The 256 codes (0..63) of one block. */
static void llm__q6_K_codes(const uint8_t *b, uint8_t *c) {
    int h, l, k;
    for (h = 0; h < 2; h++)
        for (k = 0; k < 4; k++)
            for (l = 0; l < 32; l++) {
                int lo = b[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1)) & 15;
                int hi = b[128 + 32 * h + l] >> (2 * k) & 3;
                c[128 * h + 32 * k + l] = (uint8_t)(lo | hi << 4);
            }
}

static void llm__q6_K_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    uint8_t c[256];
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += LLM__Q6_K_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b + 208));
        llm__q6_K_codes(b, c);
        /* ggml's order: (d * scale) * q */
        for (j = 0; j < 256; j++) dst[j] = d * (float)(int8_t)b[192 + j / 16] * (float)(c[j] - 32);
    }
}

/* Weighted least-squares scale for n values coded as integers in [-nmax, nmax - 1], weights
   x^2 (the reference quantizer's choice without an importance matrix). Tries the scales that
   send the largest magnitude to -(nmax + t/10), t = 0 then -9..9, keeping the one with the
   largest (sum w x q)^2 / sum w q^2, and its codes q + nmax in c. Returns the scale. */
static float llm__k2_fit(const float *x, int n, int nmax, uint8_t *c) {
    float amax, max = llm__k2_signed_max(x, n, &amax), best = 0.0f, scale = 0.0f;
    int t, i;
    if (amax < 1e-15f) {
        for (i = 0; i < n; i++) c[i] = (uint8_t)nmax;
        return 0.0f;
    }
    for (t = 0; t < 19; t++) {
        int step = t == 0 ? 0 : t <= 9 ? t - 10 : t - 9;
        float is = -((float)nmax + 0.1f * (float)step) / max, sxq = 0.0f, sqq = 0.0f;
        for (i = 0; i < n; i++) {
            float q = (float)llm__k2_clamp(llm__k2_round(is * x[i]), -nmax, nmax - 1), w = x[i] * x[i];
            sxq += w * x[i] * q;
            sqq += w * q * q;
        }
        if (t == 0 || (sqq > 0.0f && sxq * sxq > best * sqq)) {
            scale = sqq > 0.0f ? sxq / sqq : 0.0f;
            best = scale * sxq;
            for (i = 0; i < n; i++) c[i] = (uint8_t)(llm__k2_clamp(llm__k2_round(is * x[i]), -nmax, nmax - 1) + nmax);
        }
    }
    return scale;
}

/* ggml's reference Q6_K quantizer: a fitted scale per 16, the 16 scales coded in int8 against
   d (the largest going to -128), then every code re-chosen with the scale it will really have. */
static void llm__q6_K_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    for (i = 0; i < n / 256; i++, b += LLM__Q6_K_BYTES) {
        const float *x = src + i * 256;
        float sc[16], smax = 0.0f, asmax = 0.0f, iscale, d;
        uint8_t c[256];
        int j, k, h, l;
        for (j = 0; j < 16; j++) {
            sc[j] = llm__k2_fit(x + 16 * j, 16, 32, c + 16 * j);
            if (fabsf(sc[j]) > asmax) {
                asmax = fabsf(sc[j]);
                smax = sc[j];
            }
        }
        memset(b, 0, LLM__Q6_K_BYTES);
        if (asmax < 1e-15f) continue; /* an all-zero block */
        iscale = -128.0f / smax;
        llm__put16(b + 208, llm__fp32_to_fp16(1.0f / iscale));
        d = llm__fp16_to_fp32(llm__le16(b + 208));
        for (j = 0; j < 16; j++) {
            int s = llm__k2_clamp(llm__k2_round(iscale * sc[j]), -128, 127);
            float ds = d * (float)s;
            b[192 + j] = (uint8_t)(int8_t)s;
            if (ds == 0.0f) continue;
            for (k = 0; k < 16; k++) c[16 * j + k] = (uint8_t)(llm__k2_clamp(llm__k2_round(x[16 * j + k] / ds), -32, 31) + 32);
        }
        for (h = 0; h < 2; h++)
            for (k = 0; k < 4; k++)
                for (l = 0; l < 32; l++) {
                    int code = c[128 * h + 32 * k + l];
                    b[64 * h + l + 32 * (k & 1)] |= (uint8_t)((code & 15) << (4 * (k >> 1)));
                    b[128 + 32 * h + l] |= (uint8_t)((code >> 4) << (2 * k));
                }
    }
}

/* sum + d_w * d_x * isum: the one float step per super-block, d_w the fp16 at dw. Every kernel
   calls this one out-of-line copy, compiled without the AVX2/FMA target, so no compiler can
   fuse it into an FMA in one kernel and not in another (-ffp-contract=fast, GCC's default in
   its GNU modes, would): scalar and SIMD round alike. One call per 256 elements. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static float llm__k2_step(float sum, const uint8_t *dw, const uint8_t *bx, int isum) {
    return sum + llm__fp16_to_fp32(llm__le16(dw)) * llm__lef32(bx) * (float)isum;
}

/* Q8_K fields of a block b: d, q, bsums. */
#define LLM__Q8_K_Q(b) ((const int8_t *)((b) + 4))

/* The -32 of the codes goes through bsums, as in ggml: sum_j s_j (sum c q - 32 bsums_j). */
static void llm__vec_dot_q6_K_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    uint8_t c[256];
    int i, j, k;
    for (i = 0; i < n / 256; i++, bw += LLM__Q6_K_BYTES, bx += LLM__Q8_K_BYTES) {
        const int8_t *q = LLM__Q8_K_Q(bx);
        int isum = 0, ioff = 0;
        llm__q6_K_codes(bw, c);
        for (j = 0; j < 16; j++) {
            int sc = (int8_t)bw[192 + j], sub = 0;
            for (k = 0; k < 16; k++) sub += c[16 * j + k] * q[16 * j + k];
            isum += sc * sub;
            ioff += sc * llm__q8_K_bsum(bx, j);
        }
        sum = llm__k2_step(sum, bw + 208, bx, isum - 32 * ioff);
    }
    *s = sum;
}

/* IQ4_XS: {fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]} (136 bytes). Sub-block
   ib of 32 has the 6-bit scale ls = (scales_l[ib/2] nibble ib%2) | (scales_h bits 2ib..2ib+1)
   << 4, and x = d * (ls - 32) * llm__iq4nl_values[code]; its codes are qs[16ib + j] low nibble
   (element j) and high nibble (element 16 + j). */
#define LLM__IQ4_XS_BYTES 136


static int llm__iq4_xs_scale(const uint8_t *b, int ib) {
    return ((b[4 + ib / 2] >> (4 * (ib & 1)) & 15) | (llm__le16(b + 2) >> (2 * ib) & 3) << 4) - 32;
}

static void llm__iq4_xs_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int ib, j;
    for (i = 0; i < n / 256; i++, b += LLM__IQ4_XS_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b));
        for (ib = 0; ib < 8; ib++) {
            float dl = d * (float)llm__iq4_xs_scale(b, ib);
            const uint8_t *qs = b + 8 + 16 * ib;
            for (j = 0; j < 16; j++) {
                dst[32 * ib + j] = dl * (float)llm__iq4nl_values[qs[j] & 15];
                dst[32 * ib + 16 + j] = dl * (float)llm__iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

/* Index of the table value nearest v (ties to the larger): how many midpoints lie at or below v. */
static int llm__iq4_index(float v) {
    int k, idx = 0;
    for (k = 0; k < 15; k++) idx += v >= 0.5f * (float)(llm__iq4nl_values[k] + llm__iq4nl_values[k + 1]);
    return idx;
}

/* Sums of w x q and w q^2 over 32 values coded with inverse scale is; codes into c if given. */
static void llm__iq4_try(const float *x, float is, float *sxq, float *sqq, uint8_t *c) {
    int j;
    *sxq = *sqq = 0.0f;
    for (j = 0; j < 32; j++) {
        int idx = llm__iq4_index(is * x[j]);
        float q = (float)llm__iq4nl_values[idx], w = x[j] * x[j];
        *sxq += w * q * x[j];
        *sqq += w * q * q;
        if (c) c[j] = (uint8_t)idx;
    }
}

/* ggml's IQ4_XS quantizer without an importance matrix: per 32 a least-squares scale from the
   best of 16 candidate inverse scales (the largest magnitude sent to +127 and to -127 + t,
   |t| <= 7), then the 8 scales coded in 6 bits against d = -(largest scale)/32 and the codes
   re-chosen with the scale each sub-block will really have. */
static void llm__iq4_xs_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    for (i = 0; i < n / 256; i++, b += LLM__IQ4_XS_BYTES) {
        const float *x = src + i * 256;
        float sc[8], smax = 0.0f, asmax = 0.0f, d, id;
        uint8_t c[32];
        unsigned sh = 0;
        int ib, t, j;
        for (ib = 0; ib < 8; ib++) {
            const float *xb = x + 32 * ib;
            float amax, max = llm__k2_signed_max(xb, 32, &amax), sxq, sqq, best, s;
            sc[ib] = 0.0f;
            if (amax < 1e-15f) continue;
            llm__iq4_try(xb, 127.0f / max, &sxq, &sqq, NULL);
            s = sqq > 0.0f ? sxq / sqq : 0.0f;
            best = s * sxq;
            for (t = -7; t <= 7; t++) {
                llm__iq4_try(xb, (float)(t - 127) / max, &sxq, &sqq, NULL);
                if (sqq > 0.0f && sxq * sxq > best * sqq) {
                    s = sxq / sqq;
                    best = s * sxq;
                }
            }
            sc[ib] = s;
            if (fabsf(s) > asmax) {
                asmax = fabsf(s);
                smax = s;
            }
        }
        memset(b, 0, LLM__IQ4_XS_BYTES);
        llm__put16(b, llm__fp32_to_fp16(-smax / 32.0f));
        d = llm__fp16_to_fp32(llm__le16(b)); /* the scale the dequantizer will use */
        id = d != 0.0f ? 1.0f / d : 0.0f;
        for (ib = 0; ib < 8; ib++) {
            int l = llm__k2_clamp(llm__k2_round(id * sc[ib]), -32, 31);
            float dl = d * (float)l, sxq, sqq;
            llm__iq4_try(x + 32 * ib, dl != 0.0f ? 1.0f / dl : 0.0f, &sxq, &sqq, c);
            for (j = 0; j < 16; j++) b[8 + 16 * ib + j] = (uint8_t)(c[j] | c[16 + j] << 4);
            b[4 + ib / 2] |= (uint8_t)(((l + 32) & 15) << (4 * (ib & 1)));
            sh |= (unsigned)((l + 32) >> 4) << (2 * ib);
        }
        llm__put16(b + 2, (uint16_t)sh);
    }
}

/* Per super-block: sum over sub-blocks of (ls - 32) * sum(value * q), one integer. */
static void llm__vec_dot_iq4_xs_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, ib, j;
    for (i = 0; i < n / 256; i++, bw += LLM__IQ4_XS_BYTES, bx += LLM__Q8_K_BYTES) {
        const int8_t *q = LLM__Q8_K_Q(bx);
        int isum = 0;
        for (ib = 0; ib < 8; ib++) {
            const uint8_t *qs = bw + 8 + 16 * ib;
            int sub = 0;
            for (j = 0; j < 16; j++)
                sub += llm__iq4nl_values[qs[j] & 15] * q[32 * ib + j] + llm__iq4nl_values[qs[j] >> 4] * q[32 * ib + 16 + j];
            isum += llm__iq4_xs_scale(bw, ib) * sub;
        }
        sum = llm__k2_step(sum, bw, bx, isum);
    }
    *s = sum;
}

/* TQ1_0: {uint8 qs[48]; uint8 qh[4]; fp16 d} (54 bytes), trits t in {-1, 0, 1}, x = d * t.
   A byte holds 5 trits as ceil(256 * v / 243), v their base-3 number (first trit most
   significant); trit k comes back as ((uint8)(byte * 3^k) * 3) >> 8, plus 0..2 -> -1..1.
   Element order: trit k of qs[m] is element 32k + m (m < 32), of qs[32 + m] element
   160 + 16k + m (m < 16); qh[m] holds 4 trits (a fifth, zero, pads it): element 240 + 4k + m. */
#define LLM__TQ1_0_BYTES 54

static const uint8_t llm__pow3[5] = {1, 3, 9, 27, 81};

static int llm__tq1_trit(uint8_t byte, int k) { return ((uint8_t)(byte * llm__pow3[k]) * 3) >> 8; }

/* The 256 trits of one block, as codes 0..2 in element order. */
static void llm__tq1_0_codes(const uint8_t *b, uint8_t *c) {
    int k, m;
    for (k = 0; k < 5; k++) {
        for (m = 0; m < 32; m++) c[32 * k + m] = (uint8_t)llm__tq1_trit(b[m], k);
        for (m = 0; m < 16; m++) c[160 + 16 * k + m] = (uint8_t)llm__tq1_trit(b[32 + m], k);
    }
    for (k = 0; k < 4; k++)
        for (m = 0; m < 4; m++) c[240 + 4 * k + m] = (uint8_t)llm__tq1_trit(b[48 + m], k);
}

static void llm__tq1_0_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    uint8_t c[256];
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += LLM__TQ1_0_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b + 52));
        llm__tq1_0_codes(b, c);
        for (j = 0; j < 256; j++) dst[j] = (float)(c[j] - 1) * d;
    }
}

/* Ternary codes 0..2 of x / amax rounded half away from zero (ggml's lroundf), d = amax. */
static float llm__tq_codes(const float *x, uint8_t *c) {
    float amax, id;
    int j;
    llm__k2_signed_max(x, 256, &amax);
    id = amax != 0.0f ? 1.0f / amax : 0.0f;
    for (j = 0; j < 256; j++) {
        float v = x[j] * id;
        c[j] = (uint8_t)(v >= 0.5f ? 2 : v <= -0.5f ? 0 : 1);
    }
    return amax;
}

/* 5 codes c[0], c[stride], ... (the first most significant; past count zeros) as one byte. */
static uint8_t llm__tq1_pack(const uint8_t *c, int stride, int count) {
    int k, v = 0;
    for (k = 0; k < 5; k++) v = 3 * v + (k < count ? c[k * stride] : 0);
    return (uint8_t)((v * 256 + 242) / 243);
}

static void llm__tq1_0_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, c[256];
    int64_t i;
    int m;
    for (i = 0; i < n / 256; i++, b += LLM__TQ1_0_BYTES) {
        llm__put16(b + 52, llm__fp32_to_fp16(llm__tq_codes(src + i * 256, c)));
        for (m = 0; m < 32; m++) b[m] = llm__tq1_pack(c + m, 32, 5);
        for (m = 0; m < 16; m++) b[32 + m] = llm__tq1_pack(c + 160 + m, 16, 5);
        for (m = 0; m < 4; m++) b[48 + m] = llm__tq1_pack(c + 240 + m, 4, 4);
    }
}

/* sum (c - 1) q = sum c q - sum bsums */
static void llm__vec_dot_tq1_0_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    uint8_t c[256];
    int i, j;
    for (i = 0; i < n / 256; i++, bw += LLM__TQ1_0_BYTES, bx += LLM__Q8_K_BYTES) {
        const int8_t *q = LLM__Q8_K_Q(bx);
        int isum = 0;
        llm__tq1_0_codes(bw, c);
        for (j = 0; j < 256; j++) isum += c[j] * q[j];
        for (j = 0; j < 16; j++) isum -= llm__q8_K_bsum(bx, j);
        sum = llm__k2_step(sum, bw + 52, bx, isum);
    }
    *s = sum;
}

/* TQ2_0: {uint8 qs[64]; fp16 d} (66 bytes), 2-bit codes c in 0..2, x = d * (c - 1). Bits 2k..2k+1
   of qs[32h + m] hold element 128h + 32k + m. */
#define LLM__TQ2_0_BYTES 66

static int llm__tq2_code(const uint8_t *b, int e) { return b[32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3)) & 3; }

static void llm__tq2_0_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += LLM__TQ2_0_BYTES, dst += 256) {
        float d = llm__fp16_to_fp32(llm__le16(b + 64));
        for (j = 0; j < 256; j++) dst[j] = (float)(llm__tq2_code(b, j) - 1) * d;
    }
}

static void llm__tq2_0_quantize(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst, c[256];
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += LLM__TQ2_0_BYTES) {
        llm__put16(b + 64, llm__fp32_to_fp16(llm__tq_codes(src + i * 256, c)));
        memset(b, 0, 64);
        for (j = 0; j < 256; j++) b[32 * (j >> 7) + (j & 31)] |= (uint8_t)(c[j] << (2 * ((j >> 5) & 3)));
    }
}

static void llm__vec_dot_tq2_0_q8_K(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, j;
    for (i = 0; i < n / 256; i++, bw += LLM__TQ2_0_BYTES, bx += LLM__Q8_K_BYTES) {
        const int8_t *q = LLM__Q8_K_Q(bx);
        int isum = 0;
        for (j = 0; j < 256; j++) isum += llm__tq2_code(bw, j) * q[j];
        for (j = 0; j < 16; j++) isum -= llm__q8_K_bsum(bx, j);
        sum = llm__k2_step(sum, bw + 64, bx, isum);
    }
    *s = sum;
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
    {2, "q4_0", 32, 18, llm__q4_0_to_float, llm__q4_0_quantize, NULL, LLM_TYPE_Q8_0, llm__vec_dot_q4_0_q8_0},
    {3, "q4_1", 32, 20, llm__q4_1_to_float, llm__q4_1_quantize, NULL, LLM_TYPE_Q8_1, llm__vec_dot_q4_1_q8_1},
    {4, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {5, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
    {6, "q5_0", 32, 22, llm__q5_0_to_float, llm__q5_0_quantize, NULL, LLM_TYPE_Q8_0, llm__vec_dot_q5_0_q8_0},
    {7, "q5_1", 32, 24, llm__q5_1_to_float, llm__q5_1_quantize, NULL, LLM_TYPE_Q8_1, llm__vec_dot_q5_1_q8_1},
    {8, "q8_0", 32, 34, llm__q8_0_to_float, llm__q8_0_quantize, llm__q8_0_from_float, LLM_TYPE_Q8_0, llm__vec_dot_q8_0_q8_0},
    {9, "q8_1", 32, 36, llm__q8_1_to_float, llm__q8_1_quantize, llm__q8_1_from_float, LLM_TYPE_Q8_1, NULL},
    {10, "q2_K", 256, 84, llm__q2_K_to_float, llm__q2_K_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_q2_K_q8_K},
    {11, "q3_K", 256, 110, llm__q3_K_to_float, llm__q3_K_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_q3_K_q8_K},
    {12, "q4_K", 256, 144, llm__q4_K_to_float, llm__q4_K_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_q4_K_q8_K},
    {13, "q5_K", 256, 176, llm__q5_K_to_float, llm__q5_K_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_q5_K_q8_K},
    {14, "q6_K", 256, 210, llm__q6_K_to_float, llm__q6_K_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_q6_K_q8_K},
    {15, "q8_K", 256, 292, llm__q8_K_to_float, llm__q8_K_from_float, llm__q8_K_from_float, LLM_TYPE_Q8_K, NULL},
    {16, "iq2_xxs", 256, 66, NULL, NULL, NULL, 0, NULL},
    {17, "iq2_xs", 256, 74, NULL, NULL, NULL, 0, NULL},
    {18, "iq3_xxs", 256, 98, NULL, NULL, NULL, 0, NULL},
    {19, "iq1_s", 256, 50, NULL, NULL, NULL, 0, NULL},
    {20, "iq4_nl", 32, 18, llm__iq4_nl_to_float, llm__iq4_nl_quantize, NULL, LLM_TYPE_Q8_0, llm__vec_dot_iq4_nl_q8_0},
    {21, "iq3_s", 256, 110, NULL, NULL, NULL, 0, NULL},
    {22, "iq2_s", 256, 82, NULL, NULL, NULL, 0, NULL},
    {23, "iq4_xs", 256, 136, llm__iq4_xs_to_float, llm__iq4_xs_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_iq4_xs_q8_K},
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
    {34, "tq1_0", 256, 54, llm__tq1_0_to_float, llm__tq1_0_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_tq1_0_q8_K},
    {35, "tq2_0", 256, 66, llm__tq2_0_to_float, llm__tq2_0_quantize, NULL, LLM_TYPE_Q8_K, llm__vec_dot_tq2_0_q8_K},
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

LLMDEF size_t llm_quantize(int type, const float *src, void *dst, int64_t n_rows, int64_t n_per_row) {
    const llm__type_traits *t = llm__type(type);
    size_t rb = llm__type_row_bytes(type, n_per_row), total;
    int64_t r;
    if (!t || !t->quantize || !rb || n_rows < 0 || !src || !dst || !llm__mul_size(rb, (size_t)n_rows, &total)) return 0;
    for (r = 0; r < n_rows; r++) t->quantize(src + (size_t)r * (size_t)n_per_row, (uint8_t *)dst + (size_t)r * rb, n_per_row);
    return total;
}

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
        __m256 d = _mm256_set1_ps(_cvtsh_ss(llm__le16(bw)) * _cvtsh_ss(llm__le16(bx))); /* F16C: exact, as the scalar */
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(llm__dot_i8x32_avx2(qw, qx)), acc);
    }
    *s = llm__hsum256(acc);
}

/* K-quants with Q8_K: each super-block's integer sums isum and msum (see the scalar kernels)
   formed exactly in int32 lanes and finished by llm__kq_combine, so these kernels give the
   scalar kernels' bits. maddubs multiplies unsigned weight levels by signed activations; a
   pair of products stays within int16 (at most 2 * 31 * 127). */
/* fp16 and float factors read in place: F16C's conversion is exact, as llm__fp16_to_fp32. */
LLM__TARGET_AVX2 static inline float llm__kq_half_avx2(const uint8_t *p) { return _cvtsh_ss((unsigned short)(p[0] | p[1] << 8)); }
LLM__TARGET_AVX2 static inline float llm__kq_f32_avx2(const uint8_t *p) {
    float f;
    memcpy(&f, p, 4); /* x86 is little-endian */
    return f;
}

LLM__TARGET_AVX2 static int llm__hsum_i32_avx2(__m256i v) {
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* int16 lanes: a in the low 128 bits, b in the high 128 bits (two sub-blocks of 16). */
LLM__TARGET_AVX2 static __m256i llm__kq_pair16_avx2(int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)), _mm_set1_epi16((short)b), 1);
}

/* sum_j m[j] * (bsums[2j] + bsums[2j + 1]) for Q4_K/Q5_K's eight mins. */
LLM__TARGET_AVX2 static int llm__kq_msum8_avx2(const uint8_t *bx, const int *mn) {
    __m256i m = _mm256_setr_epi16((short)mn[0], (short)mn[0], (short)mn[1], (short)mn[1], (short)mn[2], (short)mn[2], (short)mn[3],
                                  (short)mn[3], (short)mn[4], (short)mn[4], (short)mn[5], (short)mn[5], (short)mn[6], (short)mn[6],
                                  (short)mn[7], (short)mn[7]);
    return llm__hsum_i32_avx2(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(bx + 260)), m));
}

LLM__TARGET_AVX2 static void llm__vec_dot_q2_K_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i three = _mm256_set1_epi8(3);
    float sum = 0.0f;
    int i, h, k;
    for (i = 0; i < n / 256; i++, bw += LLM__Q2_K_BYTES, bx += LLM__Q8_K_BYTES) {
        __m256i sm = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)bw)), acc = _mm256_setzero_si256();
        int msum = llm__hsum_i32_avx2(
            _mm256_madd_epi16(_mm256_srli_epi16(sm, 4), _mm256_loadu_si256((const __m256i *)(bx + 260))));
        for (h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw + 16 + 32 * h));
            for (k = 0; k < 4; k++) {
                int j = 8 * h + 2 * k;
                __m256i v = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * k)), three);
                __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(bx + 4 + 128 * h + 32 * k)));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, llm__kq_pair16_avx2(bw[j] & 15, bw[j + 1] & 15)));
            }
        }
        sum = llm__kq_combine(sum, llm__kq_half_avx2(bw + 80), llm__kq_half_avx2(bw + 82), llm__kq_f32_avx2(bx),
                              llm__hsum_i32_avx2(acc), msum);
    }
    *s = sum;
}

/* Q3_K's level q - 4 with q = low 2 bits | third bit << 2 in 0..7: sum (q - 4) x over a
   sub-block is sum q x - 4 * bsum, so maddubs takes q and the bsums carry the offset. */
LLM__TARGET_AVX2 static void llm__vec_dot_q3_K_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    float sum = 0.0f;
    int i, h, k, sc[16];
    for (i = 0; i < n / 256; i++, bw += LLM__Q3_K_BYTES, bx += LLM__Q8_K_BYTES) {
        __m256i hm = _mm256_loadu_si256((const __m256i *)bw), acc = _mm256_setzero_si256(), sv;
        int corr;
        llm__q3_K_scales(bw + 96, sc);
        sv = _mm256_setr_epi16((short)sc[0], (short)sc[1], (short)sc[2], (short)sc[3], (short)sc[4], (short)sc[5], (short)sc[6],
                               (short)sc[7], (short)sc[8], (short)sc[9], (short)sc[10], (short)sc[11], (short)sc[12], (short)sc[13],
                               (short)sc[14], (short)sc[15]);
        corr = llm__hsum_i32_avx2(_mm256_madd_epi16(sv, _mm256_loadu_si256((const __m256i *)(bx + 260))));
        for (h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw + 32 + 32 * h));
            for (k = 0; k < 4; k++) {
                int j = 8 * h + 2 * k;
                __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + k)));
                __m256i hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), four);
                __m256i v = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * k)), three), hb);
                __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(bx + 4 + 128 * h + 32 * k)));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, llm__kq_pair16_avx2(sc[j], sc[j + 1])));
            }
        }
        sum = llm__kq_combine(sum, llm__kq_half_avx2(bw + 108), 0.0f, llm__kq_f32_avx2(bx), llm__hsum_i32_avx2(acc) - 4 * corr, 0);
    }
    *s = sum;
}

LLM__TARGET_AVX2 static void llm__vec_dot_q4_K_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i low = _mm256_set1_epi8(15);
    float sum = 0.0f;
    int i, g, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, bw += LLM__Q4_K_BYTES, bx += LLM__Q8_K_BYTES) {
        __m256i acc = _mm256_setzero_si256();
        llm__k4_scales(bw + 4, sc, mn);
        for (g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw + 16 + 32 * g));
            __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, low), _mm256_loadu_si256((const __m256i *)(bx + 4 + 64 * g)));
            __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), low),
                                              _mm256_loadu_si256((const __m256i *)(bx + 36 + 64 * g)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p0, _mm256_set1_epi16((short)sc[2 * g])));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p1, _mm256_set1_epi16((short)sc[2 * g + 1])));
        }
        sum = llm__kq_combine(sum, llm__kq_half_avx2(bw), llm__kq_half_avx2(bw + 2), llm__kq_f32_avx2(bx),
                              llm__hsum_i32_avx2(acc), llm__kq_msum8_avx2(bx, mn));
    }
    *s = sum;
}

LLM__TARGET_AVX2 static void llm__vec_dot_q5_K_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i low = _mm256_set1_epi8(15), sixteen = _mm256_set1_epi8(16);
    float sum = 0.0f;
    int i, g, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, bw += LLM__Q5_K_BYTES, bx += LLM__Q8_K_BYTES) {
        __m256i qh = _mm256_loadu_si256((const __m256i *)(bw + 16)), acc = _mm256_setzero_si256();
        llm__k4_scales(bw + 4, sc, mn);
        for (g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw + 48 + 32 * g));
            __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * g))), b1 = _mm256_set1_epi8((char)(1 << (2 * g + 1)));
            __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b0), b0), sixteen);
            __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), sixteen);
            __m256i p0 = _mm256_maddubs_epi16(_mm256_or_si256(_mm256_and_si256(q, low), h0),
                                              _mm256_loadu_si256((const __m256i *)(bx + 4 + 64 * g)));
            __m256i p1 = _mm256_maddubs_epi16(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), h1),
                                              _mm256_loadu_si256((const __m256i *)(bx + 36 + 64 * g)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p0, _mm256_set1_epi16((short)sc[2 * g])));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p1, _mm256_set1_epi16((short)sc[2 * g + 1])));
        }
        sum = llm__kq_combine(sum, llm__kq_half_avx2(bw), llm__kq_half_avx2(bw + 2), llm__kq_f32_avx2(bx),
                              llm__hsum_i32_avx2(acc), llm__kq_msum8_avx2(bx, mn));
    }
    *s = sum;
}
/* ---- 32-element blocks: Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL against Q8_0/Q8_1 ---- */
/* Each block's integer dot is exact (as in the scalar kernels); the scaled blocks are summed
   in 8 float lanes with FMA, so results differ from the scalar order by float rounding only. */

/* A block's 16 bytes of nibbles as 32 codes: low nibbles in bytes 0..15, high in 16..31. */
LLM__TARGET_AVX2 static __m256i llm__nibbles_avx2(const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* 0x10 in byte j where bit j of the little-endian u32 at qh is set: the fifth bits. */
LLM__TARGET_AVX2 static __m256i llm__fifth_bits_avx2(const uint8_t *qh) {
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)llm__le32(qh)), spread); /* byte j: qh byte j/8 */
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* 8 int32 lanes summing u[j] * x[j] for unsigned codes u <= 31 (pairs stay within int16). */
LLM__TARGET_AVX2 static __m256i llm__dot_u8i8x32_avx2(__m256i u, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

/* The product of two fp16 values in memory (scales), widened by F16C, which is exact. No
   call leaves the AVX2 code here: calling llm__fp16_to_fp32 from these loops made them ~50x
   slower on an AMD EPYC VM. x86 is little-endian, so memcpy gives the file's value. */
LLM__TARGET_AVX2 static float llm__scale_avx2(const uint8_t *bw, const uint8_t *bx) {
    uint16_t a, b;
    memcpy(&a, bw, 2);
    memcpy(&b, bx, 2);
    return _cvtsh_ss(a) * _cvtsh_ss(b);
}

LLM__TARGET_AVX2 static void llm__vec_dot_q4_0_q8_0_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    __m256 acc = _mm256_setzero_ps();
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q4_0_BYTES, bx += LLM__Q8_0_BYTES) {
        __m256i qw = _mm256_sub_epi8(llm__nibbles_avx2(bw + 2), _mm256_set1_epi8(8));
        __m256i qx = _mm256_loadu_si256((const __m256i *)(bx + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__scale_avx2(bw, bx)), _mm256_cvtepi32_ps(llm__dot_i8x32_avx2(qw, qx)), acc);
    }
    *s = llm__hsum256(acc);
}

LLM__TARGET_AVX2 static void llm__vec_dot_q5_0_q8_0_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    __m256 acc = _mm256_setzero_ps();
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q5_0_BYTES, bx += LLM__Q8_0_BYTES) {
        __m256i qw = _mm256_or_si256(llm__nibbles_avx2(bw + 6), llm__fifth_bits_avx2(bw + 2));
        __m256i qx = _mm256_loadu_si256((const __m256i *)(bx + 2));
        qw = _mm256_sub_epi8(qw, _mm256_set1_epi8(16));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__scale_avx2(bw, bx)), _mm256_cvtepi32_ps(llm__dot_i8x32_avx2(qw, qx)), acc);
    }
    *s = llm__hsum256(acc);
}

LLM__TARGET_AVX2 static void llm__vec_dot_iq4_nl_q8_0_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)llm__iq4nl_values));
    __m256 acc = _mm256_setzero_ps();
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__IQ4_NL_BYTES, bx += LLM__Q8_0_BYTES) {
        __m256i qw = _mm256_shuffle_epi8(levels, llm__nibbles_avx2(bw + 2)); /* code -> level, |level| <= 127 */
        __m256i qx = _mm256_loadu_si256((const __m256i *)(bx + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__scale_avx2(bw, bx)), _mm256_cvtepi32_ps(llm__dot_i8x32_avx2(qw, qx)), acc);
    }
    *s = llm__hsum256(acc);
}

LLM__TARGET_AVX2 static void llm__vec_dot_q4_1_q8_1_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q4_1_BYTES, bx += LLM__Q8_1_BYTES) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)(bx + 4));
        __m256i d = llm__dot_u8i8x32_avx2(llm__nibbles_avx2(bw + 4), qx);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__scale_avx2(bw, bx)), _mm256_cvtepi32_ps(d), acc);
        mins += llm__scale_avx2(bw + 2, bx + 2); /* m_w * s_x */
    }
    *s = llm__hsum256(acc) + mins;
}

LLM__TARGET_AVX2 static void llm__vec_dot_q5_1_q8_1_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__Q5_1_BYTES, bx += LLM__Q8_1_BYTES) {
        __m256i qw = _mm256_or_si256(llm__nibbles_avx2(bw + 8), llm__fifth_bits_avx2(bw + 4));
        __m256i qx = _mm256_loadu_si256((const __m256i *)(bx + 4));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__scale_avx2(bw, bx)), _mm256_cvtepi32_ps(llm__dot_u8i8x32_avx2(qw, qx)), acc);
        mins += llm__scale_avx2(bw + 2, bx + 2);
    }
    *s = llm__hsum256(acc) + mins;
}
/* ---- Q6_K, IQ4_XS, TQ1_0, TQ2_0 against Q8_K: the scalar kernels' integers, exactly ---- */


/* llm__k2_step for the AVX2 kernels: the same operations, the fp16 scale widened by F16C
   (exact, as llm__fp16_to_fp32). Out of line and built for AVX2 without FMA, so it cannot be
   fused either; and it keeps legacy-SSE code (the scalar helpers) out of these kernels, since
   calling it with live YMM registers costs far more than the arithmetic on some machines. */
__attribute__((noinline, target("avx2,f16c"))) static float llm__k2_step_avx2(float sum, const uint8_t *dw,
                                                                             const uint8_t *bx, int isum) {
    float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(llm__le16(dw))));
    float dx = _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128((int)llm__le32(bx))));
    return sum + d * dx * (float)isum;
}

/* 16 int16: a in the low 128-bit lane, b in the high one. */
LLM__TARGET_AVX2 static __m256i llm__pair_epi16_avx2(int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)), _mm_set1_epi16((short)b), 1);
}

/* sum of the 16 bsums of a Q8_K block (the sum of its q) */
LLM__TARGET_AVX2 static int llm__q8_K_qsum_avx2(const uint8_t *bx) {
    return llm__hsum_i32_avx2(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(bx + 260)), _mm256_set1_epi16(1)));
}

/* Codes 0..63 (unsigned) times q (signed) by maddubs: |pair| <= 2 * 63 * 127, no saturation;
   each 32-code run spans two sub-blocks, weighted by their scales in madd. */
LLM__TARGET_AVX2 static void llm__vec_dot_q6_K_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    float sum = 0.0f;
    int i, h, k;
    for (i = 0; i < n / 256; i++, bw += LLM__Q6_K_BYTES, bx += LLM__Q8_K_BYTES) {
        const int8_t *sc = (const int8_t *)(bw + 192);
        __m256i acc = _mm256_setzero_si256();
        __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(bx + 260)),
                                        _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bw + 192))));
        for (h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(bw + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(bw + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(bw + 128 + 32 * h));
            for (k = 0; k < 4; k++) {
                __m256i lo = _mm256_and_si256(k & 2 ? _mm256_srli_epi16(k & 1 ? l1 : l0, 4) : (k & 1 ? l1 : l0), m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2);
                __m256i c = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
                __m256i q = _mm256_loadu_si256((const __m256i *)(bx + 4 + 128 * h + 32 * k));
                int j = 8 * h + 2 * k;
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(c, q), llm__pair_epi16_avx2(sc[j], sc[j + 1])));
            }
        }
        sum = llm__k2_step_avx2(sum, bw + 208, bx, llm__hsum_i32_avx2(acc) - 32 * llm__hsum_i32_avx2(off));
    }
    *s = sum;
}

/* The table values by PSHUFB from the nibbles (low nibbles of 16 bytes in the low lane, high
   nibbles in the high lane: the sub-block's element order), then a signed int8 dot. */
LLM__TARGET_AVX2 static void llm__vec_dot_iq4_xs_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)llm__iq4nl_values));
    const __m128i m4 = _mm_set1_epi8(15);
    float sum = 0.0f;
    int i, ib;
    for (i = 0; i < n / 256; i++, bw += LLM__IQ4_XS_BYTES, bx += LLM__Q8_K_BYTES) {
        __m256i acc = _mm256_setzero_si256();
        for (ib = 0; ib < 8; ib++) {
            __m128i b = _mm_loadu_si128((const __m128i *)(bw + 8 + 16 * ib));
            __m256i idx = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(b, m4)), _mm_and_si128(_mm_srli_epi16(b, 4), m4), 1);
            __m256i v = _mm256_shuffle_epi8(table, idx), q = _mm256_loadu_si256((const __m256i *)(bx + 4 + 32 * ib));
            __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(q, v));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16((short)llm__iq4_xs_scale(bw, ib))));
        }
        sum = llm__k2_step_avx2(sum, bw, bx, llm__hsum_i32_avx2(acc));
    }
    *s = sum;
}

/* Trits decoded in 16-bit lanes: (byte * 3^k mod 256) * 3 >> 8, then multiplied with q widened
   to 16 bits; the four qh bytes (16 elements) go through the scalar decoder. */
LLM__TARGET_AVX2 static __m256i llm__tq1_dot16_avx2(__m128i bytes16, int k, const uint8_t *q) {
    __m256i v = _mm256_cvtepu8_epi16(bytes16);
    v = _mm256_and_si256(_mm256_mullo_epi16(v, _mm256_set1_epi16(llm__pow3[k])), _mm256_set1_epi16(255));
    v = _mm256_srli_epi16(_mm256_mullo_epi16(v, _mm256_set1_epi16(3)), 8);
    return _mm256_madd_epi16(v, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)q)));
}

LLM__TARGET_AVX2 static void llm__vec_dot_tq1_0_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i, k, m;
    for (i = 0; i < n / 256; i++, bw += LLM__TQ1_0_BYTES, bx += LLM__Q8_K_BYTES) {
        const int8_t *q = LLM__Q8_K_Q(bx);
        __m128i a = _mm_loadu_si128((const __m128i *)bw), b = _mm_loadu_si128((const __m128i *)(bw + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(bw + 32));
        __m256i acc = _mm256_setzero_si256();
        int isum;
        for (k = 0; k < 5; k++) {
            acc = _mm256_add_epi32(acc, llm__tq1_dot16_avx2(a, k, bx + 4 + 32 * k));
            acc = _mm256_add_epi32(acc, llm__tq1_dot16_avx2(b, k, bx + 4 + 32 * k + 16));
            acc = _mm256_add_epi32(acc, llm__tq1_dot16_avx2(c, k, bx + 4 + 160 + 16 * k));
        }
        isum = llm__hsum_i32_avx2(acc) - llm__q8_K_qsum_avx2(bx);
        for (k = 0; k < 4; k++)
            for (m = 0; m < 4; m++) isum += llm__tq1_trit(bw[48 + m], k) * q[240 + 4 * k + m];
        sum = llm__k2_step_avx2(sum, bw + 52, bx, isum);
    }
    *s = sum;
}

/* Codes 0..2 (unsigned) times q by maddubs, then sum c q - sum q. */
LLM__TARGET_AVX2 static void llm__vec_dot_tq2_0_q8_K_avx2(int n, float *s, const void *w, const void *x) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi16(1);
    float sum = 0.0f;
    int i, h, k;
    for (i = 0; i < n / 256; i++, bw += LLM__TQ2_0_BYTES, bx += LLM__Q8_K_BYTES) {
        __m256i acc = _mm256_setzero_si256();
        for (h = 0; h < 2; h++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(bw + 32 * h));
            for (k = 0; k < 4; k++) {
                __m256i c = _mm256_and_si256(_mm256_srli_epi16(b, 2 * k), m2);
                __m256i q = _mm256_loadu_si256((const __m256i *)(bx + 4 + 128 * h + 32 * k));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(c, q), one));
            }
        }
        sum = llm__k2_step_avx2(sum, bw + 64, bx, llm__hsum_i32_avx2(acc) - llm__q8_K_qsum_avx2(bx));
    }
    *s = sum;
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


/* K-quants with Q8_K: per sub-block int32x4 partial sums of q_w * q_x (SDOT with dotprod;
   otherwise int8 products widened to int16 and pairs added into int32), scaled by the
   sub-block's integer scale into one accumulator, so each super-block's isum and msum are
   the scalar kernel's exact integers and llm__kq_combine gives the same bits. dot is a
   constant in each caller: the always-inlined bodies serve both instruction sets. */
LLM__KQ_INLINE int32x4_t llm__kq_dot16_neon(int32x4_t acc, int8x16_t a, int8x16_t b, int dot) {
#if defined(__ARM_FEATURE_DOTPROD)
    if (dot) return vdotq_s32(acc, a, b);
#endif
    (void)dot;
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

static int8x16_t llm__kq_x16_neon(const uint8_t *p) { return vreinterpretq_s8_u8(vld1q_u8(p)); }

LLM__KQ_INLINE float llm__vec_dot_q2_K_body_neon(int n, const uint8_t *bw, const uint8_t *bx, int dot) {
    const uint8x16_t three = vdupq_n_u8(3);
    float sum = 0.0f;
    int i, h, k, j;
    for (i = 0; i < n / 256; i++, bw += LLM__Q2_K_BYTES, bx += LLM__Q8_K_BYTES) {
        int32x4_t acc = vdupq_n_s32(0);
        int msum = 0;
        for (j = 0; j < 16; j++) msum += (bw[j] >> 4) * llm__q8_K_bsum(bx, j);
        for (h = 0; h < 2; h++) {
            uint8x16_t q0 = vld1q_u8(bw + 16 + 32 * h), q1 = vld1q_u8(bw + 32 + 32 * h);
            for (k = 0; k < 4; k++) {
                int8x16_t sh = vdupq_n_s8((int8_t)(-2 * k));
                const uint8_t *px = bx + 4 + 128 * h + 32 * k;
                int8x16_t v0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, sh), three));
                int8x16_t v1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, sh), three));
                j = 8 * h + 2 * k;
                acc = vmlaq_n_s32(acc, llm__kq_dot16_neon(vdupq_n_s32(0), v0, llm__kq_x16_neon(px), dot), bw[j] & 15);
                acc = vmlaq_n_s32(acc, llm__kq_dot16_neon(vdupq_n_s32(0), v1, llm__kq_x16_neon(px + 16), dot), bw[j + 1] & 15);
            }
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw + 80)), llm__fp16_to_fp32(llm__le16(bw + 82)), llm__lef32(bx),
                              vaddvq_s32(acc), msum);
    }
    return sum;
}

/* Q3_K: levels rebuilt as (low 2 bits | third bit << 2) - 4, int8 in -4..3. */
LLM__KQ_INLINE float llm__vec_dot_q3_K_body_neon(int n, const uint8_t *bw, const uint8_t *bx, int dot) {
    const uint8x16_t three = vdupq_n_u8(3), four = vdupq_n_u8(4);
    float sum = 0.0f;
    int i, h, k, j, sc[16];
    for (i = 0; i < n / 256; i++, bw += LLM__Q3_K_BYTES, bx += LLM__Q8_K_BYTES) {
        uint8x16_t hm0 = vld1q_u8(bw), hm1 = vld1q_u8(bw + 16);
        int32x4_t acc = vdupq_n_s32(0);
        llm__q3_K_scales(bw + 96, sc);
        for (h = 0; h < 2; h++) {
            uint8x16_t q0 = vld1q_u8(bw + 32 + 32 * h), q1 = vld1q_u8(bw + 48 + 32 * h);
            for (k = 0; k < 4; k++) {
                int8x16_t sh = vdupq_n_s8((int8_t)(-2 * k));
                uint8x16_t bit = vdupq_n_u8((uint8_t)(1 << (4 * h + k)));
                const uint8_t *px = bx + 4 + 128 * h + 32 * k;
                uint8x16_t u0 = vorrq_u8(vandq_u8(vshlq_u8(q0, sh), three), vandq_u8(vtstq_u8(hm0, bit), four));
                uint8x16_t u1 = vorrq_u8(vandq_u8(vshlq_u8(q1, sh), three), vandq_u8(vtstq_u8(hm1, bit), four));
                int8x16_t v0 = vsubq_s8(vreinterpretq_s8_u8(u0), vdupq_n_s8(4)), v1 = vsubq_s8(vreinterpretq_s8_u8(u1), vdupq_n_s8(4));
                j = 8 * h + 2 * k;
                acc = vmlaq_n_s32(acc, llm__kq_dot16_neon(vdupq_n_s32(0), v0, llm__kq_x16_neon(px), dot), sc[j]);
                acc = vmlaq_n_s32(acc, llm__kq_dot16_neon(vdupq_n_s32(0), v1, llm__kq_x16_neon(px + 16), dot), sc[j + 1]);
            }
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw + 108)), 0.0f, llm__lef32(bx), vaddvq_s32(acc), 0);
    }
    return sum;
}

/* Q4_K (qh == 0) and Q5_K (qh: the fifth bits, qs 32 bytes further on). */
LLM__KQ_INLINE float llm__vec_dot_q45_K_body_neon(int n, const uint8_t *bw, const uint8_t *bx, int q5, int dot) {
    const uint8x16_t low = vdupq_n_u8(15), sixteen = vdupq_n_u8(16);
    float sum = 0.0f;
    int i, g, j, sc[8], mn[8];
    for (i = 0; i < n / 256; i++, bw += q5 ? LLM__Q5_K_BYTES : LLM__Q4_K_BYTES, bx += LLM__Q8_K_BYTES) {
        const uint8_t *qs = bw + (q5 ? 48 : 16);
        uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
        int32x4_t acc = vdupq_n_s32(0);
        int msum = 0;
        llm__k4_scales(bw + 4, sc, mn);
        for (j = 0; j < 8; j++) msum += mn[j] * (llm__q8_K_bsum(bx, 2 * j) + llm__q8_K_bsum(bx, 2 * j + 1));
        if (q5) {
            h0 = vld1q_u8(bw + 16);
            h1 = vld1q_u8(bw + 32);
        }
        for (g = 0; g < 4; g++) {
            uint8x16_t q0 = vld1q_u8(qs + 32 * g), q1 = vld1q_u8(qs + 16 + 32 * g);
            uint8x16_t l0 = vandq_u8(q0, low), l1 = vandq_u8(q1, low), u0 = vshrq_n_u8(q0, 4), u1 = vshrq_n_u8(q1, 4);
            const uint8_t *px = bx + 4 + 64 * g;
            int32x4_t s0, s1;
            if (q5) {
                uint8x16_t b0 = vdupq_n_u8((uint8_t)(1 << (2 * g))), b1 = vdupq_n_u8((uint8_t)(2 << (2 * g)));
                l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, b0), sixteen));
                l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, b0), sixteen));
                u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, b1), sixteen));
                u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, b1), sixteen));
            }
            s0 = llm__kq_dot16_neon(vdupq_n_s32(0), vreinterpretq_s8_u8(l0), llm__kq_x16_neon(px), dot);
            s0 = llm__kq_dot16_neon(s0, vreinterpretq_s8_u8(l1), llm__kq_x16_neon(px + 16), dot);
            s1 = llm__kq_dot16_neon(vdupq_n_s32(0), vreinterpretq_s8_u8(u0), llm__kq_x16_neon(px + 32), dot);
            s1 = llm__kq_dot16_neon(s1, vreinterpretq_s8_u8(u1), llm__kq_x16_neon(px + 48), dot);
            acc = vmlaq_n_s32(acc, s0, sc[2 * g]);
            acc = vmlaq_n_s32(acc, s1, sc[2 * g + 1]);
        }
        sum = llm__kq_combine(sum, llm__fp16_to_fp32(llm__le16(bw)), llm__fp16_to_fp32(llm__le16(bw + 2)), llm__lef32(bx),
                              vaddvq_s32(acc), msum);
    }
    return sum;
}

static void llm__vec_dot_q2_K_q8_K_neon(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q2_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 0);
}
static void llm__vec_dot_q3_K_q8_K_neon(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q3_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 0);
}
static void llm__vec_dot_q4_K_q8_K_neon(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q45_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 0, 0);
}
static void llm__vec_dot_q5_K_q8_K_neon(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q45_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 1, 0);
}
#if defined(__ARM_FEATURE_DOTPROD)
static void llm__vec_dot_q2_K_q8_K_neon_dotprod(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q2_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 1);
}
static void llm__vec_dot_q3_K_q8_K_neon_dotprod(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q3_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 1);
}
static void llm__vec_dot_q4_K_q8_K_neon_dotprod(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q45_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 0, 1);
}
static void llm__vec_dot_q5_K_q8_K_neon_dotprod(int n, float *s, const void *w, const void *x) {
    *s = llm__vec_dot_q45_K_body_neon(n, (const uint8_t *)w, (const uint8_t *)x, 1, 1);
}
#endif /* __ARM_FEATURE_DOTPROD */

/* Registers the K-quant kernels (called from llm__kernels_init_neon). */
static void llm__kernels_init_kquants_neon(llm__kernels *k) {
    k->vec_dot[LLM_TYPE_Q2_K] = llm__vec_dot_q2_K_q8_K_neon;
    k->vec_dot[LLM_TYPE_Q3_K] = llm__vec_dot_q3_K_q8_K_neon;
    k->vec_dot[LLM_TYPE_Q4_K] = llm__vec_dot_q4_K_q8_K_neon;
    k->vec_dot[LLM_TYPE_Q5_K] = llm__vec_dot_q5_K_q8_K_neon;
#if defined(__ARM_FEATURE_DOTPROD)
    if (k->features & LLM_CPU_DOTPROD) {
        k->vec_dot[LLM_TYPE_Q2_K] = llm__vec_dot_q2_K_q8_K_neon_dotprod;
        k->vec_dot[LLM_TYPE_Q3_K] = llm__vec_dot_q3_K_q8_K_neon_dotprod;
        k->vec_dot[LLM_TYPE_Q4_K] = llm__vec_dot_q4_K_q8_K_neon_dotprod;
        k->vec_dot[LLM_TYPE_Q5_K] = llm__vec_dot_q5_K_q8_K_neon_dotprod;
    }
#endif
}

/* ---- 32-element blocks: Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL against Q8_0/Q8_1 ---- */
/* As for Q8_0: each block's integer dot is exact and the blocks are scaled and summed in the
   scalar kernels' order and expressions, so these are bit-identical to them. Each body takes
   sdot (1: ARMv8.2 SDOT) and is instantiated twice, as _neon and _neon_dotprod. */

/* A block's nibbles as two vectors of codes: elements 0..15 (low nibbles), 16..31 (high). */
static void llm__nibbles_neon(const uint8_t *qs, uint8x16_t *lo, uint8x16_t *hi) {
    uint8x16_t b = vld1q_u8(qs);
    *lo = vandq_u8(b, vdupq_n_u8(15));
    *hi = vshrq_n_u8(b, 4);
}

/* Adds 0x10 to code j where bit j of the little-endian u32 at qh is set: the fifth bits. */
static void llm__fifth_bits_neon(const uint8_t *qh, uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t m = vld1q_u8(bit), h = vdupq_n_u8(0x10);
    uint8x8_t b = vreinterpret_u8_u32(vdup_n_u32(llm__le32(qh))); /* qh bytes 0..3, twice */
    *lo = vorrq_u8(*lo, vandq_u8(vtstq_u8(vcombine_u8(vdup_lane_u8(b, 0), vdup_lane_u8(b, 1)), m), h));
    *hi = vorrq_u8(*hi, vandq_u8(vtstq_u8(vcombine_u8(vdup_lane_u8(b, 2), vdup_lane_u8(b, 3)), m), h));
}

/* The exact integer dot of 32 weights (w0: elements 0..15, w1: 16..31) with the int8
   activations at px. ARMv8.0: products widened to int16, pairs added into int32. */
static int llm__dot_s8x32_neon(int8x16_t w0, int8x16_t w1, const uint8_t *px, int sdot) {
    int8x16_t x0 = vreinterpretq_s8_u8(vld1q_u8(px)), x1 = vreinterpretq_s8_u8(vld1q_u8(px + 16));
    int32x4_t acc = vdupq_n_s32(0);
#if defined(__ARM_FEATURE_DOTPROD)
    if (sdot) return vaddvq_s32(vdotq_s32(vdotq_s32(acc, w0, x0), w1, x1));
#endif
    (void)sdot;
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    acc = vpadalq_s16(acc, vmull_high_s8(w0, x0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    acc = vpadalq_s16(acc, vmull_high_s8(w1, x1));
    return vaddvq_s32(acc);
}

/* Q4_0 (fifth = 0, offset 8) and Q5_0 (fifth bits at 2, offset 16) against Q8_0. */
static void llm__dot_q4_q5_0_neon(int n, float *s, const void *w, const void *x, int bytes, int qs_at, int qh_at, int offset, int sdot) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const int8x16_t off = vdupq_n_s8((int8_t)offset);
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += bytes, bx += LLM__Q8_0_BYTES) {
        uint8x16_t lo, hi;
        int isum;
        llm__nibbles_neon(bw + qs_at, &lo, &hi);
        if (qh_at) llm__fifth_bits_neon(bw + qh_at, &lo, &hi);
        isum = llm__dot_s8x32_neon(vsubq_s8(vreinterpretq_s8_u8(lo), off), vsubq_s8(vreinterpretq_s8_u8(hi), off), bx + 2, sdot);
        sum += (float)isum * llm__q8_0_scale_neon(bw, bx);
    }
    *s = sum;
}

/* Q4_1 and Q5_1 against Q8_1: codes 0..31 are int8 as they are. */
static void llm__dot_q4_q5_1_neon(int n, float *s, const void *w, const void *x, int bytes, int qs_at, int qh_at, int sdot) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += bytes, bx += LLM__Q8_1_BYTES) {
        uint8x16_t lo, hi;
        int isum;
        float mw = llm__fp16_to_fp32(llm__le16(bw + 2)), sx = llm__fp16_to_fp32(llm__le16(bx + 2));
        llm__nibbles_neon(bw + qs_at, &lo, &hi);
        if (qh_at) llm__fifth_bits_neon(bw + qh_at, &lo, &hi);
        isum = llm__dot_s8x32_neon(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), bx + 4, sdot);
        sum += (float)isum * llm__q8_0_scale_neon(bw, bx) + mw * sx;
    }
    *s = sum;
}

static void llm__dot_iq4_nl_neon(int n, float *s, const void *w, const void *x, int sdot) {
    const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;
    const int8x16_t levels = vld1q_s8(llm__iq4nl_values);
    float sum = 0.0f;
    int i;
    for (i = 0; i < n / 32; i++, bw += LLM__IQ4_NL_BYTES, bx += LLM__Q8_0_BYTES) {
        uint8x16_t lo, hi;
        int isum;
        llm__nibbles_neon(bw + 2, &lo, &hi);
        isum = llm__dot_s8x32_neon(vqtbl1q_s8(levels, lo), vqtbl1q_s8(levels, hi), bx + 2, sdot); /* code -> level */
        sum += (float)isum * llm__q8_0_scale_neon(bw, bx);
    }
    *s = sum;
}

static void llm__vec_dot_q4_0_q8_0_neon(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_0_neon(n, s, w, x, LLM__Q4_0_BYTES, 2, 0, 8, 0); }
static void llm__vec_dot_q5_0_q8_0_neon(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_0_neon(n, s, w, x, LLM__Q5_0_BYTES, 6, 2, 16, 0); }
static void llm__vec_dot_q4_1_q8_1_neon(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_1_neon(n, s, w, x, LLM__Q4_1_BYTES, 4, 0, 0); }
static void llm__vec_dot_q5_1_q8_1_neon(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_1_neon(n, s, w, x, LLM__Q5_1_BYTES, 8, 4, 0); }
static void llm__vec_dot_iq4_nl_q8_0_neon(int n, float *s, const void *w, const void *x) { llm__dot_iq4_nl_neon(n, s, w, x, 0); }
#if defined(__ARM_FEATURE_DOTPROD)
static void llm__vec_dot_q4_0_q8_0_neon_dotprod(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_0_neon(n, s, w, x, LLM__Q4_0_BYTES, 2, 0, 8, 1); }
static void llm__vec_dot_q5_0_q8_0_neon_dotprod(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_0_neon(n, s, w, x, LLM__Q5_0_BYTES, 6, 2, 16, 1); }
static void llm__vec_dot_q4_1_q8_1_neon_dotprod(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_1_neon(n, s, w, x, LLM__Q4_1_BYTES, 4, 0, 1); }
static void llm__vec_dot_q5_1_q8_1_neon_dotprod(int n, float *s, const void *w, const void *x) { llm__dot_q4_q5_1_neon(n, s, w, x, LLM__Q5_1_BYTES, 8, 4, 1); }
static void llm__vec_dot_iq4_nl_q8_0_neon_dotprod(int n, float *s, const void *w, const void *x) { llm__dot_iq4_nl_neon(n, s, w, x, 1); }
#endif

/* ---- Q6_K, IQ4_XS, TQ1_0, TQ2_0 against Q8_K: the scalar kernels' integers, exactly ---- */

/* sum of 16 int8 products: ARMv8.0 widening multiplies, or SDOT */
static int llm__dot_i8x16_neon(int8x16_t a, int8x16_t b) {
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vaddvq_s32(vpadalq_s16(acc, vmull_high_s8(a, b)));
}
#if defined(__ARM_FEATURE_DOTPROD)
static int llm__dot_i8x16_neon_dotprod(int8x16_t a, int8x16_t b) { return vaddvq_s32(vdotq_s32(vdupq_n_s32(0), a, b)); }
#endif

static int8x16_t llm__q8_K_q_neon(const uint8_t *bx, int e) { return vreinterpretq_s8_u8(vld1q_u8(bx + 4 + e)); }

/* sum_j scales[j] * bsums[j] of a Q6_K block and its Q8_K partner */
static int llm__q6_K_off_neon(const uint8_t *bw, const uint8_t *bx) {
    int8x16_t sc = vreinterpretq_s8_u8(vld1q_u8(bw + 192));
    int16x8_t b0 = vreinterpretq_s16_u8(vld1q_u8(bx + 260)), b1 = vreinterpretq_s16_u8(vld1q_u8(bx + 276));
    int32x4_t p = vmull_s16(vget_low_s16(b0), vget_low_s16(vmovl_s8(vget_low_s8(sc))));
    p = vmlal_high_s16(p, b0, vmovl_s8(vget_low_s8(sc)));
    p = vmlal_s16(p, vget_low_s16(b1), vget_low_s16(vmovl_high_s8(sc)));
    p = vmlal_high_s16(p, b1, vmovl_high_s8(sc));
    return vaddvq_s32(p);
}

/* The body of each kernel, instantiated for both 16-element dot products (no function
   pointer in the inner loop). */
#define LLM__Q6_K_NEON(NAME, DOT)                                                                                   \
    static void NAME(int n, float *s, const void *w, const void *x) {                                               \
        const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;                                           \
        const uint8x16_t m4 = vdupq_n_u8(15), m2 = vdupq_n_u8(3);                                                   \
        float sum = 0.0f;                                                                                           \
        int i, h, c;                                                                                                \
        for (i = 0; i < n / 256; i++, bw += LLM__Q6_K_BYTES, bx += LLM__Q8_K_BYTES) {                               \
            const int8_t *sc = (const int8_t *)(bw + 192);                                                          \
            int isum = 0;                                                                                           \
            for (h = 0; h < 2; h++)                                                                                 \
                for (c = 0; c < 2; c++) { /* 16 of the 32 positions l of this half */                               \
                    uint8x16_t l0 = vld1q_u8(bw + 64 * h + 16 * c), l1 = vld1q_u8(bw + 64 * h + 32 + 16 * c);       \
                    uint8x16_t qh = vld1q_u8(bw + 128 + 32 * h + 16 * c);                                           \
                    uint8x16_t c0 = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(qh, m2), 4));                   \
                    uint8x16_t c1 = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), m2), 4));    \
                    uint8x16_t c2 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), m2), 4));   \
                    uint8x16_t c3 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4));                 \
                    int e = 128 * h + 16 * c, j = 8 * h + c;                                                        \
                    isum += sc[j] * DOT(vreinterpretq_s8_u8(c0), llm__q8_K_q_neon(bx, e));                          \
                    isum += sc[j + 2] * DOT(vreinterpretq_s8_u8(c1), llm__q8_K_q_neon(bx, e + 32));                 \
                    isum += sc[j + 4] * DOT(vreinterpretq_s8_u8(c2), llm__q8_K_q_neon(bx, e + 64));                 \
                    isum += sc[j + 6] * DOT(vreinterpretq_s8_u8(c3), llm__q8_K_q_neon(bx, e + 96));                 \
                }                                                                                                   \
            sum = llm__k2_step(sum, bw + 208, bx, isum - 32 * llm__q6_K_off_neon(bw, bx));                          \
        }                                                                                                           \
        *s = sum;                                                                                                   \
    }

/* Table values by TBL from the nibbles. */
#define LLM__IQ4_XS_NEON(NAME, DOT)                                                                                 \
    static void NAME(int n, float *s, const void *w, const void *x) {                                               \
        const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;                                           \
        const int8x16_t table = vld1q_s8(llm__iq4nl_values);                                                          \
        float sum = 0.0f;                                                                                           \
        int i, ib;                                                                                                  \
        for (i = 0; i < n / 256; i++, bw += LLM__IQ4_XS_BYTES, bx += LLM__Q8_K_BYTES) {                             \
            int isum = 0;                                                                                           \
            for (ib = 0; ib < 8; ib++) {                                                                            \
                uint8x16_t b = vld1q_u8(bw + 8 + 16 * ib);                                                          \
                int sub = DOT(vqtbl1q_s8(table, vandq_u8(b, vdupq_n_u8(15))), llm__q8_K_q_neon(bx, 32 * ib)) +      \
                          DOT(vqtbl1q_s8(table, vshrq_n_u8(b, 4)), llm__q8_K_q_neon(bx, 32 * ib + 16));             \
                isum += llm__iq4_xs_scale(bw, ib) * sub;                                                            \
            }                                                                                                       \
            sum = llm__k2_step(sum, bw, bx, isum);                                                                  \
        }                                                                                                           \
        *s = sum;                                                                                                   \
    }

/* sum of the q of a Q8_K block, from its bsums */
static int llm__q8_K_qsum_neon(const uint8_t *bx) {
    int16x8_t b0 = vreinterpretq_s16_u8(vld1q_u8(bx + 260)), b1 = vreinterpretq_s16_u8(vld1q_u8(bx + 276));
    return vaddvq_s32(vpadalq_s16(vpaddlq_s16(b0), b1));
}

/* Trit k of 16 bytes: (byte * 3^k mod 256) * 3 >> 8. */
static int8x16_t llm__tq1_trits_neon(uint8x16_t b, int k) {
    uint8x16_t v = vmulq_u8(b, vdupq_n_u8(llm__pow3[k]));
    uint8x8_t lo = vshrn_n_u16(vmull_u8(vget_low_u8(v), vdup_n_u8(3)), 8);
    return vreinterpretq_s8_u8(vcombine_u8(lo, vshrn_n_u16(vmull_high_u8(v, vdupq_n_u8(3)), 8)));
}

#define LLM__TQ1_0_NEON(NAME, DOT)                                                                                  \
    static void NAME(int n, float *s, const void *w, const void *x) {                                               \
        const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;                                           \
        float sum = 0.0f;                                                                                           \
        int i, k, m;                                                                                                \
        for (i = 0; i < n / 256; i++, bw += LLM__TQ1_0_BYTES, bx += LLM__Q8_K_BYTES) {                              \
            const int8_t *q = LLM__Q8_K_Q(bx);                                                                      \
            uint8x16_t a = vld1q_u8(bw), b = vld1q_u8(bw + 16), c = vld1q_u8(bw + 32);                              \
            int isum = -llm__q8_K_qsum_neon(bx);                                                                    \
            for (k = 0; k < 5; k++) {                                                                               \
                isum += DOT(llm__tq1_trits_neon(a, k), llm__q8_K_q_neon(bx, 32 * k));                               \
                isum += DOT(llm__tq1_trits_neon(b, k), llm__q8_K_q_neon(bx, 32 * k + 16));                          \
                isum += DOT(llm__tq1_trits_neon(c, k), llm__q8_K_q_neon(bx, 160 + 16 * k));                         \
            }                                                                                                       \
            for (k = 0; k < 4; k++)                                                                                 \
                for (m = 0; m < 4; m++) isum += llm__tq1_trit(bw[48 + m], k) * q[240 + 4 * k + m];                  \
            sum = llm__k2_step(sum, bw + 52, bx, isum);                                                             \
        }                                                                                                           \
        *s = sum;                                                                                                   \
    }

#define LLM__TQ2_0_NEON(NAME, DOT)                                                                                  \
    static void NAME(int n, float *s, const void *w, const void *x) {                                               \
        const uint8_t *bw = (const uint8_t *)w, *bx = (const uint8_t *)x;                                           \
        const uint8x16_t m2 = vdupq_n_u8(3);                                                                        \
        float sum = 0.0f;                                                                                           \
        int i, h, c;                                                                                                \
        for (i = 0; i < n / 256; i++, bw += LLM__TQ2_0_BYTES, bx += LLM__Q8_K_BYTES) {                              \
            int isum = -llm__q8_K_qsum_neon(bx);                                                                    \
            for (h = 0; h < 2; h++)                                                                                 \
                for (c = 0; c < 2; c++) {                                                                           \
                    uint8x16_t b = vld1q_u8(bw + 32 * h + 16 * c);                                                  \
                    int e = 128 * h + 16 * c;                                                                       \
                    isum += DOT(vreinterpretq_s8_u8(vandq_u8(b, m2)), llm__q8_K_q_neon(bx, e));                     \
                    isum += DOT(vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(b, 2), m2)), llm__q8_K_q_neon(bx, e + 32)); \
                    isum += DOT(vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(b, 4), m2)), llm__q8_K_q_neon(bx, e + 64)); \
                    isum += DOT(vreinterpretq_s8_u8(vshrq_n_u8(b, 6)), llm__q8_K_q_neon(bx, e + 96));               \
                }                                                                                                   \
            sum = llm__k2_step(sum, bw + 64, bx, isum);                                                             \
        }                                                                                                           \
        *s = sum;                                                                                                   \
    }

LLM__Q6_K_NEON(llm__vec_dot_q6_K_q8_K_neon, llm__dot_i8x16_neon)
LLM__IQ4_XS_NEON(llm__vec_dot_iq4_xs_q8_K_neon, llm__dot_i8x16_neon)
LLM__TQ1_0_NEON(llm__vec_dot_tq1_0_q8_K_neon, llm__dot_i8x16_neon)
LLM__TQ2_0_NEON(llm__vec_dot_tq2_0_q8_K_neon, llm__dot_i8x16_neon)
#if defined(__ARM_FEATURE_DOTPROD)
LLM__Q6_K_NEON(llm__vec_dot_q6_K_q8_K_neon_dotprod, llm__dot_i8x16_neon_dotprod)
LLM__IQ4_XS_NEON(llm__vec_dot_iq4_xs_q8_K_neon_dotprod, llm__dot_i8x16_neon_dotprod)
LLM__TQ1_0_NEON(llm__vec_dot_tq1_0_q8_K_neon_dotprod, llm__dot_i8x16_neon_dotprod)
LLM__TQ2_0_NEON(llm__vec_dot_tq2_0_q8_K_neon_dotprod, llm__dot_i8x16_neon_dotprod)
#endif

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
    llm__kernels_init_kquants_neon(k);
    k->vec_dot[LLM_TYPE_Q6_K] = llm__vec_dot_q6_K_q8_K_neon;
    k->vec_dot[LLM_TYPE_IQ4_XS] = llm__vec_dot_iq4_xs_q8_K_neon;
    k->vec_dot[LLM_TYPE_TQ1_0] = llm__vec_dot_tq1_0_q8_K_neon;
    k->vec_dot[LLM_TYPE_TQ2_0] = llm__vec_dot_tq2_0_q8_K_neon;
#if defined(__ARM_FEATURE_DOTPROD)
    if (k->features & LLM_CPU_DOTPROD) {
        k->vec_dot[LLM_TYPE_Q6_K] = llm__vec_dot_q6_K_q8_K_neon_dotprod;
        k->vec_dot[LLM_TYPE_IQ4_XS] = llm__vec_dot_iq4_xs_q8_K_neon_dotprod;
        k->vec_dot[LLM_TYPE_TQ1_0] = llm__vec_dot_tq1_0_q8_K_neon_dotprod;
        k->vec_dot[LLM_TYPE_TQ2_0] = llm__vec_dot_tq2_0_q8_K_neon_dotprod;
    }
#endif
    k->vec_dot[LLM_TYPE_Q4_0] = llm__vec_dot_q4_0_q8_0_neon;
    k->vec_dot[LLM_TYPE_Q4_1] = llm__vec_dot_q4_1_q8_1_neon;
    k->vec_dot[LLM_TYPE_Q5_0] = llm__vec_dot_q5_0_q8_0_neon;
    k->vec_dot[LLM_TYPE_Q5_1] = llm__vec_dot_q5_1_q8_1_neon;
    k->vec_dot[LLM_TYPE_IQ4_NL] = llm__vec_dot_iq4_nl_q8_0_neon;
#if defined(__ARM_FEATURE_DOTPROD)
    if (k->features & LLM_CPU_DOTPROD) {
        k->vec_dot[LLM_TYPE_Q4_0] = llm__vec_dot_q4_0_q8_0_neon_dotprod;
        k->vec_dot[LLM_TYPE_Q4_1] = llm__vec_dot_q4_1_q8_1_neon_dotprod;
        k->vec_dot[LLM_TYPE_Q5_0] = llm__vec_dot_q5_0_q8_0_neon_dotprod;
        k->vec_dot[LLM_TYPE_Q5_1] = llm__vec_dot_q5_1_q8_1_neon_dotprod;
        k->vec_dot[LLM_TYPE_IQ4_NL] = llm__vec_dot_iq4_nl_q8_0_neon_dotprod;
    }
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
        k->vec_dot[LLM_TYPE_Q2_K] = llm__vec_dot_q2_K_q8_K_avx2;
        k->vec_dot[LLM_TYPE_Q3_K] = llm__vec_dot_q3_K_q8_K_avx2;
        k->vec_dot[LLM_TYPE_Q4_K] = llm__vec_dot_q4_K_q8_K_avx2;
        k->vec_dot[LLM_TYPE_Q5_K] = llm__vec_dot_q5_K_q8_K_avx2;
        k->vec_dot[LLM_TYPE_Q4_0] = llm__vec_dot_q4_0_q8_0_avx2;
        k->vec_dot[LLM_TYPE_Q4_1] = llm__vec_dot_q4_1_q8_1_avx2;
        k->vec_dot[LLM_TYPE_Q5_0] = llm__vec_dot_q5_0_q8_0_avx2;
        k->vec_dot[LLM_TYPE_Q5_1] = llm__vec_dot_q5_1_q8_1_avx2;
        k->vec_dot[LLM_TYPE_IQ4_NL] = llm__vec_dot_iq4_nl_q8_0_avx2;
        k->vec_dot[LLM_TYPE_Q6_K] = llm__vec_dot_q6_K_q8_K_avx2;
        k->vec_dot[LLM_TYPE_IQ4_XS] = llm__vec_dot_iq4_xs_q8_K_avx2;
        k->vec_dot[LLM_TYPE_TQ1_0] = llm__vec_dot_tq1_0_q8_K_avx2;
        k->vec_dot[LLM_TYPE_TQ2_0] = llm__vec_dot_tq2_0_q8_K_avx2;
    }
#endif
#if defined(LLM__NEON)
    if (k->features & LLM_CPU_NEON) llm__kernels_init_neon(k);
#endif
}

/* ==== thread pool ================================================================ >>threads */
/* A persistent pool: n_threads - 1 workers plus the calling thread run the tasks of one job
   at a time. A job's tasks are handed out through a 64-bit ticket, the job's generation in
   the high half and the next task in the low half, taken by compare-and-swap: a worker that
   wakes late sees another generation and takes nothing, so the caller never waits for a
   worker that has not started, only for tasks being run. Each task writes its own outputs,
   so results never depend on which thread ran what. Workers spin briefly for the next job (a
   forward pass issues many small ones), then sleep on a condition variable. */

typedef void (*llm__task_fn)(void *arg, int task, int ith);

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static int llm__atomic_add(volatile int *p, int v) { return (int)_InterlockedExchangeAdd((volatile long *)p, v); }
LLM__UNUSED static int llm__atomic_load(volatile int *p) { return (int)_InterlockedOr((volatile long *)p, 0); }
LLM__UNUSED static void llm__atomic_store(volatile int *p, int v) { _InterlockedExchange((volatile long *)p, v); }
static uint64_t llm__atomic_load64(volatile uint64_t *p) { return (uint64_t)_InterlockedOr64((volatile __int64 *)p, 0); }
LLM__UNUSED static void llm__atomic_store64(volatile uint64_t *p, uint64_t v) { _InterlockedExchange64((volatile __int64 *)p, (__int64)v); }
static int llm__atomic_cas64(volatile uint64_t *p, uint64_t expect, uint64_t want) {
    return (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, (__int64)want, (__int64)expect) == expect;
}
#else
static int llm__atomic_add(volatile int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
LLM__UNUSED static int llm__atomic_load(volatile int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
LLM__UNUSED static void llm__atomic_store(volatile int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static uint64_t llm__atomic_load64(volatile uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
LLM__UNUSED static void llm__atomic_store64(volatile uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static int llm__atomic_cas64(volatile uint64_t *p, uint64_t expect, uint64_t want) {
    return __atomic_compare_exchange_n(p, &expect, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#endif

/* Gives the core away: when threads outnumber free cores, a spinning waiter would keep the
   thread it waits for from running. */
LLM__UNUSED static void llm__yield(void) {
#if defined(LLM_NO_THREADS)
#elif defined(LLM__WIN32_THREADS)
    SwitchToThread();
#else
    sched_yield();
#endif
}

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
    volatile uint64_t ticket; /* generation << 32 | next task */
    volatile int done;       /* tasks finished in the current job */
    volatile int stop;
    uint32_t generation;     /* the caller's copy */
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

/* Runs tasks of job generation gen until none are left or another job began; ith is this
   thread's index (0 = the caller). */
LLM__UNUSED static void llm__pool_work(llm__pool *p, uint32_t gen, int ith) {
    for (;;) {
        uint64_t v = llm__atomic_load64(&p->ticket);
        int t = (int)(uint32_t)v;
        if ((uint32_t)(v >> 32) != gen || t >= p->n_tasks) break;
        if (!llm__atomic_cas64(&p->ticket, v, v + 1)) continue;
        p->fn(p->arg, t, ith);
        llm__atomic_add(&p->done, 1);
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
    uint32_t seen = 0, gen;
    for (;;) {
        int spins = 0;
        /* a new job is an even generation other than the last one seen */
        while (((gen = (uint32_t)(llm__atomic_load64(&p->ticket) >> 32)) == seen || (gen & 1)) && !llm__atomic_load(&p->stop) &&
               spins < LLM__SPIN) {
            if (spins < LLM__SPIN / 2) llm__cpu_relax();
            else llm__yield();
            spins++;
        }
        if ((gen == seen || (gen & 1)) && !llm__atomic_load(&p->stop)) {
            LLM__LOCK(p);
            while (((gen = (uint32_t)(llm__atomic_load64(&p->ticket) >> 32)) == seen || (gen & 1)) && !llm__atomic_load(&p->stop))
                LLM__WAIT(p);
            LLM__UNLOCK(p);
        }
        if (llm__atomic_load(&p->stop)) return;
        seen = gen;
        llm__pool_work(p, gen, w->ith);
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
    int t;
    if (n_tasks <= 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
#if !defined(LLM_NO_THREADS)
    /* Two generations per job: an odd one while the job is set up, with no tasks to take, so
       a worker still holding a ticket of the last job cannot take one of this job with the
       last job's count; then the even one that runs it. */
    llm__atomic_store64(&p->ticket, (uint64_t)(p->generation + 1) << 32 | 0x7fffffffu);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    llm__atomic_store(&p->done, 0);
    p->generation += 2;
    LLM__LOCK(p); /* publishing under the lock: a worker about to sleep cannot miss it */
    llm__atomic_store64(&p->ticket, (uint64_t)p->generation << 32);
    LLM__WAKE_ALL(p);
    LLM__UNLOCK(p);
    llm__pool_work(p, p->generation, 0);
    {
        int spins = 0;
        while (llm__atomic_load(&p->done) < n_tasks) {
            if (++spins < LLM__SPIN) llm__cpu_relax();
            else llm__yield();
        }
    }
#endif
}

/* As llm__pool_run, on the calling thread alone when the job is too small to share: waking
   workers costs microseconds, more than a tiny job. Results are the same either way. */
static void llm__pool_run_sized(llm__pool *p, int n_tasks, double work, llm__task_fn fn, void *arg) {
    int t;
    if (work >= 32768.0) {
        llm__pool_run(p, n_tasks, fn, arg);
        return;
    }
    for (t = 0; t < n_tasks; t++) fn(arg, t, 0);
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

enum { LLM__VOCAB_NONE = 0, LLM__VOCAB_SPM = 1 /* tokenizer.ggml.model "llama" */ };

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
    /* derived by llm__vocab_build */
    llm_token byte_token[256]; /* id of "<0xXX>", or LLM_TOKEN_NULL */
    uint32_t *hash;           /* open addressing: token id + 1, 0 = empty */
    uint32_t hash_mask;
    llm_token *special;       /* control and user-defined tokens, longest text first */
    int n_special;
    uint8_t *is_eog;          /* [n_vocab] */
} llm__vocab;

/* What distinguishes the architectures. Everything else (biases, QK-norm, fused QKV or
   gate+up, mixture of experts, rope factors, sliding windows, soft-caps) is read from the
   file: a tensor or key that is present switches its step on. */
typedef struct llm__arch {
    const char *name;
    int rope_neox;   /* rotate halves (i, i + n_rot/2), not adjacent pairs (2i, 2i+1) */
    int embd_scale;  /* token embeddings times sqrt(n_embd) */
    int geglu;       /* gelu(gate) * up with ggml's F16 GELU table; else silu(gate) * up */
    int q_prescale;  /* q times 1/sqrt(head_dim) after rope, and unscaled scores */
    int tied;        /* the output matrix is always token_embd */
    int swa_period;  /* sliding-window layer pattern when the file names none (0: none) */
} llm__arch;

static const llm__arch llm__archs[] = {
    {"llama", 0, 0, 0, 0, 0, 0},
    {"qwen2", 1, 0, 0, 0, 0, 0},
    {"qwen3", 1, 0, 0, 0, 0, 0},
    {"qwen2moe", 1, 0, 0, 0, 0, 0},
    {"qwen3moe", 1, 0, 0, 0, 0, 0},
    {"phi3", 1, 0, 0, 1, 0, 0},
    {"gemma", 1, 1, 1, 1, 1, 0},
    {"gemma2", 1, 1, 1, 1, 1, 2},
    {"gemma3", 1, 1, 1, 1, 1, 6},
};

/* One transformer block's weights: matrices stay in the file; vectors (norms, biases) are
   copied to float at load. Matrices have rows of ne0 = their input size. */
typedef struct llm__layer {
    float *attn_norm, *ffn_norm;          /* [n_embd] */
    float *post_attn_norm, *post_ffn_norm; /* [n_embd] or NULL (gemma2, gemma3) */
    float *q_norm, *k_norm;               /* [head_dim] or NULL (qwen3, gemma3) */
    float *bq, *bk, *bv;                  /* [n_q], [n_kv] or NULL (qwen2) */
    const llm__tensor *wq, *wk, *wv;      /* [n_q][n_embd], [n_kv][n_embd] x2, or NULL when fused */
    const llm__tensor *wqkv;              /* [n_q + 2 n_kv][n_embd] (phi3) or NULL */
    const llm__tensor *wo;                /* [n_embd][n_q] */
    const llm__tensor *w_gate, *w_up;     /* [n_ff][n_embd]; w_up is [2 n_ff][n_embd] when w_gate is NULL */
    const llm__tensor *w_down;            /* [n_embd][n_ff] */
    const llm__tensor *w_router;          /* [n_expert][n_embd] or NULL */
    llm__tensor *x_gate, *x_up, *x_down;  /* [n_expert] 2-D views of the 3-D expert tensors */
    int swa;                              /* 1: attends to the last n_swa positions only */
    float rope_base;
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
    const llm__arch *ar; /* NULL for vocab-only models of other architectures */
    int vocab_only;
    /* hyper-parameters */
    int n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff, n_rot, head_dim, n_q, n_kv;
    int n_expert, n_expert_used, n_ff_exp, n_swa, n_ctx_orig;
    float rope_freq_base, rope_freq_base_swa, rope_freq_scale, rope_attn_factor, rms_eps;
    float attn_softcap, final_softcap; /* 0: off */
    uint64_t n_params, size_bytes;
    llm__vocab vocab;
    char *vocab_text;    /* all token strings, NUL-separated */
    /* weights */
    const llm__tensor *tok_embd; /* [n_vocab][n_embd] */
    const llm__tensor *output;   /* [n_vocab][n_embd]; tok_embd when tied */
    float *output_norm;          /* [n_embd] */
    float *rope_freqs;           /* [n_rot/2] frequency divisors (llama3) or NULL */
    float *rope_long, *rope_short; /* [n_rot/2] (phi3 LongRoPE) or NULL */
    uint16_t *gelu_f16;          /* [65536] GELU of every F16 value, as F16 (geglu archs) */
    llm__layer *layers;          /* [n_layer] */
};

static const llm__tensor *llm__model_tensor(const llm_model *m, const char *name) {
    uint64_t i;
    for (i = 0; i < m->gguf.n_tensors; i++)
        if (strcmp(m->gguf.tensors[i].name, name) == 0) return &m->gguf.tensors[i];
    return NULL;
}

/* Finds a weight and checks its shape ([ne0, ne1, ne2]; 0 means 1) and type. */
static int llm__model_weight3(llm_model *m, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, int optional,
                              const llm__tensor **out, char *err, size_t err_size) {
    const llm__tensor *t = llm__model_tensor(m, name);
    *out = t;
    if (!t) {
        if (optional) return LLM_OK;
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor '%s' is missing", name);
    }
    if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != (ne2 ? ne2 : 1) || t->ne[3] != 1)
        return llm__errf(err, err_size, LLM_ERR_FORMAT,
                         "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]", name,
                         (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                         (long long)ne0, (long long)(ne1 ? ne1 : 1), (long long)(ne2 ? ne2 : 1));
    if (!llm_type_supported(t->type))
        return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "tensor '%s' has type %s, which this build cannot compute",
                         name, llm_type_name(t->type));
    return LLM_OK;
}

static int llm__model_weight(llm_model *m, const char *name, int64_t ne0, int64_t ne1, int optional, const llm__tensor **out,
                             char *err, size_t err_size) {
    return llm__model_weight3(m, name, ne0, ne1, 0, optional, out, err, err_size);
}

/* A float copy of a 1-D weight (norms, biases); *out stays NULL for a missing optional one. */
static int llm__model_vector_opt(llm_model *m, const char *name, int64_t n, int optional, float **out, char *err, size_t err_size) {
    const llm__tensor *t;
    int r = llm__model_weight(m, name, n, 0, optional, &t, err, err_size);
    *out = NULL;
    if (r != LLM_OK || !t) return r;
    *out = (float *)llm__alloc_array(&m->alloc, (size_t)n, sizeof(float));
    if (!*out) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
    llm__types[t->type].to_float(t->data, *out, n);
    return LLM_OK;
}

static int llm__model_vector(llm_model *m, const char *name, int64_t n, float **out, char *err, size_t err_size) {
    return llm__model_vector_opt(m, name, n, 0, out, err, err_size);
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
    else
        return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "tokenizer '%.*s' is not supported yet (only SentencePiece 'llama')",
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
    int r, vocab_size = 0, key_len = 0, val_len = 0, swa_period = m->ar->swa_period;
    char key[128];
    m->rope_freq_base = 10000.0f;
    m->rope_freq_scale = 1.0f;
    m->rope_attn_factor = 1.0f;
    if ((r = llm__model_hparam(m, "context_length", 1, &m->n_ctx_train, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "embedding_length", 1, &m->n_embd, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "block_count", 1, &m->n_layer, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "feed_forward_length", 0, &m->n_ff, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.head_count", 1, &m->n_head, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.head_count_kv", 0, &m->n_head_kv, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.key_length", 0, &key_len, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.value_length", 0, &val_len, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "rope.dimension_count", 0, &m->n_rot, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "vocab_size", 0, &vocab_size, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "expert_count", 0, &m->n_expert, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "expert_used_count", 0, &m->n_expert_used, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "expert_feed_forward_length", 0, &m->n_ff_exp, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.sliding_window", 0, &m->n_swa, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "attention.sliding_window_pattern", 0, &swa_period, err, err_size)) != LLM_OK ||
        (r = llm__model_hparam(m, "rope.scaling.original_context_length", 0, &m->n_ctx_orig, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "attention.layer_norm_rms_epsilon", 1, &m->rms_eps, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "rope.freq_base", 0, &m->rope_freq_base, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "rope.scaling.attn_factor", 0, &m->rope_attn_factor, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "attn_logit_softcapping", 0, &m->attn_softcap, err, err_size)) != LLM_OK ||
        (r = llm__model_fparam(m, "final_logit_softcapping", 0, &m->final_softcap, err, err_size)) != LLM_OK)
        return r;
    m->rope_freq_base_swa = m->rope_freq_base;
    if ((r = llm__model_fparam(m, "rope.freq_base_swa", 0, &m->rope_freq_base_swa, err, err_size)) != LLM_OK) return r;
    if (m->n_head_kv == 0 && llm__model_has(m, "attention.head_count_kv"))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s.attention.head_count_kv is 0", m->arch);
    if (m->n_rot == 0 && llm__model_has(m, "rope.dimension_count"))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s.rope.dimension_count is 0", m->arch);
    if (m->n_head_kv == 0) m->n_head_kv = m->n_head;
    if (m->n_embd < 1 || m->n_embd > (1 << 20) || m->n_layer < 1 || m->n_layer > 4096 || m->n_head < 1 ||
        m->n_head > 4096 || m->n_ff < 0 || m->n_ff > (1 << 22) || m->n_ctx_train < 1 || key_len > 4096 || m->n_expert > 1024 ||
        m->n_expert_used > m->n_expert || m->n_ff_exp > (1 << 22) || m->n_swa < 0)
        return llm__errf(err, err_size, LLM_ERR_FORMAT,
                         "hyper-parameters out of range (n_embd %d, n_layer %d, n_head %d, n_ff %d, n_ctx %d, experts %d/%d)",
                         m->n_embd, m->n_layer, m->n_head, m->n_ff, m->n_ctx_train, m->n_expert_used, m->n_expert);
    if (m->n_head_kv < 1 || m->n_head % m->n_head_kv != 0 || (!key_len && m->n_embd % m->n_head != 0))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "n_embd %d, n_head %d and n_head_kv %d do not divide evenly", m->n_embd,
                         m->n_head, m->n_head_kv);
    if (val_len && val_len != (key_len ? key_len : m->n_embd / m->n_head))
        return llm__errf(err, err_size, LLM_ERR_UNSUPPORTED, "value heads of another size than key heads are not supported");
    m->head_dim = key_len ? key_len : m->n_embd / m->n_head;
    m->n_q = m->n_head * m->head_dim;
    m->n_kv = m->n_head_kv * m->head_dim;
    if (m->n_rot == 0) m->n_rot = m->head_dim;
    if (m->n_rot < 2 || m->n_rot > m->head_dim || m->n_rot % 2 != 0)
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "rope dimension %d does not fit head size %d", m->n_rot, m->head_dim);
    if (!(m->rms_eps >= 0.0f && m->rms_eps < 1.0f) || !(m->rope_freq_base > 0.0f && m->rope_freq_base < 1e30f) ||
        !(m->rope_freq_base_swa > 0.0f && m->rope_freq_base_swa < 1e30f) || !(m->rope_attn_factor > 0.0f && m->rope_attn_factor < 1e3f) ||
        !(m->attn_softcap >= 0.0f && m->attn_softcap < 1e30f) || !(m->final_softcap >= 0.0f && m->final_softcap < 1e30f))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "rms epsilon, rope or soft-cap parameters out of range");
    if (m->n_expert > 0 && (m->n_expert_used < 1 || m->n_expert_used > m->n_expert))
        return llm__errf(err, err_size, LLM_ERR_FORMAT, "expert_used_count %d outside 1..%d", m->n_expert_used, m->n_expert);
    if (m->n_expert > 0 && m->n_ff_exp == 0) m->n_ff_exp = m->n_ff; /* Mixtral: feed_forward_length is the expert width */
    if (m->n_expert == 0 && m->n_ff < 1) return llm__errf(err, err_size, LLM_ERR_FORMAT, "%s.feed_forward_length is missing", m->arch);
    if (swa_period < 0 || swa_period > 4096) return llm__errf(err, err_size, LLM_ERR_FORMAT, "sliding_window_pattern out of range");
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
    m->layers = (llm__layer *)llm__alloc_array(&m->alloc, (size_t)m->n_layer, sizeof(llm__layer));
    if (!m->layers) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
    {
        int l;
        /* llama.cpp's rule: with period p, layer l slides when l % p < p - 1 (p = 1: all layers) */
        for (l = 0; l < m->n_layer; l++) {
            llm__layer *L = &m->layers[l];
            L->swa = m->n_swa > 0 && swa_period > 0 && (swa_period == 1 || l % swa_period < swa_period - 1);
            L->rope_base = L->swa ? m->rope_freq_base_swa : m->rope_freq_base;
        }
    }
    return LLM_OK;
}

/* ggml's GELU (tanh form) of every F16 value, rounded to F16: the table its CPU backend reads
   (refs/README.md §1), so gemma's FFN agrees with the reference. */
static float llm__gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
}

static int llm__model_build_gelu(llm_model *m, char *err, size_t err_size) {
    uint32_t i;
    m->gelu_f16 = (uint16_t *)llm__alloc_array(&m->alloc, 65536, sizeof(uint16_t));
    if (!m->gelu_f16) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
    for (i = 0; i < 65536; i++) m->gelu_f16[i] = llm__fp32_to_fp16(llm__gelu_tanh(llm__fp16_to_fp32((uint16_t)i)));
    return LLM_OK;
}

/* 2-D views of a 3-D expert tensor [ne0, ne1, n_expert]: expert e starts ne1 rows after e-1. */
static int llm__model_experts(llm_model *m, const llm__tensor *t, llm__tensor **out, char *err, size_t err_size) {
    size_t rb = llm__type_row_bytes(t->type, t->ne[0]);
    int e;
    *out = (llm__tensor *)llm__alloc_array(&m->alloc, (size_t)m->n_expert, sizeof(llm__tensor));
    if (!*out) return llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory");
    for (e = 0; e < m->n_expert; e++) {
        llm__tensor *v = &(*out)[e];
        *v = *t;
        v->name = NULL;
        v->n_dims = 2;
        v->ne[2] = 1;
        v->nbytes = rb * (size_t)t->ne[1];
        v->data = t->data + (size_t)e * v->nbytes;
    }
    return LLM_OK;
}

/* Finds and checks every weight. Optional tensors switch on their step of the forward pass. */
static int llm__model_load_weights(llm_model *m, char *err, size_t err_size) {
    int64_t e = m->n_embd, nq = m->n_q, kv = m->n_kv, ff = m->n_ff, nv = m->vocab.n_vocab, hd = m->head_dim;
    int l, r;
    char name[96];
    if ((r = llm__model_weight(m, "token_embd.weight", e, nv, 0, &m->tok_embd, err, err_size)) != LLM_OK) return r;
    if (!m->ar->tied && (r = llm__model_weight(m, "output.weight", e, nv, 1, &m->output, err, err_size)) != LLM_OK) return r;
    if (!m->output) m->output = m->tok_embd; /* tied embeddings */
    if ((r = llm__model_vector(m, "output_norm.weight", e, &m->output_norm, err, err_size)) != LLM_OK) return r;
    if ((r = llm__model_vector_opt(m, "rope_freqs.weight", m->n_rot / 2, 1, &m->rope_freqs, err, err_size)) != LLM_OK ||
        (r = llm__model_vector_opt(m, "rope_factors_long.weight", m->n_rot / 2, 1, &m->rope_long, err, err_size)) != LLM_OK ||
        (r = llm__model_vector_opt(m, "rope_factors_short.weight", m->n_rot / 2, 1, &m->rope_short, err, err_size)) != LLM_OK)
        return r;
    if (m->ar->geglu && (r = llm__model_build_gelu(m, err, err_size)) != LLM_OK) return r;
    for (l = 0; l < m->n_layer; l++) {
        llm__layer *L = &m->layers[l];
#define LLM__NAME(suffix) snprintf(name, sizeof name, "blk.%d." suffix, l)
#define LLM__W(field, suffix, ne0, ne1, opt)                                                          LLM__NAME(suffix);                                                                                if ((r = llm__model_weight(m, name, ne0, ne1, opt, &L->field, err, err_size)) != LLM_OK) return r;
#define LLM__V(field, suffix, n, opt)                                                                 LLM__NAME(suffix);                                                                                if ((r = llm__model_vector_opt(m, name, n, opt, &L->field, err, err_size)) != LLM_OK) return r;
        LLM__V(attn_norm, "attn_norm.weight", e, 0)
        LLM__V(ffn_norm, "ffn_norm.weight", e, 0)
        LLM__V(post_attn_norm, "post_attention_norm.weight", e, 1)
        LLM__V(post_ffn_norm, "post_ffw_norm.weight", e, 1)
        LLM__V(q_norm, "attn_q_norm.weight", hd, 1)
        LLM__V(k_norm, "attn_k_norm.weight", hd, 1)
        LLM__V(bq, "attn_q.bias", nq, 1)
        LLM__V(bk, "attn_k.bias", kv, 1)
        LLM__V(bv, "attn_v.bias", kv, 1)
        LLM__W(wqkv, "attn_qkv.weight", e, nq + 2 * kv, 1)
        if (!L->wqkv) {
            LLM__W(wq, "attn_q.weight", e, nq, 0)
            LLM__W(wk, "attn_k.weight", e, kv, 0)
            LLM__W(wv, "attn_v.weight", e, kv, 0)
        }
        LLM__W(wo, "attn_output.weight", nq, e, 0)
        if (m->n_expert > 0) {
            const llm__tensor *g, *u, *d;
            int64_t fe = m->n_ff_exp;
            LLM__W(w_router, "ffn_gate_inp.weight", e, m->n_expert, 0)
            LLM__NAME("ffn_gate_exps.weight");
            if ((r = llm__model_weight3(m, name, e, fe, m->n_expert, 0, &g, err, err_size)) != LLM_OK) return r;
            LLM__NAME("ffn_up_exps.weight");
            if ((r = llm__model_weight3(m, name, e, fe, m->n_expert, 0, &u, err, err_size)) != LLM_OK) return r;
            LLM__NAME("ffn_down_exps.weight");
            if ((r = llm__model_weight3(m, name, fe, e, m->n_expert, 0, &d, err, err_size)) != LLM_OK) return r;
            if ((r = llm__model_experts(m, g, &L->x_gate, err, err_size)) != LLM_OK ||
                (r = llm__model_experts(m, u, &L->x_up, err, err_size)) != LLM_OK ||
                (r = llm__model_experts(m, d, &L->x_down, err, err_size)) != LLM_OK)
                return r;
        } else {
            LLM__W(w_gate, "ffn_gate.weight", e, ff, 1)
            if (!L->w_gate) { /* without a gate, ffn_up holds [gate | up] (phi3); a plain up means the gate is missing */
                const llm__tensor *u;
                LLM__NAME("ffn_up.weight");
                u = llm__model_tensor(m, name);
                if (!u || u->ne[1] != 2 * ff) return llm__errf(err, err_size, LLM_ERR_FORMAT, "tensor 'blk.%d.ffn_gate.weight' is missing", l);
            }
            LLM__W(w_up, "ffn_up.weight", e, L->w_gate ? ff : 2 * ff, 0)
            LLM__W(w_down, "ffn_down.weight", ff, e, 0)
        }
#undef LLM__V
#undef LLM__W
#undef LLM__NAME
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
            llm__layer *L = &m->layers[l];
            llm__free(&a, L->attn_norm);
            llm__free(&a, L->ffn_norm);
            llm__free(&a, L->post_attn_norm);
            llm__free(&a, L->post_ffn_norm);
            llm__free(&a, L->q_norm);
            llm__free(&a, L->k_norm);
            llm__free(&a, L->bq);
            llm__free(&a, L->bk);
            llm__free(&a, L->bv);
            llm__free(&a, L->x_gate);
            llm__free(&a, L->x_up);
            llm__free(&a, L->x_down);
        }
    llm__free(&a, m->layers);
    llm__free(&a, m->output_norm);
    llm__free(&a, m->rope_freqs);
    llm__free(&a, m->rope_long);
    llm__free(&a, m->rope_short);
    llm__free(&a, m->gelu_f16);
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
    r = llm__model_load_vocab(m, p->max_vocab ? p->max_vocab : LLM_MAX_VOCAB, err, err_size);
    if (r != LLM_OK) goto fail;
    m->vocab_only = p->vocab_only != 0;
    if (m->vocab_only) return m;
    for (i = 0; i < sizeof llm__archs / sizeof llm__archs[0]; i++)
        if (strcmp(m->arch, llm__archs[i].name) == 0) m->ar = &llm__archs[i];
    if (!m->ar) {
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

LLMDEF int llm_model_hparam(const llm_model *m, int i, const char **name, char *value, size_t size) {
    const llm__layer *L0;
    int k = 0, l;
    llm__sbuf b;
    if (!m || !m->ar || !m->layers || i < 0) return 0;
    L0 = &m->layers[0];
    b.buf = value;
    b.size = value ? size : 0;
    b.len = 0;
    if (value && size) value[0] = 0;
    /* each line: the name, whether it applies, its value */
#define LLM__HP(nm, applies, ...)                       \
    if ((applies) && k++ == i) {                        \
        *name = nm;                                     \
        llm__sbuf_printf(&b, __VA_ARGS__);              \
        return 1;                                       \
    }
    LLM__HP("arch", 1, "%s", m->arch)
    LLM__HP("n_vocab", 1, "%d", m->vocab.n_vocab)
    LLM__HP("n_ctx_train", 1, "%d", m->n_ctx_train)
    LLM__HP("n_embd", 1, "%d", m->n_embd)
    LLM__HP("n_layer", 1, "%d", m->n_layer)
    LLM__HP("n_head", 1, "%d", m->n_head)
    LLM__HP("n_head_kv", 1, "%d", m->n_head_kv)
    LLM__HP("head_dim", 1, "%d", m->head_dim)
    LLM__HP("n_ff", m->n_ff > 0, "%d", m->n_ff)
    LLM__HP("n_expert", m->n_expert > 0, "%d", m->n_expert)
    LLM__HP("n_expert_used", m->n_expert > 0, "%d", m->n_expert_used)
    LLM__HP("n_ff_expert", m->n_expert > 0, "%d", m->n_ff_exp)
    LLM__HP("ffn", 1, "%s%s", m->ar->geglu ? "geglu" : "swiglu", L0->w_gate || L0->x_gate ? "" : " (fused gate|up)")
    LLM__HP("attention", 1, "%s%s%s", L0->wqkv ? "fused qkv" : "q k v", L0->bq ? ", qkv bias" : "", L0->q_norm ? ", qk-norm" : "")
    LLM__HP("post_norms", L0->post_attn_norm != NULL, "attention and ffn")
    LLM__HP("n_rot", 1, "%d", m->n_rot)
    LLM__HP("rope_type", 1, "%s", m->ar->rope_neox ? "neox" : "norm")
    LLM__HP("rope_freq_base", 1, "%g", (double)m->rope_freq_base)
    LLM__HP("rope_freq_base_swa", m->n_swa > 0 && m->rope_freq_base_swa != m->rope_freq_base, "%g", (double)m->rope_freq_base_swa)
    LLM__HP("rope_freq_scale", m->rope_freq_scale != 1.0f, "%g", (double)m->rope_freq_scale)
    LLM__HP("rope_factors", m->rope_freqs || m->rope_long, "%s", m->rope_freqs ? "rope_freqs (llama3)" : "long/short (LongRoPE)")
    LLM__HP("rope_ctx_orig", m->n_ctx_orig > 0, "%d", m->n_ctx_orig)
    LLM__HP("rope_attn_factor", m->rope_attn_factor != 1.0f, "%g", (double)m->rope_attn_factor)
    LLM__HP("rms_eps", 1, "%g", (double)m->rms_eps)
    LLM__HP("embd_scale", m->ar->embd_scale, "sqrt(n_embd)")
    LLM__HP("q_scale", 1, "%s", m->ar->q_prescale ? "1/sqrt(head_dim) on q" : "1/sqrt(head_dim) on scores")
    LLM__HP("attn_softcap", m->attn_softcap > 0.0f, "%g", (double)m->attn_softcap)
    LLM__HP("final_softcap", m->final_softcap > 0.0f, "%g", (double)m->final_softcap)
    LLM__HP("n_swa", m->n_swa > 0, "%d", m->n_swa)
    if (m->n_swa > 0 && k++ == i) {
        *name = "swa_layers";
        for (l = 0; l < m->n_layer; l++)
            if (m->layers[l].swa) llm__sbuf_printf(&b, b.len ? ",%d" : "%d", l);
        return 1;
    }
    LLM__HP("output", 1, "%s", m->output == m->tok_embd ? "tied to token_embd" : "output.weight")
#undef LLM__HP
    return 0;
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
/* Per layer, K and V are [n_ctx][n_kv = n_head_kv * head_dim] rows in the cache type (F32 or F16),
   one row per position, so attention reads each position's heads contiguously. */

static int llm__kv_elt_type(llm_kv_type t) { return t == LLM_KV_F32 ? LLM_TYPE_F32 : LLM_TYPE_F16; }

/* Bytes of one layer's K (or V) for n_ctx positions. */
static int llm__kv_layer_bytes(const llm_model *m, int n_ctx, llm_kv_type t, size_t *out) {
    size_t row = llm__type_row_bytes(llm__kv_elt_type(t), m->n_kv);
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
    uint8_t *k_cache, *v_cache; /* [n_layer][n_ctx][n_kv] */
    size_t kv_layer_bytes, kv_row_bytes;
    int n_past;
    const float *rope_factors; /* frequency divisors for this context's length, or NULL */
    /* scratch for one batch, carved from one block: [n_batch][...] unless noted */
    void *scratch;
    float *x, *xb, *q, *k, *v, *att;    /* n_embd, n_embd, n_q, n_kv, n_kv, n_q */
    float *hb, *hb2, *tmp;              /* n_ffw, n_ffw, n_tmp */
    float *rope_cs;                     /* n_rot: cos, sin pairs of the current layer */
    float *moe_out;                     /* n_expert_used x n_embd */
    float *moe_w;                       /* n_expert_used routing weights */
    int32_t *moe_sel;                   /* n_expert_used chosen experts */
    int32_t *moe_tok;                   /* [n_batch] tokens routed to the current expert */
    uint8_t *xq;                        /* activations in a vec_dot type, xq_stride apart */
    size_t xq_stride;
    float *scores;                      /* [n_threads][n_ctx] attention weights */
    uint8_t *head_tmp;                  /* [n_threads][head_tmp_stride] q in the cache type */
    size_t head_tmp_stride;
    float *logits;                      /* [n_outputs][n_vocab] */
    int n_ffw, n_tmp;
    int logits_first;                   /* batch index of logits row 0 */
    int n_logits;                       /* rows valid in logits */
    int last_n;                         /* tokens in the last batch */
    struct llm__gen *gen;               /* the generation in progress, or NULL */
    volatile int cancel;                /* set by llm_generate_cancel from any thread */
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
        llm__pool_run_sized(&c->pool, n_cols, (double)n * n_cols, llm__convert_task, &cj);
        j.xq = c->xq;
        j.xq_stride = c->xq_stride;
    }
    /* about four bands per thread, at least 4 rows each */
    j.rows_per_task = rows / (c->pool.n_threads * 4);
    if (j.rows_per_task < 4) j.rows_per_task = 4;
    n_tasks = (rows + j.rows_per_task - 1) / j.rows_per_task;
    llm__pool_run_sized(&c->pool, n_tasks, (double)rows * n * n_cols, llm__matmul_task, &j);
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

/* cos/sin pairs for one position: theta_i = pos * base^(-2i/n_rot) / factor_i * freq_scale,
   with the powers built by repeated float multiplication as the reference does (its rounding
   shows at large positions); mscale multiplies both (LongRoPE's attention factor). */
static void llm__rope_table(float *cs, int pos, int n_rot, float base, float freq_scale, const float *factors, float mscale) {
    float theta_scale = powf(base, -2.0f / (float)n_rot), theta = (float)pos;
    int i;
    for (i = 0; i < n_rot / 2; i++) {
        float t = freq_scale * (factors ? theta / factors[i] : theta);
        cs[2 * i] = cosf(t) * mscale;
        cs[2 * i + 1] = sinf(t) * mscale;
        theta *= theta_scale;
    }
}

/* Rotates each head's first n_rot values: adjacent pairs (2i, 2i+1), or with neox the
   halves (i, i + n_rot/2). */
static void llm__rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int neox) {
    int h, i, half = n_rot / 2;
    for (h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (i = 0; i < half; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b], co = cs[2 * i], si = cs[2 * i + 1];
            v[a] = x0 * co - x1 * si;
            v[b] = x0 * si + x1 * co;
        }
    }
}

static float llm__silu(float x) { return x / (1.0f + expf(-x)); }

/* ggml's table GELU: the input rounded to F16 looks up GELU rounded to F16; beyond +-10 the
   function is 0 or x. */
static float llm__gelu_table(const uint16_t *tab, float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return llm__fp16_to_fp32(tab[llm__fp32_to_fp16(x)]);
}

/* c * tanh(x / c), as three float steps like the reference */
static float llm__softcap(float x, float c) { return tanhf(x * (1.0f / c)) * c; }

/* ---- attention ---- */

typedef struct llm__attn_job {
    llm_context *c;
    int layer, pos0;
} llm__attn_job;

/* One (token, head): softmax(q.K * scale) V over the positions this token sees (all before
   it, or the last n_swa on sliding-window layers). */
static void llm__attn_task(void *arg, int task, int ith) {
    const llm__attn_job *j = (const llm__attn_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    const llm__layer *L = &m->layers[j->layer];
    int hd = m->head_dim, t = task / m->n_head, h = task % m->n_head, kvh = h / (m->n_head / m->n_head_kv);
    int pos = j->pos0 + t, p, p0 = L->swa && pos >= m->n_swa ? pos - m->n_swa + 1 : 0;
    const float *q = c->q + (size_t)t * m->n_q + (size_t)h * hd;
    float *out = c->att + (size_t)t * m->n_q + (size_t)h * hd;
    float *s = c->scores + (size_t)ith * c->n_ctx, max = -INFINITY, inv;
    float scale = m->ar->q_prescale ? 1.0f : 1.0f / sqrtf((float)hd), cap = m->attn_softcap;
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
    for (p = p0; p <= pos; p++) {
        dot(hd, &s[p], kc + (size_t)p * c->kv_row_bytes + head_off, qv);
        if (cap > 0.0f) s[p] = llm__softcap(s[p], cap);
        s[p] *= scale;
        if (s[p] > max) max = s[p];
    }
    for (p = p0; p <= pos; p++) {
        s[p] = expf(s[p] - max);
        sum += (double)s[p];
    }
    inv = (float)(1.0 / sum);
    for (i = 0; i < hd; i++) out[i] = 0.0f;
    for (p = p0; p <= pos; p++) {
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
    int layer, pos0, n_first, expert, n_routed;
    const llm_token *tokens;
} llm__rows_job;

/* Token embedding (dequantized row), scaled by sqrt(n_embd) for gemma. */
static void llm__embed_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    size_t rb = llm__type_row_bytes(m->tok_embd->type, m->n_embd);
    float *x = j->c->x + (size_t)t * m->n_embd, s = sqrtf((float)m->n_embd);
    int i;
    (void)ith;
    llm__types[m->tok_embd->type].to_float(m->tok_embd->data + (size_t)j->tokens[t] * rb, x, m->n_embd);
    if (m->ar->embd_scale)
        for (i = 0; i < m->n_embd; i++) x[i] *= s;
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

static void llm__add_bias(float *y, const float *b, int n) {
    int i;
    if (b)
        for (i = 0; i < n; i++) y[i] += b[i];
}

/* q, k, v of one token: split a fused projection, add biases, per-head QK-norm, rope, the
   gemma/phi3 query scale; then k and v into the cache at the token's position. */
static void llm__qkv_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    const llm__layer *L = &m->layers[j->layer];
    int nq = m->n_q, nkv = m->n_kv, hd = m->head_dim, pos = j->pos0 + t, h, i;
    float *q = c->q + (size_t)t * nq, *k = c->k + (size_t)t * nkv, *v = c->v + (size_t)t * nkv;
    float *cs = c->rope_cs + (size_t)t * m->n_rot;
    size_t off = (size_t)j->layer * c->kv_layer_bytes + (size_t)pos * c->kv_row_bytes;
    const llm__type_traits *kt = &llm__types[c->kv_elt];
    (void)ith;
    if (L->wqkv) { /* rows q | k | v */
        const float *f = c->tmp + (size_t)t * c->n_tmp;
        memcpy(q, f, sizeof(float) * (size_t)nq);
        memcpy(k, f + nq, sizeof(float) * (size_t)nkv);
        memcpy(v, f + nq + nkv, sizeof(float) * (size_t)nkv);
    }
    llm__add_bias(q, L->bq, nq);
    llm__add_bias(k, L->bk, nkv);
    llm__add_bias(v, L->bv, nkv);
    if (L->q_norm)
        for (h = 0; h < m->n_head; h++) llm__rmsnorm(q + (size_t)h * hd, q + (size_t)h * hd, L->q_norm, hd, m->rms_eps);
    if (L->k_norm)
        for (h = 0; h < m->n_head_kv; h++) llm__rmsnorm(k + (size_t)h * hd, k + (size_t)h * hd, L->k_norm, hd, m->rms_eps);
    llm__rope_table(cs, pos, m->n_rot, L->rope_base, m->rope_freq_scale, c->rope_factors, m->rope_attn_factor);
    llm__rope_apply(q, m->n_head, hd, m->n_rot, cs, m->ar->rope_neox);
    llm__rope_apply(k, m->n_head_kv, hd, m->n_rot, cs, m->ar->rope_neox);
    if (m->ar->q_prescale) {
        float s = 1.0f / sqrtf((float)hd);
        for (i = 0; i < nq; i++) q[i] *= s;
    }
    kt->from_float(k, c->k_cache + off, nkv);
    kt->from_float(v, c->v_cache + off, nkv);
}

/* The gated activation: act(gate) * up, from hb/hb2 (or a fused [gate | up] in tmp) into hb. */
static void llm__glu_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    const llm__layer *L = &m->layers[j->layer];
    int n = j->expert >= 0 ? m->n_ff_exp : m->n_ff, i;
    float *g = c->hb + (size_t)t * c->n_ffw;
    const float *u = c->hb2 + (size_t)t * c->n_ffw;
    (void)ith;
    if (j->expert < 0 && !L->w_gate) { /* fused: rows [0, n_ff) gate, [n_ff, 2 n_ff) up */
        const float *f = c->tmp + (size_t)t * c->n_tmp;
        memcpy(g, f, sizeof(float) * (size_t)n);
        u = f + n;
    }
    if (m->ar->geglu)
        for (i = 0; i < n; i++) g[i] = llm__gelu_table(m->gelu_f16, g[i]) * u[i];
    else
        for (i = 0; i < n; i++) g[i] = llm__silu(g[i]) * u[i];
}

/* x += xb (after the post-norm of gemma2/3 when the layer has one) */
static void llm__residual_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    const float *post = j->expert == -2 ? m->layers[j->layer].post_ffn_norm : m->layers[j->layer].post_attn_norm;
    int n = m->n_embd, i;
    float *x = j->c->x + (size_t)t * n, *d = j->c->xb + (size_t)t * n;
    (void)ith;
    if (post) llm__rmsnorm(d, d, post, n, m->rms_eps);
    for (i = 0; i < n; i++) x[i] += d[i];
}

/* Routing of one token: softmax over the router logits, the top n_expert_used (ties to the
   lower id), their weights renormalised to sum 1. */
static void llm__route_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    int ne = m->n_expert, k = m->n_expert_used, i, s;
    float *p = c->tmp + (size_t)t * c->n_tmp, max = -INFINITY, inv, wsum = 0.0f;
    float *w = c->moe_w + (size_t)t * k;
    int32_t *sel = c->moe_sel + (size_t)t * k;
    double sum = 0.0;
    (void)ith;
    for (i = 0; i < ne; i++) max = p[i] > max ? p[i] : max;
    for (i = 0; i < ne; i++) {
        p[i] = expf(p[i] - max);
        sum += (double)p[i];
    }
    inv = (float)(1.0 / sum);
    for (i = 0; i < ne; i++) p[i] *= inv;
    for (s = 0; s < k; s++) {
        int best = -1;
        for (i = 0; i < ne; i++) {
            int used = 0, u;
            for (u = 0; u < s; u++) used |= sel[u] == i;
            if (!used && (best < 0 || p[i] > p[best])) best = i;
        }
        sel[s] = best;
        w[s] = p[best];
        wsum += w[s];
    }
    for (s = 0; s < k; s++) w[s] /= wsum;
}

/* Gathers the normed rows of the tokens routed to j->expert into att (as a packed batch). */
static void llm__moe_gather_task(void *arg, int r, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    llm_context *c = j->c;
    int n = c->model->n_embd;
    (void)ith;
    memcpy(c->att + (size_t)r * n, c->xb + (size_t)c->moe_tok[r] * n, sizeof(float) * (size_t)n);
}

/* xb = sum over the token's experts, in routing order, of weight * expert output. */
static void llm__moe_combine_task(void *arg, int t, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    llm_context *c = j->c;
    const llm_model *m = c->model;
    int n = m->n_embd, k = m->n_expert_used, s, i;
    float *y = c->xb + (size_t)t * n;
    (void)ith;
    for (i = 0; i < n; i++) y[i] = 0.0f;
    for (s = 0; s < k; s++) {
        const float *e = c->moe_out + ((size_t)t * k + s) * n;
        float w = c->moe_w[(size_t)t * k + s];
        for (i = 0; i < n; i++) y[i] += w * e[i];
    }
}

/* The mixture-of-experts FFN on xb: each expert runs once over the tokens routed to it. */
static void llm__moe(llm_context *c, const llm__layer *L, int n, llm__rows_job *rj) {
    const llm_model *m = c->model;
    int e, t, s, r, k = m->n_expert_used, nd = m->n_embd;
    llm__matmul(c, L->w_router, c->xb, nd, n, c->tmp, c->n_tmp);
    llm__pool_run_sized(&c->pool, n, (double)n * m->n_expert * 64, llm__route_task, rj);
    for (e = 0; e < m->n_expert; e++) {
        int cnt = 0;
        for (t = 0; t < n; t++)
            for (s = 0; s < k; s++)
                if (c->moe_sel[t * k + s] == e) c->moe_tok[cnt++] = t;
        if (cnt == 0) continue;
        rj->expert = e;
        llm__pool_run_sized(&c->pool, cnt, (double)cnt * nd, llm__moe_gather_task, rj);
        llm__matmul(c, &L->x_gate[e], c->att, nd, cnt, c->hb, c->n_ffw);
        llm__matmul(c, &L->x_up[e], c->att, nd, cnt, c->hb2, c->n_ffw);
        llm__pool_run_sized(&c->pool, cnt, (double)cnt * c->n_ffw * 16, llm__glu_task, rj);
        llm__matmul(c, &L->x_down[e], c->hb, c->n_ffw, cnt, c->q, nd); /* q is free scratch here */
        for (r = 0; r < cnt; r++) { /* each output to its token's slot for this expert */
            t = c->moe_tok[r];
            for (s = 0; s < k; s++)
                if (c->moe_sel[t * k + s] == e)
                    memcpy(c->moe_out + ((size_t)t * k + s) * nd, c->q + (size_t)r * nd, sizeof(float) * (size_t)nd);
        }
    }
    llm__pool_run_sized(&c->pool, n, (double)n * nd * k, llm__moe_combine_task, rj);
}

/* Soft-caps one row of logits (gemma2). */
static void llm__final_softcap_task(void *arg, int i, int ith) {
    const llm__rows_job *j = (const llm__rows_job *)arg;
    const llm_model *m = j->c->model;
    float *l = j->c->logits + (size_t)i * m->vocab.n_vocab;
    int v;
    (void)ith;
    for (v = 0; v < m->vocab.n_vocab; v++) l[v] = llm__softcap(l[v], m->final_softcap);
}

/* The forward pass for n tokens at positions pos0.., leaving logits for tokens
   [n_first, n): llama2.c's forward(), batched, with each architecture's steps switched on by
   its flags and tensors. */
static void llm__forward(llm_context *c, const llm_token *tokens, int n, int pos0, int n_first) {
    const llm_model *m = c->model;
    int e = m->n_embd, l;
    llm__rows_job rj;
    llm__attn_job aj;
    memset(&rj, 0, sizeof rj);
    rj.c = c;
    rj.pos0 = pos0;
    rj.tokens = tokens;
    rj.n_first = n_first;
    aj.c = c;
    aj.pos0 = pos0;
    /* 1. embeddings */
    llm__pool_run_sized(&c->pool, n, (double)n * e, llm__embed_task, &rj);
    for (l = 0; l < m->n_layer; l++) {
        const llm__layer *L = &m->layers[l];
        rj.layer = aj.layer = l;
        rj.expert = -1;
        /* 2. attention: norm; q k v (fused or not, biases, QK-norm, rope) into the cache;
              softmax(qK)V; output projection; post-norm; residual */
        llm__pool_run_sized(&c->pool, n, (double)n * e, llm__attn_norm_task, &rj);
        if (L->wqkv) {
            llm__matmul(c, L->wqkv, c->xb, e, n, c->tmp, c->n_tmp);
        } else {
            llm__matmul(c, L->wq, c->xb, e, n, c->q, m->n_q);
            llm__matmul(c, L->wk, c->xb, e, n, c->k, m->n_kv);
            llm__matmul(c, L->wv, c->xb, e, n, c->v, m->n_kv);
        }
        llm__pool_run_sized(&c->pool, n, (double)n * (m->n_q + m->n_kv) * 16, llm__qkv_task, &rj);
        llm__pool_run_sized(&c->pool, n * m->n_head, (double)n * m->n_q * (pos0 + n), llm__attn_task, &aj);
        llm__matmul(c, L->wo, c->att, m->n_q, n, c->xb, e);
        llm__pool_run_sized(&c->pool, n, (double)n * e, llm__residual_task, &rj);
        /* 3. feed-forward: norm; act(gate) * up, down (or the experts); post-norm; residual */
        llm__pool_run_sized(&c->pool, n, (double)n * e, llm__ffn_norm_task, &rj);
        if (L->w_router) {
            llm__moe(c, L, n, &rj);
        } else {
            if (L->w_gate) {
                llm__matmul(c, L->w_gate, c->xb, e, n, c->hb, c->n_ffw);
                llm__matmul(c, L->w_up, c->xb, e, n, c->hb2, c->n_ffw);
            } else {
                llm__matmul(c, L->w_up, c->xb, e, n, c->tmp, c->n_tmp);
            }
            llm__pool_run_sized(&c->pool, n, (double)n * m->n_ff * 16, llm__glu_task, &rj);
            llm__matmul(c, L->w_down, c->hb, c->n_ffw, n, c->xb, e);
        }
        rj.expert = -2; /* the residual step takes the FFN's post-norm */
        llm__pool_run_sized(&c->pool, n, (double)n * e, llm__residual_task, &rj);
    }
    /* 4. final norm and logits for the requested rows */
    llm__pool_run_sized(&c->pool, n - n_first, (double)(n - n_first) * e, llm__out_norm_task, &rj);
    llm__matmul(c, m->output, c->xb + (size_t)n_first * e, e, n - n_first, c->logits, m->vocab.n_vocab);
    if (m->final_softcap > 0.0f) llm__pool_run_sized(&c->pool, n - n_first, (double)(n - n_first) * m->vocab.n_vocab * 16, llm__final_softcap_task, &rj);
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
    int n_ctx, n_batch, n_outputs, n_threads, n_ffw, n_tmp, n_qe;
    llm_kv_type kv_type;
    size_t kv_layer_bytes, xq_stride, head_tmp_stride, scratch_bytes;
    uint64_t kv_bytes;
} llm__ctx_sizes;

#define LLM__ALIGN64(n) (((n) + 63) & ~(size_t)63)

static int llm__ctx_resolve(const llm_model *m, const llm_context_params *p, llm__ctx_sizes *s, char *err, size_t err_size) {
    size_t per_token;
    uint64_t i, total;
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
    /* widths of the per-token buffers */
    s->n_ffw = m->n_ff > m->n_ff_exp ? m->n_ff : m->n_ff_exp;
    s->n_tmp = m->n_q + 2 * m->n_kv; /* fused qkv, fused gate|up, router logits */
    if (2 * m->n_ff > s->n_tmp) s->n_tmp = 2 * m->n_ff;
    if (m->n_expert > s->n_tmp) s->n_tmp = m->n_expert;
    s->n_qe = m->n_q > m->n_embd ? m->n_q : m->n_embd;
    /* the activation conversion buffer: the largest row any matrix needs */
    s->xq_stride = 0;
    for (i = 0; i < m->gguf.n_tensors; i++) {
        const llm__tensor *t = &m->gguf.tensors[i];
        if (llm_type_supported(t->type)) {
            size_t b = llm__type_row_bytes(llm__types[t->type].vec_dot_type, t->ne[0]);
            if (b > s->xq_stride) s->xq_stride = b;
        }
    }
    s->xq_stride = LLM__ALIGN64(s->xq_stride);
    s->head_tmp_stride = LLM__ALIGN64((size_t)m->head_dim * 4);
    /* one block for the scratch: per token, then per thread, then the logits (all in floats,
       each piece 64-byte aligned); the sizes are small numbers, far from overflow */
    per_token = LLM__ALIGN64(sizeof(float) * ((size_t)m->n_embd * 2 + (size_t)s->n_qe * 2 + (size_t)m->n_kv * 2 +
                                              (size_t)s->n_ffw * 2 + (size_t)s->n_tmp + (size_t)m->n_rot +
                                              (size_t)m->n_expert_used * ((size_t)m->n_embd + 2) + 1)) +
                s->xq_stride;
    total = (uint64_t)s->n_batch * (per_token + 16 * 64) +
            (uint64_t)s->n_threads * (LLM__ALIGN64((uint64_t)s->n_ctx * 4) + s->head_tmp_stride) +
            (uint64_t)s->n_outputs * (uint64_t)m->vocab.n_vocab * 4 + 64;
    if (total > SIZE_MAX / 2) return llm__errf(err, err_size, LLM_ERR_ARG, "context scratch size overflows");
    s->scratch_bytes = (size_t)total;
    return LLM_OK;
}

static void llm__gen_free(llm_context *c); /* >>generate */

LLMDEF void llm_context_free(llm_context *c) {
    llm_allocator a;
    if (!c) return;
    llm__gen_free(c);
    a = c->alloc;
    if (c->pool_started) llm__pool_stop(&c->pool);
    llm__free(&a, c->k_cache);
    llm__free(&a, c->v_cache);
    llm__free(&a, c->scratch);
    llm__free(&a, c);
}

/* Hands out 64-byte aligned pieces of the scratch block. */
static void *llm__carve(uint8_t **p, size_t bytes) {
    void *r = *p;
    *p += LLM__ALIGN64(bytes);
    return r;
}

LLMDEF llm_context *llm_context_new(llm_model *m, const llm_context_params *p, char *err, size_t err_size) {
    llm_context_params d = llm_context_default_params();
    llm__ctx_sizes s;
    llm_context *c;
    const llm_allocator *a;
    size_t nb;
    uint8_t *sp;
    int r;
    memset(&s, 0, sizeof s);
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
    c->kv_row_bytes = llm__type_row_bytes(c->kv_elt, m->n_kv);
    c->xq_stride = s.xq_stride;
    c->head_tmp_stride = s.head_tmp_stride;
    c->n_ffw = s.n_ffw;
    c->n_tmp = s.n_tmp;
    /* LongRoPE: the long factors once the context outgrows the original training length */
    c->rope_factors = m->rope_freqs;
    if (m->rope_long && m->rope_short) c->rope_factors = s.n_ctx > m->n_ctx_orig ? m->rope_long : m->rope_short;
    llm__kernels_init(&c->kern, p->cpu_features);
    c->k_cache = (uint8_t *)llm__alloc_array(a, (size_t)m->n_layer, s.kv_layer_bytes);
    c->v_cache = (uint8_t *)llm__alloc_array(a, (size_t)m->n_layer, s.kv_layer_bytes);
    c->scratch = llm__alloc_array(a, 1, s.scratch_bytes);
    if (!c->k_cache || !c->v_cache || !c->scratch) {
        llm__errf(err, err_size, LLM_ERR_NOMEM, "out of memory for a context of %d tokens (KV cache %.1f MiB)", s.n_ctx,
                  (double)s.kv_bytes / 1048576.0);
        llm_context_free(c);
        return NULL;
    }
    nb = (size_t)s.n_batch;
    sp = (uint8_t *)LLM__ALIGN64((size_t)c->scratch);
    c->x = (float *)llm__carve(&sp, nb * (size_t)m->n_embd * 4);
    c->xb = (float *)llm__carve(&sp, nb * (size_t)m->n_embd * 4);
    c->q = (float *)llm__carve(&sp, nb * (size_t)s.n_qe * 4);
    c->att = (float *)llm__carve(&sp, nb * (size_t)s.n_qe * 4);
    c->k = (float *)llm__carve(&sp, nb * (size_t)m->n_kv * 4);
    c->v = (float *)llm__carve(&sp, nb * (size_t)m->n_kv * 4);
    c->hb = (float *)llm__carve(&sp, nb * (size_t)s.n_ffw * 4);
    c->hb2 = (float *)llm__carve(&sp, nb * (size_t)s.n_ffw * 4);
    c->tmp = (float *)llm__carve(&sp, nb * (size_t)s.n_tmp * 4);
    c->rope_cs = (float *)llm__carve(&sp, nb * (size_t)m->n_rot * 4);
    c->moe_out = (float *)llm__carve(&sp, nb * (size_t)m->n_expert_used * (size_t)m->n_embd * 4);
    c->moe_w = (float *)llm__carve(&sp, nb * (size_t)m->n_expert_used * 4);
    c->moe_sel = (int32_t *)llm__carve(&sp, nb * (size_t)m->n_expert_used * 4);
    c->moe_tok = (int32_t *)llm__carve(&sp, nb * 4);
    c->xq = (uint8_t *)llm__carve(&sp, nb * s.xq_stride);
    c->scores = (float *)llm__carve(&sp, (size_t)s.n_threads * LLM__ALIGN64((size_t)s.n_ctx * 4));
    c->head_tmp = (uint8_t *)llm__carve(&sp, (size_t)s.n_threads * s.head_tmp_stride);
    c->logits = (float *)llm__carve(&sp, (size_t)s.n_outputs * (size_t)m->vocab.n_vocab * 4);
    LLM_ASSERT(sp <= (uint8_t *)c->scratch + s.scratch_bytes);
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

/* Rotates a key row (all heads) from position p to p + delta: RoPE angles add, so this is
   the rotation of position delta, with the layer's base and factors (but not the attention
   factor, already in the key). */
static void llm__kv_rerope(llm_context *c, int layer, uint8_t *row, int delta, float *tmp) {
    const llm_model *m = c->model;
    const llm__type_traits *t = &llm__types[c->kv_elt];
    float cs[512];
    t->to_float(row, tmp, m->n_kv);
    llm__rope_table(cs, delta, m->n_rot, m->layers[layer].rope_base, m->rope_freq_scale, c->rope_factors, 1.0f);
    llm__rope_apply(tmp, m->n_head_kv, m->head_dim, m->n_rot, cs, m->ar->rope_neox);
    t->from_float(tmp, row, m->n_kv);
}

LLMDEF int llm_context_shift(llm_context *c, int n_keep, int n_discard) {
    const llm_model *m = c->model;
    int l, p, n_move;
    if (n_keep < 0 || n_discard <= 0 || n_keep > c->n_past - n_discard || m->n_rot > 512)
        return llm__ctx_fail(c, LLM_ERR_ARG, "context shift: keep %d, discard %d of %d positions", n_keep, n_discard, c->n_past);
    n_move = c->n_past - n_keep - n_discard;
    for (l = 0; l < m->n_layer; l++) {
        uint8_t *k = c->k_cache + (size_t)l * c->kv_layer_bytes, *v = c->v_cache + (size_t)l * c->kv_layer_bytes;
        memmove(k + (size_t)n_keep * c->kv_row_bytes, k + (size_t)(n_keep + n_discard) * c->kv_row_bytes, (size_t)n_move * c->kv_row_bytes);
        memmove(v + (size_t)n_keep * c->kv_row_bytes, v + (size_t)(n_keep + n_discard) * c->kv_row_bytes, (size_t)n_move * c->kv_row_bytes);
        for (p = n_keep; p < n_keep + n_move; p++) llm__kv_rerope(c, l, k + (size_t)p * c->kv_row_bytes, -n_discard, c->tmp);
    }
    c->n_past -= n_discard;
    return LLM_OK;
}

/* ---- state: "LLMS", version, shape, n_past, the last logits row, K and V rows ---- */

#define LLM__STATE_HEADER 40

/* A fingerprint of what the cache rows depend on. */
static uint64_t llm__model_fingerprint(const llm_model *m) {
    uint64_t h = 1469598103934665603ull, v[8];
    int i;
    v[0] = (uint64_t)m->n_embd;
    v[1] = (uint64_t)m->n_layer;
    v[2] = (uint64_t)m->n_head;
    v[3] = (uint64_t)m->n_head_kv;
    v[4] = (uint64_t)m->head_dim;
    v[5] = (uint64_t)m->vocab.n_vocab;
    v[6] = m->size_bytes;
    v[7] = m->n_params;
    for (i = 0; i < 64; i++) h = (h ^ ((v[i / 8] >> (8 * (i % 8))) & 0xff)) * 1099511628211ull;
    return h;
}

LLMDEF size_t llm_context_state_size(const llm_context *c) {
    return LLM__STATE_HEADER + (size_t)c->model->vocab.n_vocab * 4 +
           2 * (size_t)c->model->n_layer * (size_t)c->n_past * c->kv_row_bytes;
}

static void llm__put32(uint8_t *p, uint32_t v) {
    llm__put16(p, (uint16_t)v);
    llm__put16(p + 2, (uint16_t)(v >> 16));
}

LLMDEF size_t llm_context_state_save(const llm_context *c, void *buf, size_t size) {
    const llm_model *m = c->model;
    size_t need = llm_context_state_size(c), rows = (size_t)c->n_past * c->kv_row_bytes;
    uint8_t *p = (uint8_t *)buf;
    uint64_t fp = llm__model_fingerprint(m);
    int l;
    if (!buf || size < need) return need;
    memcpy(p, "LLMS", 4);
    llm__put32(p + 4, 1);
    llm__put32(p + 8, (uint32_t)m->n_layer);
    llm__put32(p + 12, (uint32_t)m->n_kv);
    llm__put32(p + 16, (uint32_t)c->kv_elt);
    llm__put32(p + 20, (uint32_t)m->vocab.n_vocab);
    llm__put32(p + 24, (uint32_t)c->n_past);
    llm__put32(p + 28, (uint32_t)(c->n_logits > 0));
    llm__put32(p + 32, (uint32_t)fp);
    llm__put32(p + 36, (uint32_t)(fp >> 32));
    p += LLM__STATE_HEADER;
    if (c->n_logits > 0) memcpy(p, c->logits + (size_t)(c->n_logits - 1) * m->vocab.n_vocab, (size_t)m->vocab.n_vocab * 4);
    else memset(p, 0, (size_t)m->vocab.n_vocab * 4);
    p += (size_t)m->vocab.n_vocab * 4;
    for (l = 0; l < m->n_layer; l++) {
        memcpy(p, c->k_cache + (size_t)l * c->kv_layer_bytes, rows);
        memcpy(p + rows, c->v_cache + (size_t)l * c->kv_layer_bytes, rows);
        p += 2 * rows;
    }
    return need;
}

LLMDEF int llm_context_state_load(llm_context *c, const void *buf, size_t size) {
    const llm_model *m = c->model;
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t fp = llm__model_fingerprint(m);
    uint32_t n_past, has_logits;
    size_t rows, need;
    int l;
    if (!buf || size < LLM__STATE_HEADER || memcmp(p, "LLMS", 4) != 0 || llm__le32(p + 4) != 1)
        return llm__ctx_fail(c, LLM_ERR_FORMAT, "not a saved llm.h context state");
    if (llm__le32(p + 8) != (uint32_t)m->n_layer || llm__le32(p + 12) != (uint32_t)m->n_kv ||
        llm__le32(p + 20) != (uint32_t)m->vocab.n_vocab || (llm__le32(p + 32) | (uint64_t)llm__le32(p + 36) << 32) != fp)
        return llm__ctx_fail(c, LLM_ERR_ARG, "the saved state belongs to another model");
    if (llm__le32(p + 16) != (uint32_t)c->kv_elt) return llm__ctx_fail(c, LLM_ERR_ARG, "the saved state has another KV cache type");
    n_past = llm__le32(p + 24);
    has_logits = llm__le32(p + 28);
    if (n_past > (uint32_t)c->n_ctx) return llm__ctx_fail(c, LLM_ERR_CONTEXT_FULL, "the saved state holds %u tokens, the context %d", n_past, c->n_ctx);
    rows = (size_t)n_past * c->kv_row_bytes;
    need = LLM__STATE_HEADER + (size_t)m->vocab.n_vocab * 4 + 2 * (size_t)m->n_layer * rows;
    if (size != need) return llm__ctx_fail(c, LLM_ERR_FORMAT, "saved state is %zu bytes, expected %zu", size, need);
    p += LLM__STATE_HEADER;
    memcpy(c->logits, p, (size_t)m->vocab.n_vocab * 4);
    p += (size_t)m->vocab.n_vocab * 4;
    for (l = 0; l < m->n_layer; l++) {
        memcpy(c->k_cache + (size_t)l * c->kv_layer_bytes, p, rows);
        memcpy(c->v_cache + (size_t)l * c->kv_layer_bytes, p + rows, rows);
        p += 2 * rows;
    }
    c->n_past = (int)n_past;
    c->logits_first = 0;
    c->n_logits = has_logits ? 1 : 0;
    c->last_n = 1;
    return LLM_OK;
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
    if (v->kind != LLM__VOCAB_SPM || !v->hash) return LLM_ERR_UNSUPPORTED;
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

/* A generation in progress (llm_generate_begin .. the step that ends it). */
typedef struct llm__gen {
    llm_generate_params g;
    llm_generate_params g_default;
    llm_on_token cb;
    void *user;
    llm_token *prompt;      /* [n_prompt] */
    int n_prompt, n_prompt_done, n_gen;
    llm_token last;         /* sampled, not yet decoded */
    int pending;            /* 1: last must be decoded before the next sample */
    llm_sampler *smp;
    llm__outbuf out;
    double t0, t1;
} llm__gen;

static void llm__gen_free(llm_context *c) {
    llm__gen *s = c->gen;
    if (!s) return;
    llm_sampler_free(s->smp);
    llm__free(&c->alloc, s->prompt);
    llm__free(&c->alloc, s->out.buf);
    llm__free(&c->alloc, s);
    c->gen = NULL;
}

/* Ends the generation with result r: flushes held-back text, fills the statistics. */
static int llm__gen_finish(llm_context *c, int r) {
    llm__gen *s = c->gen;
    double now = llm__now_ms();
    llm__out_add(&s->out, s->last, "", 0, 1);
    if (s->g.stats) {
        s->g.stats->n_prompt = s->n_prompt;
        s->g.stats->n_generated = s->n_gen;
        s->g.stats->prompt_ms = (s->n_gen ? s->t1 : now) - s->t0;
        s->g.stats->generate_ms = s->n_gen > 1 ? now - s->t1 : 0.0;
    }
    llm__gen_free(c);
    return r;
}

LLMDEF int llm_generate_begin(llm_context *c, const char *prompt, const llm_generate_params *g, llm_on_token cb, void *user) {
    const llm_model *m = c->model;
    llm__gen *s;
    int flags = 0, i, max_piece = 0;
    size_t max_stop = 0;
    c->err[0] = 0;
    c->cancel = 0;
    if (c->gen) return llm__ctx_fail(c, LLM_ERR_ARG, "a generation is already in progress on this context");
    if (!prompt) prompt = "";
    s = (llm__gen *)llm__alloc_array(&c->alloc, 1, sizeof *s);
    if (!s) return llm__ctx_fail(c, LLM_ERR_NOMEM, "out of memory");
    c->gen = s;
    s->g_default = llm_generate_default_params();
    s->g = g ? *g : s->g_default;
    s->cb = cb;
    s->user = user;
    s->t0 = llm__now_ms();
    if (!s->g.no_bos && c->n_past == 0) flags |= LLM_TOKENIZE_ADD_SPECIAL;
    if (s->g.parse_special) flags |= LLM_TOKENIZE_PARSE_SPECIAL;
    s->n_prompt = llm_tokenize(m, prompt, strlen(prompt), NULL, 0, flags);
    if (s->n_prompt < 0) {
        i = s->n_prompt;
        llm__gen_free(c);
        return llm__ctx_fail(c, i, "cannot tokenize the prompt");
    }
    if (s->n_prompt == 0 && c->n_past == 0) {
        llm__gen_free(c);
        return llm__ctx_fail(c, LLM_ERR_ARG, "empty prompt and empty context");
    }
    if (s->n_prompt > c->n_ctx - c->n_past) {
        i = s->n_prompt;
        llm__gen_free(c);
        return llm__ctx_fail(c, LLM_ERR_CONTEXT_FULL, "the prompt (%d tokens) does not fit in the context (%d of %d free)", i,
                             c->n_ctx - c->n_past, c->n_ctx);
    }
    for (i = 0; i < s->g.n_stop; i++)
        if (s->g.stop && s->g.stop[i] && strlen(s->g.stop[i]) > max_stop) max_stop = strlen(s->g.stop[i]);
    for (i = 0; i < m->vocab.n_vocab; i++)
        if ((int)m->vocab.text_len[i] > max_piece) max_piece = (int)m->vocab.text_len[i];
    s->out.cap = max_stop + (size_t)max_piece + 16;
    s->out.buf = (char *)llm__malloc(&c->alloc, s->out.cap);
    s->prompt = (llm_token *)llm__alloc_array(&c->alloc, (size_t)s->n_prompt + 1, sizeof(llm_token));
    s->smp = llm_sampler_new(m, &s->g.sampler);
    if (!s->out.buf || !s->prompt || !s->smp) {
        llm__gen_free(c);
        return llm__ctx_fail(c, LLM_ERR_NOMEM, "out of memory");
    }
    s->out.g = &s->g;
    s->out.cb = cb;
    s->out.user = user;
    llm_tokenize(m, prompt, strlen(prompt), s->prompt, s->n_prompt, flags);
    return LLM_OK;
}

/* Makes room for one more token by a context shift, when the params allow it. */
static int llm__gen_make_room(llm_context *c) {
    llm__gen *s = c->gen;
    int keep = s->g.n_keep > 0 ? s->g.n_keep : (c->model->vocab.add_bos ? 1 : 0), discard;
    if (c->n_past < c->n_ctx) return LLM_OK;
    if (!s->g.context_shift || keep >= c->n_past - 1)
        return llm__ctx_fail(c, LLM_ERR_CONTEXT_FULL, "context full (%d tokens)", c->n_ctx);
    discard = (c->n_past - keep) / 2;
    return llm_context_shift(c, keep, discard);
}

LLMDEF int llm_step(llm_context *c, int max_tokens) {
    llm__gen *s = c->gen;
    const llm_model *m = c->model;
    char piece[256];
    int r, done = 0;
    if (!s) return llm__ctx_fail(c, LLM_ERR_ARG, "llm_step: no generation in progress");
    if (c->cancel) return llm__gen_finish(c, llm__ctx_fail(c, LLM_ERR_CANCELLED, "cancelled"));
    if (s->n_prompt_done < s->n_prompt) { /* one chunk of the prompt */
        int n = s->n_prompt - s->n_prompt_done < c->n_batch ? s->n_prompt - s->n_prompt_done : c->n_batch, i;
        if ((r = llm_decode(c, s->prompt + s->n_prompt_done, n, 0)) != LLM_OK) return llm__gen_finish(c, r);
        s->n_prompt_done += n;
        if (s->n_prompt_done == s->n_prompt)
            for (i = 0; i < s->n_prompt; i++) llm_sampler_accept(s->smp, s->prompt[i]);
        return 1;
    }
    while (done < max_tokens) {
        int len, flags = s->g.render_special ? LLM_PIECE_SPECIAL : 0;
        if (c->cancel) return llm__gen_finish(c, llm__ctx_fail(c, LLM_ERR_CANCELLED, "cancelled"));
        if (s->pending) {
            if ((r = llm__gen_make_room(c)) != LLM_OK || (r = llm_decode(c, &s->last, 1, 0)) != LLM_OK) return llm__gen_finish(c, r);
            s->pending = 0;
        }
        s->last = llm_sampler_sample(s->smp, llm_logits(c, -1));
        llm_sampler_accept(s->smp, s->last);
        if (++s->n_gen == 1) s->t1 = llm__now_ms();
        done++;
        if (llm_token_is_eog(m, s->last) && !s->g.ignore_eos) return llm__gen_finish(c, LLM_OK);
        len = llm_token_to_piece(m, s->last, piece, (int)sizeof piece, flags);
        if (len > (int)sizeof piece) { /* a long user-defined token: the outbuf has room for it */
            char *big = (char *)llm__malloc(&c->alloc, (size_t)len);
            if (!big) return llm__gen_finish(c, llm__ctx_fail(c, LLM_ERR_NOMEM, "out of memory"));
            llm_token_to_piece(m, s->last, big, len, flags);
            llm__out_add(&s->out, s->last, big, (size_t)len, 0);
            llm__free(&c->alloc, big);
        } else if (len > 0) {
            llm__out_add(&s->out, s->last, piece, (size_t)len, 0);
        }
        if (s->out.stopped || (s->g.n_predict > 0 && s->n_gen >= s->g.n_predict)) return llm__gen_finish(c, LLM_OK);
        s->pending = 1;
    }
    return 1;
}

LLMDEF void llm_generate_cancel(llm_context *c) { c->cancel = 1; }
LLMDEF int llm_generate_active(const llm_context *c) { return c->gen != NULL; }

LLMDEF int llm_generate(llm_context *c, const char *prompt, const llm_generate_params *g, llm_on_token cb, void *user) {
    int r = llm_generate_begin(c, prompt, g, cb, user);
    if (r != LLM_OK) return r;
    while ((r = llm_step(c, INT_MAX)) == 1) {
    }
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
