# Quick start: `make demo` (build, then show strata at work) and `make test`
# (every build type, closing line `tests: N passed, N failed`). Both install
# what is missing first (Debian, as root or with sudo).
.PHONY: demo test deps format clean

demo: deps
	@tools/ci/demo.sh

test: deps
	@tools/ci/test.sh

deps:
	@tools/ci/deps.sh

format:
	@git ls-files --cached --others --exclude-standard '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build
