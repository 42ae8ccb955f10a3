/*
 * adcompile_device.cuh -- device runtime of the CUDA C that `adcompile build --target cuda`
 * emits (and that adcompile.backends.cuda_codegen writes).
 *
 * Everything here is `__host__ __device__`: the same generated code compiles for the GPU
 * (nvcc) and for the host (nvcc or any C++11 compiler; the CPU tests run it there).
 *
 * Memory model. A generated kernel runs one instance per thread (a grid-stride loop over the
 * batch). Every array and tape an instance allocates comes from that thread's slice of one
 * scratch buffer (`adc_thread`: a bump arena, reset before each instance); nothing calls
 * malloc on the device. A tape whose trip count is known before its loop is reserved once
 * at its full size (static size); a tape under a `while` grows inside the slice, in place when
 * it is the newest allocation. When a slice is exhausted the instance stops with
 * ADC_ERR_ALLOC: the launch reports it (never a silent wrong result); launch again with a
 * larger `scratch_per_thread`.
 *
 * Errors. Generated functions return an ADC_ERR_* code (adcompile_runtime.h's values) and set
 * `adc_thread::where`, the index of the failing line's message in the kernel's message
 * table (`<name>_messages` in the generated .cu). A kernel records the first failure of the
 * launch in `adc_error` (code, message index, instance) with atomics.
 */
#ifndef ADCOMPILE_DEVICE_CUH
#define ADCOMPILE_DEVICE_CUH

#include <stdint.h>
#include <string.h>
#include <math.h>

#if !defined(__CUDACC__)
/* a host-only C++ compiler: the CUDA qualifiers mean nothing */
#define __host__
#define __device__
#define __forceinline__ inline
#endif

#define ADC_DEVICE_VERSION "0.1.0"

#ifndef ADC_OK
#define ADC_OK 0
#define ADC_ERR_SHAPE 1
#define ADC_ERR_INDEX 2
#define ADC_ERR_ALLOC 3
#define ADC_ERR_VALUE 4
#define ADC_ERR_INTERNAL 5
#define ADC_ERR_TAPE_BUDGET 6
#define ADC_ERR_UNBOUND 7
#define ADC_ERR_OVERFLOW 8
#define ADC_ERR_ZERO_DIVISION 9
#define ADC_ERR_CONVERGENCE 10
#endif

/* One thread's scratch slice and where its last failure happened. */
struct adc_thread {
    char *base;
    int64_t used;
    int64_t cap;
    int where;
};

/* The first failure of a launch: code (0: none), message index, instance. */
struct adc_error {
    int code;
    int where;
    long long instance;
};

/* A C-contiguous array: data and lengths (a batched argument's instance is a row view). */
template <typename T, int N>
struct adc_view {
    T *data;
    int64_t n[N > 0 ? N : 1];
};

template <typename T>
struct adc_tape {
    T *data;
    int64_t len;
    int64_t cap;
};

/* A tape of arrays: per element (payload byte offset, lengths); the bytes on `payload`. */
template <typename T, int N>
struct adc_atape {
    struct elem { int64_t off; int64_t n[N]; };
    adc_tape<elem> items;
    adc_tape<char> payload;
};

__host__ __device__ __forceinline__ int adc_alloc_bytes(adc_thread *t, int64_t nbytes, void **out) {
    int64_t start = (t->used + 15) & ~(int64_t)15;
    if (nbytes < 0 || start + nbytes > t->cap || start + nbytes < start) {
        return ADC_ERR_ALLOC;
    }
    *out = t->base + start;
    t->used = start + nbytes;
    return ADC_OK;
}

template <typename T, int N>
__host__ __device__ __forceinline__ int adc_empty(adc_thread *t, adc_view<T, N> *a, const int64_t *dims) {
    int64_t count = 1;
    for (int k = 0; k < N; k++) {
        if (dims[k] < 0) return ADC_ERR_VALUE;
        a->n[k] = dims[k];
        count *= dims[k];
    }
    void *p;
    int rc = adc_alloc_bytes(t, count * (int64_t)sizeof(T), &p);
    a->data = (T *)p;
    return rc;
}

template <typename T, int N>
__host__ __device__ __forceinline__ int64_t adc_size(const adc_view<T, N> &a) {
    int64_t count = 1;
    for (int k = 0; k < N; k++) count *= a.n[k];
    return count;
}

template <typename T, int N>
__host__ __device__ __forceinline__ int adc_copy(adc_thread *t, adc_view<T, N> *out, const adc_view<T, N> &a) {
    int rc = adc_empty(t, out, a.n);
    if (rc) return rc;
    memcpy(out->data, a.data, (size_t)(adc_size(a) * (int64_t)sizeof(T)));
    return ADC_OK;
}

/* Grow `data` (cap elements) to hold `want`: in place when it is the newest allocation. */
template <typename T>
__host__ __device__ __forceinline__ int adc_tape_reserve(adc_thread *t, adc_tape<T> *tp, int64_t want) {
    if (want <= tp->cap) return ADC_OK;
    if (want < 0) return ADC_ERR_ALLOC;
    int64_t cap = tp->cap > 0 ? tp->cap : 16;
    while (cap < want) cap *= 2;
    char *end = (char *)(tp->data + tp->cap);
    if (tp->data != 0 && end == t->base + t->used &&
        (char *)(tp->data + cap) <= t->base + t->cap) {
        t->used = (int64_t)((char *)(tp->data + cap) - t->base);   /* extend in place */
        tp->cap = cap;
        return ADC_OK;
    }
    void *p;
    int rc = adc_alloc_bytes(t, cap * (int64_t)sizeof(T), &p);
    if (rc) return rc;
    if (tp->len > 0) memcpy(p, tp->data, (size_t)(tp->len * (int64_t)sizeof(T)));
    tp->data = (T *)p;
    tp->cap = cap;
    return ADC_OK;
}

template <typename T>
__host__ __device__ __forceinline__ int adc_tape_init(adc_thread *t, adc_tape<T> *tp) {
    tp->data = 0;
    tp->len = 0;
    tp->cap = 0;
    return adc_tape_reserve(t, tp, 16);
}

template <typename T>
__host__ __device__ __forceinline__ int adc_tape_push(adc_thread *t, adc_tape<T> *tp, T x) {
    if (tp->len >= tp->cap) {
        int rc = adc_tape_reserve(t, tp, tp->len + 1);
        if (rc) return rc;
    }
    tp->data[tp->len++] = x;
    return ADC_OK;
}

template <typename T, int N>
__host__ __device__ __forceinline__ int adc_atape_init(adc_thread *t, adc_atape<T, N> *tp) {
    int rc = adc_tape_init(t, &tp->items);
    return rc ? rc : adc_tape_init(t, &tp->payload);
}

template <typename T, int N>
__host__ __device__ __forceinline__ int adc_atape_push(adc_thread *t, adc_atape<T, N> *tp, const adc_view<T, N> &a) {
    int64_t nbytes = adc_size(a) * (int64_t)sizeof(T);
    int64_t off = tp->payload.len;
    int rc = adc_tape_reserve(t, &tp->payload, off + ((nbytes + 15) & ~(int64_t)15));
    if (rc) return rc;
    memcpy(tp->payload.data + off, a.data, (size_t)nbytes);
    tp->payload.len = off + ((nbytes + 15) & ~(int64_t)15);
    typename adc_atape<T, N>::elem e;
    e.off = off;
    for (int k = 0; k < N; k++) e.n[k] = a.n[k];
    return adc_tape_push(t, &tp->items, e);
}

/* The popped array's bytes stay valid until the next push to this tape. */
template <typename T, int N>
__host__ __device__ __forceinline__ adc_view<T, N> adc_atape_pop(adc_atape<T, N> *tp) {
    typename adc_atape<T, N>::elem e = tp->items.data[--tp->items.len];
    tp->payload.len = e.off;
    adc_view<T, N> a;
    a.data = (T *)(tp->payload.data + e.off);
    for (int k = 0; k < N; k++) a.n[k] = e.n[k];
    return a;
}

/* Python's semantics for // and % (floats as NumPy: a zero remainder takes the divisor's
 * sign, the quotient is rounded to an integer-valued float). */
__host__ __device__ __forceinline__ double adc_fmod_py(double x, double y) {
    double r = fmod(x, y);
    bool fix = r != 0.0 && ((r < 0.0) != (y < 0.0));
    double rr = fix ? r + y : r;
    return rr == 0.0 ? copysign(0.0, y) : rr;
}

__host__ __device__ __forceinline__ float adc_fmod_pyf(float x, float y) {
    float r = fmodf(x, y);
    bool fix = r != 0.0f && ((r < 0.0f) != (y < 0.0f));
    float rr = fix ? r + y : r;
    return rr == 0.0f ? copysignf(0.0f, y) : rr;
}

__host__ __device__ __forceinline__ double adc_floordiv_py(double x, double y) {
    if (y == 0.0) return x / y;
    double r = fmod(x, y);
    bool fix = r != 0.0 && ((r < 0.0) != (y < 0.0));
    double q = (x - r) / y;
    if (fix) q = q - 1.0;
    double fq = floor(q);
    double rq = (q - fq > 0.5) ? fq + 1.0 : fq;
    return q == 0.0 ? copysign(0.0, x / y) : rq;
}

__host__ __device__ __forceinline__ float adc_floordiv_pyf(float x, float y) {
    if (y == 0.0f) return x / y;
    float r = fmodf(x, y);
    bool fix = r != 0.0f && ((r < 0.0f) != (y < 0.0f));
    float q = (x - r) / y;
    if (fix) q = q - 1.0f;
    float fq = floorf(q);
    float rq = (q - fq > 0.5f) ? fq + 1.0f : fq;
    return q == 0.0f ? copysignf(0.0f, x / y) : rq;
}

__host__ __device__ __forceinline__ int64_t adc_floordiv_i64(int64_t x, int64_t y) {
    int64_t q = x / y, r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? q - 1 : q;
}

__host__ __device__ __forceinline__ int64_t adc_mod_i64(int64_t x, int64_t y) {
    int64_t r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

__host__ __device__ __forceinline__ int64_t adc_powi_i64(int64_t x, int64_t n) {
    uint64_t base = (uint64_t)x;
    uint64_t a = 1;
    while (n > 0) {   /* wrapping like NumPy */
        if (n & 1) a *= base;
        base *= base;
        n >>= 1;
    }
    return (int64_t)a;
}

/* Adjoints of shared arguments: summed by every instance (atomics on the GPU). */
__host__ __device__ __forceinline__ void adc_atomic_add(double *p, double x) {
#if defined(__CUDA_ARCH__)
    atomicAdd(p, x);   /* native for double on sm_60 and newer */
#else
    *p += x;
#endif
}

__host__ __device__ __forceinline__ void adc_atomic_add(float *p, float x) {
#if defined(__CUDA_ARCH__)
    atomicAdd(p, x);
#else
    *p += x;
#endif
}

/* Record the launch's first failure (later ones are dropped). */
__host__ __device__ __forceinline__ void adc_report(adc_error *err, int code, int where, long long instance) {
#if defined(__CUDA_ARCH__)
    if (atomicCAS(&err->code, 0, code) == 0) {
        err->where = where;
        err->instance = instance;
        __threadfence();
    }
#else
    if (err->code == 0) {
        err->code = code;
        err->where = where;
        err->instance = instance;
    }
#endif
}

#endif /* ADCOMPILE_DEVICE_CUH */
