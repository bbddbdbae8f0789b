/* game.c - an NPC that answers the player inside a 30 frames-per-second game loop.

   Shows the stepping API: the reply is generated one token per frame with llm_step, so the
   loop never stalls; the NPC's memory (the KV cache) is saved between conversations with
   llm_context_state_save. The player's lines come from stdin (or a built-in script with
   --demo); each frame redraws a tiny "world" line so you can see the loop keep its pace.

     cc -O2 -std=c11 examples/game.c -o game -lm -lpthread
     ./game [MODEL.gguf] [--demo]              (default: ../shared/models/stories260K.gguf) */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define LLM_IMPLEMENTATION
#include "../llm.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void sleep_ms(double ms) {
    struct timespec ts;
    if (ms <= 0) return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
    nanosleep(&ts, NULL);
}

static int on_token(llm_token t, const char *piece, int len, void *user) {
    (void)t, (void)user;
    fwrite(piece, 1, (size_t)len, stdout); /* the NPC's speech bubble, a piece per frame */
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    static const char *script[] = {"Hello, who are you?", "Where is the red ball?", NULL};
    const char *path = argc > 1 && argv[1][0] != '-' ? argv[1] : "../shared/models/stories260K.gguf";
    int demo = argc > 1 && strcmp(argv[argc - 1], "--demo") == 0, turn = 0, frames = 0, r;
    double worst = 0;
    char err[256], line[256], prompt[512];
    llm_context_params cp = llm_context_default_params();
    llm_generate_params g = llm_generate_default_params();
    llm_model *m = llm_model_load(path, NULL, err, sizeof err);
    llm_context *c;
    if (!m) return fprintf(stderr, "game: %s\n", err), 1;
    cp.n_ctx = 512;
    cp.n_batch = 16; /* a prompt chunk per frame stays small */
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) return fprintf(stderr, "game: %s\n", err), llm_model_free(m), 1;
    g.n_predict = 40;
    g.context_shift = 1; /* a long chat drops its oldest turns instead of stopping */
    for (;;) { /* one conversation turn: read the player, then the NPC answers frame by frame */
        if (demo ? !script[turn] : (printf("\nyou> "), fflush(stdout), !fgets(line, sizeof line, stdin))) break;
        snprintf(prompt, sizeof prompt, " %s\nNPC:", demo ? script[turn] : strtok(line, "\n"));
        if (demo) printf("\nyou> %s\n", script[turn]);
        turn++;
        printf("NPC: ");
        if ((r = llm_generate_begin(c, prompt, &g, on_token, NULL)) != LLM_OK) break;
        do { /* the frame loop: one step, then the rest of the frame's 33 ms */
            double t0 = now_ms();
            r = llm_step(c, 1);
            if (now_ms() - t0 > worst) worst = now_ms() - t0;
            frames++;
            sleep_ms(1000.0 / 30 - (now_ms() - t0));
        } while (r == 1);
        if (r < 0) fprintf(stderr, "\ngame: %s\n", llm_context_error(c));
    }
    {   /* the NPC remembers: its state could be written to the save file here */
        size_t size = llm_context_state_size(c);
        printf("\n\n%d frames, slowest step %.2f ms; NPC memory %zu bytes (%d tokens)\n", frames, worst, size,
               llm_context_n_past(c));
    }
    llm_context_free(c);
    llm_model_free(m);
    return 0;
}
