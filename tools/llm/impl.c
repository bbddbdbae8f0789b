/* The one translation unit of the `llm` command that compiles llm.h's implementation (and
   llm_vulkan.h's, which opens the Vulkan loader at run time: nothing new is linked). */
#define LLM_IMPLEMENTATION
#include "../../llm.h"
#define LLM_VULKAN_IMPLEMENTATION
#include "../../llm_vulkan.h"
