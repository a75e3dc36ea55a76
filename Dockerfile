# The labkit controller image. skaffold builds it (skaffold.yaml); `docker build .` does too.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
# skaffold debug sets this to "all=-N -l" so Delve can stop anywhere; empty otherwise.
ARG SKAFFOLD_GO_GCFLAGS
# Compile the controller's dependencies in a layer of their own (`make generate` writes the list), so
# that a change to labkit's code recompiles only labkit's packages: this keeps `skaffold dev` fast
# with any Docker builder, BuildKit or not.
COPY cmd/labkit-controller/deps.txt ./
RUN go build -gcflags="${SKAFFOLD_GO_GCFLAGS}" $(cat deps.txt)
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN go build -gcflags="${SKAFFOLD_GO_GCFLAGS}" -o /out/labkit-controller ./cmd/labkit-controller

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/labkit-controller /labkit-controller
# Marks the image as a Go program for `skaffold debug`, which then runs it under Delve.
ENV GOTRACEBACK=single
USER 65532:65532
ENTRYPOINT ["/labkit-controller"]
