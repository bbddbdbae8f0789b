# llm.h
#   make                   build/llm and build/examples/*
#   make test              compile checks, every build, then the test suite (build/test)
#   make test FILTER=gguf  only the tests whose name contains gguf
#   make clean
#   make fuzz SECONDS=N    each libFuzzer harness of tests/fuzz for N seconds (default 60)
#   make fuzz-ci           each harness 20 s on its seed corpus, and the regression inputs
#   make check-sanitize    the whole suite built with clang ASan+UBSan
#   make check-valgrind    a subset of the suite under valgrind (see VALGRIND_FILTER)
#   make check-tsan        four threads generating on one model, and the thread pool, under TSan
#   make check-armhf       the unit tests built for armhf (scalar path) under qemu-arm-static
#   make check-limits      small LLM_MAX_* refuse a model (or a context) cleanly
#   make check-windows     llm.exe and the tests built with mingw-w64, the tests run under wine
#   make check-shaders     the SPIR-V in llm_vulkan.h matches shaders/*.comp (needs glslc)
# No -march: AVX2 kernels are chosen at run time on x86-64; NEON is baseline on AArch64.

ifeq ($(origin CC),default)
CC = gcc
endif
CFLAGS = -O2 -g -Wall -Wextra -Werror -std=c11
LDLIBS = -lm -lpthread -ldl
WARN   = -Wall -Wextra -Werror

CLANG   := $(shell command -v clang 2>/dev/null)
CLANGXX := $(shell command -v clang++ 2>/dev/null)
CROSS   := $(shell command -v aarch64-linux-gnu-gcc 2>/dev/null)
ARMHF   := $(shell command -v arm-linux-gnueabihf-gcc 2>/dev/null)
MINGW   := $(shell command -v x86_64-w64-mingw32-gcc 2>/dev/null)
GLSLC   := $(shell command -v glslc 2>/dev/null)
WINE    := $(shell command -v wine 2>/dev/null)

HEADER   = llm.h llm_vulkan.h
LLM_SRC  = $(wildcard tools/llm/*.c)
LLM_OBJ  = $(LLM_SRC:tools/llm/%.c=build/obj/llm/%.o)
EXAMPLES = $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))
TEST_SRC = $(wildcard tests/*.c) tools/llm/cost.c tools/llm/common.h

# build/check/NAME: llm.h's implementation compiled with one compiler and language
CHECKS = build/check/gcc-c11 build/check/gcc-c11-no-threads build/check/gcc-c11-no-simd build/check/g++-c++17
TESTS  = build/test
# What `make test` runs besides build/test (CI_EXTRA), decided by what is installed
CI_EXTRA = check-limits
ifneq ($(CLANG),)
CHECKS += build/check/clang-c11
TESTS  += build/test-asan
CI_EXTRA += check-tsan check-sanitize fuzz-ci
endif
ifneq ($(ARMHF),)
CI_EXTRA += check-armhf
endif
ifneq ($(MINGW),)
CI_EXTRA += check-windows
endif
ifneq ($(GLSLC),)
CI_EXTRA += check-shaders
endif
ifneq ($(CLANGXX),)
CHECKS += build/check/clang++-c++17 build/check/examples
endif
ifneq ($(CROSS),)
TESTS  += build/test-aarch64 build/test-aarch64-dotprod
endif

.PHONY: all test clean check-generated check-shaders fuzz fuzz-ci fuzz-corpus fuzz-replay check-sanitize check-valgrind \
        check-tsan check-armhf check-windows check-limits
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
ifeq ($(FILTER),)
	@$(MAKE) --no-print-directory $(CI_EXTRA)
endif

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

# The SPIR-V embedded in llm_vulkan.h must be what glslc makes of shaders/*.comp today.
check-shaders:
	python3 tools/embed_shaders.py --check

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

# ---- hardening: sanitizers, valgrind, cross builds, fuzzing -------------------------------

SAN_ENV = LLM_TEST_SANITIZED=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1

# the whole suite but the tests that only drive other, unsanitized programs (build/llm's
# commands, the AArch64 builds under qemu): build/test runs those
SAN_SKIP = -_qemu -test_serve -test_pull -test_cli_run -test_cli_bench
check-sanitize: build/test-asan
	$(SAN_ENV) ./build/test-asan $(SAN_SKIP)

# valgrind is ~30x slower than native: the subset that parses input and allocates, not the
# kernels and architectures (those are covered by check-sanitize)
VALGRIND_FILTER = gguf harden tok bpe chat sampling json
build/test-valgrind: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(WARN) -std=c11 -o $@ tests/test.c $(LDLIBS)
check-valgrind: build/test-valgrind
	LLM_TEST_SANITIZED=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		./build/test-valgrind $(VALGRIND_FILTER)

build/test-tsan: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	clang -O1 -g -fsanitize=thread $(WARN) -std=c11 -o $@ tests/test.c $(LDLIBS)
check-tsan: build/test-tsan
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ./build/test-tsan test_harden_threads test_pool \
		test_generate_cancel test_bit_identity

# armhf: llm.h's NEON code is AArch64-only, so the scalar kernels run here (-mfpu=neon lets
# the compiler auto-vectorise); the same subset the AArch64 build runs, plus the input parsers
ARMHF_FILTER = test_sha256 test_type_table test_fp16 test_q8_0 test_dequant test_matvec test_simd test_refs_real \
               test_bit_identity test_rng test_tok_vectors test_kquant test_q32 test_k2 gguf harden bpe chat
build/test-armhf: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	arm-linux-gnueabihf-gcc -O2 -g $(WARN) -std=c11 -mfpu=neon -mfloat-abi=hard -static -o $@ tests/test.c $(LDLIBS)
check-armhf: build/test-armhf
	qemu-arm-static ./build/test-armhf $(ARMHF_FILTER)

# Windows x86-64: mingw-w64 (msvcrt; C99 printf via __USE_MINGW_ANSI_STDIO, so -Wno-format:
# GCC checks the formats as Microsoft's). The tests run under wine where it is installed.
WIN_CC    = x86_64-w64-mingw32-gcc
WIN_FLAGS = -O2 -g $(WARN) -Wno-format -std=c11 -D__USE_MINGW_ANSI_STDIO=1
# everything but the tests that run the Linux build/llm (cli, synth) or other builds (qemu, asan)
WIN_FILTER = test_sha256 test_type_table test_fp16 test_q8_0 test_dequant test_matvec test_simd test_refs test_greedy \
             test_bit_identity test_generate test_context test_pool test_tok test_bpe test_chat_templates \
             test_chat_detect test_chat_models test_kquant test_k2 test_q32 test_quantizer test_rng test_sampler \
             test_step test_state test_arch_hparams test_arch_refs test_arch_greedy test_arch_bit test_gguf_tiny \
             test_gguf_meta test_gguf_variants test_gguf_files test_gguf_api test_gguf_real test_gguf_invalid \
             test_gguf_bad test_gguf_many test_gguf_trunc test_gguf_limits test_gguf_out test_gguf_mut \
             test_gguf_shared harden test_cost
build/win/llm.exe: $(LLM_SRC) tools/llm/common.h $(HEADER)
	@mkdir -p $(@D)
	$(WIN_CC) $(WIN_FLAGS) -static -o $@ $(LLM_SRC) -lm -lpthread
build/win/test.exe: $(TEST_SRC) $(HEADER)
	@mkdir -p $(@D)
	$(WIN_CC) $(WIN_FLAGS) -static -o $@ tests/test.c -lm
check-windows: build/win/llm.exe build/win/test.exe
ifneq ($(WINE),)
	WINEDEBUG=-all WINEPREFIX=$(CURDIR)/build/wine wine build/win/llm.exe --help > /dev/null
	WINEDEBUG=-all WINEPREFIX=$(CURDIR)/build/wine wine build/win/test.exe $(WIN_FILTER)
else
	@echo "check-windows: built build/win/llm.exe and build/win/test.exe; not run: wine not installed"
endif

# LLM_MAX_* set small at compile time refuse stories260K (or a large context) cleanly
LIMITS = LLM_MAX_KV=8 LLM_MAX_TENSORS=8 LLM_MAX_VOCAB=256 LLM_MAX_CTX=64
check-limits: tests/limits.c $(HEADER)
	@mkdir -p build/limits
	@for d in $(LIMITS); do $(CC) -O1 -g $(WARN) -std=c11 -D$$d -o build/limits/$$d tests/limits.c $(LDLIBS) && \
	  ./build/limits/$$d || exit 1; done

# libFuzzer harnesses (tests/fuzz/*.c); build/fuzz-replay/* are the same files with their
# plain main(), replaying files or directories given on the command line
FUZZERS  = gguf gguf_file tokenize detokenize chat decode http
SECONDS ?= 60
FUZZ_CI_SECONDS = 20
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DLLM_FUZZER $(WARN) -std=c11
# llm.h's implementation is compiled once (minutes with these flags) and linked into each harness
build/fuzz/impl.o: tests/fuzz/impl.c $(HEADER)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -c -o $@ $<
build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h build/fuzz/impl.o
	clang $(FUZZ_FLAGS) -DLLM_FUZZ_LINKED_IMPL -o $@ $< build/fuzz/impl.o $(LDLIBS)
build/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(HEADER)
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined $(WARN) -std=c11 -o $@ $< $(LDLIBS)
# http includes the server's source for its static parsers
build/fuzz/http build/fuzz-replay/http: tools/llm/server.c tools/llm/server.h
build/fuzz/corpus/.done: tests/fuzz/make_corpus.sh build/llm
	tests/fuzz/make_corpus.sh build/fuzz/corpus && touch $@
fuzz-corpus: build/fuzz/corpus/.done
# runs each harness for SECONDS on a growing corpus build/fuzz/work/<harness> seeded from the corpus
fuzz: $(FUZZERS:%=build/fuzz/%) build/fuzz/corpus/.done
	@mkdir -p build/fuzz/artifacts
	@for h in $(FUZZERS); do mkdir -p build/fuzz/work/$$h; echo "fuzz $$h $(SECONDS) s"; \
	  ./build/fuzz/$$h -max_total_time=$(SECONDS) -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/artifacts/$$h- build/fuzz/work/$$h build/fuzz/corpus/$$h \
	    $$(test -d tests/fuzz/regressions/$$h && echo tests/fuzz/regressions/$$h) \
	    > build/fuzz/$$h.log 2>&1 || { tail -40 build/fuzz/$$h.log; exit 1; }; \
	  grep -E 'number_of_executed_units' build/fuzz/$$h.log; done
# the committed crash inputs and the seed corpus replayed by the plain-main builds
fuzz-replay: $(FUZZERS:%=build/fuzz-replay/%) build/fuzz/corpus/.done
	@for h in $(FUZZERS); do \
	  ./build/fuzz-replay/$$h build/fuzz/corpus/$$h $$(test -d tests/fuzz/regressions/$$h && echo tests/fuzz/regressions/$$h) \
	    || exit 1; done
# a campaign first runs every input of its corpus and the regressions, so CI needs no replay builds
fuzz-ci:
	@$(MAKE) --no-print-directory fuzz SECONDS=$(FUZZ_CI_SECONDS)

clean:
	rm -rf build
