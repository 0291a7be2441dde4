# Build a static binary, then copy it into a minimal image with CA
# certificates. No USER: GitHub runs container actions as root, and a
# non-root user cannot write the runner's GITHUB_OUTPUT and
# GITHUB_STEP_SUMMARY files. No WORKDIR: the runner mounts the workspace.
FROM golang:1.26-bookworm AS build
COPY . /src
ARG VERSION=dev
RUN cd /src && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /oncall-access .

FROM gcr.io/distroless/static-debian12
COPY --from=build /oncall-access /oncall-access
ENTRYPOINT ["/oncall-access"]
