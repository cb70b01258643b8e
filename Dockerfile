# syntax=docker/dockerfile:1
#
# wattlens container image. Two final targets:
#
#   docker build -t wattlens .                         # "static" (default, last stage)
#   docker build --target gpu -t wattlens:gpu .        # with the NVIDIA gpu sensor
#
# static: a CGO_ENABLED=0 binary on gcr.io/distroless/static (no libc, no
#   shell). Every sensor works except gpu: the NVML binding (go-nvml) loads
#   libnvidia-ml.so.1 with dlopen and needs cgo, so this build reports the
#   gpu sensor unavailable.
# gpu: a cgo binary on gcr.io/distroless/base (glibc). libnvidia-ml.so.1
#   itself is not in the image: the NVIDIA container toolkit mounts the
#   host driver's copy at run time (docker run --gpus all, or
#   runtimeClassName: nvidia in Kubernetes).
#
# Both images run as the distroless "nonroot" user (uid 65532) by default.
# That user reads the RAPL counters through the kernel's power perf PMU
# (perf_rapl) when the container adds CAP_PERFMON (docker run --cap-add
# PERFMON, with a Docker that knows the capability: 20.10.24 refuses it; the Helm chart's default), from the binary's
# permitted file capabilities set below. powercap's energy_uj is mode 0400
# root since Linux 5.10 (CVE-2020-8694, PLATYPUS): for powercap_rapl run
# the container as uid 0 with the host's /sys mounted read-only.
# docs/deploy.md explains each case.
#
# Build arguments: VERSION (the release string, default "dev"), GO_VERSION.

ARG GO_VERSION=1.26

# ---- build: static binary, cross-compiled on the build platform ----------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/wattlens/wattlens/internal/version.Version=${VERSION}" \
      -o /out/wattlens ./cmd/wattlens
# File capabilities, permitted only (no effective bit): a non-root user
# gets CAP_PERFMON (RAPL through perf_rapl) and CAP_BPF (the eBPF source)
# at execve where the container's bounding set has them (the chart's
# capabilities add list) and no_new_privs is off, and nothing otherwise,
# without failing the execve; wattlens makes them effective at start.
# A container runtime gives a non-root user no capability any other way.
RUN apt-get update && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_perfmon,cap_bpf=p /out/wattlens && getcap /out/wattlens

# ---- build-gpu: cgo binary for the gpu target ------------------------------
# Built on the target platform (no cgo cross-compiling), on the same Debian
# release as the final image so that the glibc it links against is there.
FROM golang:${GO_VERSION}-trixie AS build-gpu
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 CGO_CFLAGS="-Wno-deprecated-declarations" \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/wattlens/wattlens/internal/version.Version=${VERSION}" \
      -o /out/wattlens ./cmd/wattlens
# No file capabilities here: a cgo binary cannot raise them in every
# thread (syscall.AllThreadsSyscall refuses under cgo), so the gpu image
# reads RAPL as uid 0 (powercap_rapl) or with ambient capabilities.

# ---- gpu: glibc base, NVML from the host at run time ----------------------
FROM gcr.io/distroless/base-debian13:nonroot AS gpu
COPY --from=build-gpu /out/wattlens /usr/bin/wattlens
# 29288 is the prometheus exporter's default --web.listen-address.
EXPOSE 29288
USER nonroot:nonroot
ENTRYPOINT ["/usr/bin/wattlens"]
CMD ["prometheus"]

# ---- static (default): no libc at all -------------------------------------
FROM gcr.io/distroless/static-debian13:nonroot AS static
COPY --from=build /out/wattlens /usr/bin/wattlens
EXPOSE 29288
USER nonroot:nonroot
ENTRYPOINT ["/usr/bin/wattlens"]
CMD ["prometheus"]
