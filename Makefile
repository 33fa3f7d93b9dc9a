# Two entry points, each self-contained: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= genlens-demo
# The demo needs the atlas extra (UMAP) and the photos extra (scikit-image ships the photographs of
# its real-photo part); the tests also need the peers, Lightning and the browser driver (installing
# those costs the demo about a minute it does not need to spend).
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test install bench clean chromium

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[atlas,photos]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[all]"
	touch $@

install: $(TEST_STAMP)

# The viewer test drives Debian's chromium; install it when it is missing and we may.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

demo: $(DEMO_STAMP)
	$(VENV)/bin/genlens demo --out $(OUT)

# The whole suite on this CPU's own kernels, then every test that trains a model or runs a pipeline
# again on baseline SSE4.1 kernels with a cache of their own: a verdict that changes with the CPU
# instruction set fails here rather than on a user's machine.
SECOND_ISA := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 GENLENS_CACHE=$(CURDIR)/.genlens-cache/test-sse41

test: $(TEST_STAMP) chromium
	$(PY) -m pytest -n 2 --dist loadfile -q
	$(SECOND_ISA) $(PY) -m pytest -n 2 --dist loadfile -q -m slow -p no:cacheprovider

bench: $(TEST_STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV) $(OUT)
