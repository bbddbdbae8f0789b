/* The one translation unit of the `llm` command that compiles llm.h's implementation. */
#define LLM_IMPLEMENTATION
#include "../../llm.h"
