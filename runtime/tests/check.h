/* Minimal check macros for the runtime's CTest tests: a failed CHECK prints and counts,
 * the test's main returns CHECK_RESULT() (nonzero if anything failed). */
#ifndef ADC_TEST_CHECK_H
#define ADC_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                      \
        if (check_a_ != check_b_) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", __FILE__,      \
                    __LINE__, #a, #b, check_a_, check_b_);                                   \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

#define CHECK_STREQ(a, b)                                                                    \
    do {                                                                                     \
        const char *check_a_ = (a), *check_b_ = (b);                                         \
        if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) {       \
            fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,  \
                    __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                        \
                    check_b_ ? check_b_ : "(null)");                                         \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

#define CHECK_RESULT()                                                                       \
    (check_failures ? (fprintf(stderr, "%d check(s) failed\n", check_failures), 1)          \
                    : (printf("all checks passed\n"), 0))

#endif
