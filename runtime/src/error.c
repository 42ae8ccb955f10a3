/* Error codes, messages and the thread-local last error. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define ADC_THREAD_LOCAL _Thread_local
#elif defined(_MSC_VER)
#define ADC_THREAD_LOCAL __declspec(thread)
#elif defined(__GNUC__) || defined(__clang__) || defined(__INTEL_COMPILER) || defined(__SUNPRO_C)
#define ADC_THREAD_LOCAL __thread
#else
#error "adcompile runtime: no thread-local storage keyword known for this compiler"
#endif

/* The only global state of the runtime: one error and one warning slot per thread. */
static ADC_THREAD_LOCAL int tls_code;
static ADC_THREAD_LOCAL char tls_message[ADC_MESSAGE_MAX];
static ADC_THREAD_LOCAL char tls_warning[ADC_MESSAGE_MAX];

/* Copies src into dst (ADC_MESSAGE_MAX bytes), truncating; src may overlap dst. */
static void copy_message(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > ADC_MESSAGE_MAX - 1)
        n = ADC_MESSAGE_MAX - 1;
    memmove(dst, src, n);
    dst[n] = '\0';
}

const char *adc_runtime_version(void)
{
    return ADC_RUNTIME_VERSION;
}

const char *adc_strerror(int code)
{
    switch (code) {
    case ADC_OK:
        return "no error";
    case ADC_ERR_SHAPE:
        return "array length or shape mismatch";
    case ADC_ERR_INDEX:
        return "index out of bounds";
    case ADC_ERR_ALLOC:
        return "memory allocation failed";
    case ADC_ERR_VALUE:
        return "invalid value (division by zero, negative size, zero step or empty reduction)";
    case ADC_ERR_INTERNAL:
        return "internal error";
    case ADC_ERR_TAPE_BUDGET:
        return "reverse-mode tape would exceed its limit (rebuild with --checkpoint)";
    case ADC_ERR_UNBOUND:
        return "local variable read before it was assigned";
    case ADC_ERR_OVERFLOW:
        return "float does not fit in an int64";
    case ADC_ERR_ZERO_DIVISION:
        return "division by zero";
    case ADC_ERR_CONVERGENCE:
        return "an iterative solve inside a derivative did not converge";
    default:
        return "unknown error code";
    }
}

int adc_fail(adc_ctx *ctx, int code, const char *message)
{
    if (code == ADC_OK)
        return ADC_OK;
    if (message == NULL || message[0] == '\0')
        message = adc_strerror(code);
    if (ctx) {
        ctx->error = code;
        copy_message(ctx->message, message);
    }
    tls_code = code;
    copy_message(tls_message, message);
    return code;
}

/* printf into a message buffer (ADC_MESSAGE_MAX bytes); "" if formatting fails. */
static void format_message(char *buf, const char *fmt, va_list ap)
{
    if (vsnprintf(buf, ADC_MESSAGE_MAX, fmt, ap) < 0)
        buf[0] = '\0';
}

int adc__failf(adc_ctx *ctx, int code, const char *fmt, ...)
{
    char buf[ADC_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, fmt, ap);
    va_end(ap);
    return adc_fail(ctx, code, buf);
}

void adc__warnf(adc_ctx *ctx, const char *fmt, ...)
{
    char buf[ADC_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, fmt, ap);
    va_end(ap);
    if (ctx) {
        if (ctx->warnings == 0)
            copy_message(ctx->warning, buf);
        ctx->warnings++;
    }
    copy_message(tls_warning, buf);
}

static void format_shape(char *out, size_t cap, int64_t ndim, const int64_t *dims)
{
    size_t used = 0;
    int64_t k;
    out[0] = '\0';
    for (k = 0; k < ndim && used + 24 < cap; k++) {
        int n = snprintf(out + used, cap - used, k ? ", %lld" : "%lld", (long long)dims[k]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int adc_fail_shape(adc_ctx *ctx, const char *what, int64_t ndim, const int64_t *given,
                   const int64_t *expected)
{
    char g[160], e[160];
    format_shape(g, sizeof g, ndim, given);
    format_shape(e, sizeof e, ndim, expected);
    return adc__failf(ctx, ADC_ERR_SHAPE, "%s: the buffer has shape (%s) but the result has "
                      "shape (%s)", what ? what : "array", g, e);
}

int adc_ctx_error(const adc_ctx *ctx)
{
    return ctx ? ctx->error : ADC_OK;
}

const char *adc_ctx_message(const adc_ctx *ctx)
{
    return ctx ? ctx->message : "";
}

int64_t adc_ctx_warnings(const adc_ctx *ctx)
{
    return ctx ? ctx->warnings : 0;
}

const char *adc_ctx_warning(const adc_ctx *ctx)
{
    return ctx && ctx->warnings ? ctx->warning : "";
}

const char *adc_last_warning(void)
{
    return tls_warning;
}

void adc_clear_warning(void)
{
    tls_warning[0] = '\0';
}

const char *adc_last_error(void)
{
    return tls_message;
}

int adc_last_error_code(void)
{
    return tls_code;
}

void adc_clear_error(void)
{
    tls_code = ADC_OK;
    tls_message[0] = '\0';
}
