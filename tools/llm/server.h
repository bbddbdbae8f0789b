/* An OpenAI-compatible HTTP/1.1 server over llm.h: the reusable core of `llm serve`.

       srv_params p = srv_default_params();
       p.port = 8080;
       srv_server *s = srv_new(model, "my-model", &p, err, sizeof err);
       srv_run(s);            (blocks until srv_stop; answers each connection on its own thread)
       srv_free(s);

   Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health
   (also the scheduler's state: running, waiting, KV blocks used, shared and total).
   Continuous batching: one llm_context holds a sequence per running stream over one pool
   of KV blocks; a scheduler thread decodes, in each step's single batched pass, one token
   of every generating stream and chunks of the prompts being read (within n_batch tokens).
   Streams join and leave between steps; a client that goes away frees its blocks at once;
   when the pool is full new requests wait (or the newest stream is preempted and later
   recomputed). A prompt that starts like another running stream's, or like a finished
   request's kept in the prompt cache, shares its computed blocks. With greedy sampling a request's text does not depend on the others running.
   Connections beyond n_parallel + max_queue get 503. One request per connection
   (Connection: close); streaming as server-sent events.
   POSIX sockets and pthreads; elsewhere srv_new fails with "not supported". */
#ifndef LLM_TOOL_SERVER_H
#define LLM_TOOL_SERVER_H

#include "../../llm.h"

#include <stddef.h>

typedef struct srv_params {
    const char *host;     /* address to bind, default "127.0.0.1"                          */
    int port;             /* default 8080; 0 = any free port (see srv_port)                */
    int n_parallel;       /* streams decoded at once (sequences), default 1                 */
    int n_ctx;            /* most tokens of one stream; 0 = the library's default           */
    int n_threads;        /* threads of the decoding context; 0 = the library's default     */
    int n_batch;          /* tokens per step (decode tokens + prompt chunks); 0 = 256       */
    int kv_block;         /* positions per KV block (a power of two); 0 = 32                */
    int kv_blocks;        /* blocks in the KV pool; 0 = kv_mem's, else n_parallel full contexts */
    unsigned long long kv_mem; /* bytes for the KV pool when kv_blocks is 0; 0 = as above  */
    int prompt_cache;     /* finished requests whose KV blocks are kept (while the pool has
                             room) for later prompts that start alike; -1 = n_parallel, 0 = off */
    int max_queue;        /* connections waiting beyond the running streams, default 64 (then 503) */
    size_t max_header;    /* bytes of request line and headers, default 16 KiB (else 431)   */
    size_t max_body;      /* bytes of body, default 1 MiB (else 413)                        */
    int max_tokens;       /* most tokens one request may ask for; 0 = n_ctx                 */
    int timeout_s;        /* socket read/write timeout for slow clients, default 30         */
    const char *api_key;  /* non-NULL: every route but /health needs "Bearer KEY"          */
    const char *tmpl;     /* chat template name; NULL: the model's own, else chatml         */
    llm_kv_type kv_type;  /* of the KV cache                                               */
    int verbose;          /* 1: one line per request on stderr                              */
} srv_params;

typedef struct srv_server srv_server;

srv_params srv_default_params(void);
/* Binds and listens, makes the context and starts the scheduler. The model is borrowed; model_id names it
   in responses (copied). NULL with a message in err on failure. */
srv_server *srv_new(llm_model *m, const char *model_id, const srv_params *p, char *err, size_t err_size);
/* The port bound (useful after port 0). */
int srv_port(const srv_server *s);
/* Accepts and answers connections until srv_stop; then stops the generations in flight,
   waits (at most 10 s) for their connections to end and returns 0 (1 if some did not). */
int srv_run(srv_server *s);
/* Asks srv_run to return. Async-signal-safe: call it from a SIGINT/SIGTERM handler. */
void srv_stop(srv_server *s);
void srv_free(srv_server *s); /* NULL does nothing */

#endif
