# pyllm: `make run` (component + daprd on the echo default) and `make test`.
SHELL := /bin/bash
DAPR_VERSION := 1.18.2
DAPRD_TAGS := stablecomponents,conversation_echo
GO_LDFLAGS := -X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)
PY := .venv/bin/python

.PHONY: setup run test lint typecheck test-go test-py daprd proto bench soak

setup:
	@tools/setup.sh

# daprd with pluggable conversation, built from daprd/go.sum (CGO off, reproducible).
daprd: daprd/bin/daprd
daprd/bin/daprd: $(shell find daprd -name '*.go' -not -path 'daprd/bin/*') daprd/go.mod daprd/go.sum
	cd daprd && CGO_ENABLED=0 go build -trimpath -tags $(DAPRD_TAGS) -ldflags "$(GO_LDFLAGS)" -o bin/daprd ./cmd/daprd

run: setup daprd
	@tools/run.sh

proto: setup
	$(PY) tools/genproto.py

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: setup
	.venv/bin/mypy

test-go: daprd
	cd daprd && test -z "$$(gofmt -l .)" || { echo "gofmt: $$(gofmt -l .)"; exit 1; }
	cd daprd && go vet ./... && go test -count=1 ./...

test-py: setup daprd
	.venv/bin/pytest

test: lint typecheck test-go test-py

# Benchmarks (not tests): medians and ratios measured side by side; writes bench/RESULTS.md.
bench: setup daprd
	$(PY) -m bench.run

# About 20,000 calls at concurrency 200 through daprd against a faulty upstream (loopback).
soak: setup daprd
	$(PY) -m bench.soak
