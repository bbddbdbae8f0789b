# llm.h
#   make                   build/llm and build/examples/*
#   make test              compile checks, every build, then the test suite (build/test)
#   make test FILTER=gguf  only the tests whose name contains gguf
#   make clean
# No -march: AVX2 kernels are chosen at run time on x86-64; NEON is baseline on AArch64.

ifeq ($(origin CC),default)
CC = gcc
endif
CFLAGS = -O2 -g -Wall -Wextra -Werror -std=c11
LDLIBS = -lm -lpthread
WARN   = -Wall -Wextra -Werror

CLANG   := $(shell command -v clang 2>/dev/null)
CLANGXX := $(shell command -v clang++ 2>/dev/null)
CROSS   := $(shell command -v aarch64-linux-gnu-gcc 2>/dev/null)

HEADER   = llm.h
LLM_SRC  = $(wildcard tools/llm/*.c)
LLM_OBJ  = $(LLM_SRC:tools/llm/%.c=build/obj/llm/%.o)
EXAMPLES = $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))
TEST_SRC = $(wildcard tests/*.c)

# build/check/NAME: llm.h's implementation compiled with one compiler and language
CHECKS = build/check/gcc-c11 build/check/gcc-c11-no-threads build/check/gcc-c11-no-simd build/check/g++-c++17
TESTS  = build/test
ifneq ($(CLANG),)
CHECKS += build/check/clang-c11
TESTS  += build/test-asan
endif
ifneq ($(CLANGXX),)
CHECKS += build/check/clang++-c++17 build/check/examples
endif
ifneq ($(CROSS),)
TESTS  += build/test-aarch64 build/test-aarch64-dotprod
endif

.PHONY: all test clean check-generated
all: build/llm $(EXAMPLES)

build/llm: $(LLM_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/obj/llm/%.o: tools/llm/%.c tools/llm/common.h tools/llm/server.h $(HEADER)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/examples/%: examples/%.c $(HEADER)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

build/examples/server: tools/llm/server.c tools/llm/server.h

# ---- tests --------------------------------------------------------------------------------

test: check-generated $(CHECKS) all $(TESTS)
ifeq ($(CLANG),)
	@echo "compile checks and build/test-asan with clang skipped: clang not installed"
endif
ifeq ($(CROSS),)
	@echo "build/test-aarch64 skipped: aarch64-linux-gnu-gcc not installed"
endif
	./build/test $(FILTER)

build/test: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ tests/test.c $(LDLIBS)

build/test-asan: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	clang -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined $(WARN) -std=c11 \
		-o $@ tests/test.c $(LDLIBS)

build/test-aarch64: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	aarch64-linux-gnu-gcc -O2 -g $(WARN) -std=c11 -march=armv8-a -static -o $@ tests/test.c $(LDLIBS)

build/test-aarch64-dotprod: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	aarch64-linux-gnu-gcc -O2 -g $(WARN) -std=c11 -march=armv8.2-a+dotprod -static -o $@ tests/test.c $(LDLIBS)

# Generated sections of llm.h must match their generators (needs Debian's unicode-data).
check-generated:
	@if [ -f /usr/share/unicode/UnicodeData.txt ]; then python3 tools/gen_unicode.py --check; \
	else echo "check-generated skipped: /usr/share/unicode/UnicodeData.txt missing (apt-get install unicode-data)"; fi

CHECK_DEPS = tools/compile_check.c $(HEADER)
CHECK_C    = -O2 $(WARN) -std=c11 -c -o /dev/null tools/compile_check.c
CHECK_CXX  = -O2 $(WARN) -x c++ -std=c++17 -c -o /dev/null tools/compile_check.c

build/check/gcc-c11: $(CHECK_DEPS)
	@mkdir -p $(@D)
	gcc $(CHECK_C) && touch $@
build/check/gcc-c11-no-threads: $(CHECK_DEPS)
	@mkdir -p $(@D)
	gcc -DLLM_NO_THREADS $(CHECK_C) && touch $@
build/check/gcc-c11-no-simd: $(CHECK_DEPS)
	@mkdir -p $(@D)
	gcc -DLLM_NO_SIMD $(CHECK_C) && touch $@
build/check/g++-c++17: $(CHECK_DEPS)
	@mkdir -p $(@D)
	g++ $(CHECK_CXX) && touch $@
build/check/clang-c11: $(CHECK_DEPS)
	@mkdir -p $(@D)
	clang $(CHECK_C) && touch $@
build/check/clang++-c++17: $(CHECK_DEPS)
	@mkdir -p $(@D)
	clang++ $(CHECK_CXX) && touch $@

# every example as C11 with clang and as C++17 with g++ and clang++
build/check/examples: $(wildcard examples/*.c) $(HEADER)
	@mkdir -p $(@D)
	for f in examples/*.c; do \
		clang $(WARN) -std=c11 -fsyntax-only $$f && g++ $(WARN) -x c++ -std=c++17 -fsyntax-only $$f && \
		clang++ $(WARN) -x c++ -std=c++17 -fsyntax-only $$f || exit 1; done && touch $@

clean:
	rm -rf build
