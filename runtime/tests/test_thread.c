/* The last error is thread-local, and contexts used by different threads at once do not
 * interfere (the runtime has no other global state). */
#define _POSIX_C_SOURCE 200809L
#include "adcompile_runtime.h"
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { NTHREADS = 4, ROUNDS = 200 };

typedef struct {
    int id;
    pthread_barrier_t *barrier;
    int ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *arg = (worker_arg *)p;
    char msg[64];
    int round;
    arg->ok = 1;
    /* a fresh thread starts without a last error */
    if (adc_last_error_code() != ADC_OK || strcmp(adc_last_error(), "") != 0)
        arg->ok = 0;
    sprintf(msg, "failure in thread %d", arg->id);
    adc_fail(NULL, ADC_ERR_SHAPE + arg->id % 4, msg);
    /* every thread has recorded its failure before any checks it */
    pthread_barrier_wait(arg->barrier);
    if (adc_last_error_code() != ADC_ERR_SHAPE + arg->id % 4 || strcmp(adc_last_error(), msg) != 0)
        arg->ok = 0;

    /* concurrent contexts: allocate, tape, snapshot and fail independently */
    for (round = 0; round < ROUNDS; round++) {
        adc_ctx *ctx = adc_ctx_new();
        adc_tape *t = adc_tape_new(ctx, sizeof(int));
        adc_snapshots *s = adc_snapshots_new(ctx, 2);
        int i, v;
        int *block = (int *)adc_alloc(ctx, 1000 * sizeof(int));
        if (!ctx || !t || !s || !block) {
            arg->ok = 0;
            adc_ctx_free(ctx);
            break;
        }
        for (i = 0; i < 1000; i++) {
            block[i] = arg->id * 100000 + i;
            adc_tape_push(t, &block[i]);
        }
        adc_snapshot_save(s, 1, block, 1000 * sizeof(int));
        for (i = 999; i >= 0; i--) {
            adc_tape_pop(t, &v);
            if (v != arg->id * 100000 + i)
                arg->ok = 0;
        }
        if (((const int *)adc_snapshot_get(s, 1, NULL))[999] != arg->id * 100000 + 999)
            arg->ok = 0;
        sprintf(msg, "thread %d round %d", arg->id, round);
        adc_fail(ctx, ADC_ERR_INDEX, msg);
        if (strcmp(adc_ctx_message(ctx), msg) != 0 || strcmp(adc_last_error(), msg) != 0)
            arg->ok = 0;
        adc_ctx_free(ctx);
    }
    return NULL;
}

int main(void)
{
    pthread_t threads[NTHREADS];
    worker_arg args[NTHREADS];
    pthread_barrier_t barrier;
    int i;

    adc_clear_error();
    adc_fail(NULL, ADC_ERR_VALUE, "main thread failure");
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++) {
        args[i].id = i;
        args[i].barrier = &barrier;
        args[i].ok = 0;
        CHECK(pthread_create(&threads[i], NULL, worker, &args[i]) == 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(threads[i], NULL);
        CHECK(args[i].ok);
    }
    pthread_barrier_destroy(&barrier);
    /* the workers' failures did not reach this thread */
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_VALUE);
    CHECK_STREQ(adc_last_error(), "main thread failure");
    return CHECK_RESULT();
}
