/* Tapes: ABI layout, push/pop order, geometric growth, reserve, the inlined fast path that
 * generated code uses, byte accounting and the failure paths. */
#include "adcompile_runtime.h"
#include "check.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void test_layout(void)
{
    /* generated code addresses these fields directly */
    CHECK_EQ_INT(offsetof(adc_tape, data), 0);
    if (sizeof(void *) == 8) {
        CHECK_EQ_INT(offsetof(adc_tape, len), 8);
        CHECK_EQ_INT(offsetof(adc_tape, cap), 16);
        CHECK_EQ_INT(offsetof(adc_tape, elem_size), 24);
        CHECK_EQ_INT(offsetof(adc_tape, ctx), 32);
        CHECK_EQ_INT(sizeof(adc_tape), 40);
    }
}

static void test_new(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *t = adc_tape_new(ctx, 8);
    CHECK(t != NULL);
    CHECK(t->data == NULL);
    CHECK_EQ_INT(t->len, 0);
    CHECK_EQ_INT(t->cap, 0);
    CHECK_EQ_INT(t->elem_size, 8);
    CHECK(t->ctx == ctx);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), 0);

    adc_clear_error();
    CHECK(adc_tape_new(ctx, 0) == NULL);
    CHECK(adc_tape_new(ctx, -8) == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_INTERNAL);
    CHECK(adc_tape_new(NULL, 8) == NULL);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_INTERNAL);
    adc_ctx_free(ctx);
}

static void test_push_pop(void)
{
    enum { N = 100000 };
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *t = adc_tape_new(ctx, sizeof(double));
    int64_t i, prev_cap = 0;
    int growth_ok = 1, order_ok = 1;
    for (i = 0; i < N; i++) {
        double x = (double)i * 0.5;
        CHECK_EQ_INT(adc_tape_push(t, &x), ADC_OK);
        if (t->cap != prev_cap) {
            /* geometric: at least x2, at least 64 */
            if (t->cap < 64 || (prev_cap > 0 && t->cap < 2 * prev_cap))
                growth_ok = 0;
            prev_cap = t->cap;
        }
    }
    CHECK(growth_ok);
    CHECK_EQ_INT(t->len, N);
    CHECK(t->cap >= N);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), t->cap * (int64_t)sizeof(double));
    for (i = N - 1; i >= 0; i--) {
        double x = -1.0;
        CHECK_EQ_INT(adc_tape_pop(t, &x), ADC_OK);
        if (x != (double)i * 0.5)
            order_ok = 0;
    }
    CHECK(order_ok);
    CHECK_EQ_INT(t->len, 0);

    /* pop from empty */
    adc_clear_error();
    CHECK_EQ_INT(adc_tape_pop(t, NULL), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(t->len, 0);

    /* pop discarding the value */
    {
        double x = 1.0;
        adc_tape_push(t, &x);
        adc_tape_push(t, &x);
        CHECK_EQ_INT(adc_tape_pop(t, NULL), ADC_OK);
        CHECK_EQ_INT(t->len, 1);
    }
    CHECK_EQ_INT(adc_tape_push(t, NULL), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_tape_push(NULL, &prev_cap), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_tape_pop(NULL, NULL), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_tape_grow(NULL), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_tape_reserve(NULL, 1), ADC_ERR_INTERNAL);
    adc_ctx_free(ctx);
}

/* Elements that are structs (e.g. a branch id and an index), pushed inline like generated code. */
typedef struct {
    int32_t branch;
    int64_t index;
    double value;
} entry;

static int fast_push(adc_tape *t, const entry *e)
{
    if (t->len == t->cap) {
        int rc = adc_tape_grow(t);
        if (rc != ADC_OK)
            return rc;
    }
    memcpy(t->data + t->len * t->elem_size, e, sizeof *e);
    t->len++;
    return ADC_OK;
}

static void fast_pop(adc_tape *t, entry *e)
{
    t->len--;
    memcpy(e, t->data + t->len * t->elem_size, sizeof *e);
}

static void test_fast_path(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *t = adc_tape_new(ctx, sizeof(entry));
    int64_t i;
    int ok = 1;
    for (i = 0; i < 5000; i++) {
        entry e;
        e.branch = (int32_t)(i % 3);
        e.index = i;
        e.value = (double)i / 7.0;
        CHECK_EQ_INT(fast_push(t, &e), ADC_OK);
    }
    /* mixing the inline path with the helpers */
    {
        entry e, f;
        memset(&e, 0, sizeof e);
        e.index = -1;
        CHECK_EQ_INT(adc_tape_push(t, &e), ADC_OK);
        CHECK_EQ_INT(adc_tape_pop(t, &f), ADC_OK);
        CHECK_EQ_INT(f.index, -1);
    }
    for (i = 4999; i >= 0; i--) {
        entry e;
        fast_pop(t, &e);
        if (e.index != i || e.branch != (int32_t)(i % 3) || e.value != (double)i / 7.0)
            ok = 0;
    }
    CHECK(ok);
    adc_ctx_free(ctx);
}

static void test_grow_reserve(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *t = adc_tape_new(ctx, 4);
    int64_t cap;
    int32_t v = 7;

    /* grow on an empty tape: at least 64 */
    CHECK_EQ_INT(adc_tape_grow(t), ADC_OK);
    CHECK(t->cap >= 64);
    CHECK(t->data != NULL);
    cap = t->cap;
    /* grow is a no-op while cap > len */
    CHECK_EQ_INT(adc_tape_grow(t), ADC_OK);
    CHECK_EQ_INT(t->cap, cap);
    /* grow when full: at least x2 */
    t->len = t->cap;
    CHECK_EQ_INT(adc_tape_grow(t), ADC_OK);
    CHECK(t->cap >= 2 * cap);
    CHECK(t->cap > t->len);
    t->len = 0;

    /* reserve takes a total: no change when already big enough */
    cap = t->cap;
    CHECK_EQ_INT(adc_tape_reserve(t, cap), ADC_OK);
    CHECK_EQ_INT(t->cap, cap);
    CHECK_EQ_INT(adc_tape_reserve(t, 1), ADC_OK);
    CHECK_EQ_INT(adc_tape_reserve(t, 0), ADC_OK);
    /* a negative total is a size computation that wrapped: an error, the tape unchanged */
    CHECK_EQ_INT(adc_tape_reserve(t, -5), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_ALLOC);
    CHECK_EQ_INT(t->cap, cap);
    CHECK_EQ_INT(adc_tape_reserve(t, 10000), ADC_OK);
    CHECK(t->cap >= 10000);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), t->cap * 4);

    /* contents survive growth */
    t->len = 0;
    adc_tape_push(t, &v);
    v = 8;
    adc_tape_push(t, &v);
    CHECK_EQ_INT(adc_tape_reserve(t, 3 * t->cap), ADC_OK);
    CHECK_EQ_INT(t->len, 2);
    CHECK_EQ_INT(((int32_t *)t->data)[0], 7);
    CHECK_EQ_INT(((int32_t *)t->data)[1], 8);

    /* repeated reserve(len + k) stays amortized: few reallocations */
    {
        adc_tape *u = adc_tape_new(ctx, 8);
        int64_t i, changes = 0, last = 0;
        for (i = 0; i < 100000; i++) {
            CHECK_EQ_INT(adc_tape_reserve(u, u->len + 3), ADC_OK);
            u->len += 3;
            if (u->cap != last) {
                changes++;
                last = u->cap;
            }
        }
        CHECK(changes < 40);
    }

    /* reserve on a fresh tape with an exact size */
    {
        adc_tape *w = adc_tape_new(ctx, 16);
        CHECK_EQ_INT(adc_tape_reserve(w, 1000), ADC_OK);
        CHECK_EQ_INT(w->cap, 1000);
    }
    adc_ctx_free(ctx);
}

static void test_alloc_failure(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *t = adc_tape_new(ctx, 8);
    double x = 3.0, y = 0.0;
    char *data;
    int64_t cap, bytes;
    CHECK_EQ_INT(adc_tape_push(t, &x), ADC_OK);
    data = t->data;
    cap = t->cap;
    bytes = adc_ctx_bytes(ctx);

    /* overflow of cap * elem_size */
    adc_clear_error();
    CHECK_EQ_INT(adc_tape_reserve(t, INT64_MAX), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_ALLOC);
    CHECK(strstr(adc_ctx_message(ctx), "tape") != NULL);

    /* representable but not obtainable */
    CHECK_EQ_INT(adc_tape_reserve(t, (int64_t)1 << 58), ADC_ERR_ALLOC);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_ALLOC);

    /* the tape is unchanged and still usable */
    CHECK(t->data == data);
    CHECK_EQ_INT(t->cap, cap);
    CHECK_EQ_INT(t->len, 1);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), bytes);
    CHECK_EQ_INT(adc_tape_pop(t, &y), ADC_OK);
    CHECK(y == 3.0);

    /* a huge element size: the minimum capacity of 64 is clamped, exact n still fails cleanly */
    {
        adc_tape *big = adc_tape_new(ctx, (int64_t)1 << 61);
        CHECK(big != NULL);
        CHECK_EQ_INT(adc_tape_grow(big), ADC_ERR_ALLOC);
        CHECK_EQ_INT(big->cap, 0);
        CHECK(big->data == NULL);
    }
    adc_ctx_free(ctx);
}

/* Several tapes in one context: bytes add up, peak follows. */
static void test_accounting(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *a = adc_tape_new(ctx, 8);
    adc_tape *b = adc_tape_new(ctx, 3);
    CHECK_EQ_INT(adc_tape_reserve(a, 100), ADC_OK);
    CHECK_EQ_INT(adc_tape_reserve(b, 1000), ADC_OK);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), a->cap * 8 + b->cap * 3);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), adc_ctx_bytes(ctx));
    CHECK(adc_alloc(ctx, 1000) != NULL);
    CHECK_EQ_INT(adc_ctx_bytes(ctx), a->cap * 8 + b->cap * 3 + 1000);
    CHECK_EQ_INT(adc_ctx_peak_bytes(ctx), adc_ctx_bytes(ctx));
    adc_ctx_free(ctx);
}

int main(void)
{
    test_layout();
    test_new();
    test_push_pop();
    test_fast_path();
    test_grow_reserve();
    test_alloc_failure();
    test_accounting();
    return CHECK_RESULT();
}
