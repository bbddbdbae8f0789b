/* llm.h's implementation for the libFuzzer harnesses (LLM_FUZZ_LINKED_IMPL), compiled once
   into build/fuzz/impl.o and linked into each: with ASan, UBSan and coverage it takes minutes
   to compile, and the harnesses use only the public API. */
#define _POSIX_C_SOURCE 200809L
#define LLM_IMPLEMENTATION
#include "../../llm.h"
