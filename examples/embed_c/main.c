/* Calibrate the diffusivity of a heat-equation simulation from C with a gradient kernel that
 * adcompile generated from plain Python (model.py).
 *
 *   python -m adcompile build model.py:misfit --mode grad,primal --argnums 0 \
 *          --signature "f64, f64[:], f64[:,:], i64, i64" --out gen
 *   python -m adcompile build model.py:measurements --mode primal \
 *          --signature "f64, f64[:], i64, i64, f64" --out gen
 *   cc -O2 -Igen main.c gen/misfit.o gen/measurements.o -lm -o embed_c_calibrate
 *
 * (CMakeLists.txt does the same.) The program mirrors calibrate.py step for step: the same
 * initial state, the same synthetic measurements, the same gradient-descent iterations, and
 * prints the final alpha; its last line "alpha=<%.17g>" is what compare.py reads.
 *
 * Exit status: 0 if every kernel call succeeded and alpha came within 1e-3 of the true value,
 * 1 otherwise. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "measurements.h"
#include "misfit.h"

/* Problem and optimiser settings: keep in sync with model.py and calibrate.py. */
#define N 64            /* model.N */
#define STEPS 200       /* model.STEPS */
#define OBS_EVERY 20    /* model.OBS_EVERY */
#define NOBS (STEPS / OBS_EVERY)
#define TRUE_ALPHA 1.75 /* model.TRUE_ALPHA */
#define NOISE 0.01      /* model.NOISE */
#define ALPHA0 0.5      /* calibrate.ALPHA0 */
#define LR 0.25         /* calibrate.LR */
#define ITERS 60        /* calibrate.ITERS */

/* Every generated function returns ADC_OK (0) or an ADC_ERR_* code; adc_last_error() has the
 * message, including the line of model.py that failed. */
#define CHECK(call)                                                                     \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ != ADC_OK) {                                                            \
            fprintf(stderr, "%s:%d: %s failed with code %d (%s): %s\n", __FILE__,       \
                    __LINE__, #call, rc_, adc_strerror(rc_), adc_last_error());         \
            return 1;                                                                   \
        }                                                                               \
    } while (0)

static double now_seconds(void) {
#if defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

/* model.initial_state(n), operation for operation. */
static void initial_state(double *u0, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double x = (double)i / ((double)n - 1.0);
        double y = 1.0 - x;
        u0[i] = 16.0 * x * x * y * y * (1.0 + x);
    }
}

int main(void) {
    static double u0[N];
    static double data[NOBS * N]; /* row-major (NOBS, N), as model.measurements returns it */
    double alpha = ALPHA0, value = 0.0, g = 0.0;

    printf("heat equation: N=%d, %d steps, observations every %d steps, noise %g\n", N, STEPS,
           OBS_EVERY, NOISE);

    /* 1. the initial state and the synthetic measurements (the primal `measurements` kernel) */
    initial_state(u0, N);
    CHECK(measurements(TRUE_ALPHA, u0, N, STEPS, OBS_EVERY, NOISE, data, NOBS, N));

    /* 2. gradient descent with the reverse-mode kernel: value = misfit, g = d misfit/d alpha */
    printf("gradient descent (C, misfit_grad): alpha0=%g, lr=%g, %d iterations\n", ALPHA0, LR,
           ITERS);
    double t0 = now_seconds();
    for (int it = 0; it < ITERS; it++) {
        CHECK(misfit_grad(alpha, u0, N, data, NOBS, N, STEPS, OBS_EVERY, &value, &g));
        alpha -= LR * g;
        if (it < 3 || (it + 1) % 10 == 0)
            printf("  iter %3d  d misfit/d alpha = % .6e  ->  alpha = %.17g\n", it, g, alpha);
    }
    double t_loop = (now_seconds() - t0) / ITERS;

    /* 3. the misfit at the result (primal kernel), and timings of both kernels */
    CHECK(misfit(alpha, u0, N, data, NOBS, N, STEPS, OBS_EVERY, &value));
    enum { REPEAT = 2000 };
    double best_grad = INFINITY, best_primal = INFINITY, v2 = 0.0, g2 = 0.0;
    for (int r = 0; r < REPEAT; r++) {
        double t = now_seconds();
        CHECK(misfit_grad(alpha, u0, N, data, NOBS, N, STEPS, OBS_EVERY, &v2, &g2));
        t = now_seconds() - t;
        if (t < best_grad) best_grad = t;
        t = now_seconds();
        CHECK(misfit(alpha, u0, N, data, NOBS, N, STEPS, OBS_EVERY, &v2));
        t = now_seconds() - t;
        if (t < best_primal) best_primal = t;
    }

    printf("final alpha    = %.17g\n", alpha);
    printf("true alpha     = %.17g\n", TRUE_ALPHA);
    printf("misfit         = %.6e\n", value);
    printf("d misfit/dalpha= %.6e\n", g2);
    printf("time per gradient call: %.3f us (mean over the %d iterations), %.3f us (best of %d)\n",
           t_loop * 1e6, ITERS, best_grad * 1e6, REPEAT);
    printf("time per primal call:   %.3f us (best of %d); gradient/primal = %.2f\n",
           best_primal * 1e6, REPEAT, best_grad / best_primal);

    /* 4. errors come back as codes with a message, not as crashes or silent garbage */
    static double small[(NOBS - 1) * N];
    int rc = measurements(TRUE_ALPHA, u0, N, STEPS, OBS_EVERY, NOISE, small, NOBS - 1, N);
    printf("measurements into a (%d, %d) buffer -> code %d: %s\n", NOBS - 1, N, rc,
           adc_last_error());
    if (rc != ADC_ERR_SHAPE) return 1;
    rc = misfit(alpha, u0, N, data, NOBS - 1, N, STEPS, OBS_EVERY, &v2);
    printf("misfit with a (%d, %d) data array  -> code %d: %s\n", NOBS - 1, N, rc,
           adc_last_error());
    if (rc != ADC_ERR_INDEX) return 1;

    printf("alpha=%.17g\n", alpha);
    if (!(fabs(alpha - TRUE_ALPHA) < 1e-3)) {
        fprintf(stderr, "calibration failed: alpha=%.17g, true alpha %.17g\n", alpha, TRUE_ALPHA);
        return 1;
    }
    return 0;
}
