/* bench_gmac: AES-256-GMAC throughput on one core, the way ctl.c seals a
 * stream message (GCM with the whole message as AAD, nothing encrypted),
 * over a hot 1 MiB buffer.  Prints MB/s.  make bench uses it to bound what
 * an authenticated stream can reach against raw loopback TCP. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK (1u << 20)
#define ROUNDS 2000

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
	static uint8_t buf[CHUNK];
	uint8_t key[32] = { 1 }, iv[12] = { 0 }, tag[16];
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	double t0;
	int outl;

	memset(buf, 0x5a, sizeof(buf));
	if (!x || EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, NULL) <= 0) {
		fprintf(stderr, "bench_gmac: AES-256-GCM unavailable\n");
		return 1;
	}
	t0 = now_s();
	for (uint32_t i = 0; i < ROUNDS; i++) {
		memcpy(iv, &i, sizeof(i));
		if (EVP_EncryptInit_ex(x, NULL, NULL, NULL, iv) <= 0 ||
		    EVP_EncryptUpdate(x, NULL, &outl, buf, CHUNK) <= 0 ||
		    EVP_EncryptFinal_ex(x, tag, &outl) <= 0 ||
		    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag) <= 0) {
			fprintf(stderr, "bench_gmac: sealing failed\n");
			return 1;
		}
		buf[i % CHUNK] ^= tag[0];
	}
	printf("%.0f\n", (double)CHUNK * ROUNDS / (now_s() - t0) / 1e6);
	EVP_CIPHER_CTX_free(x);
	return 0;
}
