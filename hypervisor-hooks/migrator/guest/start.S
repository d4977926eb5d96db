/* Entry in 32-bit flat protected mode: set the stack and run the guest. */
	.text
	.globl _start
_start:
	mov	$0x80000, %esp
	call	guest_main
1:	hlt
	jmp	1b

/* iter_end(n): tell the control device an iteration finished.  The ret right
 * after the out ends the translation block, so a lockstep stop always lands
 * at the caller's return address. */
	.globl	iter_end
	.p2align 4
iter_end:
	mov	4(%esp), %eax
	mov	$0x508, %dx
	out	%eax, (%dx)
	ret

	.section .note.GNU-stack,"",@progbits
