# The two commands a fresh Debian 12 machine needs: `make run` and `make test`.
.PHONY: setup test run compare clean-venv

PY := .venv/bin/python

setup:
	@bash tools/setup/setup.sh

# pytest exits 5 when it collected no tests: for this project that is a failure, said plainly.
test: setup
	@$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

# The main job: dataset, the three training stages and the report, in runs/default/.
run: setup
	$(PY) tools/replicate.py --scale default --out runs/default

# The learning-method comparison on the main job's CNN and stored scores (after `make run`), in runs/compare/.
compare: setup
	$(PY) tools/compare_learning.py --scale default --run runs/default --out runs/compare

clean-venv:
	rm -rf .venv
