#!/bin/bash
# The fault drills of test_nm_migrate_fault.sh on the KVM back-end (skipped,
# saying why, where KVM_CREATE_VM fails or NETMOVE_NO_KVM hides KVM).
NMM_CPU=kvm exec bash "$(dirname "$0")/test_nm_migrate_fault.sh"
