# The action's image. The runner builds it from this file (runs.image in
# action.yml) with the action's directory as the context, and runs it as
# root with the workspace mounted at /github/workspace. Checked by
# internal/hygiene/dockerfile_test.go.

# Build stage: an exact Go release (the one this repository is tested with,
# for go.mod's `go 1.26.0`) on Debian 12. No digest is written: none could be
# verified where this file was written, and an invented one breaks every
# build; the release process may append the digest it pulled
# (golang:1.26.8-bookworm@sha256:…).
FROM golang:1.26.8-bookworm AS build

# Build with this image's Go, never a toolchain downloaded because of a
# toolchain line in go.mod: a newer requirement fails here, visibly.
ENV GOTOOLCHAIN=local

WORKDIR /src

# Modules first, in a layer of their own: source edits do not re-download
# them. A plain layer rather than a BuildKit cache mount, so that the image
# also builds with the classic builder (self-hosted runners, DOCKER_BUILDKIT=0);
# hosted runners start with an empty cache either way.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /preview-access ./cmd/preview-access

# An empty, world-writable /tmp for the final stage (scratch has none), so
# that anything asking for os.TempDir works as it does on distroless.
RUN mkdir -p /rootfs && mkdir -m 1777 /rootfs/tmp

# Final stage: scratch with the CA bundle, rather than
# gcr.io/distroless/static-debian12. Distroless publishes only moving tags
# (latest, nonroot, debug, debug-nonroot, each with -amd64/-arm64/… variants)
# and no version tags, so a distroless stage is pinned only by a digest; none
# is written here because none could be verified without a registry, and an
# invented one would break every build. scratch needs no pin: everything in
# the image comes from the version-pinned build stage. To use distroless
# instead, the release process writes
#   FROM gcr.io/distroless/static-debian12:latest@sha256:<digest it pulled>
# (not :nonroot: Docker actions run as root; GitHub's docs say not to set a
# USER, or the action cannot access GITHUB_WORKSPACE).
FROM scratch

# CA certificates for TLS to AWS, GitHub and the gateway: Debian 12's bundle
# from the pinned build stage's ca-certificates package, the same package
# distroless/static-debian12 ships, at the path Go reads first on Linux.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /rootfs/ /
COPY --from=build /preview-access /preview-access

# No USER: Docker actions run as root (see above).
ENTRYPOINT ["/preview-access"]
