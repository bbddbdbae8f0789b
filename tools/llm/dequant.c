/* llm dequant: a tensor, or every tensor, dequantized to float32. */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char dequant_usage[] =
    "usage: llm dequant MODEL [TENSOR] [-o FILE] [--sha256]\n"
    "\n"
    "Dequantizes TENSOR (or every tensor, in file order) to float32.\n"
    "  -o FILE    write the floats as raw little-endian float32 (\"-\" for stdout)\n"
    "  --sha256   print name<TAB>type<TAB>ne0,ne1,...<TAB>sha256 of the floats, one line per tensor\n"
    "             (ggml's lower-case type names; the refs/quants *.dequant.tsv columns)\n";

int cmd_dequant(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, dequant_usage);
    const char *s, *model_path = NULL, *tensor = NULL, *out_path = NULL;
    int sha = 0, i, i0, i1, d, rc;
    llm_model *m;
    FILE *out = NULL;

    while (cli_next(&a)) {
        if (cli_value(&a, "-o", "--output", &s)) out_path = s;
        else if (cli_flag(&a, NULL, "--sha256")) sha = 1;
        else if (cli_positional(&a, &s)) {
            if (!model_path) model_path = s;
            else if (!tensor) tensor = s;
            else cli_usage_error(&a, "unexpected argument '%s'", s);
        } else cli_unknown(&a);
    }
    if (!model_path) cli_usage_error(&a, "a model is needed");
    if (!sha && !out_path) cli_usage_error(&a, "give -o FILE, --sha256 or both");
    if (out_path) {
        out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "wb");
        if (!out) cli_fail("cannot create '%s': %s", out_path, strerror(errno));
    }
    m = cli_load_model(model_path, 0);
    i0 = 0;
    i1 = llm_model_tensor_count(m);
    if (tensor) {
        i0 = llm_model_tensor_find(m, tensor);
        if (i0 < 0) cli_fail("no tensor '%s' in %s", tensor, model_path);
        i1 = i0 + 1;
    }
    for (i = i0; i < i1; i++) {
        llm_tensor_info ti;
        int64_t rows, r, chunk;
        float *buf;
        cli_sha256 h;
        char hex[65];
        llm_model_tensor_info(m, i, &ti);
        rows = ti.ne[1] * ti.ne[2] * ti.ne[3];
        chunk = rows < 64 ? rows : 64;
        buf = (float *)cli_alloc((size_t)chunk * (size_t)ti.ne[0] * sizeof(float));
        cli_sha256_init(&h);
        for (r = 0; r < rows; r += chunk) {
            int64_t n = rows - r < chunk ? rows - r : chunk;
            size_t bytes = (size_t)n * (size_t)ti.ne[0] * sizeof(float);
            rc = llm_model_tensor_dequantize(m, i, r, n, buf);
            if (rc != LLM_OK) cli_fail("tensor '%s' (%s): %s", ti.name, llm_type_name(ti.type), llm_result_string(rc));
            /* float32 in memory is little-endian on every machine llm.h supports */
            cli_sha256_update(&h, buf, bytes);
            if (out && fwrite(buf, 1, bytes, out) != bytes) cli_fail("cannot write '%s': %s", out_path, strerror(errno));
        }
        free(buf);
        if (sha) {
            cli_sha256_hex(&h, hex);
            printf("%s\t%s\t", ti.name, llm_type_name(ti.type));
            for (d = 0; d < ti.n_dims; d++) printf(d ? ",%lld" : "%lld", (long long)ti.ne[d]);
            printf("\t%s\n", hex);
        }
    }
    if (out && (out == stdout ? fflush(out) != 0 : fclose(out) != 0)) cli_fail("cannot write '%s': %s", out_path, strerror(errno));
    if (fflush(stdout) != 0) cli_fail("cannot write the output");
    llm_model_free(m);
    return 0;
}
