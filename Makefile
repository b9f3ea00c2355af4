# Callpop: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
# CI builds once from a clean clone: incremental compilation state would only take disk (GBs).
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif

.PHONY: deps ui demo test lint fmt clippy bench fuzz-smoke

deps:
	@scripts/install-deps.sh

## The web UI bundle that the desktop shell embeds (ui/dist; deps ran `npm ci` in ui/).
ui: deps
	cd ui && npm run build

## Launch the desktop app against the embedded Salesforce emulator, with the demo caller in the
## tray (a virtual screen through xvfb-run when there is no $DISPLAY).
demo: deps ui
	@if [ -z "$$DISPLAY" ]; then \
	  echo "No \$$DISPLAY: running the demo under xvfb-run (a virtual screen you cannot see)"; \
	  xvfb-run -a $(CARGO) run --release -p callpop-desktop -- --demo; \
	else \
	  $(CARGO) run --release -p callpop-desktop -- --demo; \
	fi

## Every check and every test, as CI runs it.
test: deps lint
	$(CARGO) build -p callpop-desktop   # the window tests (tests/window) launch target/debug/callpop
	$(CARGO) nextest run --workspace --no-fail-fast
	$(MAKE) fuzz-smoke
	cd ui && npm run lint && npm test

## Each cargo-fuzz target for 15 s (libFuzzer on the stable toolchain through RUSTC_BOOTSTRAP=1;
## no sanitizer: the code is safe Rust, panics are what we look for). Longer by hand: FUZZ_SECONDS=600.
FUZZ_SECONDS ?= 15
fuzz-smoke: deps
	cd crates/sip/fuzz && mkdir -p corpus/sip_inputs && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -s none sip_inputs corpus/sip_inputs seeds/sip_inputs -- -max_total_time=$(FUZZ_SECONDS)

## The desktop shell embeds ui/dist, so it is built before clippy compiles src-tauri.
lint: ui
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Performance figures, one `BENCH name value unit target op value` line each (release build).
bench: deps
	$(CARGO) build --release -p callpop-bench -p callpop-sf-emulator -p callpop-desktop
	./target/release/callpop-bench
