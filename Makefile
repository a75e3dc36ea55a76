# labkit Makefile. `make help` lists the targets.
#
# Every tool is built from a pinned Go module version. Built tools are cached outside the clone in
# $(TOOLS_CACHE)/<name>-<version> and linked into the git-ignored bin/, so a fresh clone (which is what CI
# uses) links them in seconds instead of rebuilding them.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

## Versions (pinned)
KUBE_VERSION ?= v1.35.4
ETCD_VERSION ?= v3.6.16
CONTROLLER_TOOLS_VERSION ?= v0.20.1
KIND_VERSION ?= v0.33.0
SKAFFOLD_VERSION ?= v2.19.0
DLV_VERSION ?= v1.27.2
GOTESTSUM_VERSION ?= v1.13.0
KWOK_VERSION ?= v0.8.0

## Locations
LOCALBIN ?= $(CURDIR)/bin
TOOLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/labkit/tools
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KIND ?= $(LOCALBIN)/kind
SKAFFOLD ?= $(LOCALBIN)/skaffold
DLV ?= $(LOCALBIN)/dlv
GOTESTSUM ?= $(LOCALBIN)/gotestsum
KUBECTL ?= $(LOCALBIN)/kubectl
# The envtest assets: kube-apiserver and etcd of KUBE_VERSION, in one folder (KUBEBUILDER_ASSETS).
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(KUBE_VERSION)

GO ?= go
GO_TEST_FLAGS ?= -race -count=1
IMG ?= labkit-controller:dev

# Kubernetes binaries say v0.0.0-master unless the version is stamped in.
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

# The generators, as make generate, make manifests and make verify run them. deps.txt lists the
# packages outside labkit that the controller imports, which the Dockerfile compiles in a cached layer.
GEN_OBJECT = $(CONTROLLER_GEN) object paths="./pkg/apis/..." && \
	CGO_ENABLED=0 $(GO) list -deps -f '{{if not (and .Module .Module.Main)}}{{.ImportPath}}{{end}}' ./cmd/labkit-controller \
	> cmd/labkit-controller/deps.txt
GEN_MANIFESTS = $(CONTROLLER_GEN) crd rbac:roleName=labkit-controller paths="./pkg/apis/...;./pkg/controller/..." \
	output:crd:artifacts:config=pkg/manifests/crd output:rbac:artifacts:config=pkg/manifests/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types and the controller image's dependency list.
	$(GEN_OBJECT)

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC manifests into pkg/manifests.
	$(GEN_MANIFESTS)

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet, including the e2e build tag.
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...

.PHONY: verify
verify: $(CONTROLLER_GEN) ## Fail if generated files are stale or code is not gofmt-ed.
	@out=$$(gofmt -s -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-ed (run make fmt): $$out"; exit 1; fi
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -r go.mod go.sum cmd pkg "$$tmp"/; \
	( cd "$$tmp" && $(GEN_OBJECT) && $(GEN_MANIFESTS) ); \
	if ! diff -ru pkg "$$tmp/pkg" || ! diff -ru cmd "$$tmp/cmd"; then echo "generated files are stale: run 'make generate manifests' and commit the result"; exit 1; fi
	@echo "generated files are up to date"

.PHONY: test
test: vet verify local-cluster-tools ## Run unit and integration tests (envtest: a real kube-apiserver and etcd; the Docker-free cluster).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test $(GO_TEST_FLAGS) ./...

# PROVIDER: kind (Docker), local (Docker-free: control plane, kwok and the controller as local
# processes), or auto: kind when a Docker engine answers, else local.
PROVIDER ?= auto
# E2E_FLAGS: flags of the suite, e.g. --keep, --features-at-once=1 (features one after another; 5
# run at once by default). -parallel only lets every test that runs features side by side start: the
# suite's --features-at-once bounds them.
E2E_FLAGS ?=
.PHONY: e2e
e2e: tools local-cluster-tools harness ## Run the e2e suite on kind (controller by skaffold, Argo CD) or, without Docker, on local processes (PROVIDER=kind|local|auto).
	mkdir -p artifacts
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GOTESTSUM) --format testname --junitfile artifacts/junit.xml -- \
		-tags e2e -count=1 -timeout 40m -parallel 32 ./e2e -args --provider=$(PROVIDER) $(E2E_FLAGS)

.PHONY: bench
bench: envtest ## Run the Go benchmarks and print their figures.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -run '^$$' -bench . -benchmem ./pkg/...

BENCH_SCALE_FLAGS ?=
.PHONY: bench-scale
bench-scale: tools local-cluster-tools ## Run labkit on 300 fake GPU nodes (kwok), labs filling every GPU, and print a table (PROVIDER=kind adds the GitOps path).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./e2e/benchscale --root . --provider=$(PROVIDER) $(BENCH_SCALE_FLAGS)

BENCH_FAILOVER_FLAGS ?=
.PHONY: bench-failover
bench-failover: local-cluster-tools ## Without Docker: two controllers elect a leader over 200 labs, the leader SIGKILLed 5 times per lease setting and once amid 1,000 creates; print the handover times, check every lab is whole.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./e2e/benchscale --root . --failover --provider=local $(BENCH_FAILOVER_FLAGS)

.PHONY: bench-reach
bench-reach: tools ## On kind: time labctl create --wait to the lab answering through the ingress (5 labs), and stop/start of a GPU lab; print tables.
	$(GO) run ./e2e/benchreach --root .

.PHONY: bench-dev
bench-dev: tools harness ## On kind: time make dev's inner loop, a saved .go file to the new controller running (5 edits); print min/median/max of each part.
	$(GO) run ./e2e/benchdev --root .

.PHONY: bench-debug
bench-debug: tools harness ## On kind: time make debug, the command to a Delve client stopped in Reconcile, and each edit to that again (3 edits); print min/median/max.
	$(GO) run ./e2e/benchdev --root . --debug --edits 3

##@ Build

.PHONY: build
build: ## Build labctl and labkit-controller into bin/.
	$(GO) build -o $(LOCALBIN)/labctl ./cmd/labctl
	$(GO) build -o $(LOCALBIN)/labkit-controller ./cmd/labkit-controller

.PHONY: demo
demo: $(KIND) $(KUBECTL) $(SKAFFOLD) build harness ## Bring up kind, the controller, Argo CD and an ingress, request a lab with labctl, print its URL (make demo-down removes it).
	@# The demo's Git server runs in a container from a Linux build of labkit-harness.
	CGO_ENABLED=0 GOOS=linux $(GO) build -o $(LOCALBIN)/linux/labkit-harness ./cmd/labkit-harness
	$(HARNESS) demo up --root .

.PHONY: demo-down
demo-down: harness ## Remove what make demo made: its cluster, Git server and repository.
	$(HARNESS) demo down

.PHONY: demo-offline
demo-offline: build ## Without a cluster: request a lab against docs/examples/catalog.yaml and push it to a local Git remote.
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git init --quiet --bare --initial-branch=main "$$tmp/gitops.git"; \
	set -x; \
	$(LOCALBIN)/labctl nodes --catalog docs/examples/catalog.yaml; \
	printf '%s' demo-password | $(LOCALBIN)/labctl create ada-a100 --owner ada --gpu A100-SXM4:1 --cpu 8 --memory 32Gi \
		--storage 100Gi --password-stdin --catalog docs/examples/catalog.yaml --repo "$$tmp/gitops.git" --branch team-a; \
	$(LOCALBIN)/labctl list --repo "$$tmp/gitops.git" --branch team-a; \
	git --git-dir "$$tmp/gitops.git" log --stat team-a; \
	git --git-dir "$$tmp/gitops.git" show team-a:labs/jupyter/ada-a100/jupyterlab.yaml

HARNESS = $(LOCALBIN)/labkit-harness
# SKAFFOLD_CACHE_ARTIFACTS=false: see skaffold.PruneEnv (intermediate build containers are removed).
CLUSTER_ENV = KUBECONFIG="$$($(HARNESS) cluster kubeconfig)" PATH="$(LOCALBIN):$$PATH" SKAFFOLD_UPDATE_CHECK=false SKAFFOLD_CACHE_ARTIFACTS=false

.PHONY: harness
harness: | $(LOCALBIN)
	$(GO) build -o $(HARNESS) ./cmd/labkit-harness

.PHONY: dev
dev: tools harness ## Cluster up, then skaffold dev: every source change rebuilds and redeploys the controller.
	$(HARNESS) cluster up
	@# Each rebuild is pushed to the cluster's local registry (skaffold.yaml, profile host-build).
	$(CLUSTER_ENV) $(SKAFFOLD) dev --kube-context kind-labkit --default-repo "$$($(HARNESS) cluster registry)"

.PHONY: debug
debug: tools harness ## Cluster up, then skaffold debug: the controller under Delve, its port forwarded to localhost.
	$(HARNESS) cluster up
	@# --auto-build --auto-deploy: skaffold debug, unlike dev, otherwise leaves an edit alone.
	$(CLUSTER_ENV) $(SKAFFOLD) debug --kube-context kind-labkit --port-forward --auto-build --auto-deploy \
		--default-repo "$$($(HARNESS) cluster registry)"

.PHONY: cluster-down
cluster-down: harness ## Delete the e2e cluster.
	$(HARNESS) cluster down

.PHONY: run
run: manifests generate ## Run the controller against the cluster of the current kubeconfig.
	$(GO) run ./cmd/labkit-controller

##@ Tools

# Debian's packages for the browser tests: Chromium, and a Jupyter server for pkg/harness/browser's own test.
BROWSER_DEBS := chromium jupyter-notebook python3-notebook python3-ipykernel python3-argon2
.PHONY: browser-deps
browser-deps: ## Install Chromium and a Jupyter server from Debian's packages (root on Debian); elsewhere say what is missing.
	@if command -v chromium >/dev/null && command -v jupyter-notebook >/dev/null; then echo "browser test packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_DEBS) >/dev/null && echo "installed $(BROWSER_DEBS)"; \
	else echo "browser tests will be skipped: install $(BROWSER_DEBS) (Debian's names), or set LABKIT_CHROMIUM"; fi

.PHONY: tools
tools: $(CONTROLLER_GEN) envtest $(KIND) $(KUBECTL) $(SKAFFOLD) $(DLV) $(GOTESTSUM) ## Build every tool into bin/.

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd ## Build the envtest kube-apiserver and etcd into bin/k8s.

$(LOCALBIN):
	mkdir -p $@

# go-install-tool,NAME,PACKAGE,VERSION: go install into the tools cache once, then link into bin/.
define go-install-tool
	@dir="$(TOOLS_CACHE)/$(1)-$(3)"; \
	if [ ! -x "$$dir/$(1)" ]; then \
		echo "building $(2)@$(3) into $$dir"; \
		rm -rf "$$dir.tmp" && mkdir -p "$$dir.tmp" && \
		GOBIN="$$dir.tmp" CGO_ENABLED=0 $(GO) install -trimpath "$(2)@$(3)" && \
		rm -rf "$$dir" && mv "$$dir.tmp" "$$dir"; \
	fi; \
	ln -sfn "$$dir/$(1)" "$(LOCALBIN)/$(1)"
endef

$(CONTROLLER_GEN): $(LOCALBIN)/.controller-gen-$(CONTROLLER_TOOLS_VERSION)
$(LOCALBIN)/.controller-gen-$(CONTROLLER_TOOLS_VERSION): | $(LOCALBIN)
	$(call go-install-tool,controller-gen,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))
	@touch $@

# kind's CLI: skaffold runs `kind load` to put the images it builds into the cluster.
$(KIND): $(LOCALBIN)/.kind-$(KIND_VERSION)
$(LOCALBIN)/.kind-$(KIND_VERSION): | $(LOCALBIN)
	$(call go-install-tool,kind,sigs.k8s.io/kind,$(KIND_VERSION))
	@touch $@

$(DLV): $(LOCALBIN)/.dlv-$(DLV_VERSION)
$(LOCALBIN)/.dlv-$(DLV_VERSION): | $(LOCALBIN)
	$(call go-install-tool,dlv,github.com/go-delve/delve/cmd/dlv,$(DLV_VERSION))
	@touch $@

$(GOTESTSUM): $(LOCALBIN)/.gotestsum-$(GOTESTSUM_VERSION)
$(LOCALBIN)/.gotestsum-$(GOTESTSUM_VERSION): | $(LOCALBIN)
	$(call go-install-tool,gotestsum,gotest.tools/gotestsum,$(GOTESTSUM_VERSION))
	@touch $@

# skaffold's go.mod has replace directives, so `go install` refuses it: build inside a copy of the module.
$(SKAFFOLD): $(LOCALBIN)/.skaffold-$(SKAFFOLD_VERSION)
$(LOCALBIN)/.skaffold-$(SKAFFOLD_VERSION): | $(LOCALBIN)
	@out="$(TOOLS_CACHE)/skaffold-$(SKAFFOLD_VERSION)/skaffold"; \
	if [ ! -x "$$out" ]; then \
		echo "building skaffold $(SKAFFOLD_VERSION) (cold: many minutes)"; \
		src="$(TOOLS_CACHE)/src/skaffold-$(SKAFFOLD_VERSION)"; \
		if [ ! -d "$$src" ]; then \
			dir=$$(GONOSUMDB=github.com/GoogleContainerTools/skaffold GOFLAGS=-mod=mod $(GO) mod download -json \
				github.com/GoogleContainerTools/skaffold/v2@$(SKAFFOLD_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
			mkdir -p "$(TOOLS_CACHE)/src" && cp -r "$$dir" "$$src.tmp" && chmod -R u+w "$$src.tmp" && mv "$$src.tmp" "$$src"; \
		fi; \
		mkdir -p "$$(dirname "$$out")"; \
		( cd "$$src" && GONOSUMDB=github.com/GoogleContainerTools/skaffold GOFLAGS=-mod=mod CGO_ENABLED=0 \
			$(GO) build -trimpath -ldflags "-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$(SKAFFOLD_VERSION)" \
			-o "$$out.tmp" ./cmd/skaffold ) && mv "$$out.tmp" "$$out"; \
	fi; \
	ln -sfn "$$out" "$(SKAFFOLD)"
	@touch $@

# Kubernetes binaries come from k8s.io/kubernetes, whose go.mod points its k8s.io/* dependencies at
# ./staging. The module zip has no staging tree, so the replaces are pointed at the published k8s.io/*
# modules of the same version before building.
KUBE_SRC := $(TOOLS_CACHE)/src/kubernetes-$(KUBE_VERSION)
$(KUBE_SRC)/.prepared:
	@echo "preparing k8s.io/kubernetes@$(KUBE_VERSION) in $(KUBE_SRC)"
	dir=$$(GOFLAGS=-mod=mod $(GO) mod download -json k8s.io/kubernetes@$(KUBE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	rm -rf "$(KUBE_SRC)" && mkdir -p "$(dir $(KUBE_SRC))" && cp -r "$$dir" "$(KUBE_SRC)" && chmod -R u+w "$(KUBE_SRC)"; \
	cd "$(KUBE_SRC)" && rm -rf go.work go.work.sum vendor && \
	for m in $$(grep -o 'k8s.io/[a-z0-9-]* => ./staging' go.mod | cut -d' ' -f1); do \
		$(GO) mod edit -replace="$$m=$$m@v0.$(patsubst v1.%,%,$(KUBE_VERSION))"; \
	done && \
	GOWORK=off GOFLAGS=-mod=mod $(GO) mod download
	touch $@

# kube-build,COMPONENT[,LINK]: build one Kubernetes command into the tools cache and link it (default:
# into the envtest assets).
define kube-build
	@out="$(TOOLS_CACHE)/kubernetes-$(KUBE_VERSION)/$(1)"; \
	if [ ! -x "$$out" ]; then \
		echo "building $(1) $(KUBE_VERSION) (cold: several minutes)"; \
		mkdir -p "$$(dirname "$$out")"; \
		( cd "$(KUBE_SRC)" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
			$(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o "$$out.tmp" ./cmd/$(1) ) && mv "$$out.tmp" "$$out"; \
	fi; \
	link="$(or $(2),$(ENVTEST_ASSETS)/$(1))"; mkdir -p "$$(dirname "$$link")" && ln -sfn "$$out" "$$link"
endef

$(ENVTEST_ASSETS)/kube-apiserver: | $(KUBE_SRC)/.prepared
	$(call kube-build,kube-apiserver)

# The Docker-free cluster (pkg/harness/localcluster) adds these to the envtest assets.
.PHONY: local-cluster-tools
local-cluster-tools: envtest $(ENVTEST_ASSETS)/kube-controller-manager $(ENVTEST_ASSETS)/kube-scheduler $(ENVTEST_ASSETS)/kwok ## Build what the Docker-free cluster runs.

$(ENVTEST_ASSETS)/kube-controller-manager: | $(KUBE_SRC)/.prepared
	$(call kube-build,kube-controller-manager)

$(ENVTEST_ASSETS)/kube-scheduler: | $(KUBE_SRC)/.prepared
	$(call kube-build,kube-scheduler)

$(ENVTEST_ASSETS)/kwok:
	$(call go-install-tool,kwok,sigs.k8s.io/kwok/cmd/kwok,$(KWOK_VERSION))
	ln -sfn "$(TOOLS_CACHE)/kwok-$(KWOK_VERSION)/kwok" "$@"

# skaffold deploys with kubectl.
$(KUBECTL): | $(KUBE_SRC)/.prepared $(LOCALBIN)
	$(call kube-build,kubectl,$(KUBECTL))

# etcd's server module is built from a throwaway module that requires it.
ETCD_SRC := $(TOOLS_CACHE)/src/etcd-$(ETCD_VERSION)
$(ENVTEST_ASSETS)/etcd:
	@out="$(TOOLS_CACHE)/etcd-$(ETCD_VERSION)/etcd"; \
	if [ ! -x "$$out" ]; then \
		echo "building etcd $(ETCD_VERSION)"; \
		mkdir -p "$(ETCD_SRC)" "$$(dirname "$$out")"; \
		cd "$(ETCD_SRC)"; \
		if [ ! -f go.sum ]; then \
			printf 'module etcdbuild\n\ngo 1.25.0\n' > go.mod; \
			GOFLAGS=-mod=mod $(GO) get go.etcd.io/etcd/server/v3@$(ETCD_VERSION); \
		fi; \
		CGO_ENABLED=0 GOFLAGS=-mod=mod $(GO) build -trimpath -ldflags "-s -w" -o "$$out.tmp" go.etcd.io/etcd/server/v3 && mv "$$out.tmp" "$$out"; \
	fi; \
	mkdir -p "$(ENVTEST_ASSETS)" && ln -sfn "$$out" "$@"

.PHONY: clean
clean: ## Remove bin/ and artifacts/ (the tools cache stays).
	rm -rf $(LOCALBIN) artifacts
