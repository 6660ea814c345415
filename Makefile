# make test            all checks and tests (scripts/test: gofmt, vet, go test -race with moto and OPA)
# make test ARGS=./internal/testenv/...   the same for some packages, or with extra go test flags

.PHONY: test
test:
	./scripts/test $(ARGS)

# make bench           the performance benchmarks (scripts/bench: moto, Go benchmarks, binary size and cold start); see BENCHMARKS.md
.PHONY: bench
bench:
	./scripts/bench $(if $(ARGS),'$(ARGS)')
