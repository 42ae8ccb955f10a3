/* Checkpoint snapshot storage: numbered slots holding byte blobs. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define ADC_SNAPSHOT_MIN_SLOTS 8

typedef struct adc_slot {
    char *buf;    /* NULL while cap == 0 */
    int64_t len;  /* bytes of the blob */
    int64_t cap;  /* bytes of buf */
    int full;     /* holds a blob (possibly empty) */
} adc_slot;

struct adc_snapshots {
    adc_ctx *ctx;
    adc_slot *slots;
    int64_t nslots;
    int64_t count; /* slots with full != 0 */
    int64_t bytes; /* sum of cap */
    struct adc_snapshots *next;
};

adc_snapshots *adc_snapshots_new(adc_ctx *ctx, int64_t nslots)
{
    adc_snapshots *s;
    if (ctx == NULL) {
        adc_fail(NULL, ADC_ERR_INTERNAL, "adc_snapshots_new called with a NULL context");
        return NULL;
    }
    if (nslots < 0) {
        adc__failf(ctx, ADC_ERR_VALUE, "negative number of snapshot slots %lld", (long long)nslots);
        return NULL;
    }
    if ((uint64_t)nslots > (uint64_t)(SIZE_MAX / sizeof(adc_slot))) {
        adc__failf(ctx, ADC_ERR_ALLOC, "too many snapshot slots (%lld)", (long long)nslots);
        return NULL;
    }
    s = (adc_snapshots *)malloc(sizeof *s);
    if (s == NULL) {
        adc_fail(ctx, ADC_ERR_ALLOC, "out of memory creating a snapshot store");
        return NULL;
    }
    s->slots = NULL;
    if (nslots > 0) {
        s->slots = (adc_slot *)calloc((size_t)nslots, sizeof(adc_slot));
        if (s->slots == NULL) {
            free(s);
            adc__failf(ctx, ADC_ERR_ALLOC, "out of memory creating %lld snapshot slots",
                       (long long)nslots);
            return NULL;
        }
    }
    s->ctx = ctx;
    s->nslots = nslots;
    s->count = 0;
    s->bytes = 0;
    s->next = ctx->snaps;
    ctx->snaps = s;
    return s;
}

void adc__snapshots_free_all(adc_ctx *ctx)
{
    adc_snapshots *s = ctx->snaps;
    while (s) {
        adc_snapshots *next = s->next;
        int64_t i;
        for (i = 0; i < s->nslots; i++)
            free(s->slots[i].buf);
        free(s->slots);
        free(s);
        s = next;
    }
    ctx->snaps = NULL;
}

/* Grows the slot table so that slot < nslots. */
static int grow_table(adc_snapshots *s, int64_t slot)
{
    int64_t max_slots = (int64_t)(ADC_MAX_BYTES / (int64_t)sizeof(adc_slot));
    int64_t n;
    adc_slot *p;
    if (slot >= max_slots)
        return adc__failf(s->ctx, ADC_ERR_ALLOC, "snapshot slot %lld is too large", (long long)slot);
    n = slot + 1;
    if (s->nslots <= max_slots / 2 && 2 * s->nslots > n)
        n = 2 * s->nslots;
    if (n < ADC_SNAPSHOT_MIN_SLOTS)
        n = ADC_SNAPSHOT_MIN_SLOTS;
    if (n > max_slots)
        n = max_slots;
    p = (adc_slot *)realloc(s->slots, (size_t)n * sizeof(adc_slot));
    if (p == NULL)
        return adc__failf(s->ctx, ADC_ERR_ALLOC, "out of memory growing the snapshot table to %lld slots",
                          (long long)n);
    memset(p + s->nslots, 0, (size_t)(n - s->nslots) * sizeof(adc_slot));
    s->slots = p;
    s->nslots = n;
    return ADC_OK;
}

int adc_snapshot_save(adc_snapshots *s, int64_t slot, const void *data, int64_t nbytes)
{
    adc_slot *sl;
    if (s == NULL)
        return adc_fail(NULL, ADC_ERR_INTERNAL, "adc_snapshot_save called with a NULL store");
    if (slot < 0)
        return adc__failf(s->ctx, ADC_ERR_INDEX, "negative snapshot slot %lld", (long long)slot);
    if (nbytes < 0)
        return adc__failf(s->ctx, ADC_ERR_VALUE, "negative snapshot size %lld", (long long)nbytes);
    if (nbytes > 0 && data == NULL)
        return adc_fail(s->ctx, ADC_ERR_INTERNAL, "adc_snapshot_save called with NULL data");
    if (slot >= s->nslots) {
        int rc = grow_table(s, slot);
        if (rc != ADC_OK)
            return rc;
    }
    sl = &s->slots[slot];
    if (nbytes > sl->cap) {
        char *buf = NULL;
        if (nbytes <= ADC_MAX_BYTES)
            buf = (char *)malloc((size_t)nbytes);
        if (buf == NULL)
            return adc__failf(s->ctx, ADC_ERR_ALLOC,
                              "out of memory saving %lld bytes in snapshot slot %lld",
                              (long long)nbytes, (long long)slot);
        memcpy(buf, data, (size_t)nbytes); /* before freeing: data may live in the old buffer */
        free(sl->buf);
        adc__account(s->ctx, nbytes - sl->cap);
        s->bytes += nbytes - sl->cap;
        sl->buf = buf;
        sl->cap = nbytes;
    } else if (nbytes > 0) {
        memmove(sl->buf, data, (size_t)nbytes);
    }
    sl->len = nbytes;
    if (!sl->full) {
        sl->full = 1;
        s->count++;
    }
    return ADC_OK;
}

const void *adc_snapshot_get(const adc_snapshots *s, int64_t slot, int64_t *nbytes)
{
    const adc_slot *sl;
    if (s == NULL || slot < 0 || slot >= s->nslots || !s->slots[slot].full) {
        if (nbytes)
            *nbytes = 0;
        return NULL;
    }
    sl = &s->slots[slot];
    if (nbytes)
        *nbytes = sl->len;
    /* an empty blob without a buffer still needs a non-NULL pointer */
    return sl->buf ? (const void *)sl->buf : (const void *)sl;
}

void adc_snapshot_drop(adc_snapshots *s, int64_t slot)
{
    adc_slot *sl;
    if (s == NULL || slot < 0 || slot >= s->nslots || !s->slots[slot].full)
        return;
    sl = &s->slots[slot];
    free(sl->buf);
    adc__account(s->ctx, -sl->cap);
    s->bytes -= sl->cap;
    sl->buf = NULL;
    sl->len = 0;
    sl->cap = 0;
    sl->full = 0;
    s->count--;
}

int64_t adc_snapshots_count(const adc_snapshots *s)
{
    return s ? s->count : 0;
}

int64_t adc_snapshots_bytes(const adc_snapshots *s)
{
    return s ? s->bytes : 0;
}
