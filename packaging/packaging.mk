# packaging: what `make install` adds for systemd (netmoved.service, with
# @SBINDIR@ made $(PREFIX)/sbin, and /etc/default/netmove, kept if there),
# and `make deb`: the Debian package (debian/) built by packaging/build-deb.sh
# from a copy of the tree, into $(O)/deb/.  Included by the top Makefile.

# Debian's place for packaged units with PREFIX=/usr; systemd also reads
# /usr/local/lib/systemd/system.
SYSTEMD_UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib,$(PREFIX)/lib)/systemd/system

.PHONY: install-systemd deb

install: install-systemd

install-systemd:
	@echo "install packaging/netmoved.service.in -> $(DESTDIR)$(SYSTEMD_UNITDIR)/netmoved.service"
	@mkdir -p $(DESTDIR)$(SYSTEMD_UNITDIR)
	@sed 's|@SBINDIR@|$(PREFIX)/sbin|g' packaging/netmoved.service.in \
		>$(DESTDIR)$(SYSTEMD_UNITDIR)/netmoved.service.tmp
	@chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/netmoved.service.tmp
	@mv $(DESTDIR)$(SYSTEMD_UNITDIR)/netmoved.service.tmp $(DESTDIR)$(SYSTEMD_UNITDIR)/netmoved.service
	@if [ -e $(DESTDIR)/etc/default/netmove ]; then \
		echo "keep $(DESTDIR)/etc/default/netmove (there already)"; else \
		echo "install packaging/netmove.default -> $(DESTDIR)/etc/default/netmove"; \
		install -D -m 0644 packaging/netmove.default $(DESTDIR)/etc/default/netmove; fi

deb:
	@packaging/build-deb.sh $(O)/deb
