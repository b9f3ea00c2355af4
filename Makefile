# Callpop: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: deps demo test lint fmt clippy bench

deps:
	@scripts/install-deps.sh

## Launch the demo (emulator with seed data plus a scripted session; the desktop app replaces it later).
demo: deps
	$(CARGO) run --release -p callpop-salesforce --example demo

## Every check and every test, as CI runs it.
test: deps lint
	$(CARGO) nextest run --workspace --no-fail-fast
	cd ui && npm run lint && npm test

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Performance figures, one `BENCH name value unit target op value` line each (release build).
bench: deps
	$(CARGO) build --release -p callpop-bench -p callpop-sf-emulator
	./target/release/callpop-bench
