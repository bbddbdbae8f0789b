/* The core of `llm serve`: HTTP/1.1 (one request per connection), a strict bounded JSON
   reader and writer, OpenAI routes, and slots of llm_context over one model. See server.h. */
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

/* ---- server state ------------------------------------------------------------------------ */

typedef struct srv_slot {
    llm_context *ctx;
    int busy;
} srv_slot;

struct srv_server {
    llm_model *model;
    srv_params p;
    char model_id[256];
    const char *tmpl;
    int listen_fd, wake[2], port;
    volatile sig_atomic_t stop_requested;
    volatile int stopping;
    srv_slot *slots;
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

/* Reads and parses the request head. Returns 0, an HTTP status to answer with, or -1 to
   close silently (the client went away). *rest gets the body bytes read with the head. */
static int read_head(srv_server *s, int fd, http_req *r, char *buf, size_t cap, size_t *got, size_t *head_len) {
    char *end = NULL, *line, *next;
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

/* ---- generation -------------------------------------------------------------------------- */

typedef struct gen_state {
    srv_server *s;
    int fd, stream, chat, gone;
    sbuf text;
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

static int gen_on_token(llm_token t, const char *piece, int len, void *user) {
    gen_state *st = (gen_state *)user;
    (void)t;
    if (st->s->stopping) return 1;
    if (st->stream && len > 0) {
        sbuf b;
        memset(&b, 0, sizeof b);
        chunk_head(st, &b);
        if (st->chat) {
            sb_str(&b, "\"delta\":{\"content\":");
            sb_json_str(&b, piece, (size_t)len);
            sb_str(&b, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
        } else {
            sb_str(&b, "\"text\":");
            sb_json_str(&b, piece, (size_t)len);
            sb_str(&b, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
        }
        if (b.oom || send_all(st->fd, b.s, b.len) < 0) st->gone = 1;
        free(b.s);
    } else if (len > 0) {
        sb_add(&st->text, piece, (size_t)len);
    }
    if (!st->gone && peer_gone(st->fd)) st->gone = 1;
    return st->gone;
}

static srv_slot *slot_acquire(srv_server *s) {
    srv_slot *slot = NULL;
    int i;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        for (i = 0; i < s->p.n_parallel; i++)
            if (!s->slots[i].busy) {
                slot = &s->slots[i];
                slot->busy = 1;
                break;
            }
        if (slot) break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return slot;
}

static void slot_release(srv_server *s, srv_slot *slot) {
    pthread_mutex_lock(&s->mu);
    slot->busy = 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
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

static void handle_generate(srv_server *s, int fd, const jnode *req, int chat) {
    llm_generate_params g = llm_generate_default_params();
    llm_generate_stats stats;
    const jnode *v;
    const char *stops[4];
    int n_stop = 0, stream = 0, max_tokens = 0, rc, n_prompt, limit;
    char *prompt = NULL;
    srv_slot *slot;
    gen_state st;
    const char *finish;
    const llm_model *m = s->model;

    memset(&st, 0, sizeof st);
    if (!req || req->type != J_OBJ) { send_error(fd, 400, NULL, "the body must be a JSON object"); return; }
    g.sampler.temperature = 1.0f;
    g.sampler.top_k = 0;
    g.sampler.top_p = 1.0f;
    g.sampler.min_p = 0.0f;
    pthread_mutex_lock(&s->mu);
    g.sampler.seed = (uint64_t)time(NULL) * 6364136223846793005ull + ++s->n_requests;
    pthread_mutex_unlock(&s->mu);

#define BAD(...) do { send_error(fd, 400, NULL, __VA_ARGS__); free(prompt); return; } while (0)
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
        if (!cm || !texts) { free(cm); free(texts); send_error(fd, 500, NULL, "out of memory"); return; }
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
        if (!prompt) { send_error(fd, 500, NULL, "out of memory"); return; }
        g.parse_special = 1;
    } else {
        v = j_get(req, "prompt");
        if (v && v->type == J_ARR && v->n == 1) v = v->kid;
        if (!v || v->type != J_STR) BAD("'prompt' must be a string");
        prompt = (char *)malloc(v->len + 1);
        if (!prompt) { send_error(fd, 500, NULL, "out of memory"); return; }
        memcpy(prompt, v->s, v->len + 1);
    }
    n_prompt = llm_tokenize(m, prompt, strlen(prompt), NULL, 0,
                            LLM_TOKENIZE_ADD_SPECIAL | (g.parse_special ? LLM_TOKENIZE_PARSE_SPECIAL : 0));
    if (n_prompt < 0) BAD("the prompt cannot be tokenized: %s", llm_result_string(n_prompt));
    limit = s->p.n_ctx;
    if (n_prompt >= limit) BAD("the prompt is %d tokens; the context holds %d", n_prompt, limit);
#undef BAD

    g.n_predict = max_tokens;
    g.stop = stops;
    g.n_stop = n_stop;
    g.stats = &stats;
    memset(&stats, 0, sizeof stats);

    slot = slot_acquire(s);
    if (!slot) { send_error(fd, 503, NULL, "the server is shutting down"); free(prompt); return; }
    st.s = s;
    st.fd = fd;
    st.stream = stream;
    st.chat = chat;
    snprintf(st.id, sizeof st.id, "%s-%llx%08lx", chat ? "chatcmpl" : "cmpl", (unsigned long long)g.sampler.seed & 0xFFFFFFFFull,
             (unsigned long)time(NULL));
    sb_add(&st.text, "", 0);
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
    llm_context_truncate(slot->ctx, 0);
    rc = st.gone ? LLM_ERR_CANCELLED : llm_generate(slot->ctx, prompt, &g, gen_on_token, &st);
    llm_context_truncate(slot->ctx, 0);
    slot_release(s, slot);
    free(prompt);
    if (s->p.verbose)
        fprintf(stderr, "llm serve: %s %d+%d tokens%s\n", chat ? "chat" : "completion", stats.n_prompt, stats.n_generated,
                st.gone ? " (client gone: cancelled)" : "");

    finish = rc == LLM_ERR_CONTEXT_FULL || (max_tokens && stats.n_generated >= max_tokens) ? "length" : "stop";
    if (st.gone) { free(st.text.s); return; }
    if (rc != LLM_OK && rc != LLM_ERR_CONTEXT_FULL) {
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
        free(st.text.s);
        return;
    }
    {
        sbuf b;
        memset(&b, 0, sizeof b);
        if (stream) {
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
            sb_json_str(&b, st.text.s, st.text.len);
            sb_printf(&b, "%s,\"logprobs\":null,\"finish_reason\":\"%s\"}]", chat ? "}" : "", finish);
        }
        sb_printf(&b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}", stats.n_prompt,
                  stats.n_generated, stats.n_prompt + stats.n_generated);
        if (stream) sb_str(&b, "\n\ndata: [DONE]\n\n");
        if (b.oom) send_error(fd, 500, NULL, "out of memory");
        else if (stream) send_all(fd, b.s, b.len);
        else send_response(fd, 200, "application/json", NULL, b.s, b.len);
        free(b.s);
    }
    free(st.text.s);
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
    if (strcmp(r.path, "/health") == 0) route = 0;
    else if (strcmp(r.path, "/v1/models") == 0 || strcmp(r.path, "/models") == 0) route = 1;
    else if (strcmp(r.path, "/v1/chat/completions") == 0 || strcmp(r.path, "/chat/completions") == 0) route = 2, post = 1;
    else if (strcmp(r.path, "/v1/completions") == 0 || strcmp(r.path, "/completions") == 0) route = 3, post = 1;
    if (route < 0) { send_error(fd, 404, NULL, "unknown route %s %s", r.method, r.path); goto done; }
    if (strcmp(r.method, post ? "POST" : "GET") != 0) {
        send_error(fd, 405, post ? "Allow: POST\r\n" : "Allow: GET\r\n", "%s needs %s", r.path, post ? "POST" : "GET");
        goto done;
    }
    if (route != 0 && !auth_ok(s, r.auth)) {
        send_error(fd, 401, NULL, r.auth[0] ? "incorrect API key" : "an API key is needed (Authorization: Bearer KEY)");
        goto done;
    }
    if (route == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        send_response(fd, 200, "application/json", NULL, ok, sizeof ok - 1);
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
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
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
    if (s->p.n_threads <= 0) s->p.n_threads = ncpu > s->p.n_parallel ? (int)(ncpu / s->p.n_parallel) : 1;
    s->model = m;
    snprintf(s->model_id, sizeof s->model_id, "%s", model_id ? model_id : "model");
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    s->created = (long)time(NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->max_conns = s->p.n_parallel + s->p.max_queue;
    s->conn_fds = (int *)malloc(sizeof(int) * (size_t)s->max_conns);
    s->slots = (srv_slot *)calloc((size_t)s->p.n_parallel, sizeof *s->slots);
    if (!s->conn_fds || !s->slots) { snprintf(err, err_size, "out of memory"); goto fail; }
    for (i = 0; i < s->max_conns; i++) s->conn_fds[i] = -1;

    s->tmpl = s->p.tmpl ? llm_chat_template_name(NULL, s->p.tmpl) : llm_chat_template_name(m, NULL);
    if (!s->tmpl) {
        if (s->p.tmpl) { snprintf(err, err_size, "unknown chat template '%s'", s->p.tmpl); goto fail; }
        s->tmpl = "chatml";
    }
    for (i = 0; i < s->p.n_parallel; i++) {
        llm_context_params cp = llm_context_default_params();
        cp.n_ctx = s->p.n_ctx;
        cp.n_threads = s->p.n_threads;
        cp.kv_type = s->p.kv_type;
        s->slots[i].ctx = llm_context_new(m, &cp, err, err_size);
        if (!s->slots[i].ctx) goto fail;
    }
    s->p.n_ctx = llm_context_n_ctx(s->slots[0].ctx);
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
    for (i = 0; i < s->p.n_parallel; i++)
        if (s->slots[i].busy) llm_generate_cancel(s->slots[i].ctx);
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
    int i;
    if (!s) return;
    if (s->n_conns > 0) return; /* threads still running: leave it (the process is ending) */
    if (s->slots)
        for (i = 0; i < s->p.n_parallel; i++) llm_context_free(s->slots[i].ctx);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->wake[0] >= 0) close(s->wake[0]);
    if (s->wake[1] >= 0) close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->slots);
    free(s->conn_fds);
    free(s);
}

#endif
