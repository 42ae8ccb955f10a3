/*
 * adcompile_runtime.h -- C runtime for ahead-of-time artifacts emitted by adcompile's LLVM backend.
 *
 * The runtime provides, per call of a generated function, one context (adc_ctx) that owns every
 * byte the call allocates: an arena for arrays, growable LIFO tapes for reverse mode, and a store
 * of numbered snapshot slots for checkpointing. Errors are reported as integer codes (ADC_*) plus a
 * message recorded in the context and in a thread-local "last error" slot.
 *
 * The layout of struct adc_tape and every signature below are part of the ABI that generated code
 * is compiled against: do not change them without changing the code generator.
 *
 * Thread safety: a context (and everything it owns) must be used by one thread at a time. Distinct
 * contexts can be used concurrently; the only global state is the thread-local last error.
 */
#ifndef ADCOMPILE_RUNTIME_H
#define ADCOMPILE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ADC_RUNTIME_VERSION "0.1.0"

/* Error codes returned by every generated function and by runtime calls. */
#define ADC_OK 0
#define ADC_ERR_SHAPE 1    /* argument length/shape mismatch, or arrays that do not broadcast */
#define ADC_ERR_INDEX 2    /* index out of bounds */
#define ADC_ERR_ALLOC 3    /* memory allocation failed */
#define ADC_ERR_VALUE 4    /* invalid value: negative array size,
                              range step 0, reduction of an empty array */
#define ADC_ERR_INTERNAL 5 /* runtime misuse or a bug in generated code */
#define ADC_ERR_TAPE_BUDGET 6 /* reverse mode's tape for a loop would exceed the limit the
                                 library was built with: rebuild with --checkpoint */
#define ADC_ERR_UNBOUND 7  /* a local variable read where it was never assigned (the loop or
                              branch that assigns it did not run), as Python's UnboundLocalError */
#define ADC_ERR_OVERFLOW 8 /* int() of a float that is infinite or does not fit in int64 */
#define ADC_ERR_ZERO_DIVISION 9 /* a scalar /, // or % by zero where Python raises
                                   ZeroDivisionError (integers; Python floats) */
#define ADC_ERR_CONVERGENCE 10 /* an iterative linear solve inside a derivative (an implicit
                                   derivative's adjoint) stopped above its tolerance */

/* Messages recorded by adc_fail are truncated to ADC_MESSAGE_MAX - 1 bytes. */
#define ADC_MESSAGE_MAX 512

/* ------------------------------------------------------------------------------------------ */
/* Contexts, arena memory, errors                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Opaque; one per call of a generated function: owns all memory of that call. */
typedef struct adc_ctx adc_ctx;

/* Version string of this runtime, e.g. "0.1.0" (static storage). */
const char *adc_runtime_version(void);

/* New empty context; NULL if out of memory (then ADC_ERR_ALLOC is the thread's last error). */
adc_ctx *adc_ctx_new(void);

/* Frees every allocation, tape and snapshot store made through ctx, then ctx itself.
 * NULL is ok. Pointers obtained from ctx are invalid afterwards. */
void adc_ctx_free(adc_ctx *ctx);

/* Arena allocation: a 64-byte aligned block of nbytes uninitialized bytes living until
 * adc_ctx_free. nbytes == 0 returns a valid, aligned, non-NULL pointer (not to be dereferenced).
 * On failure returns NULL and records the error through adc_fail: ADC_ERR_VALUE for a negative
 * nbytes, ADC_ERR_ALLOC when the memory cannot be obtained, ADC_ERR_INTERNAL for a NULL ctx. */
void *adc_alloc(adc_ctx *ctx, int64_t nbytes);

/* Records code and a copy of message in ctx (when ctx is not NULL) and in the calling thread's
 * last-error slot, replacing what was recorded before; returns code. A NULL or empty message
 * records adc_strerror(code). code == ADC_OK records nothing and returns ADC_OK. */
int adc_fail(adc_ctx *ctx, int code, const char *message);

/* Records ADC_ERR_SHAPE with a message naming both shapes, e.g.
 * "output 'x_bar': the buffer has shape (7) but the result has shape (8)"; returns
 * ADC_ERR_SHAPE. `what` names the array; given/expected hold ndim lengths each. */
int adc_fail_shape(adc_ctx *ctx, const char *what, int64_t ndim, const int64_t *given,
                   const int64_t *expected);

/* Code most recently recorded in ctx by adc_fail; ADC_OK if none (or ctx is NULL). */
int adc_ctx_error(const adc_ctx *ctx);

/* Message most recently recorded in ctx; "" if none (or ctx is NULL). The pointer stays valid
 * until the next failure recorded in ctx or adc_ctx_free. */
const char *adc_ctx_message(const adc_ctx *ctx);

/* Message of the last failure recorded in the calling thread; "" if none. Valid until the next
 * adc_fail or adc_clear_error in this thread. */
const char *adc_last_error(void);

/* Code of the last failure recorded in the calling thread; ADC_OK if none. */
int adc_last_error_code(void);

/* Clears the calling thread's last error (not the errors recorded in contexts). */
void adc_clear_error(void);

/* Warnings: a check the program was built to report without stopping (an implicit derivative's
 * linear solve that missed its tolerance under on_failure="warn") records its message and the
 * call goes on; its results are then less accurate than asked for. */

/* Number of warnings recorded in ctx; 0 for NULL. */
int64_t adc_ctx_warnings(const adc_ctx *ctx);

/* The first warning recorded in ctx; "" if none (or ctx is NULL). Valid until adc_ctx_free. */
const char *adc_ctx_warning(const adc_ctx *ctx);

/* The last warning recorded in the calling thread; "" if none. Valid until the next warning or
 * adc_clear_warning in this thread. */
const char *adc_last_warning(void);

/* Clears the calling thread's last warning. */
void adc_clear_warning(void);

/* Static description of an error code, e.g. "array length or shape mismatch"; codes the runtime
 * does not know give "unknown error code". Never NULL. */
const char *adc_strerror(int code);

/* Bytes currently held by ctx: requested arena bytes + tape capacity (cap * elem_size) +
 * snapshot buffer capacity. Runtime bookkeeping (chunk headers, padding, slot tables) is not
 * counted. 0 for NULL. */
int64_t adc_ctx_bytes(const adc_ctx *ctx);

/* Highest value adc_ctx_bytes has had over the life of ctx. 0 for NULL. */
int64_t adc_ctx_peak_bytes(const adc_ctx *ctx);

/* Plain free(), for memory the runtime hands out with malloc (never for arena memory). */
void adc_free(void *p);

/* ------------------------------------------------------------------------------------------ */
/* Tapes                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Growable LIFO tape; generated code reads/writes these fields directly for the fast path:
 *     if (t->len == t->cap && (rc = adc_tape_grow(t)) != ADC_OK) return rc;
 *     memcpy(t->data + t->len * t->elem_size, &x, sizeof x); t->len++;
 *     ...
 *     t->len--; memcpy(&x, t->data + t->len * t->elem_size, sizeof x);
 * Only the runtime may change data, cap and elem_size. */
typedef struct adc_tape {
    char *data;        /* malloc/realloc'd buffer, elem_size * cap bytes (NULL while cap == 0) */
    int64_t len;       /* elements pushed and not popped */
    int64_t cap;       /* capacity in elements */
    int64_t elem_size; /* bytes per element */
    adc_ctx *ctx;      /* owner (for error reporting and byte accounting) */
} adc_tape;

/* New empty tape (data NULL, len 0, cap 0) of elements of elem_size bytes, owned by ctx (freed by
 * adc_ctx_free). NULL on failure: ADC_ERR_ALLOC if out of memory, ADC_ERR_INTERNAL for a NULL ctx
 * or elem_size <= 0. */
adc_tape *adc_tape_new(adc_ctx *ctx, int64_t elem_size);

/* Ensures cap >= n elements (n is a total, not an increment). When the buffer has to grow, cap
 * becomes at least max(n, 2 * cap, 64) so repeated reserves stay amortized O(1) (falling back to
 * exactly n if that larger buffer cannot be had). data may move; len and contents are kept.
 * Returns ADC_OK, or ADC_ERR_ALLOC with the tape unchanged (also for a negative n: a size
 * computation that overflowed). */
int adc_tape_reserve(adc_tape *t, int64_t n);

/* Ensures cap > len (geometric growth: at least x2, at least 64 elements). ADC_OK or
 * ADC_ERR_ALLOC (tape unchanged). */
int adc_tape_grow(adc_tape *t);

/* Pushes a copy of the elem_size bytes at elem (slow-path helper for C users; generated code
 * inlines it). ADC_OK, ADC_ERR_ALLOC, or ADC_ERR_INTERNAL for a NULL tape or elem. */
int adc_tape_push(adc_tape *t, const void *elem);

/* Pops the top element into out (elem_size bytes; out may be NULL to discard it). ADC_OK, or
 * ADC_ERR_INTERNAL if the tape is empty. */
int adc_tape_pop(adc_tape *t, void *out);

/* ------------------------------------------------------------------------------------------ */
/* Checkpoint snapshots                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Numbered slots holding byte blobs of varying size (loop state for checkpointing). */
typedef struct adc_snapshots adc_snapshots;

/* New store with nslots empty slots (0 is ok; the table grows on demand), owned by ctx (freed by
 * adc_ctx_free). NULL on failure: ADC_ERR_ALLOC, ADC_ERR_VALUE for nslots < 0, ADC_ERR_INTERNAL
 * for a NULL ctx. */
adc_snapshots *adc_snapshots_new(adc_ctx *ctx, int64_t nslots);

/* Copies nbytes from data into slot, replacing the blob held there (its buffer is reused when big
 * enough; data may point into that buffer). Grows the slot table if slot >= nslots. nbytes == 0
 * stores an empty blob (the slot then counts as holding data). Returns ADC_OK, ADC_ERR_INDEX for
 * slot < 0, ADC_ERR_VALUE for nbytes < 0, ADC_ERR_ALLOC (slot unchanged), or ADC_ERR_INTERNAL
 * for a NULL store or NULL data with nbytes > 0. */
int adc_snapshot_save(adc_snapshots *s, int64_t slot, const void *data, int64_t nbytes);

/* Blob held in slot and, when nbytes is not NULL, its size in *nbytes. NULL (and *nbytes = 0) if
 * the slot is empty or out of range; non-NULL for a saved empty blob. The pointer is valid until
 * the next save to or drop of that slot, or adc_ctx_free. */
const void *adc_snapshot_get(const adc_snapshots *s, int64_t slot, int64_t *nbytes);

/* Empties slot and frees its buffer; no-op for an empty or out-of-range slot or a NULL store. */
void adc_snapshot_drop(adc_snapshots *s, int64_t slot);

/* Number of slots currently holding data (0 for NULL). */
int64_t adc_snapshots_count(const adc_snapshots *s);

/* Bytes currently held by the store's blob buffers (their capacity; 0 for NULL). */
int64_t adc_snapshots_bytes(const adc_snapshots *s);

#ifdef __cplusplus
}
#endif

#endif /* ADCOMPILE_RUNTIME_H */
