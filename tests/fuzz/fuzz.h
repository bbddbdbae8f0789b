/* Shared by the fuzz harnesses: the implementation, the shared-data path, and a main() that
   replays files when the harness is built without libFuzzer (stb, cgltf style).

     clang -g -O1 -fsanitize=fuzzer,address,undefined -DLLM_FUZZER tests/fuzz/gguf.c   libFuzzer
     cc -g tests/fuzz/gguf.c -lm -lpthread; ./a.out FILE_OR_DIR...                   replay

   ../shared is found relative to the project root (where harnesses run), or at $LLM_SHARED.
   Each harness checks its own invariants and calls abort() when one fails, so libFuzzer
   records the input as a crash. */
#ifndef LLM_FUZZ_H
#define LLM_FUZZ_H
#define _POSIX_C_SOURCE 200809L
#ifndef LLM_FUZZ_LINKED_IMPL /* the Makefile's libFuzzer builds link build/fuzz/impl.o (impl.c) */
#define LLM_IMPLEMENTATION
#endif
#include "../../llm.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond, ...)                                                                    \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz check failed (%s:%d): %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* Path of a ../shared file (static buffer, one at a time). */
static inline const char *fz_shared(const char *rel) {
    static char path[4][1024];
    static int slot;
    char *p = path[slot++ & 3];
    const char *root = getenv("LLM_SHARED");
    snprintf(p, 1024, "%s/%s", root ? root : "../shared", rel);
    return p;
}

/* A model loaded once per process (vocab_only as asked); exits when it is missing, since a
   harness without its model would fuzz nothing. */
static inline llm_model *fz_load_once(const char *rel, int vocab_only) {
    char err[256];
    llm_model_params p;
    llm_model *m;
    memset(&p, 0, sizeof p);
    p.vocab_only = vocab_only;
    m = llm_model_load(fz_shared(rel), &p, err, sizeof err);
    if (!m) {
        fprintf(stderr, "fuzz: cannot load %s: %s\n", fz_shared(rel), err);
        exit(2);
    }
    return m;
}

/* A counting allocator with a budget: the harnesses check that nothing leaks and that no
   input makes the library ask for more than the budget at once. */
typedef struct fz_heap {
    long live, n_alloc, fail_at;
    size_t budget, max_size;
} fz_heap;
static inline void *fz_alloc(size_t size, void *user) {
    fz_heap *h = (fz_heap *)user;
    void *p;
    h->n_alloc++;
    if (h->fail_at && h->n_alloc == h->fail_at) return NULL;
    if (size > h->max_size) h->max_size = size;
    if (h->budget && size > h->budget) return NULL;
    p = malloc(size ? size : 1);
    if (p) h->live++;
    return p;
}
static inline void fz_free(void *p, void *user) {
    fz_heap *h = (fz_heap *)user;
    if (!p) return;
    h->live--;
    free(p);
}
static inline llm_allocator fz_allocator(fz_heap *h) {
    llm_allocator a;
    a.alloc = fz_alloc;
    a.free = fz_free;
    a.user = h;
    return a;
}

#ifndef LLM_FUZZER
static int fz_replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "cannot read %s\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

/* Replays each file, and each file of each directory, given on the command line. */
int main(int argc, char **argv) {
    int i, bad = 0, n = 0;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d)) != NULL) {
                char p[4096];
                struct stat fs;
                snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
                if (stat(p, &fs) == 0 && S_ISREG(fs.st_mode)) {
                    bad |= fz_replay_file(p);
                    n++;
                }
            }
            if (d) closedir(d);
        } else {
            bad |= fz_replay_file(argv[i]);
            n++;
        }
    }
    printf("%s: %d inputs replayed\n", argv[0], n);
    return bad;
}
#endif
#endif
