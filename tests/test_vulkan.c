/* llm_vulkan.h on lavapipe (Mesa's CPU Vulkan driver, "llvmpipe"), held to our own CPU result
   (DESIGN.md §6, the Vulkan paragraph): every weight tensor's mat-vec within 2e-6 max|y|, the
   prompt batches' tiled mat-mul of every type within 2e-6 of the CPU and of the mat-vec, the
   teacher-forced logits of stories260K and the refs/quants models of the offloaded types with
   no, part and all layers offloaded within the table's bounds for the weight class, greedy ids
   equal; the CPU result when there is no loader or no driver, when the self-test refuses a
   spoiled pipeline and after a lost device. The instance runs with the Khronos validation
   layer; any error it reports fails the test. Skips, visibly, where Vulkan is absent. */

#if defined(__has_include)
#if __has_include(<vulkan/vulkan_core.h>)
#define T_VK_HAVE_HEADER 1
#include <vulkan/vulkan_core.h>
#endif
#endif

#if defined(_WIN32)
static void t_setenv(const char *k, const char *v) { _putenv_s(k, v ? v : ""); }
#else
static void t_setenv(const char *k, const char *v) {
    if (v) setenv(k, v, 1);
    else unsetenv(k);
}
#endif

/* An environment variable as it was (t_env_restore puts it back, or unsets it). */
typedef struct t_env_saved {
    char name[64], value[256];
    int set;
} t_env_saved;

static t_env_saved t_env_save(const char *name) {
    t_env_saved e;
    const char *v = getenv(name);
    snprintf(e.name, sizeof e.name, "%s", name);
    snprintf(e.value, sizeof e.value, "%s", v ? v : "");
    e.set = v != NULL;
    return e;
}

static void t_env_restore(const t_env_saved *e) { t_setenv(e->name, e->set ? e->value : NULL); }

/* Under AddressSanitizer: lavapipe (its LLVM) keeps a one-time allocation for the life of the
   process, which LeakSanitizer reports once the driver is unloaded. The driver is kept loaded
   (so the report names it) and that report suppressed; our own allocations stay checked. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_VK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define T_VK_ASAN 1
#endif
#if defined(T_VK_ASAN) && !defined(_WIN32)
#include <dlfcn.h>
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libvulkan_lvp.so\n"; }
static void t_vk_pin_driver(void) {
    if (!dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE)) printf("       (libvulkan_lvp.so not pinned)\n");
}
#else
static void t_vk_pin_driver(void) {}
#endif

static llm_vk *t_vk;         /* lavapipe, opened once */
static char t_vk_why[512];   /* why there is none */
static int t_vk_tried;

static void t_vk_log(int level, const char *msg, void *user) {
    (void)user;
    if (level <= LLM_LOG_WARN && getenv("T_VK_VERBOSE")) printf("       [vk] %s\n", msg);
}

/* The shared lavapipe device with validation, or NULL after marking the test skipped. */
static llm_vk *t_vk_get(void) {
    if (!t_vk_tried) {
        llm_vk_params p;
        memset(&p, 0, sizeof p);
        p.device_name = "llvmpipe";
        p.validation = 1;
        p.log = t_vk_log;
        t_vk_tried = 1;
        t_vk_pin_driver();
        t_vk = llm_vk_new(&p, t_vk_why, sizeof t_vk_why);
    }
    if (t_vk && t_vk_tried == 1) {
        t_vk_tried = 2;
        if (!t_vk->messenger) printf("       note: the Khronos validation layer is not installed (apt-get install vulkan-validationlayers): "
                                     "validation errors are not checked\n");
    }
    if (!t_vk) {
        printf("  %s skipped: no lavapipe device: %s (apt-get install mesa-vulkan-drivers)\n", t_name, t_vk_why);
        t_skipped_now = 1;
    }
    return t_vk;
}

/* lavapipe with the mat-vec tier `tier` forced (*owned: a device of its own, to free), the
   shared device when that is its tier, or NULL after printing why lavapipe lacks the tier. */
static llm_vk *t_vk_tier(int tier, int *owned) {
    llm_vk *vk = t_vk_get();
    llm_vk_device_info info;
    llm_vk_params p;
    const char *lacks;
    char err[512];
    *owned = 0;
    if (!vk || vk->tier == tier) return vk;
    llm_vk_info(vk, &info);
    if (llm__vk_best_tier(&info, tier, &lacks) < tier) {
        printf("       tier %s skipped: %s lacks %s\n", llm_vk_tier_name(tier), info.name, lacks);
        return NULL;
    }
    memset(&p, 0, sizeof p);
    p.device_name = "llvmpipe";
    p.validation = 1;
    p.log = t_vk_log;
    p.tier = tier;
    vk = llm_vk_new(&p, err, sizeof err);
    T_CHECK(vk && vk->tier == tier, "tier %s: %s", llm_vk_tier_name(tier), vk ? llm_vk_tier_name(vk->tier) : err);
    if (vk && vk->tier != tier) {
        llm_vk_free(vk);
        vk = NULL;
    }
    *owned = vk != NULL;
    return vk;
}

/* Our own declarations against the Vulkan header's, where it is installed. */
static void test_vulkan_decls(void) {
#ifdef T_VK_HAVE_HEADER
#define T_VK_SAME(ours, theirs, field) \
    T_CHECK(offsetof(ours, field) == offsetof(theirs, field), #theirs "." #field ": offset %zu, header %zu", offsetof(ours, field), offsetof(theirs, field))
#define T_VK_SIZE(ours, theirs) T_CHECK(sizeof(ours) == sizeof(theirs), #theirs ": size %zu, header %zu", sizeof(ours), sizeof(theirs))
    T_VK_SIZE(llm__VkApplicationInfo, VkApplicationInfo);
    T_VK_SIZE(llm__VkInstanceCreateInfo, VkInstanceCreateInfo);
    T_VK_SIZE(llm__VkLayerProperties, VkLayerProperties);
    T_VK_SIZE(llm__VkDebugUtilsMessengerCreateInfo, VkDebugUtilsMessengerCreateInfoEXT);
    T_VK_SAME(llm__VkDebugUtilsMessengerCallbackData, VkDebugUtilsMessengerCallbackDataEXT, pMessage);
    T_VK_SIZE(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, maxStorageBufferRange);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, maxComputeSharedMemorySize);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, maxComputeWorkGroupCount);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, maxComputeWorkGroupInvocations);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, minStorageBufferOffsetAlignment);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, timestampPeriod);
    T_VK_SAME(llm__VkPhysicalDeviceLimits, VkPhysicalDeviceLimits, nonCoherentAtomSize);
    T_VK_SIZE(llm__VkPhysicalDeviceProperties, VkPhysicalDeviceProperties);
    T_VK_SAME(llm__VkPhysicalDeviceProperties, VkPhysicalDeviceProperties, limits);
    T_VK_SIZE(llm__VkPhysicalDeviceMemoryProperties, VkPhysicalDeviceMemoryProperties);
    T_VK_SAME(llm__VkPhysicalDeviceMemoryProperties, VkPhysicalDeviceMemoryProperties, memoryHeaps);
    T_VK_SIZE(llm__VkQueueFamilyProperties, VkQueueFamilyProperties);
    T_VK_SIZE(llm__VkPhysicalDeviceFeatures2, VkPhysicalDeviceFeatures2);
    T_VK_SIZE(llm__VkPhysicalDeviceProperties2, VkPhysicalDeviceProperties2);
    T_VK_SIZE(llm__VkPhysicalDevice16BitStorageFeatures, VkPhysicalDevice16BitStorageFeatures);
    T_VK_SIZE(llm__VkPhysicalDevice8BitStorageFeatures, VkPhysicalDevice8BitStorageFeatures);
    T_VK_SIZE(llm__VkPhysicalDeviceShaderIntegerDotProductFeatures, VkPhysicalDeviceShaderIntegerDotProductFeatures);
    T_VK_SIZE(llm__VkPhysicalDeviceSubgroupProperties, VkPhysicalDeviceSubgroupProperties);
    T_VK_SAME(llm__VkPhysicalDeviceSubgroupProperties, VkPhysicalDeviceSubgroupProperties, supportedOperations);
    T_CHECK((int)LLM__VK_ST_INTEGER_DOT_PRODUCT_FEATURES == (int)VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES, "sType");
    T_CHECK((int)LLM__VK_ST_8BIT_STORAGE_FEATURES == (int)VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES, "sType");
    T_VK_SIZE(llm__VkDeviceQueueCreateInfo, VkDeviceQueueCreateInfo);
    T_VK_SIZE(llm__VkDeviceCreateInfo, VkDeviceCreateInfo);
    T_VK_SIZE(llm__VkBufferCreateInfo, VkBufferCreateInfo);
    T_VK_SIZE(llm__VkMemoryRequirements, VkMemoryRequirements);
    T_VK_SIZE(llm__VkMemoryAllocateInfo, VkMemoryAllocateInfo);
    T_VK_SIZE(llm__VkShaderModuleCreateInfo, VkShaderModuleCreateInfo);
    T_VK_SIZE(llm__VkDescriptorSetLayoutBinding, VkDescriptorSetLayoutBinding);
    T_VK_SIZE(llm__VkDescriptorSetLayoutCreateInfo, VkDescriptorSetLayoutCreateInfo);
    T_VK_SIZE(llm__VkPipelineLayoutCreateInfo, VkPipelineLayoutCreateInfo);
    T_VK_SIZE(llm__VkSpecializationMapEntry, VkSpecializationMapEntry);
    T_VK_SIZE(llm__VkSpecializationInfo, VkSpecializationInfo);
    T_VK_SIZE(llm__VkPipelineShaderStageCreateInfo, VkPipelineShaderStageCreateInfo);
    T_VK_SIZE(llm__VkComputePipelineCreateInfo, VkComputePipelineCreateInfo);
    T_VK_SAME(llm__VkComputePipelineCreateInfo, VkComputePipelineCreateInfo, layout);
    T_VK_SIZE(llm__VkDescriptorPoolCreateInfo, VkDescriptorPoolCreateInfo);
    T_VK_SIZE(llm__VkDescriptorSetAllocateInfo, VkDescriptorSetAllocateInfo);
    T_VK_SIZE(llm__VkDescriptorBufferInfo, VkDescriptorBufferInfo);
    T_VK_SIZE(llm__VkWriteDescriptorSet, VkWriteDescriptorSet);
    T_VK_SAME(llm__VkWriteDescriptorSet, VkWriteDescriptorSet, pBufferInfo);
    T_VK_SIZE(llm__VkCommandPoolCreateInfo, VkCommandPoolCreateInfo);
    T_VK_SIZE(llm__VkCommandBufferAllocateInfo, VkCommandBufferAllocateInfo);
    T_VK_SIZE(llm__VkCommandBufferBeginInfo, VkCommandBufferBeginInfo);
    T_VK_SIZE(llm__VkMemoryBarrier, VkMemoryBarrier);
    T_VK_SIZE(llm__VkBufferCopy, VkBufferCopy);
    T_VK_SIZE(llm__VkSubmitInfo, VkSubmitInfo);
    T_VK_SIZE(llm__VkFenceCreateInfo, VkFenceCreateInfo);
    T_CHECK((int)LLM__VK_ST_DEBUG_UTILS_MESSENGER_CREATE_INFO == (int)VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT, "sType");
    T_CHECK((int)LLM__VK_ST_MEMORY_BARRIER == (int)VK_STRUCTURE_TYPE_MEMORY_BARRIER, "sType");
    T_CHECK((int)LLM__VK_ST_WRITE_DESCRIPTOR_SET == (int)VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, "sType");
#undef T_VK_SAME
#undef T_VK_SIZE
#else
    T_SKIP("<vulkan/vulkan_core.h> is not installed (apt-get install libvulkan-dev)");
#endif
}

/* The debug messenger counts what the validation layer reports: a buffer made with no usage
   (invalid usage, harmless to the driver) must count as an error. */
static void test_vulkan_messenger(void) {
    llm_vk *vk = t_vk_get();
    llm__VkBufferCreateInfo bi;
    llm__VkHandle buf = 0;
    int before;
    if (!vk) return;
    if (!vk->messenger) T_SKIP("the validation layer is not installed");
    before = llm_vk_validation_errors(vk);
    memset(&bi, 0, sizeof bi);
    bi.sType = LLM__VK_ST_BUFFER_CREATE_INFO;
    bi.size = 16;
    bi.usage = 0;
    if (vk->f.vkCreateBuffer(vk->dev, &bi, NULL, &buf) == LLM__VK_SUCCESS && buf) vk->f.vkDestroyBuffer(vk->dev, buf, NULL);
    T_CHECK(llm_vk_validation_errors(vk) > before, "the messenger saw no error for a buffer without usage");
    vk->n_validation_errors = before; /* the other tests count from here */
}

/* A model loaded with gpu_layers on vk (NULL vk: CPU only). */
static llm_model *t_vk_model(const char *path, llm_vk *vk, int gpu_layers) {
    llm_model_params mp = llm_model_default_params();
    char err[256];
    llm_model *m;
    mp.backend = vk ? llm_vk_backend(vk) : NULL;
    mp.gpu_layers = gpu_layers;
    mp.log = t_vk_log;
    m = llm_model_load(path, &mp, err, sizeof err);
    T_CHECK(m != NULL, "load %s: %s", path, err);
    return m;
}

/* Every row of ids: all but the last four in one batch, then one token at a time (the device
   cache across calls), with a kv_type cache. Caller frees. */
static float *t_vk_decode_kv(llm_model *m, const int *ids, int n, int split, llm_kv_type kv_type) {
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    char err[256];
    int nv = llm_model_n_vocab(m), i, r = LLM_OK, k = split && n > 4 ? n - 4 : n;
    float *out = (float *)malloc((size_t)n * nv * sizeof(float));
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_outputs = n;
    cp.n_threads = 1;
    cp.kv_type = kv_type;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_CHECK(c != NULL, "context: %s", err);
    if (!c) {
        free(out);
        return NULL;
    }
    if (m->backend_state) { /* the device keeps this cache: F16 in half the bytes, Q8_0 in 36 per 32 values */
        llm__vk_ctx *vc = (llm__vk_ctx *)c->backend_ctx;
        uint64_t want = (uint64_t)n * (kv_type == LLM_KV_Q8_0 ? (uint64_t)m->n_kv / 32 * 36 : (uint64_t)m->n_kv * (kv_type == LLM_KV_F16 ? 2 : 4));
        T_CHECK(vc && vc->kc[0].size == want && vc->vc[0].size == want, "device KV buffers: %llu bytes, want %llu",
                vc ? (unsigned long long)vc->kc[0].size : 0ull, (unsigned long long)want);
    }
    r = llm_decode(c, (const llm_token *)ids, k, LLM_DECODE_ALL_LOGITS);
    T_CHECK(r == LLM_OK, "decode: %s", llm_context_error(c));
    if (c->backend_ctx) { /* a batch of LLM__VK_MATMUL_MIN_COLS or more goes through the mat-mul (unless switched off) */
        llm__vk_ctx *vc = (llm__vk_ctx *)c->backend_ctx;
        int want = llm__vk_use_matmul(vc->vm->vk, (uint32_t)k);
        T_CHECK((vc->n_matmul > 0) == want, "a batch of %d: %d products through the mat-mul, expected %s", k, vc->n_matmul, want ? "some" : "none");
    }
    for (i = 0; r == LLM_OK && i < k; i++) memcpy(out + (size_t)i * nv, llm_logits(c, i), (size_t)nv * 4);
    for (i = k; r == LLM_OK && i < n; i++) {
        r = llm_decode(c, (const llm_token *)ids + i, 1, 0);
        T_CHECK(r == LLM_OK, "decode %d: %s", i, llm_context_error(c));
        if (r == LLM_OK) memcpy(out + (size_t)i * nv, llm_logits(c, -1), (size_t)nv * 4);
    }
    llm_context_free(c);
    if (r != LLM_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static float *t_vk_decode(llm_model *m, const int *ids, int n, int split) { return t_vk_decode_kv(m, ids, n, split, LLM_KV_F32); }

/* One case: CPU logits, then no, half and all layers offloaded (only all when !modes), each
   within b of the CPU, over the first `rows` positions. */
static void t_vk_case_on(llm_vk *vk, const char *dir, const char *name, const t_bounds *b, int modes, int rows) {
    t_ref r;
    const char *path;
    char rel[300];
    llm_model *cpu;
    float *want;
    int mode, n_layer;
    if (!vk || !t_ref_load(dir, name, &r)) return;
    if (r.n_seq > rows) r.n_seq = r.rows = rows; /* lavapipe is slow: the prompt and the first greedy ids */
    snprintf(rel, sizeof rel, "%s", r.model);
    if (!(path = t_shared(rel))) {
        free(r.logits);
        return;
    }
    cpu = t_vk_model(path, NULL, 0);
    want = cpu ? t_vk_decode(cpu, r.seq, r.n_seq, 0) : NULL;
    n_layer = cpu ? llm_model_n_layer(cpu) : 0;
    free(r.logits);
    r.logits = want; /* the reference is our CPU result */
    for (mode = modes ? 0 : 2; want && mode < 3; mode++) {
        int ngl = mode == 0 ? 0 : mode == 1 ? (n_layer + 1) / 2 : n_layer;
        llm_model *m = t_vk_model(path, vk, ngl);
        float *got = m ? t_vk_decode(m, r.seq, r.n_seq, 1) : NULL;
        T_CHECK(!m || ngl == 0 || m->backend_state != NULL, "%s -ngl %d: the backend declined", name, ngl);
        if (got) {
            snprintf(r.name, sizeof r.name, "%s -ngl %d%s%s%s", name, ngl, vk == t_vk ? "" : " ", vk == t_vk ? "" : llm_vk_tier_name(vk->tier),
                     vk->matmul == LLM__VK_MATMUL_AUTO ? "" : vk->matmul == LLM__VK_MATMUL_OFF ? " mat-vec only" : " mat-mul only");
            t_check_logits(&r, got, b);
            if (ngl == 0) T_CHECK(memcmp(got, want, (size_t)r.rows * r.n_vocab * 4) == 0, "%s: -ngl 0 is not the CPU result", name);
        }
        free(got);
        llm_model_free(m);
    }
    free(want);
    llm_model_free(cpu);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "%d validation errors", llm_vk_validation_errors(vk));
}

static void t_vk_case(const char *dir, const char *name, const t_bounds *b, int modes, int rows) {
    t_vk_case_on(t_vk_get(), dir, name, b, modes, rows);
}

static void test_vulkan_logits(void) {
    static const struct {
        const char *dir, *name;
        const t_bounds *b;
        int modes; /* 1: no, half and all layers; 0: all only (the types after the first tier) */
    } cases[] = {
        {"real", "stories260K.0", &t_bounds_f32, 1},        {"quants", "synth-q-F32.0", &t_bounds_f32, 1},
        {"quants", "synth-q-F16.0", &t_bounds_f16, 1},      {"quants", "synth-q-Q8_0.0", &t_bounds_q8_0, 1},
        {"quants", "synth-q-Q4_0.0", &t_bounds_q32, 1},     {"quants", "synth-q-Q4_K-pure.0", &t_bounds_kquant, 1},
        {"quants", "synth-q-Q4_K_M.0", &t_bounds_kquant, 1}, {"quants", "synth-q-Q6_K.0", &t_bounds_kquant, 1},
        {"quants", "synth-q-BF16.0", &t_bounds_bf16, 0},    {"quants", "synth-q-Q4_1.0", &t_bounds_q32, 0},
        {"quants", "synth-q-Q5_0.0", &t_bounds_q32, 0},     {"quants", "synth-q-Q5_1.0", &t_bounds_q32, 0},
        {"quants", "synth-q-IQ4_NL.0", &t_bounds_q32, 0},   {"quants", "synth-q-Q2_K.0", &t_bounds_kquant, 0},
        {"quants", "synth-q-Q3_K_M.0", &t_bounds_kquant, 0}, {"quants", "synth-q-Q5_K_M.0", &t_bounds_kquant, 0},
        {"quants", "synth-q-IQ4_XS.0", &t_bounds_kquant, 0}, {"quants", "synth-q-TQ1_0.0", &t_bounds_kquant, 0},
        {"quants", "synth-q-TQ2_0.0", &t_bounds_kquant, 0},
        /* the architectures whose layers the device runs: biases, QK-norm, fused projections,
           the query scale, llama3's rope factors, tied output */
        {"arch", "qwen2-F32.0", &t_bounds_f32, 1},         {"arch", "qwen3-F32.0", &t_bounds_f32, 1},
        {"arch", "phi3-F32.0", &t_bounds_f32, 1},          {"arch", "llama-rope3-F32.0", &t_bounds_f32, 1},
        {"arch", "phi3-longrope-F32.0", &t_bounds_f32, 1},
        /* experts: the router, top-k and weights (moe.comp), expert columns in the mat-vec */
        {"arch", "llama-moe-F32.0", &t_bounds_f32, 1},      {"arch", "qwen3moe-F32.0", &t_bounds_f32, 1},
        {"arch", "llama-moe-Q8_0.0", &t_bounds_q8_0, 0},    {"arch", "qwen3moe-Q8_0.0", &t_bounds_q8_0, 0},
        {"arch", "llama-tied-F32.0", &t_bounds_f32, 0},    {"arch", "qwen2-Q8_0.0", &t_bounds_q8_0, 0},
        {"arch", "qwen3-Q8_0.0", &t_bounds_q8_0, 0},       {"arch", "phi3-Q8_0.0", &t_bounds_q8_0, 0},
        /* the gemma family: GeGLU through the F16 table, post-norms, soft-caps, sliding windows */
        {"arch", "gemma-F32.0", &t_bounds_gemma_f32, 1},    {"arch", "gemma2-F32.0", &t_bounds_gemma_f32, 1},
        {"arch", "gemma3-F32.0", &t_bounds_gemma_f32, 1},   {"arch", "gemma2-Q8_0.0", &t_bounds_q8_0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        t_vk_case(cases[i].dir, cases[i].name, cases[i].b, cases[i].modes, cases[i].modes ? 20 : 16);
}

/* Free-running greedy ids: the prompt of refs/<dir>/<name>, then n_gen tokens each the argmax
   of the last logits, one token per decode; the CPU's ids, and the device's with part and all
   layers offloaded, are equal. */
static int t_vk_greedy_run(llm_model *m, const t_ref *r, int n_gen, int *out) {
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    int i, tok, nv = llm_model_n_vocab(m), ok;
    cp.n_ctx = r->n_tokens + n_gen;
    cp.n_threads = 1;
    cp.kv_type = LLM_KV_F32;
    if (!(c = llm_context_new(m, &cp, NULL, 0))) return 0;
    ok = llm_decode(c, (const llm_token *)r->tokens, r->n_tokens, 0) == LLM_OK;
    for (i = 0; ok && i < n_gen; i++) {
        const float *l = llm_logits(c, -1);
        int j;
        for (tok = 0, j = 1; j < nv; j++)
            if (l[j] > l[tok]) tok = j;
        out[i] = tok;
        ok = llm_decode(c, (const llm_token *)&tok, 1, 0) == LLM_OK;
    }
    llm_context_free(c);
    return ok;
}

static void t_vk_greedy_case(const char *dir, const char *name, int n_gen) {
    llm_vk *vk = t_vk_get();
    t_ref r;
    const char *path;
    llm_model *cpu;
    int want[64], got[64], ngl, n_layer;
    if (!vk || !t_ref_load(dir, name, &r)) return;
    free(r.logits);
    if (!(path = t_shared(r.model))) return;
    cpu = t_vk_model(path, NULL, 0);
    T_REQUIRE(cpu && t_vk_greedy_run(cpu, &r, n_gen, want), "%s: CPU greedy run", name);
    n_layer = llm_model_n_layer(cpu);
    for (ngl = (n_layer + 1) / 2; ngl <= n_layer; ngl += n_layer - (n_layer + 1) / 2 > 0 ? n_layer - (n_layer + 1) / 2 : 1) {
        llm_model *m = t_vk_model(path, vk, ngl);
        int i, same = 0;
        T_CHECK(m && m->backend_state, "%s -ngl %d: not offloaded", name, ngl);
        if (m && t_vk_greedy_run(m, &r, n_gen, got))
            while (same < n_gen && got[same] == want[same]) same++;
        T_CHECK(same == n_gen, "%s -ngl %d: greedy ids differ from the CPU's at %d of %d", name, ngl, same, n_gen);
        printf("       %-28s -ngl %d  %d greedy ids equal:", name, ngl, same);
        for (i = 0; i < 8 && i < same; i++) printf(" %d", got[i]);
        printf(" ...\n");
        llm_model_free(m);
    }
    llm_model_free(cpu);
}

static void test_vulkan_greedy(void) {
    static const char *quants[] = {"synth-q-F32.0", "synth-q-F16.0", "synth-q-Q8_0.0", "synth-q-Q4_0.0", "synth-q-Q4_K_M.0", "synth-q-Q6_K.0"};
    size_t i;
    t_vk_greedy_case("real", "stories260K.0", 32);
    for (i = 0; i < sizeof quants / sizeof quants[0]; i++) t_vk_greedy_case("quants", quants[i], 12);
    T_CHECK(!t_vk || llm_vk_validation_errors(t_vk) == 0, "%d validation errors", t_vk ? llm_vk_validation_errors(t_vk) : 0);
}

/* The device's F16 KV cache against the CPU's, all layers offloaded, over the first `rows`
   positions: rope and copy pack the halves, attention reads them (GQA, neox, QK-norm, soft-caps,
   sliding windows). F16's bounds: a softmax weight within float rounding of a half's midpoint
   may round the other way (the device's exp and sums are not the CPU's to the last bit). */
static void t_vk_kv_case(const char *dir, const char *name, llm_kv_type kv_type, const t_bounds *b, int rows) {
    llm_vk *vk = t_vk_get();
    t_ref r;
    const char *path;
    char rel[300];
    llm_model *cpu, *gpu;
    float *want, *got;
    if (!vk || !t_ref_load(dir, name, &r)) return;
    if (r.n_seq > rows) r.n_seq = r.rows = rows;
    snprintf(rel, sizeof rel, "%s", r.model);
    free(r.logits);
    if (!(path = t_shared(rel))) return;
    cpu = t_vk_model(path, NULL, 0);
    gpu = t_vk_model(path, vk, 99);
    want = cpu ? t_vk_decode_kv(cpu, r.seq, r.n_seq, 0, kv_type) : NULL;
    got = gpu ? t_vk_decode_kv(gpu, r.seq, r.n_seq, 1, kv_type) : NULL;
    T_CHECK(!gpu || gpu->backend_state != NULL, "%s: the backend declined", name);
    if (want && got) {
        r.logits = want;
        snprintf(r.name, sizeof r.name, "%s kv %s", name, kv_type == LLM_KV_F16 ? "F16" : "Q8_0");
        t_check_logits(&r, got, b);
    }
    free(want);
    free(got);
    llm_model_free(cpu);
    llm_model_free(gpu);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "%d validation errors", llm_vk_validation_errors(vk));
}

/* rope (an identity rotation) and copy writing F16 cache rows: the halves bit for bit the CPU's
   rounding (nearest even: ties, subnormals, overflow to infinity). */
static void t_vk_kv_pack(void) {
    enum { N = 256 };
    llm_vk *vk = t_vk_get();
    llm__vk_st st;
    char err[256];
    float x[N], cs[N];
    uint16_t got[2][N];
    int i, j, r;
    if (!vk) return;
    static const float special[] = {1.00048828125f, 1.00146484375f, -2.0009765625f, 65520.0f, /* ties, overflow */
                                    65519.0f,       2.98023224e-8f, 8.94069672e-8f,  6.0975552e-5f}; /* subnormals */
    for (i = 0; i < N; i++) {
        x[i] = i < 8 ? special[i] : (float)((i * 7919) % 2001 - 1000) * 0.0137f * (i % 3 ? 1.0f : 1e-5f);
        cs[i] = i % 2 ? 0.0f : 1.0f; /* cos 1, sin 0 */
    }
    memset(&st, 0, sizeof st);
    st.vk = vk;
    st.err = err;
    st.err_size = sizeof err;
    r = llm__vk_st_up(&st, 0, x, sizeof x);
    if (r == LLM_OK) r = llm__vk_st_up(&st, 1, cs, sizeof cs);
    if (r == LLM_OK) r = llm__vk_buf_new(vk, N * 2, 0, &st.b[2], err, sizeof err);
    if (r == LLM_OK) r = llm__vk_buf_new(vk, N * 2, 0, &st.b[3], err, sizeof err);
    if (r == LLM_OK) r = llm__vk_st_begin(&st);
    if (r == LLM_OK) r = llm__vk_rec_rope(vk, vk->cmd, vk->pool, &st.b[0], 0, N, &st.b[1], &st.b[2], 0, N, 4, N / 4, N / 4, 0, 1.0f, 0, 1, 1, err, sizeof err);
    if (r == LLM_OK) r = llm__vk_rec_copy(vk, vk->cmd, vk->pool, &st.b[0], 0, N, &st.b[3], 0, N, N, 1, 1, err, sizeof err);
    if (r == LLM_OK) r = llm__vk_submit(vk, vk->cmd, vk->fence, err, sizeof err);
    if (r == LLM_OK) r = llm__vk_transfer(vk, &st.b[2], 0, got[0], N * 2, 0, err, sizeof err);
    if (r == LLM_OK) r = llm__vk_transfer(vk, &st.b[3], 0, got[1], N * 2, 0, err, sizeof err);
    T_CHECK(r == LLM_OK, "F16 packing: %s", err);
    for (j = 0; r == LLM_OK && j < 2; j++)
        for (i = 0; i < N; i++)
            if (got[j][i] != llm__fp32_to_fp16(x[i])) {
                T_CHECK(0, "%s: half %d of %.9g is %04x, the CPU's %04x", j ? "copy" : "rope", i, x[i], got[j][i], llm__fp32_to_fp16(x[i]));
                break;
            }
    llm__vk_st_clear(&st);
}

static void test_vulkan_kv_f16(void) {
    t_vk_kv_pack();
    t_vk_kv_case("real", "stories260K.0", LLM_KV_F16, &t_bounds_f16, 20);
    t_vk_kv_case("arch", "qwen3-F32.0", LLM_KV_F16, &t_bounds_f16, 12);
    t_vk_kv_case("arch", "phi3-F32.0", LLM_KV_F16, &t_bounds_f16, 12);
    t_vk_kv_case("arch", "gemma2-F32.0", LLM_KV_F16, &t_bounds_f16, 12);
    t_vk_kv_case("arch", "gemma3-F32.0", LLM_KV_F16, &t_bounds_f16, 12);
}

/* RMSNorm on the device is the CPU's to the bit (the squares summed as float pairs, the mean,
   root and reciprocal rounded to nearest): 128 rows of each of several lengths, each row of
   its own magnitude. (With a plain float sum and Vulkan's sqrt and division, about one row
   in ten was an ulp off, enough to flip a Q8_0 block scale now and then.) */
static void test_vulkan_rmsnorm(void) {
    enum { ROWS = 128, NLEN = 5 };
    static const int lens[NLEN] = {64, 100, 288, 896, 2048};
    llm_vk *vk = t_vk_get();
    llm__vk_st st;
    char err[256];
    float *x, *w, *got, *want;
    uint32_t seed = 99;
    int i, k, row, r = LLM_OK;
    if (!vk) return;
    x = (float *)malloc(sizeof(float) * ROWS * 2048);
    w = (float *)malloc(sizeof(float) * 2048);
    got = (float *)malloc(sizeof(float) * ROWS * 2048);
    want = (float *)malloc(sizeof(float) * ROWS * 2048);
    T_REQUIRE(x && w && got && want, "memory");
    for (k = 0; k < NLEN && r == LLM_OK; k++) {
        int n = lens[k], bad_rows = 0;
        for (i = 0; i < n; i++) w[i] = 1.0f + 0.5f * llm__vk_randf(&seed);
        for (row = 0; row < ROWS; row++) {
            float mag = powf(10.0f, 8.0f * llm__vk_randf(&seed)); /* 1e-8 .. 1e8 */
            for (i = 0; i < n; i++) x[row * n + i] = llm__vk_randf(&seed) * mag;
            llm__rmsnorm(want + row * n, x + row * n, w, n, 1e-5f);
        }
        memset(&st, 0, sizeof st);
        st.vk = vk;
        st.err = err;
        st.err_size = sizeof err;
        r = llm__vk_st_up(&st, 0, x, sizeof(float) * (size_t)(ROWS * n));
        if (r == LLM_OK) r = llm__vk_st_up(&st, 1, w, sizeof(float) * (size_t)n);
        if (r == LLM_OK) r = llm__vk_buf_new(vk, sizeof(float) * (uint64_t)(ROWS * n), 0, &st.b[2], err, sizeof err);
        if (r == LLM_OK) r = llm__vk_st_begin(&st);
        if (r == LLM_OK) r = llm__vk_rec_rmsnorm(vk, vk->cmd, vk->pool, &st.b[0], 0, &st.b[1], 0, &st.b[2], 0, (uint32_t)n, ROWS, 1e-5f, err, sizeof err);
        if (r == LLM_OK) r = llm__vk_submit(vk, vk->cmd, vk->fence, err, sizeof err);
        if (r == LLM_OK) r = llm__vk_transfer(vk, &st.b[2], 0, got, sizeof(float) * (uint64_t)(ROWS * n), 0, err, sizeof err);
        T_CHECK(r == LLM_OK, "rmsnorm: %s", err);
        for (row = 0; r == LLM_OK && row < ROWS; row++) bad_rows += memcmp(got + row * n, want + row * n, sizeof(float) * (size_t)n) != 0;
        T_CHECK(bad_rows == 0, "rmsnorm of %d: %d rows of %d differ from the CPU's", n, bad_rows, ROWS);
        llm__vk_st_clear(&st);
    }
    free(x);
    free(w);
    free(got);
    free(want);
}

/* The device's Q8_0 KV cache against the CPU's (heads of 64: whole blocks): k, v and the
   queries converted on the device as the CPU converts them, the scores as its Q8_0 dot. The
   same bounds as F16: a value computed in another order may round to the other level. */
static void test_vulkan_kv_q8_0(void) {
    t_vk_kv_case("quants", "synth-q-F32.0", LLM_KV_Q8_0, &t_bounds_f16, 20);
    t_vk_kv_case("quants", "synth-q-Q4_K_M.0", LLM_KV_Q8_0, &t_bounds_f16, 20);
}

/* y = W x on the device (quantizer, then the mat-vec or, tiled, the mat-mul) for ncols columns of x. */
static int t_vk_product(llm_vk *vk, const llm__tensor *w, const float *x, int ncols, int tiled, float *y) {
    llm__vk_st st;
    llm__vk_tensor tt;
    memset(&tt, 0, sizeof tt);
    char err[256];
    int form = llm__vk_form(w->type), r, n = (int)w->ne[0], rows = (int)w->ne[1];
    memset(&st, 0, sizeof st);
    st.vk = vk;
    st.err = err;
    st.err_size = sizeof err;
    tt.type = w->type;
    tt.ne0 = (uint32_t)n;
    tt.ne1 = (uint32_t)rows;
    tt.row_bytes = (uint32_t)llm__type_row_bytes(w->type, n);
    tt.chunk = 0;
    tt.n_parts = 1;
    tt.rows_per_part = tt.ne1;
    tt.off = 0;
    r = llm__vk_st_up(&st, 0, w->data, (uint64_t)tt.row_bytes * rows);
    tt.size = st.b[0].size;
    if (r == LLM_OK) r = llm__vk_st_up(&st, 1, x, 4 * (uint64_t)ncols * n);
    if (r == LLM_OK) r = llm__vk_buf_new(vk, 4 * (uint64_t)ncols * n, 0, &st.b[2], err, sizeof err);
    if (r == LLM_OK) r = llm__vk_buf_new(vk, 4 * (uint64_t)ncols * rows, 0, &st.b[3], err, sizeof err);
    if (r == LLM_OK) r = llm__vk_st_begin(&st);
    if (r == LLM_OK && form >= 0) {
        r = llm__vk_rec_quant(vk, vk->cmd, vk->pool, form, &st.b[1], 0, (uint32_t)n, (uint32_t)n, (uint32_t)ncols, &st.b[2], err, sizeof err);
        if (r == LLM_OK)
            r = llm__vk_rec_product(vk, vk->cmd, vk->pool, &tt, &st.b[0], &st.b[2], 0, llm__vk_form_words(form, (uint32_t)n), (uint32_t)ncols, &st.b[3],
                                    0, (uint32_t)rows, NULL, 1, tiled, err, sizeof err);
    } else if (r == LLM_OK) {
        r = llm__vk_rec_product(vk, vk->cmd, vk->pool, &tt, &st.b[0], &st.b[1], 0, (uint32_t)n, (uint32_t)ncols, &st.b[3], 0, (uint32_t)rows, NULL, 1,
                                tiled, err, sizeof err);
    }
    if (r == LLM_OK) r = llm__vk_submit(vk, vk->cmd, vk->fence, err, sizeof err);
    if (r == LLM_OK) r = llm__vk_transfer(vk, &st.b[3], 0, y, 4 * (uint64_t)ncols * rows, 0, err, sizeof err);
    T_CHECK(r == LLM_OK, "device %s: %s", tiled ? "mat-mul" : "mat-vec", err);
    llm__vk_st_clear(&st);
    return r;
}

/* ncols columns of n activations: roughly normal (the sum of four uniforms) but the last, which
   is made of rounding ties: k + 1/2 steps of a/127, with a in the first element of every block
   of 32 (refs/README.md 2.2). */
static void t_vk_fill_x(float *x, int n, int ncols, uint32_t *seed) {
    float a;
    int c, k;
    for (c = 0; c < ncols - 1; c++)
        for (k = 0; k < n; k++) x[c * n + k] = llm__vk_randf(seed) + llm__vk_randf(seed) + llm__vk_randf(seed) + llm__vk_randf(seed);
    x += (size_t)(ncols - 1) * n;
    a = 0.5f + 3.5f * (llm__vk_randf(seed) * 0.5f + 0.5f);
    for (k = 0; k < n; k++) x[k] = (k % 32 == 0) ? a : (float)((int)(llm__vk_rng(seed) % 252) - 126) + 0.5f;
    for (k = 0; k < n; k++)
        if (k % 32) x[k] = x[k] * (a / 127.0f);
}

/* y [ncols][rows] = W x by the CPU's scalar kernel of W's type (W: rows of the file's bytes),
   each column of x converted to the type's dot form as the CPU converts it. */
static void t_vk_cpu_product(int type, const uint8_t *w, int n, int rows, const float *x, int ncols, float *y) {
    int vdt = llm__types[type].vec_dot_type, c, row;
    size_t rb = llm__type_row_bytes(type, n);
    uint8_t *xq = (uint8_t *)malloc((size_t)n * 4 + 1024);
    for (c = 0; xq && c < ncols; c++) {
        const void *xv = x + (size_t)c * n;
        if (vdt != LLM_TYPE_F32) {
            llm__types[vdt].from_float(x + (size_t)c * n, xq, n);
            xv = xq;
        }
        for (row = 0; row < rows; row++) llm__types[type].vec_dot(n, &y[(size_t)c * rows + row], w + (size_t)row * rb, xv);
    }
    free(xq);
}

/* Every 2-D weight of the offloaded types in a model: the device's y = W x against the CPU's
   scalar kernel (x converted to the dot form as the CPU does) for normal columns and a column
   of rounding ties (refs/README.md 2.2): max|y - y_cpu| <= 2e-6 max|y_cpu|. */
static void t_vk_matvec_tier(llm_vk *vk) {
    static const char *files[] = {"models/stories260K.gguf",          "models/synth/synth-q-F32.gguf",    "models/synth/synth-q-F16.gguf",
                                  "models/synth/synth-q-BF16.gguf",    "models/synth/synth-q-Q8_0.gguf",   "models/synth/synth-q-Q4_0.gguf",
                                  "models/synth/synth-q-Q4_1.gguf",    "models/synth/synth-q-Q5_0.gguf",   "models/synth/synth-q-Q5_1.gguf",
                                  "models/synth/synth-q-IQ4_NL.gguf",  "models/synth/synth-q-Q2_K.gguf",   "models/synth/synth-q-Q3_K_M.gguf",
                                  "models/synth/synth-q-Q4_K_M.gguf",  "models/synth/synth-q-Q5_K_M.gguf", "models/synth/synth-q-Q6_K.gguf",
                                  "models/synth/synth-q-IQ4_XS.gguf",  "models/synth/synth-q-TQ1_0.gguf",  "models/synth/synth-q-TQ2_0.gguf"};
    static const int types[17] = {LLM_TYPE_F32,  LLM_TYPE_F16,  LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0,   LLM_TYPE_Q4_1,
                                  LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_IQ4_NL, LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K,
                                  LLM_TYPE_Q5_K, LLM_TYPE_Q6_K, LLM_TYPE_IQ4_XS, LLM_TYPE_TQ1_0, LLM_TYPE_TQ2_0};
    double worst[17] = {0};
    int count[17] = {0};
    size_t f;
    int k;
    for (f = 0; f < sizeof files / sizeof files[0]; f++) {
        llm_model *m = t_load_model(files[f]);
        uint64_t ti;
        if (!m) continue;
        for (ti = 0; ti < m->gguf.n_tensors; ti++) {
            const llm__tensor *w = &m->gguf.tensors[ti];
            int n = (int)w->ne[0], rows = (int)w->ne[1], ncols = 3, c, slot = -1;
            float *x, *y, *yc;
            uint32_t seed = (uint32_t)n * 7u + 1u;
            for (k = 0; k < 17; k++)
                if (w->type == types[k]) slot = k;
            if (slot < 0 || w->ne[1] < 2 || w->ne[2] != 1) continue;
            if (rows > 4096) rows = 4096; /* the token embeddings: enough rows to see the kernel */
            x = (float *)malloc(sizeof(float) * (size_t)ncols * n);
            y = (float *)malloc(sizeof(float) * (size_t)ncols * w->ne[1]);
            yc = (float *)malloc(sizeof(float) * (size_t)ncols * rows);
            t_vk_fill_x(x, n, ncols, &seed);
            t_vk_cpu_product(w->type, w->data, n, rows, x, ncols, yc);
            {
                llm__tensor part = *w;
                part.ne[1] = rows;
                if (t_vk_product(vk, &part, x, ncols, 0, y) == LLM_OK)
                    for (c = 0; c < ncols; c++) {
                        float e;
                        int ok = llm__vk_close(y + (size_t)c * rows, yc + (size_t)c * rows, rows, 2e-6f, &e);
                        T_CHECK(ok, "tier %s: %s %s (%s) column %d: max|y - y_cpu| = %.3g max|y_cpu|", llm_vk_tier_name(vk->tier), files[f],
                                w->name, llm_type_name(w->type), c, (double)e);
                        if (e > worst[slot]) worst[slot] = e;
                    }
                count[slot]++;
            }
            free(x);
            free(y);
            free(yc);
        }
        llm_model_free(m);
    }
    for (k = 0; k < 17; k++)
        printf("       mat-vec %-8s %-6s %-22s tensors %3d  max|y - y_cpu| / max|y_cpu| %.2e (bound 2e-6)\n", llm_vk_tier_name(vk->tier),
               llm_type_name(types[k]), llm__vk_shaders[llm__vk_matvec_pipe(vk, types[k])].name, count[k], worst[k]);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "tier %s: %d validation errors", llm_vk_tier_name(vk->tier), llm_vk_validation_errors(vk));
}

/* The mat-vec of every tier lavapipe has (each forced in turn), against the CPU. */
static void test_vulkan_matvec(void) {
    int tier, owned;
    if (!t_vk_get()) return;
    for (tier = LLM_VK_TIER_BASE; tier <= LLM_VK_TIER_DOT; tier++) {
        llm_vk *vk = t_vk_tier(tier, &owned);
        if (vk) t_vk_matvec_tier(vk);
        if (owned) llm_vk_free(vk);
    }
}

/* One case of test_vulkan_matmul: type, rows of n values, cols columns (the last of ties).
   Prints and checks the worst of each column against the mat-vec and against the CPU, both
   within 2e-6 max|y| (DESIGN §6's mat-vec bound; the float types' long rows differ most: the
   mat-mul sums steps of 32 products in order, the mat-vec in a tree). */
static void t_vk_matmul_case(llm_vk *vk, int type, int n, int rows, int cols, uint32_t seed) {
    size_t rb = llm__type_row_bytes(type, n);
    float *w = (float *)malloc(sizeof(float) * rows * n), *x = (float *)malloc(sizeof(float) * cols * n);
    float *ymv = (float *)malloc(sizeof(float) * rows * cols), *ymm = (float *)malloc(sizeof(float) * rows * cols);
    float *yc = (float *)malloc(sizeof(float) * rows * cols), e_mv = 0, e_cpu = 0, e_mv_cpu = 0, e;
    uint8_t *wq = (uint8_t *)malloc(rb * rows);
    llm__tensor part;
    int c, i;
    T_REQUIRE(w && x && ymv && ymm && yc && wq, "out of memory");
    for (i = 0; i < rows * n; i++) w[i] = llm__vk_randf(&seed) + llm__vk_randf(&seed) + llm__vk_randf(&seed);
    T_CHECK(llm_quantize(type, w, wq, rows, n) == rb * rows, "%s: llm_quantize", llm_type_name(type));
    t_vk_fill_x(x, n, cols, &seed);
    t_vk_cpu_product(type, wq, n, rows, x, cols, yc);
    memset(&part, 0, sizeof part);
    part.type = type;
    part.ne[0] = n;
    part.ne[1] = rows;
    part.ne[2] = part.ne[3] = 1;
    part.data = wq;
    if (type == LLM_TYPE_Q4_K && rows > 64) { /* one workgroup of row tiles (a device's count limit): it loops over them */
        uint32_t gmax = vk->props.limits.maxComputeWorkGroupCount[0];
        vk->props.limits.maxComputeWorkGroupCount[0] = 1;
        if (t_vk_product(vk, &part, x, cols, 1, ymv) == LLM_OK && t_vk_product(vk, &part, x, cols, 1, ymm) == LLM_OK)
            T_CHECK(memcmp(ymv, ymm, sizeof(float) * rows * cols) == 0, "q4_K: one workgroup of row tiles twice: not the same bits");
        vk->props.limits.maxComputeWorkGroupCount[0] = gmax;
        if (t_vk_product(vk, &part, x, cols, 1, ymv) == LLM_OK) /* the usual dispatch */
            T_CHECK(memcmp(ymv, ymm, sizeof(float) * rows * cols) == 0, "q4_K: a workgroup per row tile differs from one looping over them");
    }
    if (t_vk_product(vk, &part, x, cols, 0, ymv) == LLM_OK && t_vk_product(vk, &part, x, cols, 1, ymm) == LLM_OK)
        for (c = 0; c < cols; c++) {
            int ok = llm__vk_close(ymm + c * rows, ymv + c * rows, rows, 2e-6f, &e);
            T_CHECK(ok, "%s n %d column %d: mat-mul - mat-vec = %.3g max|y|", llm_type_name(type), n, c, (double)e);
            e_mv = e > e_mv ? e : e_mv;
            ok = llm__vk_close(ymm + c * rows, yc + c * rows, rows, 2e-6f, &e);
            T_CHECK(ok, "%s n %d column %d: mat-mul - CPU = %.3g max|y_cpu|", llm_type_name(type), n, c, (double)e);
            e_cpu = e > e_cpu ? e : e_cpu;
            llm__vk_close(ymv + c * rows, yc + c * rows, rows, 2e-6f, &e);
            e_mv_cpu = e > e_mv_cpu ? e : e_mv_cpu;
        }
    printf("       mat-mul %-6s %2d x %2d x %4d %-14s max|mm - mv| %.2e (bound 2e-6)  max|mm - cpu| %.2e (bound 2e-6)  max|mv - cpu| %.2e\n",
           llm_type_name(type), rows, cols, n, llm__vk_shaders[llm__vk_matmul_pipe(type)].name, (double)e_mv, (double)e_cpu, (double)e_mv_cpu);
    free(w);
    free(x);
    free(ymv);
    free(ymm);
    free(yc);
    free(wq);
}

/* The tiled mat-mul, for every type, against the mat-vec on the same device and inputs (the
   same per-block integer sums: only the order of the float sum differs) and against the CPU's
   scalar kernel (max|y - y_cpu| <= 2e-6 max|y_cpu| per column, as the mat-vec). 70 rows x 40
   columns: tiles partial both ways. Row lengths with a last partial step of K where the type
   has one (600 F32 values: 18 steps of 32 and 24; 608 values of the 32-blocks: 19 blocks, 4
   a step), and with rows starting at either half of a word (601 F16 values; 3 blocks of the
   K-quants); the last column is rounding ties. Q4_K also runs with one workgroup looping over
   the row tiles (as on a device whose count of workgroups is smaller than the tiles): the same
   bits. Then rows longer than one dispatch's K (LLM__VK_MATMUL_K_VALUES), a full tile each
   thread's 16 outputs: without the split, lavapipe's loop limiter would end them early. */
static void test_vulkan_matmul(void) {
    static const struct {
        int type, n;
    } cases[] = {
        {LLM_TYPE_F32, 600},    {LLM_TYPE_F16, 601},  {LLM_TYPE_BF16, 601},  {LLM_TYPE_Q8_0, 608},   {LLM_TYPE_Q4_0, 608},  {LLM_TYPE_Q4_1, 608},
        {LLM_TYPE_Q5_0, 608},   {LLM_TYPE_Q5_1, 608}, {LLM_TYPE_IQ4_NL, 608}, {LLM_TYPE_Q2_K, 768},  {LLM_TYPE_Q3_K, 768},  {LLM_TYPE_Q4_K, 768},
        {LLM_TYPE_Q5_K, 768},   {LLM_TYPE_Q6_K, 768}, {LLM_TYPE_IQ4_XS, 768}, {LLM_TYPE_TQ1_0, 768}, {LLM_TYPE_TQ2_0, 768},
    }, long_rows[] = {
        {LLM_TYPE_F32, 4200}, {LLM_TYPE_F16, 4097}, {LLM_TYPE_Q8_0, 4224}, {LLM_TYPE_Q6_K, 4608}, {LLM_TYPE_TQ1_0, 4608},
    };
    llm_vk *vk = t_vk_get();
    size_t k;
    if (!vk) return;
    if (vk->matmul == LLM__VK_MATMUL_OFF) T_SKIP("the device does not use the mat-mul (LLM_VULKAN_MATMUL=0?)");
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) t_vk_matmul_case(vk, cases[k].type, cases[k].n, 70, 40, 977u + (uint32_t)k);
    for (k = 0; k < sizeof long_rows / sizeof long_rows[0]; k++) t_vk_matmul_case(vk, long_rows[k].type, long_rows[k].n, 33, 33, 31u + (uint32_t)k);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "%d validation errors", llm_vk_validation_errors(vk));
}

/* The logits of stories260K and the refs/quants models (all layers offloaded, the first rows:
   a batch of 8, through the mat-mul, then 4 tokens one at a time through the tier's mat-vec)
   with each tier but the shared device's (test_vulkan_logits runs that one) forced in turn. */
static void test_vulkan_tiers(void) {
    static const struct {
        const char *name;
        const t_bounds *b;
    } cases[] = {
        {"synth-q-F32.0", &t_bounds_f32},     {"synth-q-F16.0", &t_bounds_f16},     {"synth-q-BF16.0", &t_bounds_bf16},
        {"synth-q-Q8_0.0", &t_bounds_q8_0},   {"synth-q-Q4_0.0", &t_bounds_q32},    {"synth-q-Q4_1.0", &t_bounds_q32},
        {"synth-q-Q5_0.0", &t_bounds_q32},    {"synth-q-Q5_1.0", &t_bounds_q32},    {"synth-q-IQ4_NL.0", &t_bounds_q32},
        {"synth-q-Q2_K.0", &t_bounds_kquant}, {"synth-q-Q3_K_M.0", &t_bounds_kquant}, {"synth-q-Q4_K_M.0", &t_bounds_kquant},
        {"synth-q-Q5_K_M.0", &t_bounds_kquant}, {"synth-q-Q6_K.0", &t_bounds_kquant}, {"synth-q-IQ4_XS.0", &t_bounds_kquant},
        {"synth-q-TQ1_0.0", &t_bounds_kquant}, {"synth-q-TQ2_0.0", &t_bounds_kquant},
    };
    int tier, owned;
    size_t i;
    if (!t_vk_get()) return;
    for (tier = LLM_VK_TIER_BASE; tier <= LLM_VK_TIER_DOT; tier++) {
        llm_vk *vk = tier == t_vk->tier ? NULL : t_vk_tier(tier, &owned);
        if (!vk) continue;
        t_vk_case_on(vk, "real", "stories260K.0", &t_bounds_f32, 0, 12);
        t_vk_case_on(vk, "arch", "llama-moe-Q8_0.0", &t_bounds_q8_0, 0, 8); /* expert columns */
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) t_vk_case_on(vk, "quants", cases[i].name, cases[i].b, 0, 12);
        if (owned) llm_vk_free(vk);
    }
}

/* The choice of a tier, on made-up devices: a forced tier the device lacks falls back to the
   best it has, with the reason logged; $LLM_VULKAN_TIER when the params leave it to AUTO. */
static char t_vk_tier_msg[512];
static void t_vk_tier_log(int level, const char *msg, void *user) {
    (void)level;
    (void)user;
    snprintf(t_vk_tier_msg, sizeof t_vk_tier_msg, "%s", msg);
}

static void test_vulkan_tier_choice(void) {
    static const struct {
        int subgroup, storage, dot, want;
        const char *env;
        int got;
        const char *log_has;
    } cases[] = {
        {1, 1, 1, LLM_VK_TIER_AUTO, NULL, LLM_VK_TIER_DOT, ""},
        {1, 1, 0, LLM_VK_TIER_AUTO, NULL, LLM_VK_TIER_STORAGE, ""},
        {1, 0, 1, LLM_VK_TIER_AUTO, NULL, LLM_VK_TIER_SUBGROUP, ""},
        {0, 1, 1, LLM_VK_TIER_AUTO, NULL, LLM_VK_TIER_BASE, ""},
        {1, 1, 1, LLM_VK_TIER_SUBGROUP, NULL, LLM_VK_TIER_SUBGROUP, ""},
        {1, 0, 1, LLM_VK_TIER_DOT, NULL, LLM_VK_TIER_SUBGROUP, "tier dot refused: 'fake' lacks 8- and 16-bit storage buffer access; using tier subgroup"},
        {0, 0, 0, LLM_VK_TIER_SUBGROUP, NULL, LLM_VK_TIER_BASE, "lacks subgroup arithmetic"},
        {1, 1, 1, LLM_VK_TIER_AUTO, "base", LLM_VK_TIER_BASE, ""},
        {1, 1, 0, LLM_VK_TIER_AUTO, "dot", LLM_VK_TIER_STORAGE, "lacks integer dot products"},
        {1, 1, 1, LLM_VK_TIER_STORAGE, "base", LLM_VK_TIER_STORAGE, ""}, /* the params win */
        {1, 1, 1, LLM_VK_TIER_AUTO, "fast", LLM_VK_TIER_DOT, "LLM_VULKAN_TIER=fast is not a tier"},
    };
    t_env_saved saved = t_env_save("LLM_VULKAN_TIER");
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_vk vk;
        llm_vk_device_info f;
        int got;
        memset(&vk, 0, sizeof vk);
        memset(&f, 0, sizeof f);
        snprintf(f.name, sizeof f.name, "fake");
        f.subgroup_arith = cases[i].subgroup;
        f.storage8 = f.storage16 = cases[i].storage;
        f.int_dot = cases[i].dot;
        vk.want_tier = cases[i].want;
        vk.log = t_vk_tier_log;
        t_vk_tier_msg[0] = 0;
        t_setenv("LLM_VULKAN_TIER", cases[i].env);
        got = llm__vk_choose_tier(&vk, &f);
        T_CHECK(got == cases[i].got, "case %zu: tier %s, want %s", i, llm_vk_tier_name(got), llm_vk_tier_name(cases[i].got));
        T_CHECK(cases[i].log_has[0] ? strstr(t_vk_tier_msg, cases[i].log_has) != NULL : t_vk_tier_msg[0] == 0, "case %zu: logged '%s'", i, t_vk_tier_msg);
    }
    t_env_restore(&saved);
}

/* $LLM_VULKAN_MATMUL and the shared memory a device has decide the mat-mul's use (on made-up
   devices); on lavapipe, every product through the mat-mul (1: one token at a time too) or none
   (0: a prompt batch through the mat-vec) meets the F32 bounds on stories260K. */
static void test_vulkan_matmul_switch(void) {
    static const struct {
        const char *env;
        uint32_t shared;
        int want;
    } cases[] = {
        {NULL, 16384, LLM__VK_MATMUL_AUTO}, {"1", 16384, LLM__VK_MATMUL_ALWAYS}, {"0", 65536, LLM__VK_MATMUL_OFF},
        {"2", 32768, LLM__VK_MATMUL_AUTO},  {NULL, 16383, LLM__VK_MATMUL_OFF},   {"1", 8192, LLM__VK_MATMUL_OFF},
    };
    t_env_saved saved = t_env_save("LLM_VULKAN_MATMUL");
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_vk fake;
        memset(&fake, 0, sizeof fake);
        fake.props.limits.maxComputeSharedMemorySize = cases[i].shared;
        t_setenv("LLM_VULKAN_MATMUL", cases[i].env);
        T_CHECK(llm__vk_choose_matmul(&fake) == cases[i].want, "case %zu: %d, want %d", i, llm__vk_choose_matmul(&fake), cases[i].want);
    }
    for (i = 0; i < 2 && t_vk_get(); i++) {
        llm_vk_params p;
        char err[512];
        llm_vk *vk;
        memset(&p, 0, sizeof p);
        p.device_name = "llvmpipe";
        p.validation = 1;
        p.log = t_vk_log;
        t_setenv("LLM_VULKAN_MATMUL", i == 0 ? "1" : "0");
        vk = llm_vk_new(&p, err, sizeof err);
        T_CHECK(vk && vk->matmul == (i == 0 ? LLM__VK_MATMUL_ALWAYS : LLM__VK_MATMUL_OFF), "LLM_VULKAN_MATMUL=%d: %s", i == 0, vk ? "ignored" : err);
        if (vk) t_vk_case_on(vk, "real", "stories260K.0", &t_bounds_f32, 0, 12);
        llm_vk_free(vk);
    }
    t_env_restore(&saved);
}

/* With no loader or no driver, llm_vk_new says why and the model runs on the CPU, bit for bit. */
static void t_vk_expect_cpu(const char *env, const char *value, const char *why_has) {
    llm_vk_params p;
    char err[512] = "";
    const char *old = getenv(env);
    char saved[1024];
    llm_vk *vk;
    const char *path = t_shared("models/stories260K.gguf");
    if (!path) return;
    if (old) snprintf(saved, sizeof saved, "%s", old);
    t_setenv(env, value);
    memset(&p, 0, sizeof p);
    p.device_name = "llvmpipe";
    vk = llm_vk_new(&p, err, sizeof err);
    t_setenv(env, old ? saved : NULL);
    T_CHECK(vk == NULL, "%s=%s: a device opened", env, value);
    T_CHECK(strstr(err, why_has) != NULL, "%s=%s: reason '%s' lacks '%s'", env, value, err, why_has);
    printf("       %s=%s: %s\n", env, value, err);
    if (!vk) { /* what a program does then: no backend, the CPU */
        int ids[8] = {1, 403, 407, 261, 378, 286, 317, 262};
        llm_model *cpu = t_vk_model(path, NULL, 0), *m = t_vk_model(path, vk, 99);
        float *a = cpu ? t_vk_decode(cpu, ids, 8, 0) : NULL, *b = m ? t_vk_decode(m, ids, 8, 1) : NULL;
        T_CHECK(a && b && memcmp(a, b, 8 * 512 * 4) == 0, "the CPU result differs");
        free(a);
        free(b);
        llm_model_free(cpu);
        llm_model_free(m);
    }
    llm_vk_free(vk);
}

static void test_vulkan_no_loader(void) { t_vk_expect_cpu("LLM_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1", "no Vulkan loader"); }
static void test_vulkan_no_driver(void) { t_vk_expect_cpu("VK_ICD_FILENAMES", "/nonexistent.json", "vulkan:"); }

/* A spoiled pipeline (the test switch) makes the self-test refuse the device by name. */
static void test_vulkan_corrupt(void) {
    static const char *pipes[] = {"matvec_q8_0", "quant_q8_k", "rmsnorm", "attention", "geglu", "moe_route", "moe_combine", "matmul_q4_k", "matmul_f32"};
    size_t i;
    if (!t_vk_get()) return;
    for (i = 0; i < sizeof pipes / sizeof pipes[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s", pipes[i]);
        t_vk_expect_cpu("LLM_VULKAN_TEST_CORRUPT", pipes[i], want);
    }
    /* the self-test runs the chosen tier's mat-vec: each refuses the device when spoiled */
    for (i = LLM_VK_TIER_BASE; i <= LLM_VK_TIER_DOT; i++) {
        char want[64];
        llm_vk_device_info info;
        const char *lacks;
        llm_vk_info(t_vk, &info);
        if (llm__vk_best_tier(&info, (int)i, &lacks) < (int)i) {
            printf("       tier %s skipped: %s lacks %s\n", llm_vk_tier_name((int)i), info.name, lacks);
            continue;
        }
        t_setenv("LLM_VULKAN_TIER", llm_vk_tier_name((int)i));
        snprintf(want, sizeof want, "+ matvec_q8_0%s%s disagrees", i == LLM_VK_TIER_BASE ? "" : "_", i == LLM_VK_TIER_BASE ? "" : llm_vk_tier_name((int)i));
        t_vk_expect_cpu("LLM_VULKAN_TEST_CORRUPT", "matvec_q8_0", want);
        t_setenv("LLM_VULKAN_TIER", NULL);
    }
}

/* Saved states and context shifts move the offloaded layers' rows through the device; a lost
   device gives LLM_ERR_DEVICE, then the CPU. */
static void t_vk_state(const char *model, int ngl, llm_kv_type kv_type) {
    llm_vk *vk = t_vk_get();
    const char *path = vk ? t_shared(model) : NULL;
    int ids[24], i, r;
    llm_model *cpu, *gpu;
    llm_context_params cp = llm_context_default_params();
    llm_context *cc, *gc, *g2;
    size_t size;
    void *buf;
    t_ref fake;
    /* an F16 or Q8_0 cache rounds keys and values that the two sides computed in different
       orders: one that sits near a rounding midpoint rounds either way (test_vulkan_kv_f16) */
    const t_bounds *bounds = kv_type == LLM_KV_F32 ? &t_bounds_f32 : &t_bounds_f16;
    if (!path) return;
    for (i = 0; i < 24; i++) ids[i] = 1 + (i * 53) % 500;
    cpu = t_vk_model(path, NULL, 0);
    gpu = t_vk_model(path, vk, ngl);
    if (!cpu || !gpu) goto out_models;
    cp.n_ctx = 32;
    cp.n_batch = 16;
    cp.n_threads = 1;
    cp.kv_type = kv_type;
    cc = llm_context_new(cpu, &cp, NULL, 0);
    gc = llm_context_new(gpu, &cp, NULL, 0);
    g2 = llm_context_new(gpu, &cp, NULL, 0);
    T_REQUIRE(cc && gc && g2, "contexts");
    memset(&fake, 0, sizeof fake);
    fake.n_vocab = 512;
    fake.rows = 1;
    /* 16 tokens, shift out 5 after the first 2, one more token: same as the CPU doing it */
    T_CHECK(llm_decode(cc, ids, 16, 0) == LLM_OK && llm_decode(gc, ids, 16, 0) == LLM_OK, "decode");
    T_CHECK(llm_context_shift(cc, 2, 5) == LLM_OK && llm_context_shift(gc, 2, 5) == LLM_OK, "shift: %s", llm_context_error(gc));
    T_CHECK(llm_decode(cc, ids + 16, 1, 0) == LLM_OK && llm_decode(gc, ids + 16, 1, 0) == LLM_OK, "decode after shift");
    fake.logits = (float *)llm_logits(cc, -1);
    snprintf(fake.name, sizeof fake.name, "after a shift");
    t_check_logits(&fake, llm_logits(gc, -1), bounds);
    /* save on the device, load into another context, one more token */
    size = llm_context_state_size(gc);
    buf = malloc(size);
    T_CHECK(llm_context_state_save(gc, buf, size) == size, "save");
    T_CHECK(llm_context_state_load(g2, buf, size) == LLM_OK, "load: %s", llm_context_error(g2));
    free(buf);
    T_CHECK(llm_decode(cc, ids + 17, 1, 0) == LLM_OK && llm_decode(g2, ids + 17, 1, 0) == LLM_OK, "decode after load");
    fake.logits = (float *)llm_logits(cc, -1);
    snprintf(fake.name, sizeof fake.name, "after a saved state");
    t_check_logits(&fake, llm_logits(g2, -1), bounds);
    /* a lost device: the error, then the context on the CPU, empty; decoding again works */
    vk->lost = 1;
    r = llm_decode(gc, ids + 17, 1, 0);
    vk->lost = 0;
    T_CHECK(r == LLM_ERR_DEVICE, "lost device: decode gave %d", r);
    T_CHECK(llm_context_n_past(gc) == 0, "lost device: n_past %d", llm_context_n_past(gc));
    printf("       lost device: %s\n", llm_context_error(gc));
    llm_context_truncate(cc, 0);
    T_CHECK(llm_decode(cc, ids, 8, 0) == LLM_OK && llm_decode(gc, ids, 8, 0) == LLM_OK, "decode after the loss");
    T_CHECK(memcmp(llm_logits(cc, -1), llm_logits(gc, -1), 512 * 4) == 0, "after the loss: not the CPU result");
    llm_context_free(cc);
    llm_context_free(gc);
    llm_context_free(g2);
out_models:
    llm_model_free(cpu);
    llm_model_free(gpu);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "%d validation errors", llm_vk_validation_errors(vk));
}

static void test_vulkan_state(void) {
    t_vk_state("models/stories260K.gguf", 3, LLM_KV_F32);
    t_vk_state("models/stories260K.gguf", 3, LLM_KV_F16);
    t_vk_state("models/synth/synth-q-F32.gguf", 1, LLM_KV_Q8_0); /* heads of 64: whole Q8_0 blocks */
}

/* A tiny llama (tests/test_gguf.c's) of n_embd and n_head (kv heads half as many, at least
   1) with rope scaling: kind "yarn" or "linear" (NULL: none), factor, n_ctx_orig, attn_factor
   (0: none), loaded from memory with all layers on vk (NULL: CPU). */
static llm_model *t_vk_tiny(tg_buf *file, int n_embd, int n_head, const char *kind, float factor, int n_ctx_orig, float attn_factor,
                            llm_vk *vk) {
    tg_cfg cfg = tg_default_cfg();
    tg_gguf *g;
    tg_layout lay;
    llm_model_params mp = llm_model_default_params();
    char err[256];
    llm_model *m;
    cfg.n_embd = n_embd;
    cfg.n_head = n_head;
    cfg.n_head_kv = n_head > 1 ? n_head / 2 : 1;
    cfg.optional_keys = 1; /* rope.freq_base 20000, rope.dimension_count */
    g = tg_llama(&cfg);
    if (kind) {
        tg_set_str(g, "llama.rope.scaling.type", kind);
        tg_set_f32(g, "llama.rope.scaling.factor", factor);
        tg_set_u32(g, "llama.rope.scaling.original_context_length", (uint64_t)n_ctx_orig);
        if (attn_factor > 0.0f) tg_set_f32(g, "llama.rope.scaling.attn_factor", attn_factor);
    }
    memset(file, 0, sizeof *file);
    tg_serialize(g, file, &lay);
    tg_delete(g);
    mp.backend = vk ? llm_vk_backend(vk) : NULL;
    mp.gpu_layers = 99;
    mp.log = t_vk_log;
    m = llm_model_load_memory(file->p, file->n, &mp, err, sizeof err);
    T_CHECK(m != NULL, "rope scaling %s: %s", kind ? kind : "none", err);
    return m;
}

/* LongRoPE past the original context (64): a context of 80 positions takes the long factors
   and the attention factor, on the device as on the CPU. */
static void t_vk_longrope(llm_vk *vk) {
    enum { N = 80 };
    const char *path = t_shared("models/synth/phi3-longrope-F32.gguf");
    llm_model *cpu, *gpu;
    float *want, *got;
    int ids[N], i;
    if (!path) return;
    for (i = 0; i < N; i++) ids[i] = 1 + (i * 131) % 500;
    cpu = t_vk_model(path, NULL, 0);
    gpu = t_vk_model(path, vk, 99);
    want = cpu ? t_vk_decode(cpu, ids, N, 0) : NULL;
    got = gpu ? t_vk_decode(gpu, ids, N, 1) : NULL;
    if (want && got) {
        t_ref r;
        memset(&r, 0, sizeof r);
        snprintf(r.name, sizeof r.name, "phi3 LongRoPE, 80 positions");
        r.rows = N;
        r.n_vocab = llm_model_n_vocab(cpu);
        r.logits = want;
        t_check_logits(&r, got, &t_bounds_f32);
    }
    free(want);
    free(got);
    llm_model_free(cpu);
    llm_model_free(gpu);
}

/* Rope scaling on the device: YaRN (with an attention factor) and linear scaling, over 48
   positions, three times the original context, against the CPU. The scaling moves the logits
   (past the original context) by more than twice the bound, so a device that ignored it would
   fail. */
static void test_vulkan_rope_scaling(void) {
    static const struct {
        const char *kind;
        float factor, attn;
    } cases[] = {{"yarn", 4.0f, 1.25f}, {"yarn", 8.0f, 0.0f}, {"linear", 2.0f, 0.0f}};
    enum { N = 48, ORIG = 16 };
    llm_vk *vk = t_vk_get();
    tg_buf fplain, fcpu, fgpu;
    llm_model *plain;
    float *base;
    int ids[N], i;
    size_t k;
    if (!vk) return;
    for (i = 0; i < N; i++) ids[i] = 3 + (i * 37) % 60;
    plain = t_vk_tiny(&fplain, 64, 4, NULL, 1.0f, 0, 0.0f, NULL);
    base = plain ? t_vk_decode(plain, ids, N, 0) : NULL;
    for (k = 0; base && k < sizeof cases / sizeof cases[0]; k++) {
        llm_model *cpu = t_vk_tiny(&fcpu, 64, 4, cases[k].kind, cases[k].factor, ORIG, cases[k].attn, NULL);
        llm_model *gpu = t_vk_tiny(&fgpu, 64, 4, cases[k].kind, cases[k].factor, ORIG, cases[k].attn, vk);
        float *want = cpu ? t_vk_decode(cpu, ids, N, 0) : NULL, *got = gpu ? t_vk_decode(gpu, ids, N, 1) : NULL;
        T_CHECK(!gpu || gpu->backend_state != NULL, "rope scaling %s: the backend declined", cases[k].kind);
        if (want && got) {
            t_ref r;
            double se = 0, sr = 0;
            memset(&r, 0, sizeof r);
            snprintf(r.name, sizeof r.name, "%s x%g attn %g", cases[k].kind, (double)cases[k].factor, (double)cases[k].attn);
            r.rows = N;
            r.n_vocab = llm_model_n_vocab(cpu);
            r.logits = want;
            t_check_logits(&r, got, &t_bounds_f32);
            for (i = ORIG * r.n_vocab; i < N * r.n_vocab; i++) {
                se += (double)(want[i] - base[i]) * (want[i] - base[i]);
                sr += (double)base[i] * base[i];
            }
            T_CHECK(sqrt(se / sr) > 2 * t_bounds_f32.nrmse, "%s: the scaled logits are within %.2g of the unscaled ones", r.name, sqrt(se / sr));
            printf("       %-28s scaling moves the logits by nrmse %.2e\n", r.name, sqrt(se / sr));
        }
        free(want);
        free(got);
        llm_model_free(cpu);
        llm_model_free(gpu);
        free(fcpu.p);
        free(fgpu.p);
    }
    free(base);
    llm_model_free(plain);
    free(fplain.p);
    t_vk_longrope(vk);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "%d validation errors", llm_vk_validation_errors(vk));
}

/* The embedded SPIR-V's text form (tools/embed_shaders.py): words of every length back, a
   short or foreign text refused, and every pipeline's words starting with SPIR-V's magic. */
static void test_vulkan_spv_decode(void) {
    static const uint32_t want[7] = {0x07230203u, 0, 127, 128, 0xffffffffu, 16383, 16384};
    uint32_t got[8], *code;
    int i, bad = 0;
    T_CHECK(llm__vk_spv_decode("g4SMOQB/gAH/////D/9/gIAB", got, 7) && memcmp(got, want, sizeof want) == 0, "words of 1 to 5 bytes");
    T_CHECK(!llm__vk_spv_decode("g4SMOQB/gAH/////D/9/gIAB", got, 8), "a text one word short was accepted");
    T_CHECK(!llm__vk_spv_decode("g4SM!QB/", got, 2), "a character outside base64 was accepted");
    T_CHECK(!llm__vk_spv_decode("gICAgIAB", got, 1), "a word of six bytes was accepted");
    for (i = 0; i < LLM__VK_PIPE_COUNT; i++) {
        code = (uint32_t *)malloc((size_t)llm__vk_shaders[i].n_words * 4);
        T_REQUIRE(code, "memory");
        if (!llm__vk_spv_decode(llm__vk_shaders[i].code, code, llm__vk_shaders[i].n_words) || code[0] != 0x07230203u ||
            llm__vk_shaders[i].n_words < 5 || code[3] >= 0x400000u) /* magic, and a plausible id bound */
            bad++;
        free(code);
    }
    T_CHECK(bad == 0, "%d of %d embedded shaders do not decode to SPIR-V", bad, LLM__VK_PIPE_COUNT);
}

/* A model the shaders cannot run (heads over 256) is declined with its reason; the CPU runs
   it, with the CPU's result. */
static void test_vulkan_decline(void) {
    llm_vk *vk = t_vk_get();
    tg_buf fcpu, fgpu;
    llm_model *cpu, *gpu;
    int ids[8], i;
    float *want, *got;
    if (!vk) return;
    for (i = 0; i < 8; i++) ids[i] = 3 + i * 7;
    /* heads of 512 (the attention shader keeps at most 256 per head) */
    cpu = t_vk_tiny(&fcpu, 512, 1, NULL, 1.0f, 0, 0.0f, NULL);
    gpu = t_vk_tiny(&fgpu, 512, 1, NULL, 1.0f, 0, 0.0f, vk);
    T_CHECK(!gpu || gpu->backend_state == NULL, "heads of 512 were not declined");
    want = cpu ? t_vk_decode(cpu, ids, 8, 0) : NULL;
    got = gpu ? t_vk_decode(gpu, ids, 8, 1) : NULL;
    T_CHECK(want && got && memcmp(want, got, (size_t)8 * llm_model_n_vocab(cpu) * 4) == 0, "declined: not the CPU result");
    free(want);
    free(got);
    llm_model_free(cpu);
    llm_model_free(gpu);
    free(fcpu.p);
    free(fgpu.p);
}

/* Weights larger than one binding are split by rows over several buffers: with bindings of
   16 KiB (a test switch) stories260K's embeddings and FFN weights come in parts, and
   llama-moe's expert tensors (32 KiB) in parts of two whole experts, each part's dispatch
   taking the columns routed to its experts. */
static void t_vk_split_case(const char *model, int n_vocab, const char *what, int want_parts) {
    llm_vk *vk = t_vk_get();
    const char *path = vk ? t_shared(model) : NULL;
    int ids[12], i, parts;
    llm_model *cpu, *m;
    llm__vk_model *vm;
    float *want, *got;
    t_ref fake;
    if (!path) return;
    for (i = 0; i < 12; i++) ids[i] = 1 + (i * 41) % 500;
    t_setenv("LLM_VULKAN_TEST_MAX_BINDING", "16384");
    m = t_vk_model(path, vk, 99);
    t_setenv("LLM_VULKAN_TEST_MAX_BINDING", NULL);
    cpu = t_vk_model(path, NULL, 0);
    T_REQUIRE(m && cpu, "load");
    vm = (llm__vk_model *)m->backend_state;
    parts = !vm ? 0 : strcmp(what, "output.weight") == 0 ? (int)vm->output.n_parts : (int)vm->layers[0].x_gate.n_parts;
    T_CHECK(parts == want_parts, "%s %s: %d parts, expected %d", model, what, parts, want_parts);
    want = t_vk_decode(cpu, ids, 12, 0);
    got = t_vk_decode(m, ids, 12, 1);
    memset(&fake, 0, sizeof fake);
    snprintf(fake.name, sizeof fake.name, "split %s", what);
    fake.n_vocab = n_vocab;
    fake.rows = 12;
    fake.logits = want;
    if (want && got) t_check_logits(&fake, got, &t_bounds_f32);
    free(want);
    free(got);
    llm_model_free(m);
    llm_model_free(cpu);
}

static void test_vulkan_split(void) {
    t_vk_split_case("models/stories260K.gguf", 512, "output.weight", 8);
    t_vk_split_case("models/synth/llama-moe-F32.gguf", 512, "ffn_gate_exps", 2);
}

#if !defined(_WIN32) && !defined(LLM_NO_THREADS)
typedef struct t_vk_thread_arg {
    llm_model *m;
    const int *ids;
    int n;
    float *out;
} t_vk_thread_arg;

static void *t_vk_thread(void *p) {
    t_vk_thread_arg *a = (t_vk_thread_arg *)p;
    a->out = t_vk_decode(a->m, a->ids, a->n, 1);
    return NULL;
}
#endif

/* Contexts on two threads share the device (its queue takes a lock): each gets what one
   context alone gets, bit for bit. */
static void test_vulkan_threads(void) {
#if !defined(_WIN32) && !defined(LLM_NO_THREADS)
    llm_vk *vk = t_vk_get();
    const char *path = vk ? t_shared("models/stories260K.gguf") : NULL;
    int ids[16], i;
    llm_model *m;
    float *alone;
    pthread_t th[2];
    t_vk_thread_arg a[2];
    if (!path) return;
    for (i = 0; i < 16; i++) ids[i] = 1 + (i * 29) % 500;
    m = t_vk_model(path, vk, 99);
    alone = m ? t_vk_decode(m, ids, 16, 1) : NULL;
    T_REQUIRE(alone != NULL, "decode");
    for (i = 0; i < 2; i++) {
        a[i].m = m;
        a[i].ids = ids;
        a[i].n = 16;
        a[i].out = NULL;
        pthread_create(&th[i], NULL, t_vk_thread, &a[i]);
    }
    for (i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        T_CHECK(a[i].out && memcmp(a[i].out, alone, 16 * 512 * 4) == 0, "thread %d: not the result of one context alone", i);
        free(a[i].out);
    }
    free(alone);
    llm_model_free(m);
    T_CHECK(llm_vk_validation_errors(vk) == 0, "%d validation errors", llm_vk_validation_errors(vk));
#else
    T_SKIP("no threads in this build");
#endif
}

static void test_vulkan_devices(void) {
    llm_vk_device_info info[8];
    char err[256];
    int n, i, found = 0;
    if (!t_vk_get()) return;
    n = llm_vk_devices(NULL, info, 8, err, sizeof err);
    T_REQUIRE(n > 0, "llm_vk_devices: %d (%s)", n, err);
    for (i = 0; i < n && i < 8; i++) {
        printf("       device %d: %s (type %d), 16-bit storage %d, 8-bit storage %d, subgroup %u (arithmetic %d), integer dot %d, tier %s, self-test: %s\n",
               i + 1, info[i].name, info[i].type, info[i].storage16, info[i].storage8, info[i].subgroup_size, info[i].subgroup_arith, info[i].int_dot,
               llm_vk_tier_name(info[i].tier), info[i].selftest_msg);
        if (strstr(info[i].name, "llvmpipe")) {
            found = 1;
            T_CHECK(info[i].selftest == 1 && info[i].type == LLM_VK_CPU, "lavapipe: self-test %d, type %d", info[i].selftest, info[i].type);
            T_CHECK(info[i].tier == t_vk->tier, "lavapipe: tier %s, the shared device's %s", llm_vk_tier_name(info[i].tier), llm_vk_tier_name(t_vk->tier));
        }
    }
    T_CHECK(found, "lavapipe not listed");
}

static void tests_vulkan(void) {
    T_RUN(test_vulkan_decls);
    T_RUN(test_vulkan_spv_decode);
    T_RUN(test_vulkan_messenger);
    T_RUN(test_vulkan_matvec);
    T_RUN(test_vulkan_matmul);
    T_RUN(test_vulkan_logits);
    T_RUN(test_vulkan_greedy);
    T_RUN(test_vulkan_tiers);
    T_RUN(test_vulkan_tier_choice);
    T_RUN(test_vulkan_matmul_switch);
    T_RUN(test_vulkan_state);
    T_RUN(test_vulkan_kv_f16);
    T_RUN(test_vulkan_kv_q8_0);
    T_RUN(test_vulkan_rmsnorm);
    T_RUN(test_vulkan_rope_scaling);
    T_RUN(test_vulkan_threads);
    T_RUN(test_vulkan_split);
    T_RUN(test_vulkan_decline);
    T_RUN(test_vulkan_no_loader);
    T_RUN(test_vulkan_no_driver);
    T_RUN(test_vulkan_corrupt);
    T_RUN(test_vulkan_devices);
    llm_vk_free(t_vk);
    t_vk = NULL;
}
