# make test            all checks and tests (scripts/test: gofmt, vet, go test -race with moto and OPA)
# make test ARGS=./internal/testenv/...   the same for some packages, or with extra go test flags

.PHONY: test
test:
	./scripts/test $(ARGS)
