/* A tiny JSON reader for the reference files: finds keys, reads numbers, strings and
   arrays of numbers. Not a validator; the files are ours to trust in tests. */

static const char *tj_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* Returns the end of the value starting at p (strings, numbers, literals, arrays, objects). */
static const char *tj_skip(const char *p) {
    p = tj_ws(p);
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1]) p++;
        return *p ? p + 1 : p;
    }
    if (*p == '[' || *p == '{') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                p = tj_skip(p) - 1;
                continue;
            }
            if (*p == '[' || *p == '{') depth++;
            if (*p == ']' || *p == '}') {
                if (--depth == 0) return p + 1;
            }
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']') p++;
    return p;
}

/* The value of key in the object starting at obj (its direct members only), or NULL. */
static const char *tj_get(const char *obj, const char *key) {
    const char *p = tj_ws(obj);
    size_t kl = strlen(key);
    if (*p != '{') return NULL;
    p++;
    for (;;) {
        const char *k;
        p = tj_ws(p);
        if (*p != '"') return NULL;
        k = p + 1;
        p = tj_skip(p);
        p = tj_ws(p);
        if (*p != ':') return NULL;
        p = tj_ws(p + 1);
        if ((size_t)(p - k) >= kl + 2 && strncmp(k, key, kl) == 0 && k[kl] == '"') return p;
        p = tj_ws(tj_skip(p));
        if (*p != ',') return NULL;
        p++;
    }
}

static double tj_num(const char *v) { return v ? strtod(v, NULL) : 0.0; }

static unsigned tj_hex4(const char *v) {
    char h[5];
    memcpy(h, v, 4);
    h[4] = 0;
    return (unsigned)strtoul(h, NULL, 16);
}

/* Copies a string value (without unescaping beyond \" \\ \n \t and \uXXXX as UTF-8). */
static int tj_str(const char *v, char *out, size_t size) {
    size_t n = 0;
    if (!v || *v != '"') return 0;
    for (v++; *v && *v != '"' && n + 4 < size; v++) {
        if (*v == '\\') {
            v++;
            if (*v == 'n') out[n++] = '\n';
            else if (*v == 't') out[n++] = '\t';
            else if (*v == 'u') {
                unsigned cp = tj_hex4(v + 1);
                v += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && v[1] == '\\' && v[2] == 'u') {
                    unsigned lo = tj_hex4(v + 3);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    v += 6;
                }
                if (cp < 0x80) out[n++] = (char)cp;
                else if (cp < 0x800) { out[n++] = (char)(0xC0 | cp >> 6); out[n++] = (char)(0x80 | (cp & 63)); }
                else if (cp < 0x10000) { out[n++] = (char)(0xE0 | cp >> 12); out[n++] = (char)(0x80 | (cp >> 6 & 63)); out[n++] = (char)(0x80 | (cp & 63)); }
                else { out[n++] = (char)(0xF0 | cp >> 18); out[n++] = (char)(0x80 | (cp >> 12 & 63)); out[n++] = (char)(0x80 | (cp >> 6 & 63)); out[n++] = (char)(0x80 | (cp & 63)); }
            } else out[n++] = *v;
        } else out[n++] = *v;
    }
    out[n] = 0;
    return 1;
}

/* Reads an array of integers; returns the count (at most max stored). */
static int tj_ints(const char *v, int *out, int max) {
    int n = 0;
    if (!v || *v != '[') return 0;
    v++;
    for (;;) {
        char *end;
        long x;
        v = tj_ws(v);
        if (*v == ']' || !*v) break;
        x = strtol(v, &end, 10);
        if (end == v) break;
        if (n < max) out[n] = (int)x;
        n++;
        v = tj_ws(end);
        if (*v == ',') v++;
    }
    return n;
}

/* Element i of an array value, or NULL. */
static const char *tj_at(const char *v, int i) {
    if (!v || *v != '[') return NULL;
    v = tj_ws(v + 1);
    while (i-- > 0) {
        v = tj_ws(tj_skip(v));
        if (*v != ',') return NULL;
        v = tj_ws(v + 1);
    }
    return *v == ']' ? NULL : v;
}
