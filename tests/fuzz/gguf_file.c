/* Fuzzes the GGUF loader's file path (mapped and read) through a temporary file. */
#include "fuzz.h"
#include <unistd.h>

static char fz_path[256];

static void fz_cleanup(void) {
    if (fz_path[0]) unlink(fz_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f;
    int no_mmap;
    if (!fz_path[0]) {
        const char *dir = getenv("TMPDIR");
        int fd;
        snprintf(fz_path, sizeof fz_path, "%s/llm-fuzz-XXXXXX", dir ? dir : "/tmp");
        fd = mkstemp(fz_path);
        FZ_CHECK(fd >= 0, "mkstemp %s", fz_path);
        close(fd);
        atexit(fz_cleanup);
    }
    f = fopen(fz_path, "wb");
    FZ_CHECK(f != NULL, "cannot write %s", fz_path);
    if (size) FZ_CHECK(fwrite(data, 1, size, f) == size, "short write");
    fclose(f);
    for (no_mmap = 0; no_mmap < 2; no_mmap++) {
        fz_heap h;
        llm_model_params p;
        llm_model *m;
        char err[256];
        memset(&h, 0, sizeof h);
        h.budget = (size_t)64 << 20;
        memset(&p, 0, sizeof p);
        p.allocator = fz_allocator(&h);
        p.no_mmap = no_mmap;
        p.vocab_only = (int)(size & 1);
        err[0] = 0;
        m = llm_model_load(fz_path, &p, err, sizeof err);
        if (m) {
            FZ_CHECK(llm_model_tensor_count(m) >= 0, "tensor count");
            (void)llm_model_n_vocab(m);
        } else FZ_CHECK(err[0] != 0, "refused without a message");
        llm_model_free(m);
        FZ_CHECK(h.live == 0, "%ld allocations leaked", h.live);
    }
    return 0;
}
