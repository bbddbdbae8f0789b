/* llm devices: the Vulkan devices, their limits, and whether each passed the self-test. */
#include "common.h"
#include "../../llm_vulkan.h"

#include <stdlib.h>
#include <string.h>

static const char devices_usage[] =
    "usage: llm devices [--validation]\n"
    "\n"
    "Lists the Vulkan devices (each opened and self-tested against the CPU) as a markdown table.\n"
    "-ngl uses the best GPU, or the one $LLM_VULKAN_DEVICE names (a name substring or an index\n"
    "of this list); CPU devices such as lavapipe are used only when named. The tier is the\n"
    "mat-vec shaders' (base, subgroup, storage, dot: the best the device has, or $LLM_VULKAN_TIER).\n"
    "\n"
    "      --validation   run with the Khronos validation layer (its messages on stderr)\n";

static void devices_log(int level, const char *msg, void *user) {
    (void)user;
    if (level <= LLM_LOG_WARN) fprintf(stderr, "llm: %s\n", msg);
}

int cmd_devices(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, devices_usage);
    llm_vk_params p;
    llm_vk_device_info info[16];
    static const char *types[] = {"other", "integrated", "discrete", "virtual", "CPU"};
    char err[512], mem[32];
    int n, i;
    memset(&p, 0, sizeof p);
    p.log = devices_log;
    while (cli_next(&a)) {
        if (cli_flag(&a, NULL, "--validation")) p.validation = 1;
        else cli_unknown(&a);
    }
    n = llm_vk_devices(&p, info, 16, err, sizeof err);
    if (n < 0) cli_fail("%s", err);
    if (n == 0) {
        printf("no Vulkan devices\n");
        return 0;
    }
    printf("| # | device | type | Vulkan | device memory | max binding | features | tier | self-test |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (i = 0; i < n && i < 16; i++) {
        char feat[128];
        snprintf(feat, sizeof feat, "%s%s%ssubgroup %u%s", info[i].storage16 ? "16-bit storage, " : "", info[i].storage8 ? "8-bit storage, " : "",
                 info[i].int_dot ? "integer dot, " : "", info[i].subgroup_size, info[i].subgroup_arith ? " (arithmetic)" : "");
        printf("| %d | %s | %s | %u.%u | %s | %.0f MiB | %s | %s | %s |\n", i + 1, info[i].name,
               info[i].type >= 0 && info[i].type <= 4 ? types[info[i].type] : "?", info[i].api_version >> 22, (info[i].api_version >> 12) & 1023,
               cli_fmt_bytes(info[i].device_local_bytes, mem, sizeof mem), (double)info[i].max_storage_buffer_range / 1048576.0, feat,
               info[i].tier ? llm_vk_tier_name(info[i].tier) : "-", info[i].selftest_msg);
    }
    return 0;
}
