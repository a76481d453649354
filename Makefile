# Every target takes its inputs as variables: make validate DATA=export.json, make train CONFIG=... OUT=...
PYTHON   ?= .venv/bin/python
VENV     ?= .venv
DATA     ?= annotations/corpus.ls.json
CONFIG   ?= training/configs/offline.yaml
OUT      ?= runs/offline
MODEL    ?= runs/offline
IN       ?= ../shared/corpus/unlabeled/party-news.jsonl
PORT     ?= 8080
FOLDS    ?= 0
TEXT     ?= ../shared/corpus/unlabeled
ARGS     ?=

.PHONY: setup test lint validate stats corpus train evaluate predict serve bench demo pretrain ls-venv

setup: ## create .venv with the project, the segmenter and the test tools (CPU torch)
	@command -v java >/dev/null || (echo "installing a Java runtime for RDRSegmenter"; apt-get install -y -q default-jre-headless)
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev,onnx,ray]'

ls-venv: ## Label Studio 1.23.2 in its own venv (it pins many packages) for the integration tests
	test -x .ls-venv/bin/label-studio || (python3 -m venv .ls-venv && .ls-venv/bin/pip install -q label-studio==1.23.2)

test: ## the whole suite, Label Studio integration included
	$(PYTHON) -m pytest -q --durations=8 $(ARGS)

lint:
	$(VENV)/bin/ruff check training serve tests
	$(VENV)/bin/ruff format --check training serve tests

corpus: ## compile annotations/**/*.ann into the Label Studio export and record the split
	$(PYTHON) -m training corpus annotations/seeds annotations/articles

validate:
	$(PYTHON) -m training validate $(DATA) $(ARGS)

stats:
	$(PYTHON) -m training stats $(DATA) $(ARGS)

train:
	$(PYTHON) -m training.train $(CONFIG) training.output_dir=$(OUT) $(ARGS)

evaluate:
	@if [ "$(FOLDS)" != "0" ]; then \
		$(PYTHON) -m training.evaluate $(CONFIG) $(DATA) --folds $(FOLDS) --out $(OUT)-crossval $(ARGS); \
	else \
		$(PYTHON) -m training.evaluate $(MODEL) $(DATA) --out $(MODEL)/eval-$$(basename $(DATA) | cut -d. -f1) $(ARGS); \
	fi

predict:
	$(PYTHON) -m serve.batch --model $(MODEL) --input $(IN) --output $(OUT) $(ARGS)

serve:
	$(PYTHON) -m serve.server --model $(MODEL) --port $(PORT) $(ARGS)

bench:
	$(PYTHON) -m serve.bench --model $(MODEL) $(ARGS)

pretrain:
	$(PYTHON) -m training.pretrain $(CONFIG) --text $(TEXT) --out $(OUT) $(ARGS)

demo: ## the main job, offline: train the default model on annotations/, evaluate, write its card, show predictions
	$(PYTHON) -m training.train $(CONFIG) training.output_dir=$(OUT) $(ARGS)
	$(PYTHON) -m training.demo $(OUT)
