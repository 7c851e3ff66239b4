# servqual: nginx module + collector.
#
#   make            build build/ngx_http_servqual_module.so and
#                   build/servqual-collector
#   make test       install what is missing, build, run every test
#   make run        the demo: collector + nginx + traffic on loopback
#   make bench      benchmarks, written to bench/RESULTS.md
#
# NGINX_SRC=/path/to/nginx-x.y.z builds the module against another nginx
# source tree (configured with --with-compat); the default is the tree
# Debian's nginx-dev installs, configured with Debian's own flags.

NGINX_SRC  ?= /usr/share/nginx/src
BUILD      := build
NGX_BUILD  := $(BUILD)/nginx
MODULE     := $(BUILD)/ngx_http_servqual_module.so
COLLECTOR  := $(BUILD)/servqual-collector
ASAN_DIR   := $(BUILD)/asan
LOADGEN    := $(BUILD)/sq-loadgen

CC         ?= cc
COLL_DIR   := src/collector
MOD_DIR    := src/module
PKGS       := libevent yaml-0.1 msgpack sqlite3 jansson
DEB_CFLAGS := $(shell dpkg-buildflags --get CFLAGS 2>/dev/null \
                      || echo -g -O2)
DEB_CPPFLAGS := $(shell dpkg-buildflags --get CPPFLAGS 2>/dev/null)
DEB_LDFLAGS  := $(shell dpkg-buildflags --get LDFLAGS 2>/dev/null)

WARN       := -Wall -Wextra -Wno-unused-parameter -Werror
CFLAGS_SQ  := $(DEB_CFLAGS) $(DEB_CPPFLAGS) $(WARN) -std=gnu11 -Iinclude \
              -I$(COLL_DIR) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS_SQ    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined -O1 -g

COLL_SRCS  := $(wildcard $(COLL_DIR)/sq_*.c)
COLL_LIB   := $(filter-out $(COLL_DIR)/sq_main.c,$(COLL_SRCS))
# the dashboard, compiled into the collector
GEN_OBJS   := $(BUILD)/obj/sq_dashboard.o
COLL_OBJS  := $(COLL_SRCS:$(COLL_DIR)/%.c=$(BUILD)/obj/%.o) $(GEN_OBJS)
ASAN_OBJS  := $(COLL_SRCS:$(COLL_DIR)/%.c=$(ASAN_DIR)/obj/%.o) $(GEN_OBJS)
LIB_OBJS   := $(COLL_LIB:$(COLL_DIR)/%.c=$(BUILD)/obj/%.o) $(GEN_OBJS)
ASAN_LIB_OBJS := $(COLL_LIB:$(COLL_DIR)/%.c=$(ASAN_DIR)/obj/%.o) \
                 $(GEN_OBJS)
UNIT_SRCS  := $(wildcard t/unit/*_t.c)
UNIT_BINS  := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/t/%)
ASAN_UNITS := $(UNIT_SRCS:t/unit/%.c=$(ASAN_DIR)/t/%)

MODULE_SRCS := config ngx_servqual_module.c $(wildcard $(MOD_DIR)/*) \
               $(wildcard include/*.h)

PROVE      ?= prove
PROVE_ARGS ?=

.PHONY: all deps module collector units asan test test-asan run bench soak clean

all: deps module collector

deps:
	@scripts/install-deps

module: $(MODULE)
collector: $(if $(COLL_SRCS),$(COLLECTOR))
units: $(UNIT_BINS)
asan: $(if $(COLL_SRCS),$(ASAN_DIR)/servqual-collector) $(ASAN_UNITS)

# -- the module, built by nginx's own configure as Debian builds its modules

$(NGX_BUILD)/objs/Makefile: config Makefile
	rm -rf $(NGX_BUILD)
	mkdir -p $(BUILD)
	cp -a $(NGINX_SRC) $(NGX_BUILD)
	set -e; cd $(NGX_BUILD); \
	flags=--with-compat; \
	if [ -f conf_flags ]; then \
	    flags=$$(sed -n 's/^NGX_CONF_FLAGS=( *\(.*\) *)$$/\1/p' conf_flags); \
	fi; \
	./configure $$flags \
	    --with-cc-opt="$(DEB_CFLAGS) $(DEB_CPPFLAGS) -fPIC" \
	    --with-ld-opt="$(DEB_LDFLAGS) -fPIC" \
	    --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	|| { tail -20 configure.log; exit 1; }

$(MODULE): $(NGX_BUILD)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -s -C $(NGX_BUILD) -f objs/Makefile modules
	# a new file, renamed into place: nginx may have the old one mapped
	cp $(NGX_BUILD)/objs/ngx_http_servqual_module.so $@.tmp
	mv -f $@.tmp $@

# -- the collector and its unit tests

COLL_HDRS  := $(wildcard $(COLL_DIR)/*.h include/*.h)

$(BUILD)/obj/%.o: $(COLL_DIR)/%.c $(COLL_HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) -c -o $@ $<

$(ASAN_DIR)/obj/%.o: $(COLL_DIR)/%.c $(COLL_HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) $(ASAN_FLAGS) -c -o $@ $<

$(BUILD)/gen/sq_dashboard.c: $(COLL_DIR)/dashboard/index.html scripts/embed
	@mkdir -p $(dir $@)
	scripts/embed sq_dashboard_html $< > $@

$(BUILD)/obj/sq_dashboard.o: $(BUILD)/gen/sq_dashboard.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) -c -o $@ $<

$(COLLECTOR): $(COLL_OBJS)
	$(CC) $(DEB_LDFLAGS) -o $@ $^ $(LIBS_SQ)

$(ASAN_DIR)/servqual-collector: $(ASAN_OBJS)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS_SQ)

$(BUILD)/t/%: t/unit/%.c $(LIB_OBJS) t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) -It/unit -o $@ $< $(LIB_OBJS) $(LIBS_SQ)

$(ASAN_DIR)/t/%: t/unit/%.c $(ASAN_LIB_OBJS) t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) $(ASAN_FLAGS) -It/unit -o $@ $< $(ASAN_LIB_OBJS) \
	    $(LIBS_SQ)

# the collector's load generator, for benchmarks only

$(LOADGEN): bench/sq-loadgen.c include/servqual_hist.h include/servqual_wire.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) $(DEB_LDFLAGS) -o $@ $< $(LIBS_SQ)

# -- tests: the whole suite, then the collector's tests again under
#    AddressSanitizer and UBSan

test: deps
	$(MAKE) all units asan
	SERVQUAL_COLLECTOR=$(ASAN_DIR)/servqual-collector \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PROVE) $(PROVE_ARGS) $(wildcard t/*.t) $(ASAN_UNITS) $(UNIT_BINS)

run: all
	scripts/demo $(if $(DURATION),--duration $(DURATION))

bench: all $(LOADGEN)
	bench/run

# every request counted or reported lost under reloads and collector
# faults, minutes (SOAK_SECONDS=N, default 20; t/160 is the short
# version in make test)
soak: all
	bench/soak.pl $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS))

clean:
	rm -rf $(BUILD)
