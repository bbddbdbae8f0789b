/* llm pull: downloads a GGUF model into the store through the system's curl program (we carry
   no TLS or HTTP client of our own). The bytes go to NAME.gguf.part, which a later pull of the
   same source resumes; the file takes its name only after its size, its sha256 (when known)
   and its GGUF header have been checked, so a store name never holds half a file.

   Files beside NAME.gguf.part while a pull runs: .part.src (the source URL, so that a resume
   never appends another file's bytes), .part.hdr (the response headers curl dumps: sizes and
   Hugging Face's sha256) and .part.log (curl's own error message). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <process.h>
#include <windows.h>
#else
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

static const char pull_usage[] =
    "usage: llm pull SOURCE [--name NAME] [--sha256 HEX]\n"
    "\n"
    "Downloads a GGUF model into the store (see llm ls; every -m accepts its names) through\n"
    "the curl program, and prints the stored file's path. SOURCE is\n"
    "  https://HOST/PATH/FILE.gguf        a URL (plain http:// only from 127.0.0.1, [::1] or\n"
    "                                     localhost)\n"
    "  hf:OWNER/REPO/FILE.gguf            a file of a Hugging Face repository, main branch\n"
    "  hf:OWNER/REPO@REVISION/FILE.gguf   at another branch, tag or commit\n"
    "The download goes to NAME.gguf.part, and the same command resumes it where it stopped.\n"
    "The size and the sha256 (--sha256, or the one Hugging Face gives for its files) are\n"
    "checked and the GGUF header read before the file takes its name.\n"
    "\n"
    "      --name NAME   store name (default: the file name without .gguf); letters, digits\n"
    "                    and . _ - +\n"
    "      --sha256 HEX  the file's expected sha256\n"
    "  -h, --help        print this help\n"
    "\n"
    "environment: LLM_MODELS (the store folder), LLM_CURL (the curl program, default curl),\n"
    "HF_ENDPOINT (instead of https://huggingface.co)\n";

#define PULL_URL_MAX 2048
#ifdef _WIN32
#define PULL_CURL_HINT "Windows 10 and later have curl.exe in System32; see curl.se for others"
#else
#define PULL_CURL_HINT "install it (apt install curl, dnf install curl, brew install curl)"
#endif
#define PULL_POLL_MS 100

typedef struct pull_job {
    char url[PULL_URL_MAX];
    int loopback;              /* plain http allowed: the source is on this machine */
    char name[CLI_STORE_NAME_MAX + 1];
    char want_sha[65];         /* --sha256, lower case; "" if not given */
    char dir[1024];
    char final[1200], part[1200], src[1200], hdr[1200], log[1200];
} pull_job;

/* What the response headers say about the file. */
typedef struct pull_headers {
    int status;                /* of the last response; 0 if none */
    char reason[64];
    long long total;           /* the whole file's size; -1 unknown */
    long long linked_size;     /* Hugging Face's X-Linked-Size; -1 */
    char sha[65];              /* Hugging Face's X-Linked-Etag when it is a sha256; "" */
} pull_headers;

/* ---- the source ------------------------------------------------------------------------ */

/* Printable ASCII without space, quotes, angle brackets and backslash: what a URL may hold,
   and what can never be read as two arguments or an option by curl. */
static int pull_url_chars_ok(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F || strchr("\"'<>\\^`{|}", *s)) return 0;
    return 1;
}

/* Checks an http(s) URL; sets *loopback for plain http to this machine. NULL if fine, else why not. */
static const char *pull_check_url(const char *url, int *loopback) {
    static const char *const local[] = {"127.0.0.1", "localhost", "[::1]"};
    const char *host, *end;
    size_t i, n;
    int http = strncmp(url, "http://", 7) == 0;
    *loopback = 0;
    if (strlen(url) >= PULL_URL_MAX) return "the URL is too long";
    if (!http && strncmp(url, "https://", 8) != 0) return "a source is an https:// URL or hf:OWNER/REPO/FILE.gguf";
    if (!pull_url_chars_ok(url)) return "the URL has a space, a quote or a character outside ASCII (percent-encode it)";
    host = url + (http ? 7 : 8);
    end = host + strcspn(host, "/?#");
    if (end == host) return "the URL has no host";
    if (memchr(host, '@', (size_t)(end - host))) return "user names or passwords in the URL are not supported";
    for (i = 0; i < sizeof local / sizeof local[0]; i++) {
        n = strlen(local[i]);
        if ((size_t)(end - host) >= n && strncmp(host, local[i], n) == 0 && (host + n == end || host[n] == ':'))
            *loopback = 1;
    }
    if (http && !*loopback) return "plain http:// is accepted only from this machine (127.0.0.1, [::1], localhost): use https://";
    return NULL;
}

/* One component of an hf: source: letters, digits, "._-", not "." or "..". */
static int pull_hf_part_ok(const char *s, size_t n) {
    size_t i;
    if (n == 0 || n > 200 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i])) return 0;
    return 1;
}

/* hf:OWNER/REPO[@REV]/PATH/FILE.gguf into a resolve URL. NULL if fine, else why not. */
static const char *pull_hf_url(const char *spec, char *url, size_t size) {
    const char *endpoint = getenv("HF_ENDPOINT"), *p = spec, *seg[64], *rev = "main";
    size_t len[64], rev_len = 4, n = 0, i, ep_len;
    int loopback, at;
    if (!endpoint || !*endpoint) endpoint = "https://huggingface.co";
    if (pull_check_url(endpoint, &loopback)) return "HF_ENDPOINT is not an https:// URL";
    while (n < 64) { /* split on '/' */
        seg[n] = p;
        len[n] = strcspn(p, "/");
        p += len[n++];
        if (!*p++) break;
    }
    if (n < 3 || p[-1] != 0) return "an hf: source is hf:OWNER/REPO/FILE.gguf";
    for (i = 0; i < len[1]; i++) /* REPO@REVISION */
        if (seg[1][i] == '@') {
            rev = seg[1] + i + 1;
            rev_len = len[1] - i - 1;
            len[1] = i;
            break;
        }
    for (i = 0; i < n; i++)
        if (!pull_hf_part_ok(seg[i], len[i])) return "an hf: source is hf:OWNER/REPO/FILE.gguf (letters, digits, . _ -)";
    if (!pull_hf_part_ok(rev, rev_len)) return "the revision after @ is not a branch, tag or commit name";
    if (len[n - 1] < 6 || strncmp(seg[n - 1] + len[n - 1] - 5, ".gguf", 5) != 0) return "an hf: source names a .gguf file";
    ep_len = strlen(endpoint);
    while (ep_len > 0 && endpoint[ep_len - 1] == '/') ep_len--;
    at = snprintf(url, size, "%.*s/%.*s/%.*s/resolve/%.*s", (int)ep_len, endpoint, (int)len[0], seg[0], (int)len[1], seg[1],
                  (int)rev_len, rev);
    for (i = 2; i < n && at > 0 && (size_t)at < size; i++)
        at += snprintf(url + at, size - (size_t)at, "/%.*s", (int)len[i], seg[i]);
    if (at < 0 || (size_t)at >= size) return "the source is too long";
    return NULL;
}

/* The store name a URL gives: its last path segment without ".gguf". 0 if none is valid. */
static int pull_name_from_url(const char *url, char *name, size_t size) {
    const char *end = url + strcspn(url, "?#"), *start = end;
    size_t n;
    while (start > url && start[-1] != '/') start--;
    n = (size_t)(end - start);
    if (n > 5 && strncmp(end - 5, ".gguf", 5) == 0) n -= 5;
    if (n == 0 || n >= size) return 0;
    memcpy(name, start, n);
    name[n] = 0;
    return cli_store_name_valid(name);
}

/* ---- response headers ------------------------------------------------------------------ */

static int pull_hex64(const char *s, size_t n, char out[65]) {
    size_t i;
    if (n != 64) return 0;
    for (i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s[i])) return 0;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = 0;
    return 1;
}

static int pull_header_is(const char *line, const char *name, const char **value) {
    size_t n = strlen(name), i;
    for (i = 0; i < n; i++)
        if (tolower((unsigned char)line[i]) != name[i]) return 0;
    if (line[n] != ':') return 0;
    for (line += n + 1; *line == ' ' || *line == '\t'; line++) {}
    *value = line;
    return 1;
}

/* One header line (without its line end) into h. A response's status line starts a block:
   the file's size is what the last block says, the sha256 any redirect on the way. */
static void pull_header_line(const char *line, pull_headers *h) {
    const char *v;
    if (strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = strchr(line, ' ');
        h->status = sp ? atoi(sp + 1) : 0;
        h->reason[0] = 0;
        if (sp && (sp = strchr(sp + 1, ' ')) != NULL) snprintf(h->reason, sizeof h->reason, "%s", sp + 1);
        h->total = -1;
    } else if (pull_header_is(line, "content-length", &v)) {
        if (h->status == 200 && isdigit((unsigned char)*v)) h->total = strtoll(v, NULL, 10);
    } else if (pull_header_is(line, "content-range", &v)) {
        const char *slash = strchr(v, '/'); /* "bytes 100-199/1000", or "bytes (star)/1000" on a 416 */
        if (strncmp(v, "bytes ", 6) == 0 && slash && isdigit((unsigned char)slash[1])) h->total = strtoll(slash + 1, NULL, 10);
    } else if (pull_header_is(line, "x-linked-size", &v)) {
        if (isdigit((unsigned char)*v)) h->linked_size = strtoll(v, NULL, 10);
    } else if (pull_header_is(line, "x-linked-etag", &v)) {
        size_t n;
        if (strncmp(v, "W/", 2) == 0) v += 2;
        if (*v == '"') v++;
        n = strcspn(v, "\"");
        pull_hex64(v, n, h->sha);
    }
}

static void pull_read_headers(const char *path, pull_headers *h) {
    FILE *f = fopen(path, "rb");
    char line[1024];
    memset(h, 0, sizeof *h);
    h->total = h->linked_size = -1;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        pull_header_line(line, h);
    }
    fclose(f);
}

/* ---- running curl ---------------------------------------------------------------------- */

#ifdef _WIN32
typedef intptr_t pull_proc;

/* _spawnvp joins its arguments with spaces: quote those with spaces (none holds a quote:
   URLs are checked, and Windows paths cannot have one). */
static char *pull_win_arg(const char *s) {
    size_t n = strlen(s), slashes = 0, i;
    char *q;
    if (n && !strpbrk(s, " \t")) return (char *)s;
    while (slashes < n && s[n - 1 - slashes] == '\\') slashes++;
    q = (char *)cli_alloc(n + slashes + 3); /* a trailing backslash doubled, so it cannot escape the quote */
    q[0] = '"';
    memcpy(q + 1, s, n);
    for (i = 0; i < slashes; i++) q[1 + n + i] = '\\';
    q[1 + n + slashes] = '"';
    q[2 + n + slashes] = 0;
    return q;
}

static int pull_spawn(char **argv, pull_proc *proc) {
    char *q[64];
    int i;
    for (i = 0; argv[i] && i < 63; i++) q[i] = pull_win_arg(argv[i]);
    q[i] = NULL;
    *proc = _spawnvp(_P_NOWAIT, argv[0], (const char *const *)q);
    return *proc == -1 ? errno : 0;
}

/* 1 when the process has ended (*code its exit status), 0 while it runs. */
static int pull_poll(pull_proc proc, int *code, char *why, size_t size) {
    DWORD rc;
    if (WaitForSingleObject((HANDLE)proc, PULL_POLL_MS) == WAIT_TIMEOUT) return 0;
    if (!GetExitCodeProcess((HANDLE)proc, &rc)) rc = 255;
    CloseHandle((HANDLE)proc);
    *code = (int)rc;
    why[0] = 0;
    (void)size;
    return 1;
}

static void pull_kill(pull_proc proc) {
    int code;
    char why[8];
    TerminateProcess((HANDLE)proc, 1);
    while (!pull_poll(proc, &code, why, sizeof why)) {}
}
#else
typedef pid_t pull_proc;

static int pull_spawn(char **argv, pull_proc *proc) { return posix_spawnp(proc, argv[0], NULL, NULL, argv, environ); }

static int pull_poll(pull_proc proc, int *code, char *why, size_t size) {
    struct timespec ts;
    int st;
    pid_t r = waitpid(proc, &st, WNOHANG);
    if (r == 0) {
        ts.tv_sec = 0;
        ts.tv_nsec = PULL_POLL_MS * 1000000L;
        nanosleep(&ts, NULL);
        return 0;
    }
    if (r < 0 && errno == EINTR) return 0;
    why[0] = 0;
    if (r < 0) *code = -1, snprintf(why, size, "lost track of curl: %s", strerror(errno));
    else if (WIFEXITED(st)) *code = WEXITSTATUS(st);
    else *code = -1, snprintf(why, size, "curl was killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 1;
}

static void pull_kill(pull_proc proc) {
    int code;
    char why[64];
    kill(proc, SIGTERM);
    while (!pull_poll(proc, &code, why, sizeof why)) {}
}
#endif

/* ---- progress -------------------------------------------------------------------------- */

typedef struct pull_progress {
    double t0, last;      /* ms */
    uint64_t start;       /* bytes already there when curl started */
    int shown;            /* a progress line is on the terminal */
} pull_progress;

static void pull_fmt_time(double s, char *buf, size_t size) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* "llm pull: NAME 45.20 MiB / 1.10 GiB (4 %), 12.30 MiB/s, 1:28 left" on stderr: rewritten in
   place a few times a second on a terminal, every 5 s otherwise (a log). */
static void pull_show(const pull_job *j, pull_progress *pr, uint64_t done, long long total, int last) {
    double now = cli_now_ms(), secs = (now - pr->t0) / 1000, speed;
    char b1[32], b2[32], b3[32], eta[32] = "";
    int tty = 0;
#ifndef _WIN32
    tty = isatty(2);
#endif
    if (!last && now - pr->last < (tty ? 250 : 5000)) return;
    pr->last = now;
    speed = secs > 0 ? (double)(done - pr->start) / secs : 0;
    if (total > 0 && speed > 0 && (uint64_t)total > done) {
        strcpy(eta, ", ");
        pull_fmt_time((double)((uint64_t)total - done) / speed, eta + 2, sizeof eta - 2);
        strcat(eta, " left");
    }
    fprintf(stderr, "%sllm pull: %s %s", tty ? "\r" : "", j->name, cli_fmt_bytes(done, b1, sizeof b1));
    if (total > 0) fprintf(stderr, " / %s (%d %%)", cli_fmt_bytes((uint64_t)total, b2, sizeof b2), (int)(100.0 * (double)done / (double)total));
    fprintf(stderr, ", %s/s%s%s", cli_fmt_bytes((uint64_t)speed, b3, sizeof b3), eta, tty ? "\033[K" : "\n");
    pr->shown = tty;
    if (last && tty) fputc('\n', stderr);
}

/* ---- the download ---------------------------------------------------------------------- */

/* curl's one-line message (from .part.log) without the "curl: (N) " prefix. */
static void pull_curl_message(const pull_job *j, char *buf, size_t size) {
    FILE *f = fopen(j->log, "rb");
    char line[512];
    buf[0] = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *m = line;
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(m, "curl: ", 6) == 0) m += 6;
        if (*m == '(' && strchr(m, ')')) m = strchr(m, ')') + 1;
        while (*m == ' ') m++;
        if (*m) snprintf(buf, size, "%s", m);
    }
    fclose(f);
}

/* Removes what a failed pull leaves that cannot be resumed; keeps a .part with bytes in it
   (and its .src) when keep is set. */
static void pull_cleanup(const pull_job *j, int keep) {
    uint64_t size = 0;
    remove(j->hdr);
    remove(j->log);
    if (!keep || !cli_file_exists(j->part, &size) || size == 0) {
        remove(j->part);
        remove(j->src);
    }
}

/* Fails the command for curl's exit code; the .part is kept where a rerun can resume. */
static void pull_fail_curl(const pull_job *j, int code, const char *why) {
    static const char resume[] = "; the partial download is kept: run the same llm pull again to resume";
    char msg[512], host[256];
    pull_headers h;
    const char *hs = strstr(j->url, "://") + 3;
    pull_curl_message(j, msg, sizeof msg);
    pull_read_headers(j->hdr, &h);
    snprintf(host, sizeof host, "%.*s", (int)strcspn(hs, "/?#"), hs);
    pull_cleanup(j, 1);
    if (code == -1) cli_fail("%s%s", why, resume);
    switch (code) {
    case 1: cli_fail("%s: protocol refused (%s): downloads and their redirects use https", j->url, msg);
    case 3: cli_fail("%s: curl finds the URL malformed (%s)", j->url, msg);
    case 5: case 6: cli_fail("cannot resolve the host of %s (%s)", j->url, msg);
    case 7: cli_fail("cannot connect to %s: nothing listening there, or no route to it (%s)", host, msg);
    case 22:
        if (h.status) cli_fail("%s: the server answered HTTP %d%s%s", j->url, h.status, h.reason[0] ? " " : "", h.reason);
        cli_fail("%s: HTTP error (%s)", j->url, msg);
    case 23: cli_fail("cannot write %s (%s): is the disk full?%s", j->part, msg, resume);
    case 28: cli_fail("%s: timed out (%s)%s", j->url, msg, resume);
    case 47: cli_fail("%s: too many redirects", j->url);
    case 16: case 18: case 52: case 55: case 56: case 92:
        cli_fail("%s: the transfer broke off (%s)%s", j->url, msg, resume);
    case 35: case 51: case 53: case 54: case 58: case 59: case 60: case 64: case 66: case 77: case 80: case 82: case 83: case 90: case 91:
        cli_fail("%s: secure connection failed (%s)", j->url, msg);
    default: cli_fail("curl failed with exit status %d (%s)", code, msg[0] ? msg : "no message");
    }
}

/* 1 if the file at path starts like a GGUF file (or has fewer than 4 bytes yet). */
static int pull_starts_gguf(const char *path) {
    unsigned char b[4];
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f) return 1;
    n = fread(b, 1, 4, f);
    fclose(f);
    return n < 4 || memcmp(b, "GGUF", 4) == 0;
}

static void pull_fail_not_gguf(const pull_job *j, const char *why) {
    pull_cleanup(j, 0);
    cli_fail("%s is not a GGUF model (%s); nothing was stored", j->url, why);
}

/* Runs curl once, from offset bytes on; returns its exit status (-1 with why set when it
   did not exit normally). Fails the command when curl cannot be started. */
static int pull_curl(const pull_job *j, uint64_t offset, char *why, size_t why_size) {
    const char *curl = getenv("LLM_CURL"), *proto = j->loopback ? "=http,https" : "=https";
    char offset_s[32], agent[64];
    char *argv[40];
    int n = 0, code = 0, rc, checked = offset > 0;
    pull_proc proc;
    pull_progress pr;
    pull_headers h;
    uint64_t size;
    if (!curl || !*curl) curl = "curl";
    snprintf(offset_s, sizeof offset_s, "%llu", (unsigned long long)offset);
    snprintf(agent, sizeof agent, "llm/%d.%d.%d", LLM_VERSION_MAJOR, LLM_VERSION_MINOR, LLM_VERSION_PATCH);
#define PULL_ARG(s) (argv[n++] = (char *)(s))
    PULL_ARG(curl);
    PULL_ARG("-q"); /* first: no ~/.curlrc changes what we asked for */
    PULL_ARG("--fail"), PULL_ARG("--location"), PULL_ARG("--max-redirs"), PULL_ARG("10");
    PULL_ARG("--silent"), PULL_ARG("--show-error"), PULL_ARG("--stderr"), PULL_ARG(j->log);
    PULL_ARG("--proto"), PULL_ARG(proto), PULL_ARG("--proto-redir"), PULL_ARG(proto);
    PULL_ARG("--connect-timeout"), PULL_ARG("30"); /* a stalled transfer ends, the .part stays */
    PULL_ARG("--speed-limit"), PULL_ARG("1"), PULL_ARG("--speed-time"), PULL_ARG("60");
    PULL_ARG("--user-agent"), PULL_ARG(agent);
    PULL_ARG("--dump-header"), PULL_ARG(j->hdr), PULL_ARG("--output"), PULL_ARG(j->part);
    if (offset > 0) PULL_ARG("--continue-at"), PULL_ARG(offset_s);
    PULL_ARG(j->url);
    argv[n] = NULL;
#undef PULL_ARG
    remove(j->hdr);
    remove(j->log);
    if ((rc = pull_spawn(argv, &proc)) != 0) {
        pull_cleanup(j, 1);
        if (rc == ENOENT) cli_fail("cannot run '%s': not found. llm pull downloads through the curl program: %s, or name it in LLM_CURL", curl, PULL_CURL_HINT);
        cli_fail("cannot run '%s': %s", curl, strerror(rc));
    }
    memset(&pr, 0, sizeof pr);
    pr.t0 = pr.last = cli_now_ms();
    pr.start = offset;
    while (!pull_poll(proc, &code, why, why_size)) {
        if (!cli_file_exists(j->part, &size)) continue;
        if (!checked && size >= 4) { /* refuse a non-model at its first bytes, not after all of them */
            checked = 1;
            if (!pull_starts_gguf(j->part)) {
                pull_kill(proc);
                pull_fail_not_gguf(j, "it does not start with \"GGUF\"");
            }
        }
        pull_read_headers(j->hdr, &h);
        pull_show(j, &pr, size, h.total, 0);
    }
    if (code == 0 && cli_file_exists(j->part, &size)) {
        pull_read_headers(j->hdr, &h);
        pull_show(j, &pr, size, h.total, 1);
    } else if (pr.shown) {
        fputc('\n', stderr);
    }
    if (code == 127) { /* a shell-less exec that failed in the child */
        pull_cleanup(j, 1);
        cli_fail("cannot run '%s': not found. llm pull downloads through the curl program: %s, or name it in LLM_CURL", curl, PULL_CURL_HINT);
    }
    return code;
}

/* Checks the complete .part against what is known of the file and renames it into place. */
static void pull_verify(const pull_job *j) {
    pull_headers h;
    uint64_t size = 0;
    char got[65], err[512];
    llm_model_params mp = llm_model_default_params();
    llm_model *m;
    pull_read_headers(j->hdr, &h);
    cli_file_exists(j->part, &size);
    if (h.total < 0 && h.linked_size >= 0) h.total = h.linked_size;
    if (h.total >= 0 && size < (uint64_t)h.total) {
        pull_cleanup(j, 1);
        cli_fail("%s: got %llu of %lld bytes; the partial download is kept: run the same llm pull again to resume", j->url,
                 (unsigned long long)size, h.total);
    }
    if ((h.total >= 0 && size > (uint64_t)h.total) || (h.linked_size >= 0 && size != (uint64_t)h.linked_size)) {
        pull_cleanup(j, 0);
        cli_fail("%s: the file has %llu bytes, the server said %lld; it was removed", j->url, (unsigned long long)size,
                 h.total >= 0 ? h.total : h.linked_size);
    }
    if (j->want_sha[0] || h.sha[0]) {
        FILE *f = fopen(j->part, "rb");
        cli_sha256 s;
        static unsigned char buf[1 << 16];
        size_t n;
        if (!f) cli_fail("cannot read %s: %s", j->part, strerror(errno));
        fprintf(stderr, "llm pull: checking the sha256 ...\n");
        cli_sha256_init(&s);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) cli_sha256_update(&s, buf, n);
        fclose(f);
        cli_sha256_hex(&s, got);
        if ((j->want_sha[0] && strcmp(got, j->want_sha) != 0) || (h.sha[0] && strcmp(got, h.sha) != 0)) {
            pull_cleanup(j, 0);
            cli_fail("%s: sha256 mismatch: expected %s (%s), got %s; the download was removed", j->url,
                     j->want_sha[0] && strcmp(got, j->want_sha) != 0 ? j->want_sha : h.sha,
                     j->want_sha[0] && strcmp(got, j->want_sha) != 0 ? "--sha256" : "from the server", got);
        }
    }
    mp.vocab_only = 1; /* reads the header, the metadata and the tensor list */
    m = llm_model_load(j->part, &mp, err, sizeof err);
    if (!m) pull_fail_not_gguf(j, err);
    llm_model_free(m);
    if (rename(j->part, j->final) != 0) cli_fail("cannot rename %s to %s: %s", j->part, j->final, strerror(errno));
    pull_cleanup(j, 0);
}

/* The byte offset to resume from: the .part's size when it was started from the same URL. */
static uint64_t pull_resume_offset(const pull_job *j) {
    uint64_t size = 0;
    size_t n = 0;
    char *src;
    if (!cli_file_exists(j->part, &size) || size == 0 || !cli_file_exists(j->src, NULL)) return 0;
    src = cli_read_file(j->src, &n);
    if (n == 0 || src[n - 1] != '\n' || strncmp(src, j->url, n - 1) != 0 || strlen(j->url) != n - 1) size = 0;
    free(src);
    return size;
}

static void pull_write_src(const pull_job *j) {
    FILE *f = fopen(j->src, "wb");
    if (!f || fprintf(f, "%s\n", j->url) < 0 || fclose(f) != 0) cli_fail("cannot write %s: %s", j->src, strerror(errno));
}

static void pull_download(const pull_job *j) {
    char why[128], b1[32];
    uint64_t offset = pull_resume_offset(j), size;
    double t0 = cli_now_ms();
    int attempt, code;
    pull_headers h;
    if (offset == 0) cli_store_remove_partial(j->dir, j->name);
    pull_write_src(j);
    for (attempt = 0;; attempt++) {
        if (offset > 0) fprintf(stderr, "llm pull: resuming %s at %s\n", j->name, cli_fmt_bytes(offset, b1, sizeof b1));
        else fprintf(stderr, "llm pull: %s from %s\n", j->name, j->url);
        code = pull_curl(j, offset, why, sizeof why);
        if (code == 0) break;
        pull_read_headers(j->hdr, &h);
        if (code == 22 && h.status == 416 && offset > 0) break; /* nothing after offset: maybe complete */
        if (code == 33 && offset > 0 && attempt == 0) {           /* the server cannot resume: start over */
            fprintf(stderr, "llm pull: the server cannot resume downloads; starting over\n");
            remove(j->part);
            offset = 0;
            continue;
        }
        pull_fail_curl(j, code, why);
    }
    pull_verify(j);
    cli_file_exists(j->final, &size);
    fprintf(stderr, "llm pull: stored %s (%s) in %.1f s\n", j->name, cli_fmt_bytes(size, b1, sizeof b1), (cli_now_ms() - t0) / 1000);
}

int cmd_pull(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, pull_usage);
    const char *s, *source = NULL, *name = NULL, *sha = NULL, *why;
    pull_job *j = (pull_job *)cli_alloc(sizeof *j);
    memset(j, 0, sizeof *j);
    while (cli_next(&a)) {
        if (cli_value(&a, NULL, "--name", &s)) name = s;
        else if (cli_value(&a, NULL, "--sha256", &s)) sha = s;
        else if (!source && cli_positional(&a, &source)) {}
        else cli_unknown(&a);
    }
    if (!source) cli_usage_error(&a, "what to pull? (a URL or hf:OWNER/REPO/FILE.gguf)");
    if (sha && !pull_hex64(sha, strlen(sha), j->want_sha)) cli_usage_error(&a, "--sha256: '%s' is not 64 hex digits", sha);
    if (strncmp(source, "hf:", 3) == 0) {
        if ((why = pull_hf_url(source + 3, j->url, sizeof j->url)) != NULL) cli_usage_error(&a, "%s: %s", source, why);
    } else {
        snprintf(j->url, sizeof j->url, "%s", source);
    }
    if ((why = pull_check_url(j->url, &j->loopback)) != NULL) cli_usage_error(&a, "%s: %s", source, why);
    if (name) {
        size_t n = strlen(name);
        if (n > 5 && strcmp(name + n - 5, ".gguf") == 0) n -= 5; /* --name x.gguf means x */
        if (n < sizeof j->name) memcpy(j->name, name, n);
        if (n >= sizeof j->name || !cli_store_name_valid(j->name))
            cli_usage_error(&a, "--name: '%s' is not a store name (letters, digits and . _ - +, not starting with . or -)", name);
    } else if (!pull_name_from_url(j->url, j->name, sizeof j->name)) {
        cli_usage_error(&a, "cannot make a store name from %s: give one with --name", j->url);
    }

    cli_store_dir(j->dir, sizeof j->dir);
    if (cli_mkdirs(j->dir) != 0) cli_fail("cannot create the store folder %s: %s", j->dir, strerror(errno));
    cli_store_file(j->dir, j->name, "", j->final, sizeof j->final);
    cli_store_file(j->dir, j->name, ".part", j->part, sizeof j->part);
    cli_store_file(j->dir, j->name, ".part.src", j->src, sizeof j->src);
    cli_store_file(j->dir, j->name, ".part.hdr", j->hdr, sizeof j->hdr);
    cli_store_file(j->dir, j->name, ".part.log", j->log, sizeof j->log);
    if (cli_file_exists(j->final, NULL)) {
        fprintf(stderr, "llm pull: %s is already in the store (llm rm %s first to pull it again)\n", j->name, j->name);
    } else {
        pull_download(j);
    }
    printf("%s\n", j->final);
    if (fflush(stdout) != 0) cli_fail("cannot write the output");
    free(j);
    return 0;
}
