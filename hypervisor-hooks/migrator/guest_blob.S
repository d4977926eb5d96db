/* The guest image, embedded in the VMM (path given by the Makefile). */
	.section .rodata
	.globl	hh_guest_image
	.globl	hh_guest_image_end
	.p2align 4
hh_guest_image:
	.incbin	HH_GUEST_BIN
hh_guest_image_end:
	.section .note.GNU-stack,"",@progbits
