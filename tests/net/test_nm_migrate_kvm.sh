#!/bin/bash
# test_nm_migrate.sh on the KVM back-end (skipped, saying why, where
# KVM_CREATE_VM fails or NETMOVE_NO_KVM hides KVM).  Where the host's KVM
# emulates this 32-bit guest instruction by instruction (a PVM-nested host:
# the guest then echoes about 1000 frames/s), the probe runs at 500 pps
# (nmm.sh) and the switchover is held 200 ms so there is a blackout to cover.
NMM_CPU=kvm HOLD_MS=${HOLD_MS:-200} exec bash "$(dirname "$0")/test_nm_migrate.sh"
