/* Growable LIFO tapes (reverse-mode stacks). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define ADC_TAPE_MIN_CAP 64

typedef struct adc_tape_node {
    adc_tape tape; /* first member: &node->tape == (adc_tape *)node */
    struct adc_tape_node *next;
} adc_tape_node;

adc_tape *adc_tape_new(adc_ctx *ctx, int64_t elem_size)
{
    adc_tape_node *node;
    if (ctx == NULL) {
        adc_fail(NULL, ADC_ERR_INTERNAL, "adc_tape_new called with a NULL context");
        return NULL;
    }
    if (elem_size <= 0) {
        adc__failf(ctx, ADC_ERR_INTERNAL, "tape element size must be positive, got %lld",
                   (long long)elem_size);
        return NULL;
    }
    node = (adc_tape_node *)malloc(sizeof *node);
    if (node == NULL) {
        adc_fail(ctx, ADC_ERR_ALLOC, "out of memory creating a tape");
        return NULL;
    }
    node->tape.data = NULL;
    node->tape.len = 0;
    node->tape.cap = 0;
    node->tape.elem_size = elem_size;
    node->tape.ctx = ctx;
    node->next = ctx->tapes;
    ctx->tapes = node;
    return &node->tape;
}

void adc__tapes_free_all(adc_ctx *ctx)
{
    adc_tape_node *node = ctx->tapes;
    while (node) {
        adc_tape_node *next = node->next;
        free(node->tape.data);
        free(node);
        node = next;
    }
    ctx->tapes = NULL;
}

int adc_tape_reserve(adc_tape *t, int64_t n)
{
    int64_t max_elems, want;
    char *p;
    if (t == NULL)
        return adc_fail(NULL, ADC_ERR_INTERNAL, "adc_tape_reserve called with a NULL tape");
    if (n < 0) /* a size computation wrapped past INT64_MAX */
        return adc__failf(t->ctx, ADC_ERR_ALLOC, "tape of %lld elements: the size overflowed",
                          (long long)n);
    if (n <= t->cap)
        return ADC_OK;
    if (t->elem_size <= 0)
        return adc__failf(t->ctx, ADC_ERR_INTERNAL, "tape has invalid element size %lld",
                          (long long)t->elem_size);
    max_elems = ADC_MAX_BYTES / t->elem_size;
    if (n > max_elems)
        return adc__failf(t->ctx, ADC_ERR_ALLOC,
                          "tape of %lld elements of %lld bytes is too large", (long long)n,
                          (long long)t->elem_size);
    want = n;
    if (t->cap <= INT64_MAX / 2 && 2 * t->cap > want)
        want = 2 * t->cap;
    if (want < ADC_TAPE_MIN_CAP)
        want = ADC_TAPE_MIN_CAP;
    if (want > max_elems)
        want = max_elems;
    p = (char *)realloc(t->data, (size_t)(want * t->elem_size));
    if (p == NULL && want > n) { /* the geometric size failed: try exactly what was asked */
        want = n;
        p = (char *)realloc(t->data, (size_t)(want * t->elem_size));
    }
    if (p == NULL)
        return adc__failf(t->ctx, ADC_ERR_ALLOC,
                          "out of memory growing a tape to %lld elements of %lld bytes",
                          (long long)n, (long long)t->elem_size);
    adc__account(t->ctx, (want - t->cap) * t->elem_size);
    t->data = p;
    t->cap = want;
    return ADC_OK;
}

int adc_tape_grow(adc_tape *t)
{
    if (t == NULL)
        return adc_fail(NULL, ADC_ERR_INTERNAL, "adc_tape_grow called with a NULL tape");
    if (t->len < t->cap)
        return ADC_OK;
    if (t->len == INT64_MAX)
        return adc_fail(t->ctx, ADC_ERR_ALLOC, "tape length overflow");
    return adc_tape_reserve(t, t->len + 1);
}

int adc_tape_push(adc_tape *t, const void *elem)
{
    if (t == NULL || elem == NULL)
        return adc_fail(t ? t->ctx : NULL, ADC_ERR_INTERNAL,
                        "adc_tape_push called with a NULL tape or element");
    if (t->len >= t->cap) {
        int rc = adc_tape_grow(t);
        if (rc != ADC_OK)
            return rc;
    }
    memcpy(t->data + t->len * t->elem_size, elem, (size_t)t->elem_size);
    t->len++;
    return ADC_OK;
}

int adc_tape_pop(adc_tape *t, void *out)
{
    if (t == NULL)
        return adc_fail(NULL, ADC_ERR_INTERNAL, "adc_tape_pop called with a NULL tape");
    if (t->len <= 0)
        return adc_fail(t->ctx, ADC_ERR_INTERNAL, "pop from an empty tape");
    t->len--;
    if (out)
        memcpy(out, t->data + t->len * t->elem_size, (size_t)t->elem_size);
    return ADC_OK;
}
