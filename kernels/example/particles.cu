// kernels/example: fit the shared parameters k of a particle simulation to observed end
// positions, with the gradient kernel adcompile generated from particles_model.py
// (`adcompile build particles_model.py:particle_loss --target cuda --mode grad --shared k`).
// One GPU thread per particle; the adjoint of k is summed over the particles by the kernel.
// Without a GPU the same generated code runs on the host (particle_loss_grad_host).
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>
#include <cuda_runtime.h>

#include "particle_loss.cuh"

static const int64_t N = 4096;
static const int64_t SCRATCH = 64 * 1024;   // bytes per thread: 100 steps x 7 taped doubles fit

// the forward model, for making targets with known parameters
static double end_position(double p, double v, const double *k) {
    for (double t = 0.0; t < 1.0; t += 0.01) {
        double a = -k[0] * std::sin(p) - k[1] * v;
        v += 0.01 * a;
        p += 0.01 * v;
    }
    return p;
}

static int grad(bool gpu, const std::vector<double> &x, const double *k, double *loss,
                double *kbar) {
    adc_error err = {0, 0, 0};
    std::vector<double> value(N), xbar(N * 3);
    if (!gpu) {
        std::vector<char> scratch(SCRATCH);
        kbar[0] = kbar[1] = 0.0;
        int rc = particle_loss_grad_host(N, x.data(), 3, k, 2, value.data(), xbar.data(), 3,
                                         kbar, scratch.data(), SCRATCH, &err);
        if (rc) { std::fprintf(stderr, "%s\n", particle_loss_grad_message(err.where)); return rc; }
    } else {
        int threads = 128, blocks = (int)((N + threads - 1) / threads);
        double *dx, *dk, *dv, *dxb, *dkb; char *ds; adc_error *de;
        cudaMalloc(&dx, N * 3 * sizeof(double)); cudaMalloc(&dk, 2 * sizeof(double));
        cudaMalloc(&dv, N * sizeof(double)); cudaMalloc(&dxb, N * 3 * sizeof(double));
        cudaMalloc(&dkb, 2 * sizeof(double)); cudaMalloc(&de, sizeof(adc_error));
        cudaMalloc(&ds, (size_t)blocks * threads * SCRATCH);
        cudaMemcpy(dx, x.data(), N * 3 * sizeof(double), cudaMemcpyHostToDevice);
        cudaMemcpy(dk, k, 2 * sizeof(double), cudaMemcpyHostToDevice);
        cudaMemset(dkb, 0, 2 * sizeof(double)); cudaMemset(de, 0, sizeof(adc_error));
        particle_loss_grad_kernel<<<blocks, threads>>>(N, dx, 3, dk, 2, dv, dxb, 3, dkb, ds,
                                                       SCRATCH, de);
        cudaMemcpy(value.data(), dv, N * sizeof(double), cudaMemcpyDeviceToHost);
        cudaMemcpy(kbar, dkb, 2 * sizeof(double), cudaMemcpyDeviceToHost);
        cudaMemcpy(&err, de, sizeof(adc_error), cudaMemcpyDeviceToHost);
        cudaFree(dx); cudaFree(dk); cudaFree(dv); cudaFree(dxb); cudaFree(dkb); cudaFree(ds);
        cudaFree(de);
        if (err.code) { std::fprintf(stderr, "%s\n", particle_loss_grad_message(err.where)); return err.code; }
    }
    *loss = 0.0;
    for (double v : value) *loss += v;
    return 0;
}

int main() {
    int count = 0;
    bool gpu = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
    const double truth[2] = {2.0, 0.3};
    std::vector<double> x(N * 3);
    for (int64_t i = 0; i < N; i++) {
        x[3 * i] = -1.0 + 2.0 * (double)i / N;
        x[3 * i + 1] = 0.5 * std::cos(0.01 * i);
        x[3 * i + 2] = end_position(x[3 * i], x[3 * i + 1], truth);
    }
    double k[2] = {1.0, 0.0}, loss = 0.0, kbar[2];
    double first = -1.0;
    for (int it = 0; it < 200; it++) {   // plain gradient descent on the summed loss
        if (int rc = grad(gpu, x, k, &loss, kbar)) return rc;
        if (first < 0) first = loss;
        k[0] -= 0.5 * kbar[0] / N;
        k[1] -= 0.5 * kbar[1] / N;
    }
    std::printf("%s: loss %.3e -> %.3e, k = (%.4f, %.4f), truth (2, 0.3)\n",
                gpu ? "gpu" : "host", first, loss, k[0], k[1]);
    return loss < 1e-3 * first ? 0 : 1;
}
