VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test lint bench fuzz clean deb

# The appliance on embedded defaults: data in ./data, key in ./callvault.key, UI/API on :8080.
run:
	go run -ldflags "$(LDFLAGS)" ./cmd/callvault serve $(ARGS)

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/callvault ./cmd/callvault

# The whole suite: static checks, then every test with the race detector.
test: lint
	go test -race -count=1 -timeout 40m ./...

lint:
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go tool staticcheck ./...

bench:
	go test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s $$pkg || exit 1; \
	  done; \
	done

# The Debian package: dist/callvault_<version>_amd64.deb (binary, hardened
# systemd unit, default config as a conffile, postinst creating the user and key).
deb: build
	sh packaging/build-deb.sh "$(VERSION)" bin/callvault dist

clean:
	rm -rf bin dist
