/* Contexts and the arena: a linked list of 64 KiB chunks (big requests get their own chunk),
 * every block 64-byte aligned, all freed at once by adc_ctx_free. */
#include "internal.h"

#include <stdlib.h>

#define ADC_ALIGN 64
#define ADC_CHUNK_SIZE ((size_t)64 * 1024)
/* Requests above this get a dedicated chunk, so at most a quarter of a chunk is wasted. */
#define ADC_BIG_REQUEST (ADC_CHUNK_SIZE / 4)

typedef struct adc_chunk {
    struct adc_chunk *next;
    char *base;  /* first 64-byte aligned address after the header */
    size_t size; /* usable bytes from base (multiple of ADC_ALIGN) */
    size_t used; /* bytes handed out from base (multiple of ADC_ALIGN) */
} adc_chunk;

static size_t round_up(size_t n)
{
    return (n + (ADC_ALIGN - 1)) & ~(size_t)(ADC_ALIGN - 1);
}

/* size must be a multiple of ADC_ALIGN and at most ADC_MAX_BYTES. */
static adc_chunk *chunk_new(size_t size)
{
    adc_chunk *c = (adc_chunk *)malloc(sizeof(adc_chunk) + (ADC_ALIGN - 1) + size);
    uintptr_t start;
    if (c == NULL)
        return NULL;
    start = (uintptr_t)(c + 1);
    c->next = NULL;
    c->base = (char *)c + (((start + (ADC_ALIGN - 1)) & ~(uintptr_t)(ADC_ALIGN - 1)) - (uintptr_t)c);
    c->size = size;
    c->used = 0;
    return c;
}

adc_ctx *adc_ctx_new(void)
{
    adc_ctx *ctx = (adc_ctx *)calloc(1, sizeof(adc_ctx));
    if (ctx == NULL)
        adc_fail(NULL, ADC_ERR_ALLOC, "out of memory creating a runtime context");
    return ctx;
}

void adc_ctx_free(adc_ctx *ctx)
{
    adc_chunk *c;
    if (ctx == NULL)
        return;
    adc__tapes_free_all(ctx);
    adc__snapshots_free_all(ctx);
    c = ctx->chunks;
    while (c) {
        adc_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(ctx);
}

/* Slow path of adc_alloc: the head chunk is missing or too small. */
static void *alloc_slow(adc_ctx *ctx, int64_t nbytes)
{
    size_t n = (size_t)nbytes;
    adc_chunk *c;
    if (n > ADC_BIG_REQUEST) {
        c = chunk_new(round_up(n));
        if (c == NULL)
            goto fail;
        c->used = c->size;
        if (ctx->chunks) { /* keep the head, whose free space still serves small requests */
            c->next = ctx->chunks->next;
            ctx->chunks->next = c;
        } else {
            ctx->chunks = c;
        }
    } else {
        c = chunk_new(ADC_CHUNK_SIZE);
        if (c == NULL)
            goto fail;
        c->used = round_up(n);
        c->next = ctx->chunks;
        ctx->chunks = c;
    }
    adc__account(ctx, nbytes);
    return c->base;
fail:
    adc__failf(ctx, ADC_ERR_ALLOC, "out of memory allocating %lld bytes", (long long)nbytes);
    return NULL;
}

void *adc_alloc(adc_ctx *ctx, int64_t nbytes)
{
    adc_chunk *c;
    if (ctx == NULL) {
        adc_fail(NULL, ADC_ERR_INTERNAL, "adc_alloc called with a NULL context");
        return NULL;
    }
    if (nbytes < 0) {
        adc__failf(ctx, ADC_ERR_VALUE, "negative allocation size %lld", (long long)nbytes);
        return NULL;
    }
    if (nbytes > ADC_MAX_BYTES - 4 * ADC_ALIGN) {
        adc__failf(ctx, ADC_ERR_ALLOC, "allocation of %lld bytes is too large", (long long)nbytes);
        return NULL;
    }
    c = ctx->chunks;
    /* size and used are multiples of ADC_ALIGN, so n <= size - used implies round_up(n) fits. */
    if (c && (size_t)nbytes <= c->size - c->used) {
        void *p = c->base + c->used;
        c->used += round_up((size_t)nbytes);
        adc__account(ctx, nbytes);
        return p;
    }
    return alloc_slow(ctx, nbytes);
}

int64_t adc_ctx_bytes(const adc_ctx *ctx)
{
    return ctx ? ctx->bytes : 0;
}

int64_t adc_ctx_peak_bytes(const adc_ctx *ctx)
{
    return ctx ? ctx->peak : 0;
}

void adc_free(void *p)
{
    free(p);
}
