/* Snapshot stores: save/get/drop, buffer reuse, slot-table growth, empty blobs, aliasing,
 * byte accounting (current and peak) and the failure paths. */
#include "adcompile_runtime.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

static void test_roundtrip(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_snapshots *s = adc_snapshots_new(ctx, 4);
    double state[10], got[10];
    const void *p;
    int64_t n = -1;
    int i;
    CHECK(s != NULL);
    CHECK_EQ_INT(adc_snapshots_count(s), 0);
    CHECK_EQ_INT(adc_snapshots_bytes(s), 0);

    for (i = 0; i < 10; i++)
        state[i] = i * 1.5;
    CHECK_EQ_INT(adc_snapshot_save(s, 2, state, sizeof state), ADC_OK);
    state[0] = -100.0; /* the store holds a copy */
    p = adc_snapshot_get(s, 2, &n);
    CHECK(p != NULL);
    CHECK_EQ_INT(n, sizeof state);
    memcpy(got, p, sizeof got);
    CHECK(got[0] == 0.0 && got[9] == 13.5);
    CHECK_EQ_INT(adc_snapshots_count(s), 1);
    CHECK_EQ_INT(adc_snapshots_bytes(s), sizeof state);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), sizeof state);

    /* empty and out-of-range slots */
    n = 123;
    CHECK(adc_snapshot_get(s, 0, &n) == NULL);
    CHECK_EQ_INT(n, 0);
    n = 123;
    CHECK(adc_snapshot_get(s, 1000, &n) == NULL);
    CHECK_EQ_INT(n, 0);
    CHECK(adc_snapshot_get(s, -1, NULL) == NULL);
    CHECK(adc_snapshot_get(NULL, 0, NULL) == NULL);
    CHECK(adc_snapshot_get(s, 2, NULL) != NULL);

    adc_ctx_free(ctx);
}

static void test_replace(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_snapshots *s = adc_snapshots_new(ctx, 1);
    char big[1000], small[10];
    const void *p1, *p2;
    int64_t n;
    memset(big, 'b', sizeof big);
    memset(small, 's', sizeof small);

    CHECK_EQ_INT(adc_snapshot_save(s, 0, big, sizeof big), ADC_OK);
    p1 = adc_snapshot_get(s, 0, NULL);
    /* smaller blob: same buffer, capacity kept */
    CHECK_EQ_INT(adc_snapshot_save(s, 0, small, sizeof small), ADC_OK);
    p2 = adc_snapshot_get(s, 0, &n);
    CHECK(p1 == p2);
    CHECK_EQ_INT(n, 10);
    CHECK(memcmp(p2, small, 10) == 0);
    CHECK_EQ_INT(adc_snapshots_count(s), 1);
    CHECK_EQ_INT(adc_snapshots_bytes(s), 1000);
    /* larger blob: new buffer */
    {
        static char bigger[5000];
        memset(bigger, 'B', sizeof bigger);
        CHECK_EQ_INT(adc_snapshot_save(s, 0, bigger, sizeof bigger), ADC_OK);
        p2 = adc_snapshot_get(s, 0, &n);
        CHECK_EQ_INT(n, 5000);
        CHECK(memcmp(p2, bigger, 5000) == 0);
        CHECK_EQ_INT(adc_snapshots_bytes(s), 5000);
        CHECK_EQ_INT(adc_ctx_bytes(ctx), 5000);
        CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), 5000);
    }
    /* saving from the slot's own buffer (reuse and regrow paths) */
    p1 = adc_snapshot_get(s, 0, NULL);
    CHECK_EQ_INT(adc_snapshot_save(s, 0, (const char *)p1 + 100, 200), ADC_OK);
    p2 = adc_snapshot_get(s, 0, &n);
    CHECK_EQ_INT(n, 200);
    CHECK(((const char *)p2)[0] == 'B' && ((const char *)p2)[199] == 'B');
    adc_ctx_free(ctx);
}

static void test_table_growth(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_snapshots *s = adc_snapshots_new(ctx, 0);
    int64_t i, n;
    int ok = 1;
    CHECK(s != NULL);
    for (i = 0; i < 1000; i++) {
        int64_t v[3];
        v[0] = i;
        v[1] = i * i;
        v[2] = -i;
        /* slots far beyond the table, in a scattered order */
        if (adc_snapshot_save(s, (i * 37) % 1000, v, sizeof v) != ADC_OK)
            ok = 0;
    }
    CHECK(ok);
    CHECK_EQ_INT(adc_snapshots_count(s), 1000);
    CHECK_EQ_INT(adc_snapshots_bytes(s), 1000 * 3 * 8);
    for (i = 0; i < 1000; i++) {
        const int64_t *v = (const int64_t *)adc_snapshot_get(s, (i * 37) % 1000, &n);
        if (v == NULL || n != 24 || v[0] != i || v[1] != i * i || v[2] != -i)
            ok = 0;
    }
    CHECK(ok);
    /* a single save far beyond the table */
    CHECK_EQ_INT(adc_snapshot_save(s, 100000, "x", 1), ADC_OK);
    CHECK(adc_snapshot_get(s, 99999, NULL) == NULL);
    CHECK(adc_snapshot_get(s, 100000, NULL) != NULL);
    CHECK_EQ_INT(adc_snapshots_count(s), 1001);
    adc_ctx_free(ctx);
}

static void test_empty_blob_and_drop(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_snapshots *s = adc_snapshots_new(ctx, 2);
    int64_t n = 5;
    CHECK_EQ_INT(adc_snapshot_save(s, 0, NULL, 0), ADC_OK);
    CHECK(adc_snapshot_get(s, 0, &n) != NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(adc_snapshots_count(s), 1);
    CHECK_EQ_INT(adc_snapshots_bytes(s), 0);

    CHECK_EQ_INT(adc_snapshot_save(s, 1, "hello", 5), ADC_OK);
    CHECK_EQ_INT(adc_snapshots_count(s), 2);
    adc_snapshot_drop(s, 1);
    CHECK(adc_snapshot_get(s, 1, NULL) == NULL);
    CHECK_EQ_INT(adc_snapshots_count(s), 1);
    CHECK_EQ_INT(adc_snapshots_bytes(s), 0);
    adc_snapshot_drop(s, 0);
    CHECK_EQ_INT(adc_snapshots_count(s), 0);
    /* no-ops */
    adc_snapshot_drop(s, 0);
    adc_snapshot_drop(s, -1);
    adc_snapshot_drop(s, 1000);
    adc_snapshot_drop(NULL, 0);
    CHECK_EQ_INT(adc_snapshots_count(s), 0);
    CHECK_EQ_INT(adc_snapshots_count(NULL), 0);
    CHECK_EQ_INT(adc_snapshots_bytes(NULL), 0);
    /* a dropped slot can be saved again */
    CHECK_EQ_INT(adc_snapshot_save(s, 1, "again", 5), ADC_OK);
    CHECK(memcmp(adc_snapshot_get(s, 1, NULL), "again", 5) == 0);
    adc_ctx_free(ctx);
}

/* Current bytes go up and down with saves and drops; the peak keeps the maximum. */
static void test_accounting(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_snapshots *s = adc_snapshots_new(ctx, 8);
    adc_snapshots *s2 = adc_snapshots_new(ctx, 8);
    static char buf[4096];
    int64_t i;
    memset(buf, 1, sizeof buf);
    for (i = 0; i < 8; i++)
        CHECK_EQ_INT(adc_snapshot_save(s, i, buf, 1024), ADC_OK);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 8 * 1024);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), 8 * 1024);
    for (i = 0; i < 8; i += 2)
        adc_snapshot_drop(s, i);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 4 * 1024);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), 8 * 1024);
    CHECK_EQ_INT(adc_snapshot_save(s2, 0, buf, 4096), ADC_OK);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 8 * 1024);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), 8 * 1024);
    CHECK_EQ_INT(adc_snapshot_save(s2, 1, buf, 1), ADC_OK);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), 8 * 1024 + 1);
    CHECK_EQ_INT(adc_snapshots_bytes(s) + adc_snapshots_bytes(s2), adc_ctx_bytes(ctx));
    /* together with arena and tape bytes */
    {
        adc_tape *t = adc_tape_new(ctx, 8);
        int64_t before = adc_ctx_bytes(ctx);
        CHECK(adc_alloc(ctx, 500) != NULL);
        CHECK_EQ_INT(adc_tape_reserve(t, 128), ADC_OK);
        CHECK_EQ_INT(adc_ctx_bytes(ctx), before + 500 + t->cap * 8);
        for (i = 0; i < 8; i++) {
            adc_snapshot_drop(s, i);
            adc_snapshot_drop(s2, i);
        }
        CHECK_EQ_INT(adc_ctx_bytes(ctx), 500 + t->cap * 8);
        CHECK(adc_ctx_peak_bytes(ctx) >= before + 500 + t->cap * 8);
    }
    adc_ctx_free(ctx);
}

static void test_failures(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_snapshots *s = adc_snapshots_new(ctx, 1);
    int64_t n;
    const void *p;

    adc_clear_error();
    CHECK(adc_snapshots_new(NULL, 1) == NULL);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_INTERNAL);
    CHECK(adc_snapshots_new(ctx, -2) == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_VALUE);

    CHECK_EQ_INT(adc_snapshot_save(s, -1, "a", 1), ADC_ERR_INDEX);
    CHECK_EQ_INT(adc_snapshot_save(s, 0, "a", -1), ADC_ERR_VALUE);
    CHECK_EQ_INT(adc_snapshot_save(s, 0, NULL, 1), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_snapshot_save(NULL, 0, "a", 1), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_snapshots_count(s), 0);

    /* a blob that cannot be allocated: ADC_ERR_ALLOC, the old blob survives */
    CHECK_EQ_INT(adc_snapshot_save(s, 0, "keep", 4), ADC_OK);
    adc_clear_error();
    CHECK_EQ_INT(adc_snapshot_save(s, 0, "keep", (int64_t)1 << 62), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_ALLOC);
    p = adc_snapshot_get(s, 0, &n);
    CHECK(p != NULL && n == 4 && memcmp(p, "keep", 4) == 0);
    CHECK_EQ_INT(adc_snapshots_bytes(s), 4);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 4);

    /* a slot index whose table cannot be allocated */
    CHECK_EQ_INT(adc_snapshot_save(s, INT64_MAX, "a", 1), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_snapshot_save(s, (int64_t)1 << 58, "a", 1), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_snapshot_save(s, (int64_t)1 << 50, "a", 1), ADC_ERR_ALLOC); /* realloc fails */
    CHECK_EQ_INT(adc_snapshots_count(s), 1);
    CHECK_EQ_INT(adc_snapshot_save(s, 3, "ok", 2), ADC_OK);
    adc_ctx_free(ctx);
}

int main(void)
{
    test_roundtrip();
    test_replace();
    test_table_growth();
    test_empty_blob_and_drop();
    test_accounting();
    test_failures();
    return CHECK_RESULT();
}
