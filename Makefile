# Two entry points, each self-contained: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= genlens-demo
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

# The viewer test drives Debian's chromium; install it when it is missing and we may.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

demo: $(STAMP)
	$(VENV)/bin/genlens demo --out $(OUT)

test: $(STAMP) chromium
	$(PY) -m pytest -n 2 --dist loadfile -q

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV) $(OUT)
