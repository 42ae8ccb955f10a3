/* Contexts and arena allocation: alignment, zero-size blocks, chunk boundaries, big blocks,
 * byte accounting, and the failure paths (negative, huge, NULL context). */
#include "adcompile_runtime.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGNED64(p) (((uintptr_t)(p) & 63u) == 0)

static void test_new_free(void)
{
    adc_ctx *ctx = adc_ctx_new();
    CHECK(ctx != NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_OK);
    CHECK_STREQ(adc_ctx_message(ctx), "");
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 0);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), 0);
    adc_ctx_free(ctx);
    adc_ctx_free(NULL); /* no-op */
    CHECK_EQ_INT(adc_ctx_bytes(NULL), 0);
    CHECK_EQ_INT(adc_ctx_peak_bytes(NULL), 0);
    adc_free(NULL);
    adc_free(malloc(16));
}

static void test_zero_size(void)
{
    adc_ctx *ctx = adc_ctx_new();
    void *a = adc_alloc(ctx, 0); /* first request on an empty context */
    void *b;
    CHECK(a != NULL);
    CHECK(ALIGNED64(a));
    b = adc_alloc(ctx, 0);
    CHECK(b != NULL);
    CHECK(ALIGNED64(b));
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 0);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_OK);
    adc_ctx_free(ctx);
}

/* Many small and medium blocks across chunk boundaries: aligned, writable, not overlapping. */
static void test_many_blocks(void)
{
    enum { N = 3000 };
    static unsigned char *blocks[N];
    static int64_t sizes[N];
    adc_ctx *ctx = adc_ctx_new();
    int64_t total = 0;
    int i;
    for (i = 0; i < N; i++) {
        /* sizes 1..~20000 bytes, with some exactly at the 64-byte boundary and around the
           big-request threshold */
        int64_t n = (int64_t)((i * 7919) % 20011) + 1;
        if (i % 97 == 0)
            n = 64;
        if (i % 101 == 0)
            n = 16 * 1024;
        if (i % 103 == 0)
            n = 16 * 1024 + 1;
        sizes[i] = n;
        blocks[i] = (unsigned char *)adc_alloc(ctx, n);
        CHECK(blocks[i] != NULL);
        if (blocks[i] == NULL)
            break;
        CHECK(ALIGNED64(blocks[i]));
        memset(blocks[i], (int)(i & 0xff), (size_t)n);
        total += n;
    }
    for (i = 0; i < N && blocks[i]; i++) {
        int64_t k;
        int ok = 1;
        for (k = 0; k < sizes[i]; k++)
            if (blocks[i][k] != (unsigned char)(i & 0xff))
                ok = 0;
        CHECK(ok);
    }
    CHECK_EQ_INT(adc_ctx_bytes(ctx), total);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), total);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_OK);
    adc_ctx_free(ctx);
}

/* A big block gets its own chunk; small blocks keep filling the current chunk. */
static void test_big_blocks(void)
{
    adc_ctx *ctx = adc_ctx_new();
    char *small1 = (char *)adc_alloc(ctx, 100);
    char *big = (char *)adc_alloc(ctx, 10 * 1024 * 1024);
    char *small2 = (char *)adc_alloc(ctx, 100);
    char *big2;
    CHECK(small1 && big && small2);
    CHECK(ALIGNED64(big) && ALIGNED64(small2));
    /* small2 comes from the same chunk as small1, right after it */
    CHECK(small2 == small1 + 128);
    memset(big, 1, 10 * 1024 * 1024);
    memset(small1, 2, 100);
    memset(small2, 3, 100);
    CHECK(big[0] == 1 && big[10 * 1024 * 1024 - 1] == 1 && small1[99] == 2 && small2[0] == 3);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 10 * 1024 * 1024 + 200);
    /* a big block as the very first request of a context */
    adc_ctx_free(ctx);
    ctx = adc_ctx_new();
    big2 = (char *)adc_alloc(ctx, 1 << 20);
    CHECK(big2 != NULL && ALIGNED64(big2));
    small1 = (char *)adc_alloc(ctx, 8);
    CHECK(small1 != NULL && ALIGNED64(small1));
    CHECK(small1 < big2 || small1 >= big2 + (1 << 20));
    CHECK_EQ_INT(adc_ctx_bytes(ctx), (1 << 20) + 8);
    adc_ctx_free(ctx);
}

static void test_failures(void)
{
    adc_ctx *ctx = adc_ctx_new();
    void *p;

    adc_clear_error();
    p = adc_alloc(ctx, -1);
    CHECK(p == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_VALUE);
    CHECK(strstr(adc_ctx_message(ctx), "negative") != NULL);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_VALUE);
    CHECK_STREQ(adc_last_error(), adc_ctx_message(ctx));

    /* too large to even try */
    p = adc_alloc(ctx, INT64_MAX);
    CHECK(p == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_ALLOC);
    CHECK(strlen(adc_ctx_message(ctx)) > 0);

    /* representable but far beyond any address space: malloc itself fails */
    adc_clear_error();
    p = adc_alloc(ctx, (int64_t)1 << 62);
    CHECK(p == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_ALLOC);
    CHECK(strstr(adc_last_error(), "bytes") != NULL);

    /* failures hold no bytes and leave the context usable */
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 0);
    p = adc_alloc(ctx, 32);
    CHECK(p != NULL);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 32);

    /* NULL context */
    adc_clear_error();
    CHECK(adc_alloc(NULL, 8) == NULL);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_INTERNAL);
    adc_ctx_free(ctx);
}

int main(void)
{
    test_new_free();
    test_zero_size();
    test_many_blocks();
    test_big_blocks();
    test_failures();
    return CHECK_RESULT();
}
