# The two commands in README.md: `make demo` and `make test`. Each sets up
# everything it needs (apt packages when missing, venv, pip) via
# scripts/bootstrap.sh.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv

.PHONY: demo test bench bootstrap bed-up bed-down unit sanity lint docs packaging integration changelog flink-matrix core-matrix matrices

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@scripts/demo.sh

test: bootstrap
	@scripts/test.sh all

bench: bootstrap
	@scripts/bench.sh

unit sanity lint docs packaging integration changelog flink-matrix core-matrix matrices: bootstrap
	@scripts/test.sh $@

bed-up: bootstrap
	@$(VENV)/bin/python tests/bed/bed.py up

# Both sandboxes: the test bed (tests/output/bed) and the demo's (scripts/demo.sh, tests/output/demo-bed).
bed-down:
	@$(VENV)/bin/python tests/bed/bed.py down
	@scripts/demo.sh down
