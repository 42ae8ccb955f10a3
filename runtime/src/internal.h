/* Internal definitions shared by the runtime's translation units; not installed. */
#ifndef ADCOMPILE_RUNTIME_INTERNAL_H
#define ADCOMPILE_RUNTIME_INTERNAL_H

#include "adcompile_runtime.h"

#include <stdint.h>

#if defined(__GNUC__) && !defined(_WIN32)
#define ADC_HIDDEN __attribute__((visibility("hidden")))
#define ADC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define ADC_HIDDEN
#define ADC_PRINTF(fmt, args)
#endif

/* Largest byte count the runtime will ever try to obtain from malloc (leaves room for headers). */
#define ADC_MAX_BYTES \
    ((uint64_t)(SIZE_MAX / 2) < (uint64_t)INT64_MAX ? (int64_t)(SIZE_MAX / 2) : INT64_MAX)

struct adc_chunk;
struct adc_tape_node;

struct adc_ctx {
    struct adc_chunk *chunks;     /* arena chunks; the head is the one small requests bump into */
    struct adc_tape_node *tapes;  /* tapes owned by this context */
    struct adc_snapshots *snaps;  /* snapshot stores owned by this context */
    int64_t bytes;                /* see adc_ctx_bytes */
    int64_t peak;                 /* see adc_ctx_peak_bytes */
    int error;                    /* last code recorded by adc_fail */
    char message[ADC_MESSAGE_MAX];
    int64_t warnings;             /* see adc_ctx_warnings */
    char warning[ADC_MESSAGE_MAX];  /* the first warning recorded */
};

/* Adds delta (may be negative) to the bytes held by ctx and updates the peak; ctx may be NULL. */
static inline void adc__account(adc_ctx *ctx, int64_t delta)
{
    if (ctx) {
        ctx->bytes += delta;
        if (ctx->bytes > ctx->peak)
            ctx->peak = ctx->bytes;
    }
}

/* adc_fail with a printf-style message. */
ADC_HIDDEN int adc__failf(adc_ctx *ctx, int code, const char *fmt, ...) ADC_PRINTF(3, 4);

/* Records a warning (printf-style) in ctx and in the calling thread; the program goes on. */
ADC_HIDDEN void adc__warnf(adc_ctx *ctx, const char *fmt, ...) ADC_PRINTF(2, 3);

/* Free every tape / snapshot store in ctx's lists (used by adc_ctx_free). */
ADC_HIDDEN void adc__tapes_free_all(adc_ctx *ctx);
ADC_HIDDEN void adc__snapshots_free_all(adc_ctx *ctx);

#endif /* ADCOMPILE_RUNTIME_INTERNAL_H */
