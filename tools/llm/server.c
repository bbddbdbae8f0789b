/* The core of `llm serve`: HTTP/1.1 (one request per connection), a strict bounded JSON
   reader and writer, OpenAI routes, and a scheduler that decodes every stream in one batched
   pass over one multi-sequence llm_context. See server.h. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

srv_params srv_default_params(void) {
    srv_params p;
    memset(&p, 0, sizeof p);
    p.host = "127.0.0.1";
    p.port = 8080;
    p.n_parallel = 1;
    p.max_queue = 64;
    p.max_header = 16 << 10;
    p.max_body = 1 << 20;
    p.timeout_s = 30;
    p.prompt_cache = -1;
    return p;
}

#ifdef _WIN32

srv_server *srv_new(llm_model *m, const char *model_id, const srv_params *p, char *err, size_t err_size) {
    (void)m, (void)model_id, (void)p;
    if (err_size) snprintf(err, err_size, "llm serve is not supported on Windows (it needs POSIX sockets)");
    return NULL;
}
int srv_port(const srv_server *s) { (void)s; return 0; }
int srv_run(srv_server *s) { (void)s; return 1; }
void srv_stop(srv_server *s) { (void)s; }
void srv_free(srv_server *s) { (void)s; }

#else

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* ---- a growing string -------------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n + 1 > b->cap - b->len || !b->s) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1) {
            if (cap > ((size_t)1 << 40)) { b->oom = 1; return; }
            cap *= 2;
        }
        p = (char *)realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 character at s[0..n), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0], k, i, cp;
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (n < k) return 0;
    cp = c & (0x3F >> (k - 1));
    for (i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    return k;
}

/* s as a JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static void sb_json_str(sbuf *b, const char *s, size_t n) {
    size_t i = 0, run = 0;
    sb_add(b, "\"", 1);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) { i++; continue; }
        sb_add(b, s + run, i - run);
        if (c == '"') sb_add(b, "\\\"", 2), k = 1;
        else if (c == '\\') sb_add(b, "\\\\", 2), k = 1;
        else if (c == '\n') sb_add(b, "\\n", 2), k = 1;
        else if (c == '\r') sb_add(b, "\\r", 2), k = 1;
        else if (c == '\t') sb_add(b, "\\t", 2), k = 1;
        else if (c < 0x20) sb_printf(b, "\\u%04x", c), k = 1;
        else if ((k = utf8_len((const unsigned char *)s + i, n - i)) != 0) sb_add(b, s + i, k);
        else sb_add(b, "\xEF\xBF\xBD", 3), k = 1;
        i += k;
        run = i;
    }
    sb_add(b, s + run, i - run);
    sb_add(b, "\"", 1);
}

/* ---- JSON reader: strict (RFC 8259), bounded depth and node count ------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
#define J_MAX_DEPTH 64
#define J_MAX_NODES 100000

typedef struct jnode {
    int type, b;
    double num;
    char *s; /* J_STR: decoded UTF-8, NUL-terminated */
    size_t len;
    char *key; /* of a member of an object */
    struct jnode *kid, *next;
    int n; /* children */
} jnode;

typedef struct jparser {
    const char *p, *end;
    int nodes;
    const char *err;
} jparser;

static void j_free(jnode *n) {
    while (n) {
        jnode *next = n->next;
        j_free(n->kid);
        free(n->s);
        free(n->key);
        free(n);
        n = next;
    }
}

static void j_ws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int j_hex4(jparser *j, unsigned *out) {
    unsigned v = 0;
    int i;
    if (j->end - j->p < 4) return 0;
    for (i = 0; i < 4; i++) {
        char c = j->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    j->p += 4;
    *out = v;
    return 1;
}

/* A string after its opening quote, decoded into *out (malloc'ed). */
static int j_string(jparser *j, char **out, size_t *out_len) {
    sbuf b;
    memset(&b, 0, sizeof b);
    sb_add(&b, "", 0);
    for (;;) {
        unsigned char c;
        if (j->p >= j->end) { j->err = "unterminated string"; break; }
        c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            if (b.oom) { j->err = "out of memory"; break; }
            *out = b.s;
            *out_len = b.len;
            return 1;
        }
        if (c < 0x20) { j->err = "control character in a string"; break; }
        if (c == '\\') {
            char e;
            j->p++;
            if (j->p >= j->end) { j->err = "unterminated string"; break; }
            e = *j->p++;
            if (e == '"' || e == '\\' || e == '/') sb_add(&b, &e, 1);
            else if (e == 'b') sb_add(&b, "\b", 1);
            else if (e == 'f') sb_add(&b, "\f", 1);
            else if (e == 'n') sb_add(&b, "\n", 1);
            else if (e == 'r') sb_add(&b, "\r", 1);
            else if (e == 't') sb_add(&b, "\t", 1);
            else if (e == 'u') {
                unsigned cp, lo;
                char u[4];
                int k;
                if (!j_hex4(j, &cp)) { j->err = "bad \\u escape"; break; }
                if (cp >= 0xDC00 && cp <= 0xDFFF) { j->err = "lone low surrogate"; break; }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') { j->err = "lone high surrogate"; break; }
                    j->p += 2;
                    if (!j_hex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF) { j->err = "bad surrogate pair"; break; }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80) u[0] = (char)cp, k = 1;
                else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
                else if (cp < 0x10000)
                    u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
                else
                    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F)), u[2] = (char)(0x80 | (cp >> 6 & 0x3F)),
                    u[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
                sb_add(&b, u, (size_t)k);
            } else { j->err = "bad escape"; break; }
        } else {
            size_t k = utf8_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
            if (!k) { j->err = "invalid UTF-8 in a string"; break; }
            sb_add(&b, j->p, k);
            j->p += k;
        }
    }
    free(b.s);
    return 0;
}

static jnode *j_value(jparser *j, int depth);

static jnode *j_new(jparser *j, int type) {
    jnode *n;
    if (++j->nodes > J_MAX_NODES) { j->err = "too many values"; return NULL; }
    n = (jnode *)calloc(1, sizeof *n);
    if (!n) { j->err = "out of memory"; return NULL; }
    n->type = type;
    return n;
}

static jnode *j_container(jparser *j, int depth, int obj) {
    jnode *n = j_new(j, obj ? J_OBJ : J_ARR), **tail;
    if (!n) return NULL;
    if (depth >= J_MAX_DEPTH) { j->err = "nesting too deep"; free(n); return NULL; }
    tail = &n->kid;
    j->p++;
    j_ws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) { j->p++; return n; }
    for (;;) {
        jnode *v;
        char *key = NULL;
        size_t klen;
        if (obj) {
            j_ws(j);
            if (j->p >= j->end || *j->p != '"') { j->err = "expected a member name"; break; }
            j->p++;
            if (!j_string(j, &key, &klen)) break;
            j_ws(j);
            if (j->p >= j->end || *j->p != ':') { j->err = "expected ':'"; free(key); break; }
            j->p++;
        }
        v = j_value(j, depth + 1);
        if (!v) { free(key); break; }
        v->key = key;
        *tail = v;
        tail = &v->next;
        n->n++;
        j_ws(j);
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) { j->p++; return n; }
        j->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
        break;
    }
    j_free(n);
    return NULL;
}

static jnode *j_value(jparser *j, int depth) {
    jnode *n;
    j_ws(j);
    if (j->p >= j->end) { j->err = "unexpected end"; return NULL; }
    switch (*j->p) {
    case '{': return j_container(j, depth, 1);
    case '[': return j_container(j, depth, 0);
    case '"':
        if (!(n = j_new(j, J_STR))) return NULL;
        j->p++;
        if (!j_string(j, &n->s, &n->len)) { free(n); return NULL; }
        return n;
    case 't': case 'f': case 'n': {
        static const char *const words[3] = {"true", "false", "null"};
        int w = *j->p == 't' ? 0 : *j->p == 'f' ? 1 : 2;
        size_t len = strlen(words[w]);
        if ((size_t)(j->end - j->p) < len || memcmp(j->p, words[w], len) != 0) { j->err = "unknown literal"; return NULL; }
        j->p += len;
        if (!(n = j_new(j, w == 2 ? J_NULL : J_BOOL))) return NULL;
        n->b = w == 0;
        return n;
    }
    default: {
        /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
        const char *s = j->p, *p = j->p;
        char tmp[64];
        if (p < j->end && *p == '-') p++;
        if (p < j->end && *p == '0') p++;
        else if (p < j->end && *p >= '1' && *p <= '9') while (p < j->end && *p >= '0' && *p <= '9') p++;
        else { j->err = "unexpected character"; return NULL; }
        if (p < j->end && *p == '.') {
            p++;
            if (p >= j->end || *p < '0' || *p > '9') { j->err = "bad number"; return NULL; }
            while (p < j->end && *p >= '0' && *p <= '9') p++;
        }
        if (p < j->end && (*p == 'e' || *p == 'E')) {
            p++;
            if (p < j->end && (*p == '+' || *p == '-')) p++;
            if (p >= j->end || *p < '0' || *p > '9') { j->err = "bad number"; return NULL; }
            while (p < j->end && *p >= '0' && *p <= '9') p++;
        }
        if ((size_t)(p - s) >= sizeof tmp) { j->err = "number too long"; return NULL; }
        memcpy(tmp, s, (size_t)(p - s));
        tmp[p - s] = 0;
        j->p = p;
        if (!(n = j_new(j, J_NUM))) return NULL;
        n->num = strtod(tmp, NULL);
        return n;
    }
    }
}

/* Parses a whole document; NULL with *err set on failure. */
static jnode *j_parse(const char *s, size_t n, const char **err) {
    jparser j;
    jnode *v;
    j.p = s;
    j.end = s + n;
    j.nodes = 0;
    j.err = NULL;
    v = j_value(&j, 0);
    if (v) {
        j_ws(&j);
        if (j.p != j.end) {
            j.err = "text after the value";
            j_free(v);
            v = NULL;
        }
    }
    *err = j.err ? j.err : "bad JSON";
    return v;
}

static jnode *j_get(const jnode *obj, const char *key) {
    jnode *k;
    if (!obj || obj->type != J_OBJ) return NULL;
    for (k = obj->kid; k; k = k->next)
        if (strcmp(k->key, key) == 0) return k;
    return NULL;
}

/* Writes a parsed value back as JSON text (to hand a request's JSON schema to the grammar
   compiler; the http fuzz harness checks it round-trips). Numbers keep 17 significant digits,
   which reproduces any double. */
static void j_write(sbuf *b, const jnode *n) {
    const jnode *k;
    switch (n->type) {
    case J_NULL: sb_str(b, "null"); break;
    case J_BOOL: sb_str(b, n->b ? "true" : "false"); break;
    case J_NUM: /* strtod makes a number too large for a double infinite */
        if (isinf(n->num)) sb_str(b, n->num > 0 ? "1e999" : "-1e999");
        else sb_printf(b, "%.17g", n->num);
        break;
    case J_STR: sb_json_str(b, n->s, n->len); break;
    default:
        sb_str(b, n->type == J_ARR ? "[" : "{");
        for (k = n->kid; k; k = k->next) {
            if (k != n->kid) sb_str(b, ",");
            if (n->type == J_OBJ) {
                sb_json_str(b, k->key, strlen(k->key));
                sb_str(b, ":");
            }
            j_write(b, k);
        }
        sb_str(b, n->type == J_ARR ? "]" : "}");
    }
}

/* ---- server state ------------------------------------------------------------------------ */

/* A request's generation. The connection thread fills the fixed part and queues it; the
   scheduler thread owns the rest (under mu) until the state is ST_DONE, then the connection
   thread frees it. */
enum { ST_WAITING, ST_RUNNING, ST_DONE };

typedef struct srv_stream {
    llm_token *tok;            /* [cap]: the prompt, then the generated tokens */
    int n_prompt, n_tok, cap;
    int max_tokens;            /* 0: until end-of-generation or the context is full */
    llm_sampler *smp;
    llm_grammar *grammar;      /* response_format's, or NULL; the sampler borrows it */
    const char *stops[4];      /* borrowed from the request, alive until ST_DONE */
    int n_stop;
    pthread_cond_t cv;         /* signalled when out grows and when the stream ends */
    /* under mu */
    int state, seq;            /* seq: its sequence (and index in run[]) while running, else -1 */
    int n_done;                /* tokens of tok in the KV cache */
    int n_gen, n_shared;       /* tokens generated; prompt tokens taken from another stream */
    int cancelled;             /* the client went away (or the server stops) */
    int stopped, length, rc;   /* a stop string was seen; ended by a limit; the result */
    unsigned long long order;  /* when it was (last) admitted: the newest is preempted first */
    sbuf pend;                 /* text held back: a possible stop string, a split UTF-8 char */
    sbuf out;                  /* text for the connection to send */
    struct srv_stream *next;   /* in the waiting queue */
} srv_stream;

/* A finished request's tokens whose KV blocks a sequence of the context keeps (the prompt
   cache): a later prompt that starts with the same tokens forks them instead of computing
   them. The blocks are given back when the pool needs room, least recently used first. */
typedef struct srv_cached {
    int seq;                    /* its sequence, n_parallel + index */
    llm_token *tok;             /* [n] NULL: the entry is free */
    int n;
    unsigned long long used;    /* when it was stored or last shared */
} srv_cached;

struct srv_server {
    llm_model *model;
    srv_params p;
    char model_id[256];
    const char *tmpl;
    int listen_fd, wake[2], port;
    volatile sig_atomic_t stop_requested;
    volatile int stopping;
    llm_context *ctx;           /* n_parallel sequences over one pool of KV blocks */
    int n_batch, kv_block;      /* tokens per step; positions per block */
    int pool_blocks;            /* blocks in the pool (fixed) */
    srv_stream **run;           /* [n_parallel] the running stream of each sequence, or NULL */
    int n_run, n_wait;
    srv_stream *wait_head;      /* the waiting queue, oldest first */
    llm_token *b_tok;           /* [n_batch] the step's batch */
    int32_t *b_seq;
    int8_t *b_logits;
    int *chunk, *lrow;          /* [n_parallel] tokens of each sequence in the step; its logits row */
    srv_cached *cache;          /* [n_cache] the prompt cache */
    int n_cache;
    unsigned long long n_cache_hits, n_cache_tokens;
    int32_t *blk_ids;           /* [pool_blocks] scratch of cache_blocks */
    char *blk_mark;
    pthread_t sched;
    int sched_started;
    pthread_cond_t sched_cv;    /* wakes the scheduler: a stream queued or cancelled, stop */
    unsigned long long order;
    llm_kv_stats kv;            /* the pool's use after the last step (for /health) */
    int kv_cached;              /* of kv.n_used, the blocks only the prompt cache holds */
    unsigned long long n_steps, n_preempted, n_forked_tokens, n_generated;
    int max_run;                /* the most streams that ran at once */
    int *conn_fds; /* open connections, -1 for a free entry; n_parallel + max_queue */
    int n_conns, max_conns;
    unsigned long long n_requests;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long created;
};

typedef struct srv_conn {
    srv_server *s;
    int fd, index;
} srv_conn;

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static const char *status_text(int code) {
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static int send_response(int fd, int code, const char *ctype, const char *extra, const char *body, size_t n) {
    char head[512];
    int k = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", code,
                     status_text(code), ctype, n, extra ? extra : "");
    if (send_all(fd, head, (size_t)k) < 0) return -1;
    return send_all(fd, body, n);
}

static void error_json(sbuf *b, const char *msg, const char *type, const char *code) {
    sb_str(b, "{\"error\":{\"message\":");
    sb_json_str(b, msg, strlen(msg));
    sb_str(b, ",\"type\":");
    sb_json_str(b, type, strlen(type));
    sb_str(b, ",\"param\":null,\"code\":");
    if (code) sb_json_str(b, code, strlen(code));
    else sb_str(b, "null");
    sb_str(b, "}}");
}

static int send_error(int fd, int code, const char *extra, const char *fmt, ...) {
    char msg[512];
    sbuf b;
    va_list ap;
    int rc;
    const char *type = code == 401 ? "authentication_error" : code >= 500 ? "server_error" : "invalid_request_error";
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memset(&b, 0, sizeof b);
    error_json(&b, msg, type, code == 401 ? "invalid_api_key" : NULL);
    rc = b.oom ? -1 : send_response(fd, code, "application/json", extra, b.s, b.len);
    free(b.s);
    return rc;
}

/* ---- HTTP request ------------------------------------------------------------------------ */

typedef struct http_req {
    char method[16], path[256];
    long long content_length; /* -1: none */
    int chunked, expect_continue;
    char auth[512];
    char *body;
    size_t body_len;
} http_req;

static int ieq_prefix(const char *s, const char *prefix) {
    while (*prefix) {
        char a = *s++, b = *prefix++;
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

/* Parses a request head: buf is its text, NUL-terminated, the blank line that ends it cut
   off. Returns 0 or 400. Takes no socket: tests/fuzz/http.c feeds it. */
static int parse_head(http_req *r, char *buf) {
    char *line, *next;
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    /* request line */
    next = strstr(buf, "\r\n");
    if (next) *next = 0;
    {
        char *sp1 = strchr(buf, ' '), *sp2, *q;
        if (!sp1 || (size_t)(sp1 - buf) >= sizeof r->method) return 400;
        sp2 = strchr(sp1 + 1, ' ');
        if (!sp2 || (size_t)(sp2 - sp1 - 1) >= sizeof r->path || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) return 400;
        memcpy(r->method, buf, (size_t)(sp1 - buf));
        memcpy(r->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        if ((q = strchr(r->path, '?')) != NULL) *q = 0;
    }
    for (line = next ? next + 2 : NULL; line && *line; line = next ? next + 2 : NULL) {
        char *v;
        next = strstr(line, "\r\n");
        if (next) *next = 0;
        v = strchr(line, ':');
        if (!v) return 400;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        if (ieq_prefix(line, "content-length:")) {
            char *e;
            long long x;
            if (*v < '0' || *v > '9') return 400;
            errno = 0;
            x = strtoll(v, &e, 10);
            while (*e == ' ' || *e == '\t') e++;
            if (*e || errno) return 400;
            r->content_length = x;
        } else if (ieq_prefix(line, "transfer-encoding:")) {
            r->chunked = 1;
        } else if (ieq_prefix(line, "expect:")) {
            r->expect_continue = ieq_prefix(v, "100-continue");
        } else if (ieq_prefix(line, "authorization:")) {
            snprintf(r->auth, sizeof r->auth, "%s", v);
        }
    }
    return 0;
}

/* Reads and parses the request head. Returns 0, an HTTP status to answer with, or -1 to
   close silently (the client went away). *rest gets the body bytes read with the head. */
static int read_head(srv_server *s, int fd, http_req *r, char *buf, size_t cap, size_t *got, size_t *head_len) {
    char *end = NULL;
    size_t n = 0;
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    while (!end) {
        ssize_t k;
        if (n >= cap) return 431;
        k = recv(fd, buf + n, cap - n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return n ? 408 : -1;
        if (k <= 0) return -1;
        n += (size_t)k;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
        if (s->stopping) return -1;
    }
    *got = n;
    *head_len = (size_t)(end - buf) + 4;
    *end = 0;
    return parse_head(r, buf);
}

/* ---- generation -------------------------------------------------------------------------- */

typedef struct gen_state {
    srv_server *s;
    int fd, stream, chat, gone;
    char id[64];
} gen_state;

static int peer_gone(int fd) {
    char c;
    ssize_t k = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void chunk_head(gen_state *st, sbuf *b) {
    sb_str(b, "data: {\"id\":");
    sb_json_str(b, st->id, strlen(st->id));
    sb_str(b, st->chat ? ",\"object\":\"chat.completion.chunk\"" : ",\"object\":\"text_completion\"");
    sb_printf(b, ",\"created\":%ld,\"model\":", st->s->created);
    sb_json_str(b, st->s->model_id, strlen(st->s->model_id));
    sb_str(b, ",\"choices\":[{\"index\":0,");
}

/* One server-sent event with a piece of text. */
static int send_piece(gen_state *st, const char *piece, size_t len) {
    sbuf b;
    int rc;
    memset(&b, 0, sizeof b);
    chunk_head(st, &b);
    if (st->chat) {
        sb_str(&b, "\"delta\":{\"content\":");
        sb_json_str(&b, piece, len);
        sb_str(&b, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    } else {
        sb_str(&b, "\"text\":");
        sb_json_str(&b, piece, len);
        sb_str(&b, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    }
    rc = b.oom ? -1 : send_all(st->fd, b.s, b.len);
    free(b.s);
    return rc;
}

/* ---- streams and the scheduler ------------------------------------------------------------ */

/* Bytes at the end of s[0..n) that start a UTF-8 character not yet complete. */
static size_t utf8_incomplete_tail(const char *s, size_t n) {
    size_t i, k;
    for (i = 1; i <= 3 && i <= n; i++) {
        unsigned char b = (unsigned char)s[n - i];
        if ((b & 0xC0) == 0x80) continue;
        k = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return k > i ? i : 0;
    }
    return 0;
}

/* Adds generated text: what may still become a stop string or ends inside a UTF-8 character
   is held back (all of it is released when final); a stop string ends the text before it. */
static void stream_text(srv_stream *st, const char *piece, size_t n, int final) {
    sbuf *p = &st->pend;
    size_t keep = 0, i, k;
    int j;
    sb_add(p, piece, n);
    if (p->oom) { st->stopped = 1; return; }
    for (j = 0; j < st->n_stop; j++) {
        const char *sp = st->stops[j];
        size_t sl = strlen(sp);
        for (i = 0; i + sl <= p->len; i++)
            if (memcmp(p->s + i, sp, sl) == 0) {
                sb_add(&st->out, p->s, i);
                p->len = 0;
                st->stopped = 1;
                return;
            }
        for (k = sl - 1; k > keep; k--) /* the longest end of the text that begins this stop string */
            if (k <= p->len && memcmp(p->s + p->len - k, sp, k) == 0) { keep = k; break; }
    }
    if (final) keep = 0;
    else if (keep < p->len) keep += utf8_incomplete_tail(p->s, p->len - keep);
    sb_add(&st->out, p->s, p->len - keep);
    memmove(p->s, p->s + p->len - keep, keep);
    p->len = keep;
}

/* ---- the prompt cache (under mu) ---- */

/* Tokens a and b have in common at their start, of the first n. */
static int common_prefix(const llm_token *a, const llm_token *b, int n) {
    int l = 0;
    while (l < n && a[l] == b[l]) l++;
    return l;
}

/* Drops the least recently used entry and returns it, now free; NULL when the cache is empty. */
static srv_cached *cache_evict(srv_server *s) {
    srv_cached *lru = NULL;
    int i;
    for (i = 0; i < s->n_cache; i++)
        if (s->cache[i].tok && (!lru || s->cache[i].used < lru->used)) lru = &s->cache[i];
    if (!lru) return NULL;
    llm_seq_truncate(s->ctx, lru->seq, 0);
    free(lru->tok);
    lru->tok = NULL;
    lru->n = 0;
    return lru;
}

/* Keeps the first n tokens of st (in the cache of its sequence) in a cache entry: one that
   holds a prefix of them is replaced, else a free one, else the least recently used. Nothing
   is kept when an entry already starts with them, or when n is under a block. */
static void cache_store(srv_server *s, const srv_stream *st, int n) {
    srv_cached *e = NULL;
    int i;
    if (s->n_cache == 0 || n < s->kv_block) return;
    for (i = 0; i < s->n_cache && !e; i++) {
        srv_cached *x = &s->cache[i];
        int l;
        if (!x->tok) continue;
        l = common_prefix(x->tok, st->tok, x->n < n ? x->n : n);
        if (l == n) { x->used = ++s->order; return; } /* already there */
        if (l == x->n) e = x;                          /* a prefix of these tokens: replace it */
    }
    for (i = 0; i < s->n_cache && !e; i++)
        if (!s->cache[i].tok) e = &s->cache[i];
    if (!e) e = cache_evict(s);
    free(e->tok);
    e->tok = (llm_token *)malloc(sizeof(llm_token) * (size_t)n);
    if (!e->tok || llm_seq_fork(s->ctx, st->seq, e->seq, n) != LLM_OK) {
        free(e->tok);
        e->tok = NULL;
        e->n = 0;
        llm_seq_truncate(s->ctx, e->seq, 0);
        return;
    }
    memcpy(e->tok, st->tok, sizeof(llm_token) * (size_t)n);
    e->n = n;
    e->used = ++s->order;
}

/* Pool blocks held by the prompt cache and by no running stream (given back on demand). */
static int cache_blocks(srv_server *s) {
    int i, k, n, only = 0, P = s->p.n_parallel;
    if (s->n_cache == 0) return 0;
    memset(s->blk_mark, 0, (size_t)s->pool_blocks);
    for (i = 0; i < P + s->n_cache; i++) { /* 1: a cache entry's, 2: a running stream's */
        n = llm_seq_blocks(s->ctx, i, s->blk_ids, s->pool_blocks);
        for (k = 0; k < n && k < s->pool_blocks; k++) s->blk_mark[s->blk_ids[k]] |= (char)(i < P ? 2 : 1);
    }
    for (k = 0; k < s->pool_blocks; k++) only += s->blk_mark[k] == 1;
    return only;
}

/* Ends a stream (under mu): its sequence's blocks go back to the pool at once, but for those
   the prompt cache keeps of a request that completed. */
static void stream_end(srv_server *s, srv_stream *st, int rc) {
    if (st->seq >= 0) {
        if (rc == LLM_OK) cache_store(s, st, st->n_done); /* a client that went away frees everything */
        llm_seq_truncate(s->ctx, st->seq, 0);
        s->run[st->seq] = NULL;
        s->n_run--;
        st->seq = -1;
    }
    if (rc == LLM_OK) stream_text(st, "", 0, 1);
    st->rc = rc;
    st->state = ST_DONE;
    pthread_cond_signal(&st->cv);
}

static int blocks_for(const srv_server *s, int n) { return (n + s->kv_block - 1) / s->kv_block; }

/* Whether the pool has room for st's tokens besides what the running streams still need. */
static int pool_room(srv_server *s, const srv_stream *st) {
    int i, need = 0;
    for (i = 0; i < s->p.n_parallel; i++) {
        const srv_stream *x = s->run[i];
        int more = x ? blocks_for(s, x->n_tok + 1) - blocks_for(s, x->n_done) : 0;
        need += more > 0 ? more : 0;
    }
    llm_context_kv_stats(s->ctx, &s->kv);
    return s->kv.n_blocks - s->kv.n_used - need >= blocks_for(s, st->n_tok + 1);
}

/* Samples st's next token from its logits row, passes its text on, ends the stream when it
   is done. */
static void stream_sample(srv_server *s, srv_stream *st, const float *logits) {
    const llm_model *m = s->model;
    llm_token t = llm_sampler_sample(st->smp, logits);
    char piece[256];
    int len;
    llm_sampler_accept(st->smp, t);
    st->n_gen++;
    s->n_generated++;
    if (llm_token_is_eog(m, t)) { stream_end(s, st, LLM_OK); return; }
    len = llm_token_to_piece(m, t, piece, (int)sizeof piece, 0);
    if (len > (int)sizeof piece) { /* a long user-defined token */
        char *big = (char *)malloc((size_t)len);
        if (big && llm_token_to_piece(m, t, big, len, 0) == len) stream_text(st, big, (size_t)len, 0);
        free(big);
    } else if (len > 0) {
        stream_text(st, piece, (size_t)len, 0);
    }
    if (st->out.len) pthread_cond_signal(&st->cv);
    st->tok[st->n_tok++] = t;
    st->length = (st->max_tokens > 0 && st->n_gen >= st->max_tokens) || st->n_tok > s->p.n_ctx;
    if (st->stopped || st->length) stream_end(s, st, LLM_OK);
}

/* Before a prompt chunk of x: takes what another running stream or the prompt cache already
   holds of the same tokens (its blocks, shared by llm_seq_fork), and returns 1 (x waits a
   step) while a stream admitted earlier is still computing a prefix x could share. */
static int stream_share(srv_server *s, srv_stream *x) {
    int i, best = 0, best_seq = -1, wait = 0, lim = x->n_tok - 1; /* the last token is decoded for its logits */
    srv_cached *hit = NULL;
    for (i = 0; i < s->p.n_parallel; i++) {
        const srv_stream *y = s->run[i];
        int l, n;
        if (!y || y == x) continue;
        l = common_prefix(x->tok, y->tok, y->n_tok < lim ? y->n_tok : lim);
        if (l < x->n_done + s->kv_block) continue;
        if (y->n_done < l && y->n_tok - y->n_done > 1 && y->order < x->order) wait = 1;
        n = y->n_done < l ? y->n_done : l; /* what y holds of it now */
        if (n > best) best = n, best_seq = y->seq;
    }
    for (i = 0; i < s->n_cache; i++) { /* finished requests' tokens */
        srv_cached *e = &s->cache[i];
        int l = common_prefix(x->tok, e->tok, e->n < lim ? e->n : lim);
        if (l > best) best = l, best_seq = e->seq, hit = e;
    }
    if (best >= x->n_done + s->kv_block && llm_seq_fork(s->ctx, best_seq, x->seq, best) == LLM_OK) {
        x->n_shared += best - x->n_done;
        if (hit) {
            hit->used = ++s->order;
            s->n_cache_hits++;
            s->n_cache_tokens += (unsigned long long)(best - x->n_done);
        } else {
            s->n_forked_tokens += (unsigned long long)(best - x->n_done);
        }
        x->n_done = best;
    }
    return wait;
}

/* The scheduler: each step decodes, in one llm_decode_batch, one token of every generating
   stream and, within the n_batch budget, prompt chunks of the others (oldest first); streams
   join and leave between steps. When the pool runs out, the newest stream gives its blocks
   back and waits (it is recomputed later: the same tokens give the same cache). */
static void *sched_main(void *arg) {
    srv_server *s = (srv_server *)arg;
    int P = s->p.n_parallel;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        srv_stream *st, **pp;
        llm_batch b;
        int i, n = 0, r;
        /* 1. streams whose client went away */
        for (i = 0; i < P; i++)
            if (s->run[i] && s->run[i]->cancelled) stream_end(s, s->run[i], LLM_ERR_CANCELLED);
        for (pp = &s->wait_head; (st = *pp) != NULL;) {
            if (st->cancelled) {
                *pp = st->next;
                s->n_wait--;
                stream_end(s, st, LLM_ERR_CANCELLED);
            } else {
                pp = &st->next;
            }
        }
        /* 2. admit waiting streams while a sequence is free and the pool has room */
        while (s->wait_head && s->n_run < P) {
            int room;
            while (!(room = pool_room(s, s->wait_head)) && cache_evict(s)) { /* cached prompts make room first */
            }
            if (!room && s->n_run > 0) break; /* alone, it is admitted anyway */
            st = s->wait_head;
            s->wait_head = st->next;
            s->n_wait--;
            for (i = 0; s->run[i]; i++) {
            }
            s->run[i] = st;
            s->n_run++;
            st->seq = i;
            st->state = ST_RUNNING;
            st->n_done = 0;
            st->order = ++s->order;
            if (s->n_run > s->max_run) s->max_run = s->n_run;
        }
        llm_context_kv_stats(s->ctx, &s->kv); /* for /health (the context is not read outside this thread) */
        s->kv_cached = cache_blocks(s);
        if (s->n_run == 0) {
            pthread_cond_wait(&s->sched_cv, &s->mu);
            continue;
        }
        /* 3. the batch: generating streams first, one token each, logits for all */
        for (i = 0; i < P; i++) s->chunk[i] = 0, s->lrow[i] = -1;
        for (i = 0; i < P; i++) {
            st = s->run[i];
            if (!st || st->n_tok - st->n_done != 1) continue;
            s->b_tok[n] = st->tok[st->n_done];
            s->b_seq[n] = i;
            s->b_logits[n] = 1;
            s->lrow[i] = n++;
            s->chunk[i] = 1;
        }
        /* then prompt chunks, oldest stream first, within the budget */
        for (;;) {
            srv_stream *x = NULL;
            int k, j;
            for (i = 0; i < P; i++) {
                st = s->run[i];
                if (st && !s->chunk[i] && s->lrow[i] != -2 && st->n_tok - st->n_done > 1 && (!x || st->order < x->order)) x = st;
            }
            if (!x || n >= s->n_batch) break;
            if (stream_share(s, x)) { s->lrow[x->seq] = -2; continue; } /* waits for a shared prefix */
            k = x->n_tok - x->n_done;
            if (k > s->n_batch - n) k = s->n_batch - n;
            for (j = 0; j < k; j++) {
                s->b_tok[n] = x->tok[x->n_done + j];
                s->b_seq[n] = x->seq;
                s->b_logits[n++] = 0;
            }
            s->chunk[x->seq] = k;
            if (x->n_done + k == x->n_tok) {
                s->b_logits[n - 1] = 1;
                s->lrow[x->seq] = n - 1;
            }
        }
        if (n == 0) { /* every prompt waits for another's prefix: cannot last, but never spin */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 1000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&s->sched_cv, &s->mu, &ts);
            continue;
        }
        /* 4. decode without the lock (connections queue, cancel and read /health meanwhile) */
        memset(&b, 0, sizeof b);
        b.n = n, b.tokens = s->b_tok, b.seq = s->b_seq, b.logits = s->b_logits;
        pthread_mutex_unlock(&s->mu);
        r = llm_decode_batch(s->ctx, &b);
        pthread_mutex_lock(&s->mu);
        s->n_steps++;
        if (r == LLM_ERR_CONTEXT_FULL && cache_evict(s)) continue; /* the cache gives its blocks back first */
        if (r == LLM_ERR_CONTEXT_FULL) { /* the pool is out of blocks */
            srv_stream *newest = NULL;
            for (i = 0; i < P; i++)
                if (s->run[i] && (!newest || s->run[i]->order > newest->order)) newest = s->run[i];
            if (s->n_run == 1) { /* alone and still too long for the pool */
                newest->length = 1;
                stream_end(s, newest, LLM_OK);
            } else {
                llm_seq_truncate(s->ctx, newest->seq, 0);
                s->run[newest->seq] = NULL;
                s->n_run--;
                newest->seq = -1;
                newest->n_done = 0;
                newest->state = ST_WAITING;
                newest->next = s->wait_head;
                s->wait_head = newest;
                s->n_wait++;
                s->n_preempted++;
            }
            continue;
        }
        if (r != LLM_OK) {
            for (i = 0; i < P; i++)
                if (s->run[i]) stream_end(s, s->run[i], r);
            continue;
        }
        /* 5. sample the streams that got logits */
        for (i = 0; i < P; i++) {
            st = s->run[i];
            if (!st || !s->chunk[i]) continue;
            st->n_done += s->chunk[i];
            if (s->lrow[i] >= 0) stream_sample(s, st, llm_logits(s->ctx, s->lrow[i]));
        }
    }
    /* stopping: every stream ends */
    {
        int i;
        for (i = 0; i < P; i++)
            if (s->run[i]) stream_end(s, s->run[i], LLM_ERR_CANCELLED);
        while (s->wait_head) {
            srv_stream *st = s->wait_head;
            s->wait_head = st->next;
            s->n_wait--;
            stream_end(s, st, LLM_ERR_CANCELLED);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* An integer that fits in 53 bits (a double holds it exactly; the cast is defined). */
static int is_int(const jnode *v) {
    return v && v->type == J_NUM && v->num >= -9007199254740992.0 && v->num <= 9007199254740992.0 &&
           v->num == (double)(long long)v->num;
}

/* Text of a message's content: a string, null, or an array of {"type":"text","text":...}. */
static int content_text(const jnode *c, sbuf *out) {
    const jnode *part;
    if (!c || c->type == J_NULL) return 1;
    if (c->type == J_STR) { sb_add(out, c->s, c->len); return 1; }
    if (c->type != J_ARR) return 0;
    for (part = c->kid; part; part = part->next) {
        const jnode *ty = j_get(part, "type"), *tx = j_get(part, "text");
        if (!ty || ty->type != J_STR || strcmp(ty->s, "text") != 0 || !tx || tx->type != J_STR) return 0;
        sb_add(out, tx->s, tx->len);
    }
    return 1;
}

/* Checks a completion request (OpenAI fields) and makes its stream: 0 with *out, *stream
   and *seed set, or an HTTP status (400, 500) with the message in err. Needs no socket and
   runs no model (only the tokenizer and the chat template), so tests/fuzz/http.c calls it. */
static int parse_generate(srv_server *s, const jnode *req, int chat, srv_stream **out, int *stream_out, uint64_t *seed,
                          char *err, size_t err_size) {
    llm_generate_params g = llm_generate_default_params();
    const jnode *v;
    const char *stops[4];
    int n_stop = 0, stream = 0, max_tokens = 0, n_prompt, limit, pool_tokens, i;
    char *prompt = NULL;
    llm_grammar *grammar = NULL;
    srv_stream *x;
    const llm_model *m = s->model;

    *out = NULL;
    if (!req || req->type != J_OBJ) { snprintf(err, err_size, "the body must be a JSON object"); return 400; }
    g.sampler.temperature = 1.0f;
    g.sampler.top_k = 0;
    g.sampler.top_p = 1.0f;
    g.sampler.min_p = 0.0f;
    pthread_mutex_lock(&s->mu);
    g.sampler.seed = (uint64_t)time(NULL) * 6364136223846793005ull + ++s->n_requests;
    pthread_mutex_unlock(&s->mu);

#define BAD(...) do { snprintf(err, err_size, __VA_ARGS__); free(prompt); llm_grammar_free(grammar); return 400; } while (0)
#define OOM() do { snprintf(err, err_size, "out of memory"); llm_grammar_free(grammar); return 500; } while (0)
    if ((v = j_get(req, "model")) && v->type != J_STR && v->type != J_NULL) BAD("'model' must be a string");
    if ((v = j_get(req, "stream")) && v->type != J_NULL) {
        if (v->type != J_BOOL) BAD("'stream' must be a boolean");
        stream = v->b;
    }
    if ((v = j_get(req, "temperature")) && v->type != J_NULL) {
        if (v->type != J_NUM || v->num < 0 || v->num > 2) BAD("'temperature' must be a number from 0 to 2");
        g.sampler.temperature = (float)v->num;
    }
    if ((v = j_get(req, "top_p")) && v->type != J_NULL) {
        if (v->type != J_NUM || v->num < 0 || v->num > 1) BAD("'top_p' must be a number from 0 to 1");
        g.sampler.top_p = (float)v->num;
    }
    if ((v = j_get(req, "seed")) && v->type != J_NULL) {
        if (!is_int(v)) BAD("'seed' must be an integer");
        g.sampler.seed = (uint64_t)(long long)v->num;
    }
    if ((v = j_get(req, "n")) && v->type != J_NULL && (!is_int(v) || v->num != 1)) BAD("'n' must be 1");
    if ((v = j_get(req, "response_format")) && v->type != J_NULL) { /* JSON mode and structured outputs */
        const jnode *type = v->type == J_OBJ ? j_get(v, "type") : NULL;
        if (!type || type->type != J_STR) BAD("'response_format' must be an object with a string 'type'");
        if (strcmp(type->s, "json_object") == 0) {
            if (!(grammar = llm_grammar_json())) OOM();
        } else if (strcmp(type->s, "json_schema") == 0) {
            const jnode *js = j_get(v, "json_schema"), *schema = js && js->type == J_OBJ ? j_get(js, "schema") : NULL;
            char gerr[256];
            sbuf text = {NULL, 0, 0, 0};
            if (!schema || (schema->type != J_OBJ && schema->type != J_BOOL))
                BAD("'response_format.json_schema.schema' must be a JSON schema object");
            j_write(&text, schema);
            grammar = text.oom ? NULL : llm_grammar_from_json_schema(text.s, gerr, sizeof gerr);
            free(text.s);
            if (!grammar) BAD("'response_format.json_schema.schema': %s", text.oom ? "out of memory" : gerr);
        } else if (strcmp(type->s, "text") != 0) {
            BAD("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
        }
        g.sampler.grammar = grammar;
    }
    if (((v = j_get(req, "max_tokens")) && v->type != J_NULL) ||
        ((v = j_get(req, "max_completion_tokens")) && v->type != J_NULL)) {
        limit = s->p.max_tokens;
        if (!is_int(v) || v->num < 1) BAD("'max_tokens' must be a positive integer");
        if (v->num > limit) BAD("'max_tokens' is %.0f; this server allows at most %d", v->num, limit);
        max_tokens = (int)v->num;
    }
    if ((v = j_get(req, "stop")) && v->type != J_NULL) {
        if (v->type == J_STR) {
            if (v->len) stops[n_stop++] = v->s;
        } else if (v->type == J_ARR && v->n <= 4) {
            const jnode *k;
            for (k = v->kid; k; k = k->next) {
                if (k->type != J_STR) BAD("'stop' must be a string or an array of at most 4 strings");
                if (k->len) stops[n_stop++] = k->s;
            }
        } else BAD("'stop' must be a string or an array of at most 4 strings");
    }

    if (chat) {
        const jnode *msgs = j_get(req, "messages"), *msg;
        llm_chat_message *cm;
        sbuf *texts;
        int i = 0, n;
        if (!msgs || msgs->type != J_ARR || msgs->n < 1) BAD("'messages' must be a non-empty array");
        cm = (llm_chat_message *)calloc((size_t)msgs->n, sizeof *cm);
        texts = (sbuf *)calloc((size_t)msgs->n, sizeof *texts);
        if (!cm || !texts) { free(cm); free(texts); OOM(); }
        for (msg = msgs->kid; msg; msg = msg->next, i++) {
            const jnode *role = j_get(msg, "role");
            if (msg->type != J_OBJ || !role || role->type != J_STR || !content_text(j_get(msg, "content"), &texts[i])) break;
            sb_add(&texts[i], "", 0);
            cm[i].role = strcmp(role->s, "developer") == 0 ? "system" : role->s;
            cm[i].content = texts[i].s ? texts[i].s : "";
        }
        n = i == msgs->n ? llm_chat_format(m, s->tmpl, cm, msgs->n, 1, NULL, 0) : -1000;
        if (n >= 0 && (prompt = (char *)malloc((size_t)n + 1)) != NULL) llm_chat_format(m, s->tmpl, cm, msgs->n, 1, prompt, n + 1);
        for (i = 0; i < msgs->n; i++) free(texts[i].s);
        free(texts);
        free(cm);
        if (n == -1000) BAD("messages[%d] must be an object with a string 'role' and a string or text-part 'content'", i);
        if (n < 0) BAD("the messages cannot be formatted with the %s template: %s", s->tmpl, llm_result_string(n));
        if (!prompt) { OOM(); }
        g.parse_special = 1;
    } else {
        v = j_get(req, "prompt");
        if (v && v->type == J_ARR && v->n == 1) v = v->kid;
        if (!v || v->type != J_STR) BAD("'prompt' must be a string");
        prompt = (char *)malloc(v->len + 1);
        if (!prompt) { OOM(); }
        memcpy(prompt, v->s, v->len + 1);
    }
    n_prompt = llm_tokenize(m, prompt, strlen(prompt), NULL, 0,
                            LLM_TOKENIZE_ADD_SPECIAL | (g.parse_special ? LLM_TOKENIZE_PARSE_SPECIAL : 0));
    if (n_prompt < 0) BAD("the prompt cannot be tokenized: %s", llm_result_string(n_prompt));
    if (n_prompt == 0) BAD("the prompt is empty");
    limit = s->p.n_ctx;
    pool_tokens = s->pool_blocks * s->kv_block;
    if (n_prompt >= limit) BAD("the prompt is %d tokens; the context holds %d", n_prompt, limit);
    if (n_prompt >= pool_tokens)
        BAD("the prompt is %d tokens; the KV cache pool holds %d (%d blocks of %d)", n_prompt, pool_tokens, s->pool_blocks,
            s->kv_block);

    x = (srv_stream *)calloc(1, sizeof *x);
    if (x) {
        x->cap = s->p.n_ctx + 2;
        x->tok = (llm_token *)malloc(sizeof(llm_token) * (size_t)x->cap);
        x->smp = llm_sampler_new(m, &g.sampler);
    }
    if (!x || !x->tok || !x->smp ||
        llm_tokenize(m, prompt, strlen(prompt), x->tok, x->cap,
                     LLM_TOKENIZE_ADD_SPECIAL | (g.parse_special ? LLM_TOKENIZE_PARSE_SPECIAL : 0)) != n_prompt) {
        if (x) { llm_sampler_free(x->smp); free(x->tok); }
        free(x);
        free(prompt);
        OOM();
    }
    x->grammar = grammar;
    free(prompt);
#undef BAD
#undef OOM
    x->n_prompt = x->n_tok = n_prompt;
    x->max_tokens = max_tokens;
    for (i = 0; i < n_stop; i++) x->stops[i] = stops[i];
    x->n_stop = n_stop;
    x->seq = -1;
    sb_add(&x->pend, "", 0);
    *out = x;
    *stream_out = stream;
    *seed = g.sampler.seed;
    return 0;
}

static void handle_generate(srv_server *s, int fd, const jnode *req, int chat) {
    char msg[1024];
    int stream = 0, rc, code;
    uint64_t seed = 0;
    srv_stream *x;
    gen_state st;
    const char *finish;

    memset(&st, 0, sizeof st);
    code = parse_generate(s, req, chat, &x, &stream, &seed, msg, sizeof msg);
    if (code) { send_error(fd, code, NULL, "%s", msg); return; }
    pthread_cond_init(&x->cv, NULL);

    st.s = s;
    st.fd = fd;
    st.stream = stream;
    st.chat = chat;
    snprintf(st.id, sizeof st.id, "%s-%llx%08lx", chat ? "chatcmpl" : "cmpl", (unsigned long long)seed & 0xFFFFFFFFull,
             (unsigned long)time(NULL));
    if (stream) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                                   "Connection: close\r\n\r\n";
        sbuf b;
        memset(&b, 0, sizeof b);
        if (send_all(fd, head, sizeof head - 1) < 0) st.gone = 1;
        if (chat && !st.gone) {
            chunk_head(&st, &b);
            sb_str(&b, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
            if (b.oom || send_all(fd, b.s, b.len) < 0) st.gone = 1;
        }
        free(b.s);
    }

    /* queue it, then pass its text on as the scheduler makes it */
    pthread_mutex_lock(&s->mu);
    if (s->stopping) { /* the scheduler has ended (or is ending) every stream it knows */
        x->state = ST_DONE;
        x->rc = LLM_ERR_CANCELLED;
    } else {
        srv_stream **pp = &s->wait_head;
        x->state = ST_WAITING;
        x->cancelled = st.gone;
        while (*pp) pp = &(*pp)->next;
        *pp = x;
        s->n_wait++;
        pthread_cond_signal(&s->sched_cv);
    }
    for (;;) {
        if (stream && x->out.len && !st.gone) {
            sbuf piece = x->out;
            memset(&x->out, 0, sizeof x->out);
            pthread_mutex_unlock(&s->mu);
            if (send_piece(&st, piece.s, piece.len) < 0) st.gone = 1;
            free(piece.s);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (x->state == ST_DONE) break;
        if (st.gone && !x->cancelled) {
            x->cancelled = 1;
            pthread_cond_signal(&s->sched_cv);
        }
        {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            if (pthread_cond_timedwait(&x->cv, &s->mu, &ts) != 0 && !st.gone && x->state != ST_DONE) {
                pthread_mutex_unlock(&s->mu);
                if (peer_gone(fd)) st.gone = 1;
                pthread_mutex_lock(&s->mu);
            }
        }
    }
    rc = x->rc;
    pthread_mutex_unlock(&s->mu);
    if (s->p.verbose)
        fprintf(stderr, "llm serve: %s %d+%d tokens%s%s\n", chat ? "chat" : "completion", x->n_prompt, x->n_gen,
                x->n_shared ? " (prefix shared)" : "", st.gone ? " (client gone: cancelled)" : "");

    finish = x->length ? "length" : "stop";
    if (st.gone) goto out;
    if (rc != LLM_OK) {
        if (stream) {
            sbuf b;
            memset(&b, 0, sizeof b);
            sb_str(&b, "data: ");
            error_json(&b, llm_result_string(rc), "server_error", NULL);
            sb_str(&b, "\n\n");
            if (!b.oom) send_all(fd, b.s, b.len);
            free(b.s);
        } else {
            send_error(fd, 500, NULL, "generation failed: %s", llm_result_string(rc));
        }
        goto out;
    }
    {
        sbuf b;
        memset(&b, 0, sizeof b);
        if (stream) {
            if (x->out.len && send_piece(&st, x->out.s, x->out.len) < 0) goto out;
            chunk_head(&st, &b);
            sb_str(&b, chat ? "\"delta\":{}," : "\"text\":\"\",");
            sb_printf(&b, "\"logprobs\":null,\"finish_reason\":\"%s\"}]", finish);
        } else {
            sb_str(&b, "{\"id\":");
            sb_json_str(&b, st.id, strlen(st.id));
            sb_str(&b, chat ? ",\"object\":\"chat.completion\"" : ",\"object\":\"text_completion\"");
            sb_printf(&b, ",\"created\":%ld,\"model\":", s->created);
            sb_json_str(&b, s->model_id, strlen(s->model_id));
            sb_str(&b, chat ? ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                            : ",\"choices\":[{\"index\":0,\"text\":");
            sb_json_str(&b, x->out.s ? x->out.s : "", x->out.len);
            sb_printf(&b, "%s,\"logprobs\":null,\"finish_reason\":\"%s\"}]", chat ? "}" : "", finish);
        }
        sb_printf(&b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}", x->n_prompt, x->n_gen,
                  x->n_prompt + x->n_gen);
        if (stream) sb_str(&b, "\n\ndata: [DONE]\n\n");
        if (b.oom) send_error(fd, 500, NULL, "out of memory");
        else if (stream) send_all(fd, b.s, b.len);
        else send_response(fd, 200, "application/json", NULL, b.s, b.len);
        free(b.s);
    }
out:
    pthread_cond_destroy(&x->cv);
    llm_sampler_free(x->smp);
    llm_grammar_free(x->grammar);
    free(x->tok);
    free(x->pend.s);
    free(x->out.s);
    free(x);
}

/* ---- connections ------------------------------------------------------------------------- */

static int auth_ok(const srv_server *s, const char *auth) {
    const char *key = s->p.api_key;
    size_t i, n, m;
    unsigned diff = 0;
    if (!key) return 1;
    if (!ieq_prefix(auth, "bearer ")) return 0;
    auth += 7;
    n = strlen(auth);
    m = strlen(key);
    for (i = 0; i < n && i < m; i++) diff |= (unsigned)(auth[i] ^ key[i]);
    return diff == 0 && n == m;
}

/* 0 /health, 1 models, 2 chat completions, 3 completions, -1 unknown; *post: needs POST. */
static int route_of(const char *path, int *post) {
    *post = 0;
    if (strcmp(path, "/health") == 0) return 0;
    if (strcmp(path, "/v1/models") == 0 || strcmp(path, "/models") == 0) return 1;
    *post = 1;
    if (strcmp(path, "/v1/chat/completions") == 0 || strcmp(path, "/chat/completions") == 0) return 2;
    if (strcmp(path, "/v1/completions") == 0 || strcmp(path, "/completions") == 0) return 3;
    *post = 0;
    return -1;
}

static void handle_connection(srv_server *s, int fd) {
    http_req r;
    size_t cap = s->p.max_header, got = 0, head_len = 0;
    char *buf = (char *)malloc(cap + 1);
    int code, route = -1, post = 0;
    if (!buf) return;
    code = read_head(s, fd, &r, buf, cap, &got, &head_len);
    if (code < 0) { free(buf); return; }
    if (code == 431) { send_error(fd, 431, NULL, "the request head exceeds %zu bytes", cap); goto done; }
    if (code == 408) { send_error(fd, 408, NULL, "the request took too long"); goto done; }
    if (code) { send_error(fd, 400, NULL, "malformed HTTP request"); goto done; }
    route = route_of(r.path, &post);
    if (route < 0) { send_error(fd, 404, NULL, "unknown route %s %s", r.method, r.path); goto done; }
    if (strcmp(r.method, post ? "POST" : "GET") != 0) {
        send_error(fd, 405, post ? "Allow: POST\r\n" : "Allow: GET\r\n", "%s needs %s", r.path, post ? "POST" : "GET");
        goto done;
    }
    if (route != 0 && !auth_ok(s, r.auth)) {
        send_error(fd, 401, NULL, r.auth[0] ? "incorrect API key" : "an API key is needed (Authorization: Bearer KEY)");
        goto done;
    }
    if (route == 0) { /* the scheduler's state: streams and the KV pool */
        sbuf b;
        memset(&b, 0, sizeof b);
        pthread_mutex_lock(&s->mu);
        sb_printf(&b, "{\"status\":\"ok\",\"running\":%d,\"waiting\":%d,\"parallel\":%d,\"max_running\":%d,", s->n_run, s->n_wait,
                  s->p.n_parallel, s->max_run);
        {
            int entries = 0, i;
            for (i = 0; i < s->n_cache; i++) entries += s->cache[i].tok != NULL;
            sb_printf(&b, "\"kv_blocks_used\":%d,\"kv_blocks_cached\":%d,\"kv_blocks_total\":%d,\"kv_blocks_shared\":%d,",
                      s->kv.n_used - s->kv_cached, s->kv_cached, s->kv.n_blocks, s->kv.n_shared);
            sb_printf(&b, "\"kv_block_size\":%d,\"prompt_cache_entries\":%d,\"prompt_cache_slots\":%d,\"prompt_cache_hits\":%llu,", s->kv.block_size,
                      entries, s->n_cache, s->n_cache_hits);
            sb_printf(&b, "\"prompt_cache_tokens\":%llu,", s->n_cache_tokens);
        }
        sb_printf(&b, "\"steps\":%llu,\"generated_tokens\":%llu,\"preempted\":%llu,\"prefix_shared_tokens\":%llu}", s->n_steps,
                  s->n_generated, s->n_preempted, s->n_forked_tokens);
        pthread_mutex_unlock(&s->mu);
        if (!b.oom) send_response(fd, 200, "application/json", NULL, b.s, b.len);
        free(b.s);
    } else if (route == 1) {
        sbuf b;
        memset(&b, 0, sizeof b);
        sb_str(&b, "{\"object\":\"list\",\"data\":[{\"id\":");
        sb_json_str(&b, s->model_id, strlen(s->model_id));
        sb_printf(&b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"llm.h\"}]}", s->created);
        if (!b.oom) send_response(fd, 200, "application/json", NULL, b.s, b.len);
        free(b.s);
    } else {
        size_t have = got - head_len, len;
        const char *jerr;
        jnode *req;
        char *body;
        if (r.chunked) { send_error(fd, 411, NULL, "send the body with Content-Length, not chunked"); goto done; }
        if (r.content_length < 0) { send_error(fd, 411, NULL, "a Content-Length is needed"); goto done; }
        if ((unsigned long long)r.content_length > s->p.max_body) {
            send_error(fd, 413, NULL, "the body is %lld bytes; the limit is %zu", r.content_length, s->p.max_body);
            goto done;
        }
        len = (size_t)r.content_length;
        if (have > len) have = len;
        body = (char *)malloc(len + 1);
        if (!body) { send_error(fd, 500, NULL, "out of memory"); goto done; }
        memcpy(body, buf + head_len, have);
        if (r.expect_continue && have < len) send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        while (have < len) {
            ssize_t k = recv(fd, body + have, len - have, 0);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            have += (size_t)k;
        }
        if (have < len) {
            free(body);
            if (errno == EAGAIN || errno == EWOULDBLOCK) send_error(fd, 408, NULL, "the body took too long");
            goto done;
        }
        body[len] = 0;
        req = j_parse(body, len, &jerr);
        free(body);
        if (!req) send_error(fd, 400, NULL, "malformed JSON body: %s", jerr);
        else handle_generate(s, fd, req, route == 2);
        j_free(req);
    }
done:
    free(buf);
    /* Lingering close: stop sending, then drain what the client still sends (bounded), so
       that an unread body does not turn the close into a reset that loses the response. */
    shutdown(fd, SHUT_WR);
    {
        struct timeval tv = {1, 0};
        char sink[4096];
        size_t drained = 0;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (drained < 2 * s->p.max_body + 65536) {
            ssize_t k = recv(fd, sink, sizeof sink, 0);
            if (k <= 0) break;
            drained += (size_t)k;
        }
    }
}

static void *conn_main(void *arg) {
    srv_conn *c = (srv_conn *)arg;
    srv_server *s = c->s;
    handle_connection(s, c->fd);
    pthread_mutex_lock(&s->mu);
    close(c->fd);
    s->conn_fds[c->index] = -1;
    s->n_conns--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    free(c);
    return NULL;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

srv_server *srv_new(llm_model *m, const char *model_id, const srv_params *pp, char *err, size_t err_size) {
    srv_server *s;
    srv_params d = srv_default_params();
    struct addrinfo hints, *ai = NULL;
    char port[16];
    int i, one = 1, rc;
    if (err_size) err[0] = 0;
    s = (srv_server *)calloc(1, sizeof *s);
    if (!s) { snprintf(err, err_size, "out of memory"); return NULL; }
    s->p = pp ? *pp : d;
    if (!s->p.host) s->p.host = d.host;
    if (s->p.n_parallel <= 0) s->p.n_parallel = 1;
    if (s->p.max_queue < 0) s->p.max_queue = 0;
    if (!s->p.max_header) s->p.max_header = d.max_header;
    if (!s->p.max_body) s->p.max_body = d.max_body;
    if (s->p.timeout_s <= 0) s->p.timeout_s = d.timeout_s;
    if (s->p.n_threads < 0) s->p.n_threads = 0;
    s->model = m;
    snprintf(s->model_id, sizeof s->model_id, "%s", model_id ? model_id : "model");
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    s->created = (long)time(NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->sched_cv, NULL);
    s->max_conns = s->p.n_parallel + s->p.max_queue;
    s->conn_fds = (int *)malloc(sizeof(int) * (size_t)s->max_conns);
    s->run = (srv_stream **)calloc((size_t)s->p.n_parallel, sizeof *s->run);
    s->chunk = (int *)calloc((size_t)s->p.n_parallel, sizeof(int));
    s->lrow = (int *)calloc((size_t)s->p.n_parallel, sizeof(int));
    if (!s->conn_fds || !s->run || !s->chunk || !s->lrow) { snprintf(err, err_size, "out of memory"); goto fail; }
    for (i = 0; i < s->max_conns; i++) s->conn_fds[i] = -1;

    s->tmpl = s->p.tmpl ? llm_chat_template_name(NULL, s->p.tmpl) : llm_chat_template_name(m, NULL);
    if (!s->tmpl) {
        if (s->p.tmpl) { snprintf(err, err_size, "unknown chat template '%s'", s->p.tmpl); goto fail; }
        s->tmpl = "chatml";
    }
    {
        /* one context: a sequence per stream, one pool of KV blocks, a step of n_batch tokens */
        llm_context_params cp = llm_context_default_params();
        cp.n_ctx = s->p.n_ctx;
        cp.n_threads = s->p.n_threads;
        cp.kv_type = s->p.kv_type;
        cp.n_seq_max = s->p.n_parallel;
        cp.n_outputs = s->p.n_parallel;
        s->n_cache = s->p.prompt_cache < 0 ? s->p.n_parallel : s->p.prompt_cache;
        cp.n_batch = s->p.n_batch > 0 ? s->p.n_batch : 256; /* a long prompt stalls the other streams one step at most */
        if (cp.n_batch < s->p.n_parallel) cp.n_batch = s->p.n_parallel;
        cp.kv_block = s->p.kv_block;
        cp.n_kv_blocks = s->p.kv_blocks;
        if (!cp.n_kv_blocks && (s->p.kv_mem || s->n_cache)) { /* as many blocks as the memory holds */
            llm_memory_estimate one, all;
            llm_context_params q = cp;
            q.n_kv_blocks = 1;
            if ((rc = llm_context_estimate(m, &q, &one)) != LLM_OK || (rc = llm_context_estimate(m, &cp, &all)) != LLM_OK) {
                snprintf(err, err_size, "cannot size the KV pool: %s", llm_result_string(rc));
                goto fail;
            }
            if (!s->p.kv_mem) s->p.kv_mem = all.kv_bytes; /* n_parallel full contexts, cache or not */
            if (s->p.kv_mem / one.kv_bytes > (uint64_t)1 << 30) {
                snprintf(err, err_size, "--kv-mem is too large");
                goto fail;
            }
            cp.n_kv_blocks = (int)(s->p.kv_mem / one.kv_bytes);
            if (cp.n_kv_blocks < 1) {
                snprintf(err, err_size, "--kv-mem %llu bytes holds no KV block (one takes %llu bytes)", (unsigned long long)s->p.kv_mem,
                         (unsigned long long)one.kv_bytes);
                goto fail;
            }
        }
        cp.n_seq_max += s->n_cache; /* the cache's sequences share the same pool */
        s->ctx = llm_context_new(m, &cp, err, err_size);
        if (!s->ctx) goto fail;
    }
    s->p.n_ctx = llm_context_n_ctx(s->ctx);
    s->n_batch = llm_context_n_batch(s->ctx);
    llm_context_kv_stats(s->ctx, &s->kv);
    s->kv_block = s->kv.block_size;
    s->pool_blocks = s->kv.n_blocks;
    s->b_tok = (llm_token *)malloc(sizeof(llm_token) * (size_t)s->n_batch);
    s->b_seq = (int32_t *)malloc(sizeof(int32_t) * (size_t)s->n_batch);
    s->b_logits = (int8_t *)malloc((size_t)s->n_batch);
    s->cache = (srv_cached *)calloc((size_t)s->n_cache + 1, sizeof *s->cache);
    s->blk_ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)s->pool_blocks);
    s->blk_mark = (char *)malloc((size_t)s->pool_blocks);
    if (!s->b_tok || !s->b_seq || !s->b_logits || !s->cache || !s->blk_ids || !s->blk_mark) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    for (i = 0; i < s->n_cache; i++) s->cache[i].seq = s->p.n_parallel + i;
    if (s->p.max_tokens <= 0 || s->p.max_tokens > s->p.n_ctx) s->p.max_tokens = s->p.n_ctx;

    if (pipe(s->wake) != 0) { snprintf(err, err_size, "pipe: %s", strerror(errno)); goto fail; }
    fcntl(s->wake[1], F_SETFL, O_NONBLOCK);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", s->p.port);
    rc = getaddrinfo(s->p.host, port, &hints, &ai);
    if (rc != 0 || !ai) { snprintf(err, err_size, "address %s: %s", s->p.host, gai_strerror(rc)); goto fail; }
    s->listen_fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (s->listen_fd < 0) { snprintf(err, err_size, "socket: %s", strerror(errno)); goto fail; }
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->listen_fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s->listen_fd, 128) != 0) {
        snprintf(err, err_size, "cannot listen on %s port %d: %s", s->p.host, s->p.port, strerror(errno));
        goto fail;
    }
    {
        struct sockaddr_storage a;
        socklen_t alen = sizeof a;
        getsockname(s->listen_fd, (struct sockaddr *)&a, &alen);
        s->port = a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&a)->sin_port);
    }
    freeaddrinfo(ai);
    if (pthread_create(&s->sched, NULL, sched_main, s) != 0) {
        snprintf(err, err_size, "cannot start the scheduler thread");
        ai = NULL;
        goto fail;
    }
    s->sched_started = 1;
    return s;
fail:
    if (ai) freeaddrinfo(ai);
    srv_free(s);
    return NULL;
}

int srv_port(const srv_server *s) { return s->port; }

void srv_stop(srv_server *s) {
    char c = 1;
    ssize_t k;
    s->stop_requested = 1;
    k = write(s->wake[1], &c, 1);
    (void)k;
}

int srv_run(srv_server *s) {
    struct timespec until;
    int i;
    while (!s->stop_requested) {
        struct pollfd pf[2];
        int fd, slot = -1;
        srv_conn *c;
        pthread_t th;
        pthread_attr_t attr;
        pf[0].fd = s->listen_fd, pf[0].events = POLLIN, pf[0].revents = 0;
        pf[1].fd = s->wake[0], pf[1].events = POLLIN, pf[1].revents = 0;
        if (poll(pf, 2, -1) < 0) continue; /* EINTR */
        if (pf[1].revents || s->stop_requested) break;
        if (!(pf[0].revents & POLLIN)) continue;
        fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        {
            struct timeval tv;
            tv.tv_sec = s->p.timeout_s;
            tv.tv_usec = 0;
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        pthread_mutex_lock(&s->mu);
        if (s->n_conns < s->max_conns)
            for (i = 0; i < s->max_conns; i++)
                if (s->conn_fds[i] < 0) { slot = i; break; }
        if (slot >= 0) {
            s->conn_fds[slot] = fd;
            s->n_conns++;
        }
        pthread_mutex_unlock(&s->mu);
        c = slot >= 0 ? (srv_conn *)malloc(sizeof *c) : NULL;
        if (c) {
            c->s = s, c->fd = fd, c->index = slot;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 256 << 10);
            if (pthread_create(&th, &attr, conn_main, c) == 0) {
                pthread_attr_destroy(&attr);
                continue;
            }
            pthread_attr_destroy(&attr);
            free(c);
        }
        if (slot >= 0) {
            pthread_mutex_lock(&s->mu);
            s->conn_fds[slot] = -1;
            s->n_conns--;
            pthread_mutex_unlock(&s->mu);
        }
        {
            /* Read what the client sent first (briefly), so that closing does not reset the
               connection before it reads the 503. */
            struct pollfd q;
            char sink[4096];
            q.fd = fd, q.events = POLLIN, q.revents = 0;
            if (poll(&q, 1, 50) > 0) (void)recv(fd, sink, sizeof sink, MSG_DONTWAIT);
            send_error(fd, 503, "Retry-After: 1\r\n", "the server is busy: %d requests are running or waiting",
                       s->max_conns);
            shutdown(fd, SHUT_WR);
            if (poll(&q, 1, 50) > 0) (void)recv(fd, sink, sizeof sink, MSG_DONTWAIT);
            close(fd);
        }
    }
    /* Shut down: no new connections; stop the generations and the reads in flight. */
    close(s->listen_fd);
    s->listen_fd = -1;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->sched_cv); /* the scheduler ends every stream */
    for (i = 0; i < s->max_conns; i++)
        if (s->conn_fds[i] >= 0) shutdown(s->conn_fds[i], SHUT_RD);
    pthread_cond_broadcast(&s->cv);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (s->n_conns > 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) break;
    i = s->n_conns;
    pthread_mutex_unlock(&s->mu);
    return i ? 1 : 0;
}

void srv_free(srv_server *s) {
    if (!s) return;
    if (s->n_conns > 0) return; /* threads still running: leave it (the process is ending) */
    if (s->sched_started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        pthread_cond_signal(&s->sched_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->sched, NULL);
    }
    llm_context_free(s->ctx);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->wake[0] >= 0) close(s->wake[0]);
    if (s->wake[1] >= 0) close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->sched_cv);
    free(s->run);
    free(s->chunk);
    free(s->lrow);
    free(s->b_tok);
    free(s->b_seq);
    free(s->b_logits);
    while (s->cache && s->n_cache > 0) free(s->cache[--s->n_cache].tok);
    free(s->cache);
    free(s->blk_ids);
    free(s->blk_mark);
    free(s->conn_fds);
    free(s);
}

#endif
