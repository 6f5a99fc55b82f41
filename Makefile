# The two commands a fresh Debian 12 machine needs: `make run` and `make test`.
.PHONY: setup test run clean-venv

PY := .venv/bin/python

setup:
	@bash tools/setup/setup.sh

# pytest exits 5 when it collected no tests: for this project that is a failure, said plainly.
test: setup
	@$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

run: setup
	@echo "make run: the replication run (tools/replicate.py) is not implemented yet; see issue 8." >&2
	@exit 1

clean-venv:
	rm -rf .venv
