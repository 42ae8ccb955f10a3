/* Error recording: codes, messages (copied, truncated, defaulted), the thread-local last error,
 * adc_strerror and the version string. */
#include "adcompile_runtime.h"
#include "check.h"

#include <string.h>

static void test_strerror(void)
{
    int code;
    CHECK_STREQ(adc_strerror(ADC_OK), "no error");
    CHECK_STREQ(adc_strerror(ADC_ERR_SHAPE), "array length or shape mismatch");
    CHECK_STREQ(adc_strerror(ADC_ERR_INDEX), "index out of bounds");
    CHECK_STREQ(adc_strerror(ADC_ERR_ALLOC), "memory allocation failed");
    CHECK(strstr(adc_strerror(ADC_ERR_VALUE), "invalid value") != NULL);
    CHECK_STREQ(adc_strerror(ADC_ERR_INTERNAL), "internal error");
    CHECK_STREQ(adc_strerror(-1), "unknown error code");
    CHECK_STREQ(adc_strerror(ADC_ERR_ZERO_DIVISION), "division by zero");
    CHECK(strstr(adc_strerror(ADC_ERR_CONVERGENCE), "did not converge") != NULL);
    CHECK_STREQ(adc_strerror(11), "unknown error code");
    CHECK(strstr(adc_strerror(ADC_ERR_OVERFLOW), "int64") != NULL);
    CHECK(strstr(adc_strerror(ADC_ERR_UNBOUND), "before it was assigned") != NULL);
    CHECK(strstr(adc_strerror(ADC_ERR_TAPE_BUDGET), "--checkpoint") != NULL);
    for (code = ADC_OK; code <= ADC_ERR_OVERFLOW; code++)
        CHECK(strcmp(adc_strerror(code), "unknown error code") != 0);
    /* codes are fixed by the ABI */
    CHECK_EQ_INT(ADC_OK, 0);
    CHECK_EQ_INT(ADC_ERR_SHAPE, 1);
    CHECK_EQ_INT(ADC_ERR_INDEX, 2);
    CHECK_EQ_INT(ADC_ERR_ALLOC, 3);
    CHECK_EQ_INT(ADC_ERR_VALUE, 4);
    CHECK_EQ_INT(ADC_ERR_INTERNAL, 5);
    CHECK_EQ_INT(ADC_ERR_TAPE_BUDGET, 6);
    CHECK_EQ_INT(ADC_ERR_UNBOUND, 7);
    CHECK_EQ_INT(ADC_ERR_OVERFLOW, 8);
}

static void test_fail_records(void)
{
    adc_ctx *ctx = adc_ctx_new();
    char msg[64];

    adc_clear_error();
    CHECK_EQ_INT(adc_last_error_code(), ADC_OK);
    CHECK_STREQ(adc_last_error(), "");

    /* the message is copied: changing the caller's buffer afterwards changes nothing */
    strcpy(msg, "argument 'x' has length 3, expected 4");
    CHECK_EQ_INT(adc_fail(ctx, ADC_ERR_SHAPE, msg), ADC_ERR_SHAPE);
    strcpy(msg, "overwritten");
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_SHAPE);
    CHECK_STREQ(adc_ctx_message(ctx), "argument 'x' has length 3, expected 4");
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_SHAPE);
    CHECK_STREQ(adc_last_error(), "argument 'x' has length 3, expected 4");

    /* a later failure replaces the earlier one */
    CHECK_EQ_INT(adc_fail(ctx, ADC_ERR_INDEX, "index 10 out of bounds for length 3"), ADC_ERR_INDEX);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_INDEX);
    CHECK_STREQ(adc_ctx_message(ctx), "index 10 out of bounds for length 3");

    /* clearing the thread's last error leaves the context's record alone */
    adc_clear_error();
    CHECK_EQ_INT(adc_last_error_code(), ADC_OK);
    CHECK_STREQ(adc_last_error(), "");
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_INDEX);

    /* NULL or empty message: the code's description */
    adc_fail(ctx, ADC_ERR_VALUE, NULL);
    CHECK_STREQ(adc_ctx_message(ctx), adc_strerror(ADC_ERR_VALUE));
    CHECK_STREQ(adc_last_error(), adc_strerror(ADC_ERR_VALUE));
    adc_fail(ctx, ADC_ERR_SHAPE, "");
    CHECK_STREQ(adc_ctx_message(ctx), adc_strerror(ADC_ERR_SHAPE));

    /* re-recording a message that lives in the destination buffer itself */
    adc_fail(ctx, ADC_ERR_INDEX, "self");
    adc_fail(ctx, ADC_ERR_INDEX, adc_ctx_message(ctx));
    CHECK_STREQ(adc_ctx_message(ctx), "self");
    adc_fail(ctx, ADC_ERR_INDEX, adc_last_error());
    CHECK_STREQ(adc_last_error(), "self");

    /* ADC_OK records nothing */
    CHECK_EQ_INT(adc_fail(ctx, ADC_OK, "not an error"), ADC_OK);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_INDEX);
    CHECK_STREQ(adc_ctx_message(ctx), "self");

    /* NULL context: only the thread-local slot */
    adc_clear_error();
    CHECK_EQ_INT(adc_fail(NULL, ADC_ERR_INTERNAL, "no context"), ADC_ERR_INTERNAL);
    CHECK_EQ_INT(adc_last_error_code(), ADC_ERR_INTERNAL);
    CHECK_STREQ(adc_last_error(), "no context");
    CHECK_EQ_INT(adc_ctx_error(NULL), ADC_OK);
    CHECK_STREQ(adc_ctx_message(NULL), "");

    /* unknown codes are recorded as given */
    adc_fail(ctx, 42, NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), 42);
    CHECK_STREQ(adc_ctx_message(ctx), "unknown error code");

    adc_ctx_free(ctx);
    adc_clear_error();
}

static void test_long_message(void)
{
    adc_ctx *ctx = adc_ctx_new();
    static char big[4 * ADC_MESSAGE_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    adc_fail(ctx, ADC_ERR_SHAPE, big);
    CHECK_EQ_INT(strlen(adc_ctx_message(ctx)), ADC_MESSAGE_MAX - 1);
    CHECK_EQ_INT(strlen(adc_last_error()), ADC_MESSAGE_MAX - 1);
    CHECK(adc_ctx_message(ctx)[0] == 'x');
    adc_ctx_free(ctx);
}

/* Messages the runtime writes itself mention what went wrong. */
static void test_runtime_messages(void)
{
    adc_ctx *ctx = adc_ctx_new();
    adc_tape *t = adc_tape_new(ctx, 8);
    adc_snapshots *s = adc_snapshots_new(ctx, 1);
    CHECK_EQ_INT(adc_tape_pop(t, NULL), ADC_ERR_INTERNAL);
    CHECK(strstr(adc_ctx_message(ctx), "empty tape") != NULL);
    CHECK_EQ_INT(adc_snapshot_save(s, -3, "ab", 2), ADC_ERR_INDEX);
    CHECK(strstr(adc_ctx_message(ctx), "-3") != NULL);
    CHECK(adc_alloc(ctx, -7) == NULL);
    CHECK(strstr(adc_ctx_message(ctx), "-7") != NULL);
    CHECK(adc_tape_new(ctx, 0) == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_INTERNAL);
    CHECK(adc_snapshots_new(ctx, -1) == NULL);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_VALUE);
    adc_ctx_free(ctx);
}

static void test_fail_shape(void)
{
    adc_ctx *ctx = adc_ctx_new();
    const int64_t given[2] = {3, 7}, expected[2] = {3, 8};
    CHECK_EQ_INT(adc_fail_shape(ctx, "out 'y'", 2, given, expected), ADC_ERR_SHAPE);
    CHECK_EQ_INT(adc_ctx_error(ctx), ADC_ERR_SHAPE);
    CHECK_STREQ(adc_ctx_message(ctx),
                "out 'y': the buffer has shape (3, 7) but the result has shape (3, 8)");
    CHECK_STREQ(adc_last_error(), adc_ctx_message(ctx));
    adc_ctx_free(ctx);
}

static void test_no_warnings(void)
{
    adc_ctx *ctx = adc_ctx_new();
    CHECK(adc_ctx_warnings(ctx) == 0);
    CHECK_STREQ(adc_ctx_warning(ctx), "");
    CHECK(adc_ctx_warnings(NULL) == 0);
    CHECK_STREQ(adc_ctx_warning(NULL), "");
    adc_clear_warning();
    CHECK_STREQ(adc_last_warning(), "");
    adc_ctx_free(ctx);
}

static void test_version(void)
{
    CHECK_STREQ(adc_runtime_version(), "0.1.0");
    CHECK_STREQ(adc_runtime_version(), ADC_RUNTIME_VERSION);
}

int main(void)
{
    test_strerror();
    test_fail_records();
    test_long_message();
    test_runtime_messages();
    test_fail_shape();
    test_no_warnings();
    test_version();
    return CHECK_RESULT();
}
