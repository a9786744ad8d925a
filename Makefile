# Profit-driven marketing pipeline. `make help` lists the targets.
#
# Each stage's target is its manifest.json; its prerequisites are the stage's inputs, its params
# file and its executable. Executables are tracked through content stamps (.build/stamps/<exe>)
# that change only when the built binary's bytes change, so a rebuild that produces the same
# binary re-runs nothing. Outputs other than the manifest are declared with empty recipes: make
# re-reads their modification times after the stage runs, and stages leave unchanged outputs
# untouched, so a stage whose results did not change does not re-run what depends on them.

SHELL := /bin/bash
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

SWIFT ?= swift
CONFIG ?= release
BIN := .build/$(CONFIG)
STAMPS := .build/stamps
EXES := stage-data stage-synth stage-project stage-prepare stage-eda stage-clv stage-uplift stage-policy stage-plan stage-parity stage-report score serve

# The project: which analysis to run (campaign, order log, stage parameters, output folder).
# Another one runs with `make all PROJECT=<file>` into its own folder; see the README.
PROJECT ?= project.yaml
PROJECT_MK := $(STAMPS)/project/$(subst /,_,$(PROJECT)).mk

# Data mirror: DATA_MIRROR from the environment, else ../shared/data when it exists.
DATA_MIRROR ?= $(if $(wildcard ../shared/data),../shared/data,)
export DATA_MIRROR
export PIPELINE_SWIFT_VERSION := $(shell $(SWIFT) --version 2>/dev/null | head -n 1)

APT_PACKAGES := libgsl-dev libglpk-dev gnuplot-nox pkg-config zlib1g-dev

.PHONY: all help deps build data prepare eda clv uplift policy plan parity report test bench bench-compare bench-report bench-serve clean distclean

all: ## Run the whole pipeline of $(PROJECT) (installs system packages, builds, fetches data, runs every stage)

help: ## List the targets
	@echo "Targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z_-]+):.*## (.*)/  \1\t\2/' | expand -t 14
	@echo
	@echo "Variables: PROJECT=<project file> (now: '$(PROJECT)'), DATA_MIRROR=<folder with the raw files> (now: '$(DATA_MIRROR)'), CONFIG=release|debug"

# --- system packages ---------------------------------------------------------------------------
deps: $(STAMPS)/deps ## Check (and when root, install) the system packages

$(STAMPS)/deps: Makefile
	@mkdir -p $(STAMPS)
	@missing=""; \
	pkg-config --exists gsl 2>/dev/null || missing="$$missing libgsl-dev"; \
	[ -f /usr/include/glpk.h ] || missing="$$missing libglpk-dev"; \
	command -v gnuplot >/dev/null || missing="$$missing gnuplot-nox"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "Missing system packages:$$missing"; \
	    echo "Install them with:  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@touch $@

# --- build -------------------------------------------------------------------------------------
SOURCES := Package.swift $(shell find Sources stages bench cli -type f \( -name '*.swift' -o -name '*.h' -o -name '*.modulemap' -o -name '*.c' \) 2>/dev/null | sort)

# The build is an included makefile: make brings it up to date first and then re-reads everything,
# so every stage compares its manifest with executable stamps whose times are final. A rebuilt
# executable whose bytes did not change keeps its old stamp, so `make -n` and `make -q` tell the
# truth (a dry run after a source edit builds, as GNU make always remakes included makefiles).
NO_BUILD_GOALS := help clean distclean deps
ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(STAMPS)/build.mk
include $(PROJECT_MK)
endif

build: $(STAMPS)/build.mk ## Build the stage executables (release)

$(STAMPS)/build.mk: $(SOURCES) | $(STAMPS)/deps
	$(SWIFT) build -c $(CONFIG)
	@for e in $(EXES) pipeline-bench; do \
	  h=$$(sha256sum $(BIN)/$$e | cut -d' ' -f1); \
	  [ "$$(cat $(STAMPS)/$$e 2>/dev/null)" = "$$h" ] || echo "$$h" > $(STAMPS)/$$e; \
	done
	@echo "# built from the sources listed in the Makefile; executables' content stamps: $(STAMPS)/<exe>" > $@

# The project's make variables (P_*): checked and written by stage-project from the project file.
# It rewrites the file only when the variables change, so the touch marks it checked: an edit of
# the project that leaves the variables alone must not re-run the check on every make.
$(PROJECT_MK): $(PROJECT) $(STAMPS)/build.mk
	$(BIN)/stage-project --project $(PROJECT) --make $@
	@touch $@

# --- stages ------------------------------------------------------------------------------------
# Paths come from the project (P_* variables of $(PROJECT_MK)); the default project keeps the
# repository's own folders (P_OUT is empty), another project writes under its output folder.
ifdef P_NAME
RAW := $(P_RAW)
PREP := $(P_OUT)data/processed/prepare
EDA := $(P_OUT)data/processed/eda
CLV := $(P_OUT)data/processed/clv
UPLIFT := $(P_OUT)data/processed/uplift
PARITY := $(P_OUT)data/processed/parity
POLICY := $(P_OUT)data/processed/policy
PLAN := $(P_OUT)data/processed/plan
MODELS := $(P_OUT)models
SCHEMA := $(P_OUT)data/schema
REPORTS := $(P_OUT)reports

data: $(RAW)/manifest.json ## Fetch (or generate) the project's raw data and verify it

ifeq ($(P_RAW_STEP),generate)
$(RAW)/manifest.json: $(P_RAW_PARAMS) $(STAMPS)/stage-synth
	$(BIN)/stage-synth --params $(P_RAW_PARAMS) --out $(RAW)
$(P_RAW_FILES): $(RAW)/manifest.json ;
else ifeq ($(P_RAW_STEP),fetch)
$(RAW)/manifest.json: $(P_RAW_PARAMS) $(P_CHECKSUMS) $(STAMPS)/stage-data
	$(BIN)/stage-data --params $(P_RAW_PARAMS) --checksums $(P_CHECKSUMS) --out $(RAW)
$(P_RAW_FILES): $(RAW)/manifest.json ;
else
# The user's own files: make tracks them as sources; their manifest records their checksums.
$(RAW)/manifest.json: $(P_RAW_FILES) $(STAMPS)/stage-project
	$(BIN)/stage-project --project $(PROJECT) --record-raw $@
endif

PREP_OUT := $(PREP)/train.csv $(PREP)/test.csv $(PREP)/dataset.json

prepare: $(PREP)/manifest.json ## Row ids, treatment flag, stratified train/test split

$(PREP)/manifest.json: $(PROJECT) $(P_PARAMS_prepare) $(P_CAMPAIGN) $(STAMPS)/stage-prepare
	$(BIN)/stage-prepare --project $(PROJECT) --params $(P_PARAMS_prepare) --out $(PREP)

$(PREP_OUT): $(PREP)/manifest.json ;

eda: $(EDA)/manifest.json ## Experiment analysis -> reports/eda.md

$(EDA)/manifest.json: $(P_PARAMS_eda) $(PREP_OUT) $(STAMPS)/stage-eda
	$(BIN)/stage-eda --params $(P_PARAMS_eda) --prepared $(PREP) --out $(EDA) --figures $(REPORTS)/figures/eda --report $(REPORTS)/eda.md

$(REPORTS)/eda.md: $(EDA)/manifest.json ;

clv: $(CLV)/manifest.json ## CLV models (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma), validation, CDNOW replication -> reports/clv.md

$(CLV)/manifest.json: $(PROJECT) $(P_PARAMS_clv) $(P_CLV_INPUTS) $(STAMPS)/stage-clv
	$(BIN)/stage-clv --project $(PROJECT) --params $(P_PARAMS_clv) --out $(CLV) --figures $(REPORTS)/figures/clv --report $(REPORTS)/clv.md

$(REPORTS)/clv.md: $(CLV)/manifest.json ;

uplift: $(UPLIFT)/manifest.json ## Uplift learners, held-out evaluation, frozen models in models/ -> reports/uplift.md

UPLIFT_OUT := $(UPLIFT)/test_scores.csv $(UPLIFT)/crossfit_scores.csv $(MODELS)/meta.json $(MODELS)/encoder.json $(MODELS)/forests.bin $(MODELS)/drift_reference.json \
              $(SCHEMA)/required_features_schema.csv $(REPORTS)/uplift.md

$(UPLIFT)/manifest.json: $(P_PARAMS_uplift) $(PREP_OUT) $(STAMPS)/stage-uplift
	$(BIN)/stage-uplift --params $(P_PARAMS_uplift) --prepared $(PREP) --out $(UPLIFT) --models $(MODELS) \
	  --schema $(SCHEMA)/required_features_schema.csv --figures $(REPORTS)/figures/uplift --report $(REPORTS)/uplift.md

$(UPLIFT_OUT): $(UPLIFT)/manifest.json ;

policy: $(POLICY)/manifest.json ## Profit curve, constrained assignment (GLPK), sensitivity, held-out policy value -> reports/policy.md

$(POLICY)/manifest.json: $(P_PARAMS_policy) $(UPLIFT)/test_scores.csv $(UPLIFT)/crossfit_scores.csv $(MODELS)/meta.json $(PREP)/test.csv $(PREP)/train.csv $(STAMPS)/stage-policy
	$(BIN)/stage-policy --params $(P_PARAMS_policy) --prepared $(PREP) --scores $(UPLIFT)/test_scores.csv --crossfit $(UPLIFT)/crossfit_scores.csv --models $(MODELS) \
	  --out $(POLICY) --figures $(REPORTS)/figures/policy --report $(REPORTS)/policy.md

POLICY_OUT := $(REPORTS)/policy.md $(POLICY)/policy_summary.json $(POLICY)/contact_list.csv $(POLICY)/policy_decisions.csv $(MODELS)/economics.json
$(POLICY_OUT): $(POLICY)/manifest.json ;

# The confirming experiment: a contact list (LIST=, default the test split) split between the
# recommendation and the best alternative by a salted hash of the id -> reports/plan.md
LIST ?= $(PREP)/test.csv
plan: $(PLAN)/manifest.json ## The confirming experiment: sample sizes and the contact list's assignment (LIST=<csv>) -> reports/plan.md

$(PLAN)/manifest.json: $(P_PARAMS_plan) $(POLICY)/policy_summary.json $(MODELS)/meta.json $(LIST) $(STAMPS)/stage-plan
	$(BIN)/stage-plan --params $(P_PARAMS_plan) --summary $(POLICY)/policy_summary.json --list $(LIST) --models $(MODELS) \
	  --out $(PLAN) --report $(REPORTS)/plan.md

parity: $(PARITY)/manifest.json ## The shipped scorer must reproduce the pipeline's test scores exactly (CI gate) -> reports/parity.md

$(PARITY)/manifest.json: $(UPLIFT_OUT) $(MODELS)/economics.json $(POLICY)/policy_decisions.csv $(PREP)/test.csv $(STAMPS)/score $(STAMPS)/serve $(STAMPS)/stage-parity
	$(BIN)/stage-parity --scorer $(BIN)/score --serve $(BIN)/serve --models $(MODELS) --test $(PREP)/test.csv --expected $(UPLIFT)/test_scores.csv \
	  --decisions $(POLICY)/policy_decisions.csv --out $(PARITY) --report $(REPORTS)/parity.md

$(REPORTS)/parity.md: $(PARITY)/manifest.json ;

MANIFESTS := $(RAW)/manifest.json $(PREP)/manifest.json $(EDA)/manifest.json $(CLV)/manifest.json $(UPLIFT)/manifest.json $(POLICY)/manifest.json $(PLAN)/manifest.json $(PARITY)/manifest.json

report: $(REPORTS)/index.md ## Index report with every stage's provenance

all: $(REPORTS)/index.md

# A stage that leaves an output unchanged keeps its old time, so what depends on it does not re-run.
# Make sees that within one run, but the next `make -n` or `make -q` would see an output older than
# its stage's manifest and call it stale. Once the whole pipeline is up to date, `make -t` settles
# the times (it touches, in dependency order, what only looks stale; it runs no stage), so a dry
# run tells the truth. It is called as plain `make` so that `make -n` prints it instead of running it.
# It settles only when no input changed while the run went on (params, sources, the Makefile):
# otherwise `make -t` would mark a really stale stage as done; it says so and leaves the times.
SETTLE := MAKEFLAGS= make --no-print-directory -s -t CONFIG=$(CONFIG) PROJECT=$(PROJECT)
RUN_START := $(shell date +%s.%N)
EDITABLE_INPUTS := Makefile Package.swift stages Sources cli bench data/SHA256SUMS $(PROJECT) $(P_PARAMS_prepare) $(P_PARAMS_eda) $(P_PARAMS_clv) \
                   $(P_PARAMS_uplift) $(P_PARAMS_policy) $(P_PARAMS_plan) $(P_RAW_PARAMS)

$(REPORTS)/index.md: $(MANIFESTS) $(STAMPS)/stage-report
	$(BIN)/stage-report $(addprefix --manifest ,$(MANIFESTS)) --out $@
	@if [ -n "$$(find $(EDITABLE_INPUTS) -newermt @$(RUN_START) -print -quit 2>/dev/null)" ]; then \
	  echo "make: inputs changed during this run; output times not settled (the next make re-runs what they affect)" >&2; \
	else $(SETTLE) all; fi
endif

# --- tests and benchmarks ----------------------------------------------------------------------
test: $(STAMPS)/build.mk $(RAW)/manifest.json ## Run the tests (unit and integration; needs the data)
	$(SWIFT) test

bench: $(STAMPS)/build.mk $(RAW)/manifest.json $(UPLIFT_OUT) ## Benchmarks: CSV parsing, CLV fit times, scorer throughput
	$(BIN)/pipeline-bench --raw $(RAW)

# Peers in a throwaway virtualenv (pinned in bench/requirements.txt), reinstalled when the pins change.
BENCH_VENV := .build/bench-venv
BENCH := $(P_OUT)data/processed/bench
REPEATS ?= 5

$(BENCH_VENV)/installed: bench/requirements.txt
	[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r bench/requirements.txt
	@touch $@

bench-compare: $(STAMPS)/build.mk $(RAW)/manifest.json $(UPLIFT_OUT) $(BENCH_VENV)/installed ## (optional, not in CI) every hot task beside pandas, lifetimes, scikit-learn, NumPy (REPEATS=5 interleaved runs) -> data/processed/bench/compare.csv, reports/bench.md
	$(BENCH_VENV)/bin/python bench/compare.py --raw $(RAW) --swift-bench $(BIN)/pipeline-bench --scorer $(BIN)/score --models $(MODELS) \
	  --prepared $(PREP) --uplift $(UPLIFT) --out $(BENCH) --repeats $(REPEATS)
	$(BIN)/pipeline-bench --report --bench-dir $(BENCH) --report-file $(REPORTS)/bench.md --figures $(REPORTS)/figures/bench

bench-report: $(STAMPS)/build.mk ## reports/bench.md from data/processed/bench (compare.csv of bench-compare, scale.csv of bench-scale), without re-measuring
	$(BIN)/pipeline-bench --report --bench-dir $(BENCH) --report-file $(REPORTS)/bench.md --figures $(REPORTS)/figures/bench

bench-serve: $(STAMPS)/build.mk $(UPLIFT_OUT) $(MODELS)/economics.json $(PREP)/test.csv ## Load test of serve on loopback with wrk: 1-row and 1,000-row requests (bounded; needs wrk)
	tools/bench-serve.sh $(BIN)/serve $(MODELS) $(PREP)/test.csv

.PHONY: bench-scale spark-test
SCALES ?= 1 4 16

bench-scale: $(STAMPS)/build.mk ## (optional, not in CI) time and peak memory of every stage on synthetic data at SCALES (default "1 4 16") -> data/processed/bench/scale.csv
	SCALES="$(SCALES)" tools/bench-scale.sh $(BIN)

spark-test: $(STAMPS)/build.mk $(UPLIFT_OUT) $(MODELS)/economics.json $(PREP)/test.csv ## (optional, not in CI) the Spark recipe (spark/) on local[2] against the single-process scorer; installs PySpark in a throwaway virtualenv
	spark/test_spark.sh $(BIN)/score $(MODELS) $(PREP)/test.csv

# --- cleaning ----------------------------------------------------------------------------------
clean: ## Remove generated artifacts (processed data, models, reports); keeps raw data and the build
	rm -rf data/processed data/schema models reports/*.md reports/figures out

distclean: clean ## Also remove the raw data and the build
	rm -rf $(RAW) .build
