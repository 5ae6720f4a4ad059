// SPDX-License-Identifier: MIT
#include "checksum.h"

#include "packet.h"

uint32_t cn_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;

	/* 64-bit accumulator: no carry handling needed inside the loop for
	 * any frame the box can see (< 2^32 words). */
	while (len >= 2) {
		acc += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		acc += (uint32_t)p[0] << 8;
	while (acc >> 32)
		acc = (acc & 0xffffffff) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t cn_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t cn_tcp_checksum(const uint8_t *saddr, const uint8_t *daddr,
			 size_t addr_len, const uint8_t *segment, size_t len)
{
	uint32_t sum = 0;

	sum = cn_csum_add(sum, saddr, addr_len);
	sum = cn_csum_add(sum, daddr, addr_len);
	sum += 6; /* IPPROTO_TCP */
	sum += (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
	sum = cn_csum_add(sum, segment, len);
	return cn_csum_fold(sum);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
void cn_csum_replace16(uint8_t *check, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~cn_get16(check);

	sum += (uint16_t)~old;
	sum += new;
	cn_put16(check, cn_csum_fold(sum));
}

void cn_csum_replace32(uint8_t *check, uint32_t old, uint32_t new)
{
	uint32_t sum = (uint16_t)~cn_get16(check);

	sum += (uint16_t)~(old >> 16);
	sum += (uint16_t)~(old & 0xffff);
	sum += new >> 16;
	sum += new & 0xffff;
	cn_put16(check, cn_csum_fold(sum));
}
