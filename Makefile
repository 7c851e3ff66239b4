# servqual: nginx module + collector.
#
#   make            build build/ngx_http_servqual_module.so and
#                   build/servqual-collector
#   make test       install what is missing, build, run every test
#   make run        the demo: collector + nginx + traffic on loopback
#   make bench      benchmarks, written to bench/RESULTS.md
#   make install    install both parts (PREFIX=/usr/local, DESTDIR=)
#   make uninstall  remove what make install installed
#   make deb        Debian packages in build/deb/ (debhelper, dh_nginx)
#   make test-deb   install the packages in a clean Debian 12 root and
#                   count one request there (minutes; needs the network
#                   to Debian's archive)
#   make test-compat  the module built --with-compat for nginx 1.26 from
#                   its source, tested with that nginx (minutes)
#
# NGINX_SRC=/path/to/nginx-x.y.z builds the module against another nginx
# source tree (configured with --with-compat and NGX_CONF_ARGS, the
# "configure arguments:" line of that nginx's `nginx -V`: without them
# the module cannot see TLS); the default is the tree Debian's nginx-dev
# installs, configured with Debian's own flags.

NGINX_SRC  ?= /usr/share/nginx/src
NGX_CONF_ARGS ?=
export NGX_CONF_ARGS
BUILD      := build
NGX_BUILD  := $(BUILD)/nginx
MODULE     := $(BUILD)/ngx_http_servqual_module.so
COLLECTOR  := $(BUILD)/servqual-collector
ASAN_DIR   := $(BUILD)/asan
LOADGEN    := $(BUILD)/sq-loadgen

CC         ?= cc
COLL_DIR   := src/collector
MOD_DIR    := src/module
PKGS       := libevent yaml-0.1 msgpack sqlite3 jansson libcrypto \
              libevent_openssl openssl libcrypt zlib libisal
# linked as Debian links nginx and its modules: full RELRO, symbols bound
# at load time (-z relro -z now)
DEB_BUILD_MAINT_OPTIONS ?= hardening=+all
BUILDFLAGS := DEB_BUILD_MAINT_OPTIONS="$(DEB_BUILD_MAINT_OPTIONS)" \
              dpkg-buildflags
DEB_CFLAGS := $(shell $(BUILDFLAGS) --get CFLAGS 2>/dev/null \
                      || echo -g -O2)
DEB_CPPFLAGS := $(shell $(BUILDFLAGS) --get CPPFLAGS 2>/dev/null)
DEB_LDFLAGS  := $(shell $(BUILDFLAGS) --get LDFLAGS 2>/dev/null \
                        || echo -Wl,-z,relro -Wl,-z,now)

WARN       := -Wall -Wextra -Wno-unused-parameter -Werror
CFLAGS_SQ  := $(DEB_CFLAGS) $(DEB_CPPFLAGS) $(WARN) -std=gnu11 -Iinclude \
              -I$(COLL_DIR) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS_SQ    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined -O1 -g

COLL_SRCS  := $(wildcard $(COLL_DIR)/sq_*.c)
COLL_LIB   := $(filter-out $(COLL_DIR)/sq_main.c,$(COLL_SRCS))
# the dashboard, compiled into the collector; its npm build inputs are
# where scripts/install-deps puts them (a package build points here)
DASHBOARD_MODULES ?= $(CURDIR)/$(BUILD)/dashboard/node_modules
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
	if [ -n "$$NGX_CONF_ARGS" ]; then \
	    eval "set -- $$NGX_CONF_ARGS"; \
	elif [ -f conf_flags ]; then \
	    set -- $$(sed -n 's/^NGX_CONF_FLAGS=( *\(.*\) *)$$/\1/p' conf_flags); \
	else \
	    set --; \
	fi; \
	./configure "$$@" --with-compat \
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

# the page with its map and chart library inlined (npm packages that
# scripts/install-deps puts in build/dashboard/node_modules)
$(BUILD)/gen/dashboard.html: $(COLL_DIR)/dashboard/index.html \
		$(COLL_DIR)/dashboard/package-lock.json scripts/dashboard-build
	@mkdir -p $(dir $@)
	scripts/dashboard-build $(COLL_DIR)/dashboard/index.html \
		$(DASHBOARD_MODULES) $@.tmp && mv $@.tmp $@

$(BUILD)/gen/sq_dashboard.c: $(BUILD)/gen/dashboard.html scripts/embed
	@mkdir -p $(dir $@)
	scripts/embed sq_dashboard_html $< > $@

$(BUILD)/obj/sq_dashboard.o: $(BUILD)/gen/sq_dashboard.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) -c -o $@ $<

$(COLLECTOR): $(COLL_OBJS)
	$(CC) $(DEB_LDFLAGS) -o $@ $^ $(LIBS_SQ)

$(ASAN_DIR)/servqual-collector: $(ASAN_OBJS)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS_SQ)

# wal_t stands in for a stalled disk: the log's calls to fdatasync() and
# writev() go to the test's own

UNIT_LDFLAGS_wal_t := -Wl,--wrap=fdatasync -Wl,--wrap=writev

$(BUILD)/t/%: t/unit/%.c $(LIB_OBJS) t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) -It/unit -o $@ $< $(LIB_OBJS) $(LIBS_SQ) \
	    $(UNIT_LDFLAGS_$*)

$(ASAN_DIR)/t/%: t/unit/%.c $(ASAN_LIB_OBJS) t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) $(ASAN_FLAGS) -It/unit -o $@ $< $(ASAN_LIB_OBJS) \
	    $(LIBS_SQ) $(UNIT_LDFLAGS_$*)

# the module's region table against libmaxminddb (t/190): the module's
# own code, compiled with nginx's headers from the module build

RT_INCS    := $(addprefix -I$(NGX_BUILD)/,src/core src/event \
                src/event/modules src/os/unix objs src/http \
                src/http/modules src/http/v2) -Iinclude -I$(MOD_DIR)
RT_SRCS    := t/module/rtable_t.c $(MOD_DIR)/ngx_http_servqual_rtable.c
RT_DEPS    := $(RT_SRCS) $(MOD_DIR)/ngx_http_servqual_rtable.h \
              $(MOD_DIR)/ngx_http_servqual_module.h $(NGX_BUILD)/objs/Makefile

units: $(BUILD)/t/rtable_t
asan: $(ASAN_DIR)/t/rtable_t

$(BUILD)/t/rtable_t: $(RT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(DEB_CFLAGS) $(DEB_CPPFLAGS) $(WARN) $(RT_INCS) -o $@ \
	    $(RT_SRCS) -lmaxminddb

$(ASAN_DIR)/t/rtable_t: $(RT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(DEB_CFLAGS) $(DEB_CPPFLAGS) $(WARN) $(ASAN_FLAGS) $(RT_INCS) \
	    -o $@ $(RT_SRCS) -lmaxminddb

# the collector's load generator, for benchmarks only

$(LOADGEN): bench/sq-loadgen.c bench/sq_lg_gen.h include/servqual_hist.h include/servqual_wire.h \
           include/servqual_sign.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SQ) $(DEB_LDFLAGS) -o $@ $< $(LIBS_SQ)

# t/200 sends with it
test: $(LOADGEN)

# -- tests: the whole suite, then the collector's tests again under
#    AddressSanitizer and UBSan

test: deps
	$(MAKE) all units asan
	SERVQUAL_COLLECTOR=$(ASAN_DIR)/servqual-collector \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PROVE) $(PROVE_ARGS) $(wildcard t/*.t) $(ASAN_UNITS) $(UNIT_BINS)

run: all
	scripts/demo $(if $(DURATION),--duration $(DURATION)) \
	    $(if $(filter-out 0,$(KEEP)),--keep)

bench: all $(LOADGEN)
	bench/run

# every request counted or reported lost under reloads and collector
# faults, minutes (SOAK_RELOADS=N reloads, default 100, one every
# SOAK_EVERY=S seconds, default 1; t/160 is the short version in make test)
soak: all
	bench/soak.pl $(if $(SOAK_RELOADS),--reloads $(SOAK_RELOADS)) \
	    $(if $(SOAK_EVERY),--every $(SOAK_EVERY))

clean:
	rm -rf $(BUILD)

# -- install, packages (Filesystem Hierarchy Standard paths)
#
#   make install PREFIX=/usr DESTDIR=/tmp/root
#
# The module goes where nginx looks for modules (its --modules-path, the
# same for every PREFIX), its load snippet beside Debian's others; the
# collector's configuration is installed only when none is there.

PREFIX      ?= /usr/local
DESTDIR     ?=
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/servqual
NGX_MODDIR  ?= /usr/lib/nginx/modules
NGX_SNIPDIR ?= $(PREFIX)/share/nginx/modules-available
SYSCONFDIR  ?= /etc
STATEDIR    ?= /var/lib/servqual
SYSUNITDIR  := $(SYSCONFDIR)/systemd/system
UNITDIR     ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(SYSUNITDIR))
INSTALL     ?= install

SQ_SNIPPET  := mod-http-servqual.conf
SQ_CONF     := $(SYSCONFDIR)/servqual/servqual-collector.yaml

.PHONY: install install-module install-collector uninstall deb test-deb \
        test-compat

install: module collector install-module install-collector

install-module:
	$(INSTALL) -d $(DESTDIR)$(NGX_MODDIR) $(DESTDIR)$(NGX_SNIPDIR) \
	    $(DESTDIR)$(MANDIR)/man5
	$(INSTALL) -m 644 $(MODULE) $(DESTDIR)$(NGX_MODDIR)/
	echo 'load_module modules/ngx_http_servqual_module.so;' \
	    > $(DESTDIR)$(NGX_SNIPDIR)/$(SQ_SNIPPET)
	chmod 644 $(DESTDIR)$(NGX_SNIPDIR)/$(SQ_SNIPPET)
	$(INSTALL) -m 644 man/man5/ngx_http_servqual_module.5 \
	    $(DESTDIR)$(MANDIR)/man5/

install-collector:
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/servqual $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -d -m 750 $(DESTDIR)$(STATEDIR)
	$(INSTALL) -m 755 $(COLLECTOR) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 644 man/man8/servqual-collector.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)$(SQ_CONF) ] || { \
	    sed 's|^\( *path: *\)servqual\.db|\1$(STATEDIR)/servqual.db|' \
	        conf.example/servqual-collector.yaml > $(DESTDIR)$(SQ_CONF) \
	    && chmod 644 $(DESTDIR)$(SQ_CONF); }
	sed -e 's|/usr/sbin/servqual-collector|$(SBINDIR)/servqual-collector|g' \
	    -e 's|/etc/servqual/|$(SYSCONFDIR)/servqual/|g' \
	    conf.example/servqual-collector.service \
	    > $(DESTDIR)$(UNITDIR)/servqual-collector.service
	chmod 644 $(DESTDIR)$(UNITDIR)/servqual-collector.service
	$(INSTALL) -m 644 conf.example/servqual.conf \
	    conf.example/prometheus.yml conf.example/alertmanager.yml \
	    conf.example/grafana-dashboard.json $(DESTDIR)$(DOCDIR)/examples/

# the configuration stays if it was changed, as a package's conffile would
uninstall:
	rm -f $(DESTDIR)$(NGX_MODDIR)/ngx_http_servqual_module.so \
	    $(DESTDIR)$(NGX_SNIPDIR)/$(SQ_SNIPPET) \
	    $(DESTDIR)$(MANDIR)/man5/ngx_http_servqual_module.5 \
	    $(DESTDIR)$(SBINDIR)/servqual-collector \
	    $(DESTDIR)$(MANDIR)/man8/servqual-collector.8 \
	    $(DESTDIR)$(UNITDIR)/servqual-collector.service
	rm -rf $(DESTDIR)$(DOCDIR)
	if [ -f $(DESTDIR)$(SQ_CONF) ] && \
	   sed 's|^\( *path: *\)servqual\.db|\1$(STATEDIR)/servqual.db|' \
	       conf.example/servqual-collector.yaml \
	   | cmp -s - $(DESTDIR)$(SQ_CONF); then \
	    rm -f $(DESTDIR)$(SQ_CONF); \
	fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/servqual $(DESTDIR)$(NGX_SNIPDIR) \
	    $(DESTDIR)$(STATEDIR) 2>/dev/null

# Debian packages, built from a copy of the tree so that the packaging's
# clean step never touches this build directory
DEB_DIR     := $(BUILD)/deb
DEB_SRC     := $(DEB_DIR)/servqual

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	tar -c --exclude=./$(BUILD) --exclude=./.git . | tar -x -C $(DEB_SRC)
	cd $(DEB_SRC) && DASHBOARD_MODULES=$(DASHBOARD_MODULES) \
	    BEACON_MODULES=$(BEACON_MODULES) \
	    dpkg-buildpackage -b -uc -us > ../build.log 2>&1 \
	|| { tail -30 $(CURDIR)/$(DEB_DIR)/build.log; exit 1; }
	ls $(DEB_DIR)/*.deb

test-deb: deb
	scripts/test-deb $(DEB_DIR)

# the module for another nginx (nginx 1.26 from Debian's next release)
test-compat: all
	scripts/test-compat

# -- fuzzing: libFuzzer harnesses (fuzz/*_fuzz.c) over the collector's
#    code built with clang.  make fuzz runs each for FUZZ_SECONDS on a
#    copy of its seed corpus (fuzz/corpus/NAME); make test replays the
#    corpus and fuzzes each for a short time (t/183-fuzz.t).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_NAMES   := $(patsubst fuzz/%_fuzz.c,%,$(wildcard fuzz/*_fuzz.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/%_fuzz)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -std=gnu11 -Iinclude \
                -I$(COLL_DIR) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_OBJS    := $(COLL_LIB:$(COLL_DIR)/%.c=$(FUZZ_DIR)/obj/%.o) \
                $(FUZZ_DIR)/obj/sq_dashboard.o

.PHONY: fuzz fuzz-bins

fuzz-bins: $(FUZZ_BINS)
test: fuzz-bins

$(FUZZ_DIR)/obj/%.o: $(COLL_DIR)/%.c $(COLL_HDRS) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	    -c -o $@ $<

$(FUZZ_DIR)/obj/sq_dashboard.o: $(BUILD)/gen/sq_dashboard.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/%_fuzz: fuzz/%_fuzz.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_OBJS) $(LIBS_SQ)

fuzz: deps $(FUZZ_BINS)
	set -e; for n in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_DIR)/work/$$n $(FUZZ_DIR)/crashes; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_DIR)/$${n}_fuzz -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=$(FUZZ_DIR)/crashes/$$n- \
	        $(FUZZ_DIR)/work/$$n fuzz/corpus/$$n; \
	done

# -- the browser script (servqual_beacon_script): web-vitals (the npm
#    package src/beacon/package-lock.json pins, which scripts/install-deps
#    puts in build/beacon/node_modules) joined to src/beacon/*.js; built
#    by make, installed by make install as a static file

BEACON_MODULES ?= $(CURDIR)/$(BUILD)/beacon/node_modules
BEACON_JS      := $(BUILD)/servqual-beacon.js
BEACON_DIR     ?= $(PREFIX)/share/servqual

.PHONY: beacon install-beacon uninstall-beacon

all: beacon
beacon: $(BEACON_JS)
install: install-beacon
uninstall: uninstall-beacon

$(BEACON_JS): src/beacon/servqual-beacon.js src/beacon/package-lock.json \
		scripts/beacon-build
	@mkdir -p $(dir $@)
	scripts/beacon-build $(BEACON_MODULES) $@

install-beacon: $(BEACON_JS)
	$(INSTALL) -d $(DESTDIR)$(BEACON_DIR)
	$(INSTALL) -m 644 $(BEACON_JS) $(DESTDIR)$(BEACON_DIR)/

uninstall-beacon:
	rm -f $(DESTDIR)$(BEACON_DIR)/servqual-beacon.js
	-rmdir $(DESTDIR)$(BEACON_DIR) 2>/dev/null
