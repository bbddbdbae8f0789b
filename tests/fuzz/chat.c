/* Fuzzes chat template rendering: the input is NUL-separated fields: the template (a name
   or template text), then role and content pairs; the first byte's low bit asks for the
   generation prompt. The length agrees between asking and writing, a short buffer gets a
   NUL, and the template name lookup agrees with formatting. */
#include "fuzz.h"

#define FZ_MAX_MSG 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy, *p, *end, *fields[1 + 2 * FZ_MAX_MSG];
    llm_chat_message msgs[FZ_MAX_MSG];
    int nf = 0, n, i, agp, len, len2;
    char small[16], *buf;
    if (size < 1) return 0;
    agp = data[0] & 1;
    copy = (char *)malloc(size + 1);
    FZ_CHECK(copy != NULL, "malloc");
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    p = copy;
    end = copy + size - 1;
    while (nf < 1 + 2 * FZ_MAX_MSG) {
        fields[nf++] = p;
        p += strlen(p);
        if (p >= end) break;
        p++;
    }
    n = (nf - 1) / 2;
    for (i = 0; i < n; i++) {
        msgs[i].role = fields[1 + 2 * i];
        msgs[i].content = fields[2 + 2 * i];
    }
    /* a known name picked by the second bit, else the first field as the template */
    len = llm_chat_format(NULL, fields[0], msgs, n, agp, small, (int)sizeof small);
    if (len >= 0) {
        FZ_CHECK(llm_chat_template_name(NULL, fields[0]) != NULL, "formatted with an unrecognised template");
        FZ_CHECK(memchr(small, 0, sizeof small) != NULL, "short buffer not NUL-terminated");
        buf = (char *)malloc((size_t)len + 1);
        FZ_CHECK(buf != NULL, "malloc");
        len2 = llm_chat_format(NULL, fields[0], msgs, n, agp, buf, len + 1);
        FZ_CHECK(len2 == len, "length %d, then %d", len, len2);
        FZ_CHECK(buf[len] == 0, "not NUL-terminated");
        free(buf);
    }
    free(copy);
    return 0;
}
