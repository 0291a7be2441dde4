# Build a static binary, then copy it into a minimal image with CA
# certificates. No USER: GitHub runs container actions as root, and a
# non-root user cannot write the runner's GITHUB_OUTPUT and
# GITHUB_STEP_SUMMARY files. No WORKDIR: the runner mounts the workspace
# and sets the working directory itself.
#
# Base images are pinned by the digest of their multi-platform index (the
# tag is there for people); to update one, run
#   docker buildx imagetools inspect golang:1.26-bookworm
# and copy the index digest.
#
# The build stage runs on the machine's own platform and cross-compiles for
# the target (TARGETOS/TARGETARCH come from BuildKit), so a multi-arch
# release needs no emulation. internal/contract's tests build the binary
# with the same flags and check it is static.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
COPY go.mod go.sum /src/
RUN cd /src && go mod download
COPY . /src
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN cd /src && CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /oncall-access .

FROM gcr.io/distroless/static-debian12:latest@sha256:d75cdd72874d4790092fcb1b058493ecf6bb5bf2b2b897045b00ff01d91843f2
COPY --from=build /oncall-access /oncall-access
ENTRYPOINT ["/oncall-access"]
